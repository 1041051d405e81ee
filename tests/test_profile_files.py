"""A node profile given by file (``node.profile``, ``calibrate --predict --profile``) is read as a scenario is and
checked: a broken or out-of-range file is one clear error naming the file and the field, never a traceback or a
silently wrong answer (negative power, NaN efficiencies); a profile of another setup is said to be one."""

from __future__ import annotations

import pytest
import yaml

from dcsim.node.catalog import PROFILE_DIR, load_profile

BASE = yaml.safe_load((PROFILE_DIR / "H100-SXM_llama-3.1-8b_bf16_tp1.yaml").read_text())


def _with(**params):
    prof = {**BASE, "params": {**BASE["params"], **params}}
    return yaml.safe_dump(prof)


@pytest.mark.parametrize("text, expect", [
    ("name: x\nparams: {mfu: 0.5\n  bad", "not valid YAML"),
    ("params: !!python/object/apply:os.system ['echo hi']\n", "not valid YAML"),
    ("- 1\n- 2\n", "not a dcsim node profile"),
    ("params: 5\n", "not a dcsim node profile"),
    ("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
     "expands to more than"),
    (_with(mfu=0), "params.mfu"),
    (_with(mfu=float("nan")), "params.mfu"),
    (_with(mbu=1.5), "params.mbu"),
    (_with(p_memory_w=-400.0), "params.p_memory_w"),
    (_with(gamma=-5.0), "params.gamma"),
    (_with(t_layer_s="abc"), "params.t_layer_s"),
    (yaml.safe_dump({**BASE, "error_band_pct": 7}), "error_band_pct must be a mapping"),
    (yaml.safe_dump({**BASE, "error_band_pct": {"tok_s_pct": -5, "j_per_tok_pct": 3}}), "error_band_pct.tok_s_pct"),
])
def test_a_broken_profile_file_is_one_error_naming_the_file_and_the_field(tmp_path, text, expect):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(ValueError) as e:
        load_profile(str(f))
    assert str(f) in str(e.value) and expect in str(e.value)


def test_non_utf8_and_shipped_profiles(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_bytes(b"\xde\xad\xbe\xef")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_profile(str(f))
    f.write_text(yaml.safe_dump(BASE))
    assert load_profile(str(f))["params"] == BASE["params"]  # a good file loads unchanged
    from dcsim.node.catalog import check_profile, shipped_profiles
    for name, prof in shipped_profiles().items():  # every shipped profile passes the same check
        check_profile(prof, name)


def test_a_profile_of_another_setup_is_said_to_be_one(small):
    from dcsim.engine.preflight import preflight
    from dcsim.scenario import load_scenario

    d = small(duration="10 min")
    d["racks"][0]["node"]["profile"] = "B200_qwen3-32b_bf16_tp1"
    warns = preflight(load_scenario(d)).models.warnings
    (w,) = [w for w in warns if "node.profile" in w]
    assert "fitted to B200 / qwen3-32b / bf16 / TP1, not H100-SXM / llama-3.1-70b / bf16 / TP4" in w
    assert "gpu, model, tensor_parallel differ" in w
    d["racks"][0]["node"]["profile"] = "H100-SXM_llama-3.1-70b_bf16_tp4"  # its own setup: no warning
    assert not [w for w in preflight(load_scenario(d)).models.warnings if "node.profile" in w]


def test_a_profile_of_an_older_dcsim_says_so_and_an_empty_one_names_the_missing_field(tmp_path):
    f = tmp_path / "p.yaml"
    old = {k: v for k, v in BASE["params"].items() if k not in ("p_sync_w", "t_layer_s")}
    f.write_text(yaml.safe_dump({**BASE, "params": {**old, "p_base_w": 300.0, "t_fixed_s": 1e-3}}))
    with pytest.raises(ValueError, match="written by an older dcsim"):
        load_profile(str(f))
    f.write_text(yaml.safe_dump({**BASE, "params": {}}))
    with pytest.raises(ValueError, match="params.mfu is missing"):
        load_profile(str(f))


def test_the_profile_check_covers_exactly_the_fitted_parameters():
    """catalog.PROFILE_PARAMS (what a profile file is checked for) and calibrate.PARAM_NAMES (what a fit writes) are
    the same parameters; the optional ones are those PerfParams gives a default."""
    import dataclasses

    from dcsim.node.calibrate import PARAM_NAMES
    from dcsim.node.catalog import _OPTIONAL_PARAMS, PROFILE_PARAMS
    from dcsim.node.perf import PerfParams
    from dcsim.node.power import GAMMA_RANGE

    assert set(PROFILE_PARAMS) == set(PARAM_NAMES)
    assert set(_OPTIONAL_PARAMS) == {f.name for f in dataclasses.fields(PerfParams)
                                     if f.default is not dataclasses.MISSING}
    assert PROFILE_PARAMS["gamma"][:2] == GAMMA_RANGE
