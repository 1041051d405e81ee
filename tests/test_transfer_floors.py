"""The clock floor and γ provenance of a transfer to a GPU with no measurement of its own (session 53, NODEFIX):
judged by the measurements its parameters come from, and said so, not by "every measurement of <GPU>"."""
from __future__ import annotations

from conftest import throttled_small_runs
from dcsim.node.catalog import load_profile, pooled_profiles
from dcsim.node.model import build_node, cap_assumption_text, clock_floor, clock_text
from dcsim.scenario import NodeSpec


def _below(c: dict, clock: float = 0.5) -> dict:
    """The record of a group throttled below its floor on a tenth of its GPU-time, down to ``clock``."""
    return {**c, "clock_below_range_share": 0.1, "clock_below_range_min": clock}


def test_same_silicon_transfer_takes_its_sibling_profiles_clock_floor():
    """H200 Llama-3.3-70B runs on the H100 profile's parameters (same silicon); that profile's capped rows reach clock
    0.6897, so below it (not below full clock, "where every measurement of H200 ran": H200 has none) is where the
    EXTRAPOLATED CLOCK flag starts, and the text names the H100 profile."""
    h100 = load_profile("H100-SXM_llama-3.3-70b_bf16_tp4")
    own, of = clock_floor(h100, "H100-SXM")
    assert of == "profile" and own < 0.75
    c = build_node(NodeSpec(gpu="H200", model="llama-3.3-70b", precision="bf16", tensor_parallel=4)).calibration
    assert c["status"] == "same-silicon"
    assert (c["measured_clock_min"], c["clock_min_of"]) == (own, "same-silicon")
    text = clock_text(_below(c))
    assert "H100-SXM_llama-3.3-70b_bf16_tp4" in text and f"({own:.2f})" in text
    assert "every measurement of H200" not in text


def test_generic_gpu_clock_floor_is_the_lowest_every_averaged_pool_covers():
    """MI300X (no measurement, no sibling) averages the pooled fits of the current-stack GPUs: its floor is the highest
    of theirs (below it at least one pool's figures are extrapolated) and its text names them, not MI300X's rows."""
    node = build_node(NodeSpec(gpu="MI300X", model="llama-3.3-70b", precision="bf16"))
    c = node.calibration
    assert c["status"] == "generic" and c["clock_min_of"] == "pools"
    pools = c["clock_min_from"]["pools"]
    assert set(pools) <= set(pooled_profiles()) and len(pools) >= 2
    assert c["measured_clock_min"] == max(pools.values())
    for g, f in pools.items():  # each pool's own floor, as its profile states it
        assert f == clock_floor(pooled_profiles()[g], g)[0]
    text = clock_text(_below(c))
    assert all(g in text for g in pools) and "every measurement of MI300X" not in text


def test_gpu_floor_text_of_a_gpu_with_no_measurement_does_not_claim_any():
    """The GPU's own floor on a GPU dcsim has no measurement of (an H100 profile named on MI300X): full clock, said as
    no measurement, not "where every measurement of MI300X ran"."""
    c = {"for": "MI300X / llama-3.3-70b / bf16 / TP4", "measured_clock_min": 1.0, "clock_min_of": "gpu"}
    text = clock_text(_below(c))
    assert "below full clock" in text and "every measurement of MI300X" not in text
    b200 = {**c, "for": "B200 / llama-3.3-70b / bf16 / TP4"}  # a GPU measured at full clock only: as before
    assert "full clock, where every measurement of B200 ran" in clock_text(_below(b200))


def test_generic_gamma_records_the_pools_it_is_averaged_from():
    """A generic GPU's γ is the mean of the averaged pools' γ: its gamma_source names each pool with its γ and that
    γ's own source, so the EXTRAPOLATED CAP / CLOCK texts say it (before: "γ source not recorded")."""
    node = build_node(NodeSpec(gpu="MI300X", model="llama-3.3-70b", precision="bf16"))
    c = node.calibration
    src = c["gamma_source"]
    assert src, "no gamma_source recorded"
    # the pools it averages, as the transfer names them ("the B200, H100-SXM pooled fits it averages hold")
    pools = {g: p for g, p in pooled_profiles().items() if g in node.profile["precisions_of"].split(" pooled fits")[0]}
    assert len(pools) >= 2
    assert abs(node.pw.gamma - sum(p["params"]["gamma"] for p in pools.values()) / len(pools)) < 1e-9
    assert all(g in src and p["gamma_source"] in src for g, p in pools.items())
    said = cap_assumption_text(c)
    assert "not recorded" not in said and all(p["gamma_source"] in said for p in pools.values())


def test_h200_throttled_within_its_siblings_clock_range_is_not_flagged():
    """End to end: the small facility on H200 (H100 Llama-3.1-70B TP4's parameters, floor 0.6995) behind 120 kW runs
    at about 0.77, within the clocks the H100 profile's capped rows cover: no EXTRAPOLATED CLOCK (flagged before, its
    floor full clock); behind 110 kW at about 0.66, flagged, the warning naming the H100 profile."""
    within, capped = throttled_small_runs("120 kW", "110 kW", gpu="H200")
    assert 0.6995 < float(within.timeseries["controller_clock"].min()) < 1.0
    assert not any("EXTRAPOLATED CLOCK" in k for k in within.caveats)
    (c,) = capped.report["provenance"]["calibration"]
    assert (c["measured_clock_min"], c["clock_min_of"]) == (0.6995, "same-silicon")
    (w,) = [x for x in capped.report["warnings"] if "below the measured clock range" in x]
    (cav,) = [k for k in capped.caveats if k.startswith("EXTRAPOLATED CLOCK")]
    for text in (w, cav):
        assert "H100-SXM_llama-3.1-70b_bf16_tp4" in text and "every measurement of H200" not in text
