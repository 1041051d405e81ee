"""dcsim: a discrete-event simulator of LLM-inference data centers.

How many useful tokens can a facility produce, at how many Joules per token, and
which limit binds — compute, delivered power or cooling — and when does that shift?

Public API::

    import dcsim
    sc = dcsim.load_scenario("scenarios/reference.yaml")
    res = dcsim.run(sc, seed=1)          # -> dcsim.Result (.report, .timeseries)
    dcsim.tpf.token_production(...)      # the closed form
"""

__version__ = "0.1.0"

import sys as _sys  # noqa: E402

try:
    from dcsim import tpf  # noqa: E402
    from dcsim.scenario import Scenario, ScenarioError  # noqa: E402
    from dcsim.scenario import load_scenario  # noqa: E402  (it checks its source's type itself)
except KeyboardInterrupt:  # Ctrl-C while the package loads (issue 17.2)
    if _sys.argv and _sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] in ("dcsim", "dcsim.exe"):
        # the console script: exit as an interrupted run does (130), without a traceback
        _sys.stderr.write("dcsim: interrupted while starting; nothing was run\n")
        raise SystemExit(130) from None
    raise  # a library import (a notebook, a test): the caller decides


def run(scenario, *, overrides=None, progress=None, base_dir=None, **kw):
    """Run a scenario and return its :class:`~dcsim.metrics.result.Result` (``.report``, ``.timeseries``,
    ``.caveats``).

    ``scenario`` is a path, a dict or a :class:`Scenario`. ``overrides`` maps dotted paths to values
    (``{"facility.interconnect": "15 MW"}``); keyword arguments are top-level overrides (``seed=3``,
    ``duration="2 h"``); ``progress`` is called with the simulated fraction; ``base_dir`` is where a dict scenario's
    relative file paths are read from. See :func:`dcsim.engine.run.run`.
    """
    from dcsim.engine.run import run as _run

    return _run(scenario, overrides=overrides, progress=progress, base_dir=base_dir, **kw)


def __getattr__(name):
    if name == "Result":
        from dcsim.metrics.result import Result

        return Result
    if name in ("sweep", "plan", "phase"):  # dcsim.sweep(spec, client=...), dcsim.plan.plan(...)
        import importlib

        return importlib.import_module(f"dcsim.{name}")
    raise AttributeError(name)


__all__ = ["__version__", "tpf", "Scenario", "ScenarioError", "load_scenario", "run", "Result", "sweep", "plan", "phase"]
