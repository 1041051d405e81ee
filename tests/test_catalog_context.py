"""Every catalog model states its context window (``max_context``, tokens) with its source, or says it has none."""

from __future__ import annotations

from pathlib import Path

import yaml

from dcsim.node.catalog import model_catalog, model_max_context, resolve_model

ROOT = Path(__file__).resolve().parents[1]


def test_every_model_states_its_window_with_a_source():
    text = (ROOT / "dcsim" / "data" / "models.yaml").read_text()
    raw = yaml.safe_load(text)
    lines = {ln.split(":")[0].strip(): ln for ln in text.splitlines() if ln.strip().startswith("max_context:")}
    assert lines  # the key is written in the file
    for name, entry in raw.items():
        assert "max_context" in entry, name
        # each value's line carries its source or says it is an assumption
        line = next(ln for ln in text.split(f"\n{name}:\n", 1)[1].splitlines() if "max_context:" in ln)
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, name
    assert set(raw) == set(model_catalog())


def test_windows_of_the_models_read():
    assert model_max_context("llama-3.1-70b") == 131_072
    assert model_max_context("meta-llama/Llama-3.1-70B-Instruct") == 131_072  # by Hugging Face id
    assert model_max_context(resolve_model("llama-2-70b")) == 4096
    assert model_max_context("mixtral-8x7b") == 32_768
    assert model_max_context("qwen3-8b") == 40_960
    assert model_max_context("bloom-176b") is None  # ALiBi, no published window: the check is skipped


def test_an_inline_model_has_no_window():
    m = resolve_model("llama-3.1-70b").model_copy(update={"name": "my-70b"})
    assert model_max_context(m) is None
