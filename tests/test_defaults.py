"""One home for each default: the scenario specs and the model functions share the same numbers."""

import inspect

import numpy as np
import pytest

from dcsim.power import delivery, rack
from dcsim.scenario import facility as fs


def _default(fn, arg):
    return inspect.signature(fn).parameters[arg].default


def test_power_chain_defaults_are_the_specs():
    pc = fs.PowerChainSpec()
    assert _default(delivery.ups_loss_w, "l0") == pc.ups_l0 == _default(delivery.ups_efficiency, "l0")
    assert _default(delivery.ups_loss_w, "l1") == pc.ups_l1 == _default(delivery.ups_efficiency, "l1")
    assert _default(delivery.transformer_loss_w, "no_load") == pc.transformer_no_load
    assert _default(delivery.transformer_loss_w, "proportional") == pc.transformer_proportional
    assert _default(delivery.transformer_loss_w, "square") == pc.transformer_square
    assert _default(delivery.pdu_loss_w, "fraction") == pc.pdu_loss_fraction


def test_rack_defaults_are_the_specs():
    assert _default(rack.rack_power_limit_w, "derate") == fs.RackPowerSpec().derate
    assert _default(rack.rack_liquid_fraction, "liquid_fraction") == fs.RackCoolingSpec().liquid_fraction
    for kind, w in fs.RACK_COOLING_LIMIT_W.items():
        assert rack.rack_cooling_limit_w(kind) == w


def test_ups_default_efficiency_is_its_calibration_anchor():
    """CALIBRATION C2: η(1) = 0.955 and η(0.2–0.25) ≈ 0.85 for the default coefficients."""
    assert abs(float(delivery.ups_efficiency(1.0)) - 0.955) < 0.002
    assert 0.83 < float(delivery.ups_efficiency(0.225)) < 0.87


def _inline_copy(gpu, **server):
    """A catalog GPU given inline, every GPU field copied, its server block only with ``server`` (maybe empty)."""
    from dcsim.scenario.node import GpuSpec
    d = gpu.model_dump(exclude={"server", "name"})
    return GpuSpec(name="inline-" + gpu.name, server=server, **d) if server else GpuSpec(name="inline-" + gpu.name, **d)


def test_default_server_is_the_catalog_h100_server():
    """ServerSpec's defaults are the catalog's DGX H100 server (one home: gpus.yaml's sourced numbers)."""
    from dcsim.node.catalog import gpu_catalog
    from dcsim.scenario.node import ServerSpec
    cat = gpu_catalog()["H100-SXM"].server.model_dump(exclude={"name"})
    assert ServerSpec().model_dump(exclude={"name"}) == cat


def test_every_catalog_server_follows_the_full_load_rule():
    """gpus.yaml's non_gpu_max_w are the full-load rule [D] the code derives for an inline GPU: one rule."""
    from dcsim.node.catalog import gpu_catalog
    from dcsim.scenario.node import full_load_non_gpu_max_w
    for name, g in gpu_catalog().items():
        s = g.server
        assert s.non_gpu_max_w == full_load_non_gpu_max_w(s.server_max_w, s.psu_efficiency, s.gpus_per_node, g.tdp_w), name


def test_the_catalog_servers_host_maximum_is_derived_not_written():
    """gpus.yaml wrote each server's non_gpu_max_w (3142.0 for the DGX H100) beside the rule that derives it: no
    server gives it now, and the catalog loader (GpuSpec) derives the very figures the literals held."""
    import yaml

    from dcsim.node.catalog import DATA_DIR, gpu_catalog
    raw = yaml.safe_load((DATA_DIR / "gpus.yaml").read_text())
    assert [n for n, g in raw.items() if "non_gpu_max_w" in g.get("server", {})] == []
    got = {n: g.server.non_gpu_max_w for n, g in gpu_catalog().items()}
    assert got == {"A100-SXM4-80GB": 2371.0, "A100-SXM4-40GB": 2371.0, "H100-SXM": 3142.0, "H200": 3142.0,
                   "B200": 4256.0, "MI300X": 2742.0}  # the literals of the catalog until session 52


def test_inline_copy_of_a_catalog_gpu_draws_its_wall_power():
    """AUC 2: an H100 given inline without a server block drew 8,404 W at full load against the catalog's 9,300 W
    (the default host maximum was an unsourced 2,300 W). Every catalog GPU given inline with only its server's
    maximum system power (or, for the H100s, no server block at all) draws the catalog's full-load wall power."""
    from dcsim.node.catalog import gpu_catalog
    from dcsim.node.power import wall_power
    for name, g in gpu_catalog().items():
        s = g.server
        same = dict(gpus_per_node=s.gpus_per_node, server_max_w=s.server_max_w, non_gpu_idle_w=s.non_gpu_idle_w,
                    psu_efficiency=s.psu_efficiency)
        copies = [_inline_copy(g, **same)] + ([_inline_copy(g)] if g.tdp_w == 700.0 else [])
        want = float(wall_power(g, 1, s.gpus_per_node, g.tdp_w))
        for c in copies:
            assert float(wall_power(c, 1, c.server.gpus_per_node, c.tdp_w)) == want, (name, c.server)
    h = gpu_catalog()["H100-SXM"]
    assert 8 * float(wall_power(_inline_copy(h), 1, 8, h.tdp_w)) == pytest.approx(9300, abs=1)


def test_default_server_refuses_a_gpu_it_cannot_hold():
    """The full-load check covers a default server_max_w: 8 x 1000 W boards do not fit a 10.2 kW DGX H100 chassis."""
    import pytest
    from pydantic import ValidationError
    from dcsim.node.catalog import gpu_catalog
    b = gpu_catalog()["B200"]
    with pytest.raises(ValidationError, match="server.non_gpu_max_w.*below non_gpu_idle_w.*name the catalog GPU it copies \\(gpu: B200"):
        _inline_copy(b)
    with pytest.raises(ValidationError, match=r"server.server_max_w: the default \(the DGX H100's\) 10200 W is below"):
        _inline_copy(b, non_gpu_max_w=2000.0)
    assert _inline_copy(b, server_max_w=b.server.server_max_w).server.non_gpu_max_w == b.server.non_gpu_max_w


def test_serving_and_node_defaults_have_one_home():
    """AUC 8: the token budget, the latency reservoir and the TP check read one constant."""
    from dcsim.node import perf
    from dcsim.serving.metrics import ServingMetrics
    from dcsim.scenario.node import NodeSpec, ServerSpec
    assert perf.DEFAULT_CHUNK_TOKENS == NodeSpec().max_batched_tokens
    assert _default(perf.steady_mix, "chunk_tokens") == NodeSpec().max_batched_tokens
    assert _default(perf.tensor_parallel_problem, "gpus_per_node") == ServerSpec().gpus_per_node
    # the latency reservoir's size is its caller's (the engine passes serving.latency_sample_size): until session 53
    # dcsim.serving.metrics imported ServingSpec to repeat its default
    assert inspect.signature(ServingMetrics.__init__).parameters["sample_size"].default is inspect.Parameter.empty


def test_a_profile_without_overlap_p_runs_on_perf_params_default():
    """A profile that does not state its roofline exponent is read with PerfParams' own default (one home), and one
    that states it keeps its own (MD1 4: replaces checks true by construction and a scan of model.py's source)."""
    import dataclasses
    from dcsim.node import perf
    from dcsim.node.catalog import load_profile
    from dcsim.node.model import _params_from_profile
    default = {f.name: f.default for f in dataclasses.fields(perf.PerfParams)}["overlap_p"]
    prof = load_profile("H100-SXM_llama-3.1-70b_bf16_tp4")
    mine = {**prof, "params": {k: v for k, v in prof["params"].items() if k != "overlap_p"}}
    assert _params_from_profile(mine)[0].overlap_p == default
    own = {**prof, "params": {**mine["params"], "overlap_p": default + 1.5}}
    assert _params_from_profile(own)[0].overlap_p == default + 1.5


def test_simulate_takes_the_gpu_heat_share_from_its_caller():
    """dcsim.thermal.dynamics.simulate (public) defaulted gpu_heat_share to 0.0 (feedback off), then to GPU_HEAT_SHARE
    (0.8): a caller leaving it out got another run without a word. It is a required keyword now: left out, refused."""
    from dcsim.thermal import dynamics
    par = inspect.signature(dynamics.simulate).parameters["gpu_heat_share"]
    assert par.default is inspect.Parameter.empty and par.kind is inspect.Parameter.KEYWORD_ONLY
    from dcsim.scenario.facility import ThermalDynamicsSpec
    p = dynamics.thermal_params(ThermalDynamicsSpec(), design_heat_w=10e6, setpoint_c=15.0)
    st = dynamics.steady_state(p, 8e6)
    with pytest.raises(TypeError, match="gpu_heat_share"):
        dynamics.simulate(p, st, np.full(3, 8e6), 10e6, 60.0)
    with pytest.raises(TypeError):  # keyword only: a sixth positional value is not read as the share
        dynamics.simulate(p, st, np.full(3, 8e6), 10e6, 60.0, 650.0, 0.8)
    off = dynamics.simulate(p, st, np.full(3, 8e6), 0.0, 60.0, gpu_heat_share=0.0)
    assert not off["throttled"].any() and np.all(off["it_heat_w"] == 8e6)  # feedback off: the IT heat as given


def test_thermal_and_grid_defaults_have_one_home():
    """AUC 8: fan law, fixed facility load, GPU heat share and the deferrable threshold read one constant each. The
    fan law and the deferrable threshold/urgency live in the scenario only: the pure model functions take them as
    plain values (no default to drift from the spec's), and refuse a policy that needs one without it."""
    from dcsim.scenario import grid
    from dcsim.thermal import cooling, dynamics
    from dcsim.workload import deferrable
    for spec in (fs.ChillerPlantSpec(), fs.AirsideEconomizerSpec()):
        assert spec.fan_exponent == fs.FAN_EXPONENT and spec.fan_min_speed == fs.FAN_MIN_SPEED
    fan = inspect.signature(cooling.crah_fan_power_w).parameters
    assert fan["exponent"].default is fan["min_speed"].default is inspect.Parameter.empty
    assert _default(dynamics.cooling_failure_response, "gpu_heat_share") == dynamics.GPU_HEAT_SHARE
    dw = grid.DeferrableWorkSpec()
    arr, price = np.full(48, 1e4), np.where(np.arange(48) % 24 < 5, 20.0, 80.0)
    for missing in ("quantile", "urgency_s"):
        given = {"quantile": dw.quantile, "urgency_s": dw.urgency}
        del given[missing]
        with pytest.raises(ValueError, match=missing):
            deferrable.schedule_deferrable(arr, 1e6, 3600.0, dw.deadline, policy="cheap", signal=price, **given)
    head = deferrable.schedule_deferrable(arr, 1e6, 3600.0, dw.deadline)  # headroom uses neither
    assert head["served_total"] == arr.sum()


def test_fixed_load_default_is_the_spec_fraction():
    """With no fixed_load given the facility carries FIXED_LOAD_FRACTION of its interconnect (the spec's [LEI] 0.2 %)."""
    from dcsim.thermal.facility import build_facility
    f = build_facility(fs.FacilitySpec(interconnect="10 MW"))
    assert fs.FacilitySpec(interconnect="10 MW").power_chain.fixed_load is None
    assert f.fixed_w == fs.FIXED_LOAD_FRACTION * 10e6 == 20e3


#: numeric scenario defaults that need no source: they switch a feature off or change nothing (identity), or are a
#: user's choice with no physical meaning. Each with the neutral value it must still hold (a row whose default moves
#: to a physical number needs a source then) and its reason; every other numeric field default, lists included, must
#: say its source ([TAG] of docs/sources.md, "source") or that it is an assumption in its description (AUC 9).
NEUTRAL_DEFAULTS = {
    "TrimChillerSpec.derate_per_k": (0.015, "refused when given: the liquid spec's derate_per_k applies"),
    "ServingSpec.min_headroom_w": (0.0, "off: no power headroom reserved"),
    "RackGroupSpec.count": (1, "the user's choice: one rack group of one rack"),
    "Scenario.seed": (0, "the user's choice: any seed"),
    "PueCurveSpec.per_k": (0.0, "off: no weather dependence"),
    "AirsideEconomizerSpec.trim_capacity_fraction": (1.0, "identity: a full-size trim (0 = chiller-less)"),
    "SyntheticWeatherSpec.noise_std": (0.0, "off: deterministic cosines"),
    "CsvWeatherSpec.offset": (0.0, "identity: the file's own time"),
    "NodeFailuresSpec.shape": (1.0, "identity: Weibull k = 1 is the exponential"),
    "HeatWaveSpec.ramp": (0.0, "off: a step change"),
    "ModelSpec.n_experts": (0, "off: a dense model"),
    "ModelSpec.experts_per_token": (0, "off: a dense model"),
    "ModelSpec.expert_params": (0.0, "off: a dense model"),
    "ModelSpec.local_layers": (0, "off: every layer attends to the whole context"),
    "LeverSpec.kv_compression": (1.0, "off: lever not applied"),
    "LeverSpec.sparse_attention": (1.0, "off: lever not applied"),
    "LeverSpec.layer_skip": (1.0, "off: lever not applied"),
    "DiurnalArrivalSpec.period": (86400.0, "definition: one day"),
    "TraceArrivalSpec.time_scale": (1.0, "identity: the trace's own time"),
    "TraceArrivalSpec.rate_scale": (1.0, "identity: the trace's own rate"),
    "TraceArrivalSpec.start_offset": (0.0, "identity: the trace's own start"),
    "RequestClassSpec.share": (1.0, "identity: a single class takes every arrival"),
    "*.scale": (1.0, "identity: the arrival rate as given"),
}


def _numeric_scenario_defaults():
    """``(class, field, default, description)`` of every scenario spec field whose default is a number or a list of
    numbers (a ``default_factory`` list, such as PueCurveSpec.load)."""
    import importlib
    import pkgutil
    from pydantic import BaseModel
    import dcsim.scenario as S
    mods = [S] + [importlib.import_module("dcsim.scenario." + m.name) for m in pkgutil.iter_modules(S.__path__)]
    seen = set()
    num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    for m in mods:
        for c in vars(m).values():
            if inspect.isclass(c) and issubclass(c, BaseModel) and c.__module__.startswith("dcsim.scenario") \
                    and c not in seen:
                seen.add(c)
                for f, fi in c.model_fields.items():
                    v = fi.default
                    if fi.default_factory is not None:
                        try:
                            v = fi.default_factory()
                        except TypeError:  # a factory that takes the validated data
                            continue
                    if num(v) or (isinstance(v, (list, tuple)) and v and all(num(x) for x in v)):
                        yield c.__name__, f, v, fi.description or ""


def _source_keys():
    """The tags docs/sources.md defines (each ``**[KEY]**``, and each key of a ``**[A]/[B]**`` group)."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "sources.md").read_text()
    return {k for group in re.findall(r"\*\*((?:\[[^\]]+\]/?)+)\*\*", text) for k in re.findall(r"\[([^\]]+)\]", group)}


def test_every_numeric_scenario_default_carries_a_source_or_an_assumption_mark():
    import re
    tag = re.compile(r"\[([A-Za-z][A-Za-z0-9\-_ ]*)\]")
    word = re.compile(r"\bsource\b|\bassumption\b", re.I)
    found = list(_numeric_scenario_defaults())
    assert len(found) > 100  # the scan sees the specs (2026-12-05: 161 numeric defaults, 4 lists)
    assert any(isinstance(v, list) for _, _, v, _ in found)  # lists scanned too (PueCurveSpec.load)

    def row(c, f):
        return NEUTRAL_DEFAULTS.get(f"{c}.{f}") or NEUTRAL_DEFAULTS.get(f"*.{f}")

    bare = [f"{c}.{f}" for c, f, _, d in found if not (tag.search(d) or word.search(d)) and row(c, f) is None]
    assert not bare, f"numeric defaults with no source, [TAG] or 'assumption' in their description: {bare}"
    moved = [(f"{c}.{f}", v, row(c, f)[0]) for c, f, v, _ in found if row(c, f) is not None and v != row(c, f)[0]]
    assert not moved, f"allow-listed defaults no longer their neutral value (give them a source): {moved}"
    # each cited tag an entry of docs/sources.md that gives an address or a publication (until session 53 only
    # that the tag was defined: an entry without either passed)
    from conftest import citation_problems, source_entries
    entries = source_entries()
    assert set(entries) == _source_keys()  # the two readings of docs/sources.md agree
    bad = sorted({p for c, f, _, d in found for p in citation_problems(d, f"{c}.{f}", entries)})
    assert not bad, "\n".join(bad)
    names = {f"{c}.{f}" for c, f, _, _ in found} | {f"*.{f}" for _, f, _, _ in found}
    assert not set(NEUTRAL_DEFAULTS) - names, "allow-list rows for fields that no longer exist"


def test_vllm_batch_default_citations_say_what_vllm_v1_does():
    """MD1 1: vLLM V1's get_batch_defaults gives an OpenAI server on a >= 70 GiB non-A100 GPU 8192 tokens and 1024
    sequences, 2048 / 256 otherwise (A100s included): max_batch 256 is V0's default, an assumption for V1."""
    from dcsim.scenario.node import NodeSpec
    from dcsim.scenario.serving import ServingSpec
    f = NodeSpec.model_fields
    assert f["max_batch"].default == 256 and f["max_batched_tokens"].default == 8192
    mb = f["max_batch"].description
    assert "assumption" in mb and "1024" in mb and "V0" in mb
    assert "A100: 2048" in f["max_batched_tokens"].description
    assert "V1" in ServingSpec.model_fields["kv_watermark"].description


def test_derived_host_maximum_is_not_recorded_as_given():
    """MD1 2: the derived non_gpu_max_w was marked user-set, so a spec dumped (exclude_unset, as plan/sweeps do) and
    re-validated with another tdp_w kept the old host maximum (3142 W) where a fresh spec derives its own (3942 W)."""
    from dcsim.node.catalog import gpu_catalog
    from dcsim.scenario.node import GpuSpec
    h = _inline_copy(gpu_catalog()["H100-SXM"])
    assert h.server.non_gpu_max_w == pytest.approx(3142, abs=1)
    assert "non_gpu_max_w" not in h.server.model_fields_set
    raw = h.model_dump(mode="json", exclude_unset=True)
    raw["tdp_w"] = 600.0
    again = GpuSpec.model_validate(raw)
    fresh = GpuSpec.model_validate({**h.model_dump(exclude={"server"}), "tdp_w": 600.0})
    assert again.server.non_gpu_max_w == fresh.server.non_gpu_max_w == pytest.approx(3942, abs=1)


def test_hold_limit_and_a100_citations_say_what_their_sources_say():
    """MD1 6: the OpenAI SDK's 600 s is per attempt and it retries twice (src/openai/_constants.py), so abandonment
    at 600 s is an assumption; the A100 datasheet's reproductions do not all agree on every figure (TechPowerUp: HBM2e)."""
    import pathlib
    from dcsim.scenario import ControllerSpec
    d = ControllerSpec.model_fields["hold_limit"].description
    assert "src/openai/_constants.py" in d and "per attempt" in d and "DEFAULT_MAX_RETRIES = 2" in d
    assert "abandonment" in d and "assumption" in d
    src = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "sources.md").read_text()
    assert "agree on every one" not in src and "HBM2e" in src


def test_the_default_server_is_the_catalogs_dgx_h100_with_the_full_load_rules_host():
    """The default ServerSpec's host maximum is the full-load rule's at the default server's numbers (it was the
    literal 3142.0 beside the rule), and those numbers are the catalog's H100-SXM server's."""
    from dcsim.node.catalog import resolve_gpu
    from dcsim.scenario.node import DEFAULT_SERVER_TDP_W, ServerSpec, full_load_non_gpu_max_w

    s, h100 = ServerSpec(), resolve_gpu("H100-SXM")
    assert s.non_gpu_max_w == full_load_non_gpu_max_w(s.server_max_w, s.psu_efficiency, s.gpus_per_node,
                                                      DEFAULT_SERVER_TDP_W) == 3142.0
    assert h100.tdp_w == DEFAULT_SERVER_TDP_W
    assert s.model_dump(exclude={"name"}) == h100.server.model_dump(exclude={"name"})



def test_every_source_entry_gives_an_address_or_a_publication():
    """Each entry of docs/sources.md, cited or not, gives an address or a publication (conftest ``citation_problems``):
    until session 53 (mend 1) [EQX] ("Equinix via dataset search snippet") and [PYPI] ("the package registry's list of
    names and summaries") gave neither, and [SMI] was allowed by name without its addresses; a tag only a doc not
    read by the citation tests cites would have passed with neither."""
    from conftest import SOURCE_MARKS, citation_problems, source_entries
    entries = source_entries()
    keys = sorted(set(entries) - SOURCE_MARKS)
    bad = citation_problems(" ".join(f"[{k}]" for k in keys), "docs/sources.md", entries)
    assert not bad, "\n".join(bad)
