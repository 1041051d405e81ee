"""Every catalog model states its context window (``max_context``, tokens) with its source, or says it has none."""

from __future__ import annotations

from pathlib import Path

import yaml

from dcsim.node.catalog import model_catalog, model_max_context, resolve_model
from dcsim.scenario.node import ModelSpec

ROOT = Path(__file__).resolve().parents[1]


def test_every_model_states_its_window_with_a_source():
    text = (ROOT / "dcsim" / "data" / "models.yaml").read_text()
    raw = yaml.safe_load(text)
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


def test_an_inline_model_gives_its_window_and_a_renamed_copy_keeps_it():
    # max_context is a ModelSpec field (it used to be stripped from the catalog and read back by name, so an inline
    # model could not give one and a renamed copy lost it)
    m = resolve_model("llama-3.1-70b").model_copy(update={"name": "my-70b"})
    assert m.max_context == 131_072 and model_max_context(m) == 131_072
    raw = resolve_model("llama-2-70b").model_dump()
    raw.update(name="my-model", max_context=8192)
    assert model_max_context(ModelSpec(**raw)) == 8192
    raw.pop("max_context")
    assert model_max_context(ModelSpec(**raw)) is None  # none given: the check is skipped
