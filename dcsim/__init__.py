"""dcsim: a discrete-event simulator of LLM-inference data centers."""
__version__ = "0.1.0"
