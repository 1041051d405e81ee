"""Shipped GPU/model catalogs and calibrated node profiles (``dcsim/data``).

Catalog entries become :class:`GpuSpec` / :class:`ModelSpec`; a scenario may give either a
catalog name or an inline spec. Profiles are YAML files written by ``dcsim calibrate``.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from pathlib import Path

import yaml

from dcsim.node.perf import achievable_flops, compute_precision, mfu_ceiling
from dcsim.node.power import GAMMA_RANGE
from dcsim.scenario.node import GpuSpec, ModelSpec
from dcsim.scenario.safeyaml import YamlInputError, load_yaml_text, read_text_bounded
from dcsim.units import excerpt

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PROFILE_DIR = DATA_DIR / "profiles"
POOLED_DIR = PROFILE_DIR / "pooled"
MEASUREMENT_DIR = DATA_DIR / "measurements"


def norm_gpu(name: str) -> str:
    """A GPU (or model) name as the catalogs compare it: stripped, lower case, ``_`` read as ``-``."""
    return str(name).strip().lower().replace("_", "-")


#: libyaml's C loader when available (7x faster on the profiles), same safe semantics
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path):
    """Parse a shipped YAML file with the safe loader. Parsed once per file version (path, mtime, size): a run
    builds a node per rack group and a plan or sweep builds hundreds, each reading every shipped profile (measured:
    8 s of a 106 s ``plan_for_targets`` on the reference scenario); callers get their own copy to change."""
    st = path.stat()
    return copy.deepcopy(_parse_yaml(str(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=256)
def _parse_yaml(path: str, mtime_ns: int, size: int):
    return yaml.load(Path(path).read_text(), Loader=_SafeLoader)  # noqa: S506 (safe loader)


def gpu_catalog() -> dict[str, GpuSpec]:
    """All shipped GPUs by name (``dcsim/data/gpus.yaml``)."""
    raw = _read_yaml(DATA_DIR / "gpus.yaml")
    return {k: GpuSpec(name=k, **v) for k, v in raw.items()}


def model_catalog() -> dict[str, ModelSpec]:
    """All shipped models by name (``dcsim/data/models.yaml``)."""
    raw = _read_yaml(DATA_DIR / "models.yaml")
    return {k: ModelSpec(name=k, **v) for k, v in raw.items()}


def model_max_context(model: str | ModelSpec) -> int | None:
    """The context window of a model, tokens (prompt + answer): its :attr:`ModelSpec.max_context` (in
    ``dcsim/data/models.yaml`` the model's config.json ``max_position_embeddings``, its source per entry there, and the
    ``max_model_len`` vLLM serves it with by default; an inline model gives its own). None for a model with no window
    known (bloom-176b, ALiBi; an inline model that gives none): the window check is skipped for it."""
    return resolve_model(model).max_context


class UnknownCatalogName(ValueError):
    """A GPU or model name the catalog does not hold; ``field`` is the node field that named it (``gpu``, ``model``),
    so that a scenario's error names ``racks[0].node.gpu`` (:func:`dcsim.engine.build.build_models`)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _close_names(cat: dict, name: str) -> list[str]:
    """Catalog names a mistyped ``name`` may have meant: those it begins (``H100`` -> ``H100-SXM``), else the closest
    by :func:`difflib.get_close_matches` (at most three)."""
    import difflib

    n = norm_gpu(name)
    if not n:
        return []
    pre = [k for k in sorted(cat) if norm_gpu(k).startswith(n)]
    if pre:
        return pre[:3]
    by = {norm_gpu(k): k for k in sorted(cat)}
    return [by[c] for c in difflib.get_close_matches(n, list(by), n=3, cutoff=0.6)]


def _lookup(cat: dict, name: str, what: str):
    by = {norm_gpu(k): v for k, v in cat.items()}
    for v in cat.values():
        if getattr(v, "hf_id", ""):
            by.setdefault(norm_gpu(v.hf_id), v)
    if norm_gpu(name) not in by:
        close = _close_names(cat, name)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownCatalogName(f"unknown {what} {excerpt(name)}; known: {', '.join(sorted(cat))}{hint} "
                                 "(or define it inline)", "gpu" if what == "GPU" else "model")
    return by[norm_gpu(name)]


def resolve_gpu(gpu: str | GpuSpec) -> GpuSpec:
    """A :class:`GpuSpec` from a catalog name or an inline spec."""
    return gpu if isinstance(gpu, GpuSpec) else _lookup(gpu_catalog(), gpu, "GPU")


def resolve_model(model: str | ModelSpec) -> ModelSpec:
    """A :class:`ModelSpec` from a catalog name (or Hugging Face id) or an inline spec."""
    return model if isinstance(model, ModelSpec) else _lookup(model_catalog(), model, "model")


def profile_name(gpu: str, model: str, precision: str, tp: int) -> str:
    """Canonical name of a calibrated profile."""
    return f"{gpu}_{model}_{precision}_tp{tp}"


def shipped_profiles() -> dict[str, dict]:
    """All shipped profiles by name."""
    return {p.stem: _read_yaml(p) for p in sorted(PROFILE_DIR.glob("*.yaml"))}


#: the parameters of a profile (``dcsim calibrate``'s output) with the physical range each must lie in; the fit's own
#: bounds (:mod:`dcsim.node.calibrate`) are inside these. Power terms: at most 10 kW per GPU (no board draws more;
#: assumption, a bound against typing errors, the board limit clips the sum anyway); overheads at most 1 s.
PROFILE_PARAMS = {
    "mfu": (0.0, 1.0, False, "model FLOP utilisation, a fraction of the peak in (0, 1]"),
    "mbu": (0.0, 1.0, False, "HBM bandwidth utilisation, a fraction in (0, 1]"),
    "t_layer_s": (0.0, 1.0, True, "seconds per layer run, in [0, 1]"),
    "t_seq_layer_s": (0.0, 1.0, True, "seconds per layer run per sequence, in [0, 1]"),
    "overlap_p": (1.0, 1000.0, True, "the roofline overlap exponent, in [1, 1000]"),
    "t_moe_layer_s": (0.0, 1.0, True, "seconds per MoE layer run, in [0, 1]"),
    "t_fp8_layer_s": (0.0, 1.0, True, "seconds per FP8 layer run, in [0, 1]"),
    "t_host_seq_s": (0.0, 1.0, True, "seconds per decode sequence per iteration on the host, in [0, 1]"),
    "p_compute_w": (0.0, 1e4, True, "W per GPU with the compute units busy, in [0, 10,000]"),
    "p_memory_w": (0.0, 1e4, True, "W per GPU with HBM busy, in [0, 10,000]"),
    "p_sync_w": (0.0, 1e4, True, "W per GPU in the overheads, in [0, 10,000]"),
    "gamma": (*GAMMA_RANGE, True, f"the DVFS exponent, in [{GAMMA_RANGE[0]:g}, {GAMMA_RANGE[1]:g}]"),
}
_OPTIONAL_PARAMS = ("overlap_p", "t_moe_layer_s", "t_fp8_layer_s", "t_host_seq_s")


def check_profile(prof, where: str) -> dict:
    """``prof`` if it is a usable node profile, else a ``ValueError`` naming ``where`` (the file), the field and the
    reason: a mapping with ``params`` holding every parameter of :data:`PROFILE_PARAMS` (the three optional ones may
    be absent) as a finite number in its range, and an ``error_band_pct`` (if any) of non-negative numbers or null."""
    if not isinstance(prof, dict) or not isinstance(prof.get("params"), dict):
        raise ValueError(f"{where}: not a dcsim node profile (a mapping with a 'params' mapping, as `dcsim calibrate "
                         f"--out` writes)")
    q = prof["params"]
    if ("p_sync_w" not in q or "t_layer_s" not in q) and ("p_base_w" in q or "t_fixed_s" in q):
        raise ValueError(f"{where}: written by an older dcsim (no p_sync_w / t_layer_s: a constant serving power term "
                         f"and per-iteration overheads): rerun its `generated_by` command to recalibrate it for the "
                         f"work-based power model")
    for k, (lo, hi, lo_ok, what) in PROFILE_PARAMS.items():
        if k not in q:
            if k in _OPTIONAL_PARAMS:
                continue
            raise ValueError(f"{where}: params.{k} is missing ({what})")
        v = q[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not ((v >= lo) if lo_ok else (v > lo)) or v > hi:
            raise ValueError(f"{where}: params.{k} must be {what}, got {excerpt(v)}")
    band = prof.get("error_band_pct")
    if band is not None:
        if not isinstance(band, dict):
            raise ValueError(f"{where}: error_band_pct must be a mapping of tok_s_pct and j_per_tok_pct, got "
                             f"{excerpt(band)}")
        for k in ("tok_s_pct", "j_per_tok_pct"):
            v = band.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                                  or v < 0):
                raise ValueError(f"{where}: error_band_pct.{k} must be a number >= 0 (per cent) or null, got "
                                 f"{excerpt(v)}")
    return prof


def load_profile(ref: str, base_dir: str | Path | None = None) -> dict:
    """A profile by shipped name, or by path (relative to ``base_dir``) to a calibrate YAML, checked
    (:func:`check_profile`); the file is read as scenarios are (:mod:`dcsim.scenario.safeyaml`: size, depth and
    alias limits), and any problem is a ``ValueError`` naming the file."""
    shipped = shipped_profiles()
    if ref in shipped:
        return shipped[ref]
    p = Path(ref)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if p.is_file():
        try:
            prof = load_yaml_text(read_text_bounded(p.read_bytes()))
        except YamlInputError as e:
            raise ValueError(f"{p}: {e}") from None
        except OSError as e:
            raise ValueError(f"{p}: cannot read the profile: {e.strerror or e}") from None
        return check_profile(prof, str(p))
    raise ValueError(f"profile {excerpt(ref, 120)}: neither a shipped profile ({', '.join(shipped)}) nor a file")


def find_profile(gpu: str, model: str, precision: str, tp: int | None) -> dict | None:
    """The shipped profile for this GPU/model/precision (same TP preferred), or None."""
    cands = [p for p in shipped_profiles().values()
             if norm_gpu(p["gpu"]) == norm_gpu(gpu) and norm_gpu(p["model"]) == norm_gpu(model) and p["precision"] == precision]
    if not cands:
        return None
    same = [p for p in cands if tp is not None and p["tensor_parallel"] == tp]
    return (same or cands)[0]


_SHAPE = ("params", "active_params", "layers", "hidden", "heads", "kv_heads", "head_dim", "kv_elems_per_layer",
          "n_experts", "experts_per_token", "expert_params", "moe_layers", "quantized",
          "sliding_window", "local_layers", "attention")


#: parameter counts within this relative difference are the same model (assumption: published counts round, e.g.
#: Llama-3.1-70B is 70.6e9 in its config, 70.55e9 from its safetensors, "70B" on its card: 0.85 %); the layer shape
#: (layers, hidden, heads, KV heads, head size, experts, attention, windows) must match exactly
SAME_PARAMS_REL = 0.01
_COUNTS = ("params", "active_params", "expert_params")


def _shape_of(m: ModelSpec) -> dict:
    """The fields of :data:`_SHAPE` with their defaults resolved as :func:`dcsim.node.perf.derive` resolves them
    (``active_params`` None = ``params``; ``kv_elems_per_layer`` None = 2 x KV heads x head size; ``moe_layers``
    None = every layer of an MoE model)."""
    d = {k: getattr(m, k) for k in _SHAPE}
    if d["active_params"] is None:
        d["active_params"] = d["params"]
    if d["kv_elems_per_layer"] is None:
        d["kv_elems_per_layer"] = 2 * m.kv_heads * m.head_dim
    if d["moe_layers"] is None and m.n_experts:
        d["moe_layers"] = m.layers
    return d


def same_architecture(a: ModelSpec, b: ModelSpec) -> bool:
    """True when two models have the same shape (a fine-tune or a rename): the same layer shape, defaults resolved,
    and parameter counts within :data:`SAME_PARAMS_REL` (until 2026-12-04 every field had to be written identically:
    leaving out ``active_params`` or writing 70.55e9 for 70.6e9 lost the Llama-70B calibration, J/token +20 % at
    batch 256 under a transferred profile; audit N #5)."""
    sa, sb = _shape_of(a), _shape_of(b)
    for k in _SHAPE:
        x, y = sa[k], sb[k]
        if k in _COUNTS and x is not None and y is not None:
            if abs(float(x) - float(y)) > SAME_PARAMS_REL * max(abs(float(x)), abs(float(y))):
                return False
        elif x != y:
            return False
    return True


def find_architecture_profile(gpu: str, model: ModelSpec, precision: str, tp: int | None) -> dict | None:
    """A shipped profile of ``gpu`` whose model has ``model``'s shape under another name, or None."""
    cat = model_catalog()
    cands = []
    for p in shipped_profiles().values():
        m = cat.get(p["model"])
        if m is not None and norm_gpu(p["gpu"]) == norm_gpu(gpu) and p["precision"] == precision \
                and norm_gpu(m.name) != norm_gpu(model.name) and same_architecture(m, model):
            cands.append(p)
    same = [p for p in cands if tp is not None and p["tensor_parallel"] == tp]
    return (same or cands or [None])[0]


#: the serving software each shipped measurement set was taken on, by file-name prefix (:data:`SERVING_STACKS`).
#: Latency and power depend on it as much as on the GPU: on the same 8 x H100, Llama-2-70B's prefill and decode
#: steps in Splitwise's 2023 profile DB are 3.2-4.5x those of dcsim's H100 calibration on vLLM 0.11.1
#: (docs/validation.md rows SW-*), so figures of GPUs calibrated on different stacks do not compare hardware alone.
#: ``current``: the stack of dcsim's reference calibrations (H100, B200). Ratio-only files (a latency factor under
#: a power cap, :data:`RATIO_ONLY`) carry no absolute latency or power and set no stack.
#: what the source says of vLLM 0.5.4 against 0.11.1 (the one sentence: the stack note below and docs/validation.md's
#: SW-* reason read it); [ML-long], docs/sources.md. Not measured in dcsim: the shipped rows' Llama-3.1-8B tokens/s on
#: one H100 (vLLM 0.11.1, mlenergy_llama-3.1-8b.csv) over one A100-SXM4-40GB (vLLM 0.5.4), 3.6x at max_num_seqs 32 and
#: 5.2x at 256, holds the hardware as well as the software (HBM bandwidth alone 2.15x) and other prompts
VLLM_054_TO_0111 = "[ML-long] reports 3-5x the throughput on the H100 from vLLM 0.5.4 to 0.11.1"
#: what an older stack means for its figures, measured (docs/validation.md rows SW-*; checked by
#: tests/test_calibration_caveat.py against those rows)
OLDER_STACK_NOTE = ("on the same 8 x H100, Splitwise's 2023 stack takes 3.2-4.5x as long as dcsim's current "
                    "calibration (vLLM 0.11.1) for Llama-2-70B's prefill and decode steps (docs/validation.md SW-*): "
                    "these figures are slower than today's software, and a comparison with GPUs calibrated on the "
                    "current stack mixes software with hardware")
#: file-name prefix -> (stack, current, note): the longest prefix a file name starts with wins (:func:`serving_stack`);
#: ``note``, what an older stack means for its figures (:func:`stack_note`; None on the current stack)
SERVING_STACKS = {
    "mlenergy_v2_": ("vLLM 0.5.4 (ML.ENERGY Leaderboard v2.0, 2024)", False,
                     "measured on vLLM 0.5.4, slower than today's software (" + VLLM_054_TO_0111 + "): a comparison "
                     "with GPUs calibrated on the current stack mixes software with hardware"),
    "mlenergy_": ("vLLM 0.11.1 (ML.ENERGY Leaderboard v3.0, 2025)", True, None),
    "splitwise_a100_requests": ("the Splitwise profile DB (Patel et al., ISCA'24; serving stack of 2023)", False,
                                OLDER_STACK_NOTE),
}
RATIO_ONLY = ("splitwise_h100_cap",)


#: the worst measured error (%) of a calibration carried to a model of the same shape under another name (status
#: ``same-architecture``: a fine-tune or a rename), per quantity: Llama-3.3-70B (a new post-training of Llama-3.1-70B's
#: shape) predicted with the Llama-3.1-70B profile of the same GPU and TP at every fitted load row of
#: mlenergy_llama-3.3-70b.csv, on 4 x H100-SXM and 2 x B200 (docs/validation.md rows SA-*, from
#: dcsim.validation.cases_same_shape: ``python -m dcsim.validation --markdown``): tokens/s -3.5 % (SA-B200-llama-3.3-70b-tok_s),
#: J/token -9.0 % (SA-H100-SXM-llama-3.3-70b-j_tok), rounded up to 0.1 %. A same-architecture band is the larger of
#: this and its profile's own in-sample band; one measured pair is evidence of how far such a carry lands, not a
#: bound on it, so the band is marked a lower bound (``band_lower_bound``). Checked against those rows by
#: tests/test_calibration_caveat.py (it recomputes them and fails if this figure is below them or stale).
SAME_SHAPE_CARRY_PCT = {"tok_s_pct": 3.6, "j_per_tok_pct": 9.0}


#: the measured carries of chat-fitted calibrations to longer contexts: written by ``python -m dcsim.validation
#: --context-carry`` from docs/validation.md's GPQA rows (``dcsim.validation.context_carry_table``), not by hand
CONTEXT_CARRY_FILE = DATA_DIR / "context_carry.yaml"


def context_carry() -> list[dict]:
    """The rows of :data:`CONTEXT_CARRY_FILE`: each GPQA point of docs/validation.md (a profile fitted on ML.ENERGY's
    chat rows, run at 224-token prompts and 8-10k-token reasoning outputs) with its decode context, the longest its
    profile was measured at and their ratio (``context_x``), its tokens/s and J/token errors (%) and whether they
    leave the profile's own band (``beyond_band``)."""
    return _read_yaml(CONTEXT_CARRY_FILE)["rows"]


def _lowest_by_gpu(column: str, frac) -> dict[str, float]:
    """The least ``frac(row[column])`` (a fraction of full, at most 1) over the ``cap`` rows of the shipped measurement
    files (:data:`MEASUREMENT_DIR`) that give ``column``, by normalised GPU name (:func:`norm_gpu`): the lowest cap
    measured (:func:`_measured_cap_fracs`)."""
    import csv

    out: dict[str, float] = {}
    for f in sorted(MEASUREMENT_DIR.glob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if (r.get("kind") or "").strip() == "cap" and (r.get(column) or "").strip():
                    g = norm_gpu(r["gpu"])
                    out[g] = min(out.get(g, 1.0), frac(r[column]))
    return out


@functools.lru_cache(maxsize=None)
def _measured_cap_fracs() -> dict[str, float]:
    """The lowest per-GPU power cap (fraction of TDP) dcsim has a measurement at, by normalised GPU name
    (:func:`norm_gpu`): the least ``cap_frac_tdp`` of the ``cap`` rows of the shipped measurement files
    (:data:`MEASUREMENT_DIR`; today H100-SXM 0.7, Splitwise's capped DGX-H100, ``splitwise_h100_cap.csv``)."""
    return _lowest_by_gpu("cap_frac_tdp", float)


def measured_cap_frac(gpu: str) -> float:
    """The lowest per-GPU power cap (fraction of TDP) measured on ``gpu`` (:func:`_measured_cap_fracs`): 0.7 on
    H100-SXM (Splitwise's capped DGX-H100); 1.0, the full board limit, on a GPU with no capped measurement, where
    every calibration ran at its full board limit."""
    return _measured_cap_fracs().get(norm_gpu(gpu), 1.0)


def stated_min_cap_frac(prof: Mapping) -> float | None:
    """The lowest power cap (x TDP) a profile's fit says it measured: its ``fit.min_cap_frac``, else (a pooled fit) its
    ``min_cap_frac``; None when neither is given (the one reading :func:`profile_clock_floor` and
    :func:`dcsim.node.model.own_cap_frac` share)."""
    for v in ((prof.get("fit") or {}).get("min_cap_frac"), prof.get("min_cap_frac")):
        if v is not None:
            return float(v)
    return None


def fitted_without_cap_rows(prof: Mapping) -> bool:
    """Whether a profile says its fit holds no capped row: a stated lowest cap (:func:`stated_min_cap_frac`) of 1.0
    (every row at the full board limit), an empty ``cap_points`` list, or a ``gamma_source`` saying the DVFS exponent
    was an assumption for want of cap rows (:func:`dcsim.node.calibrate._gamma_source`). The one rule by which
    :func:`profile_clock_floor` reads full clock and :func:`dcsim.node.model.own_cap_frac` the full board limit; until
    the code review of session 52 each had its own (an empty ``cap_points`` or an assumed gamma was "no cap rows" to
    one and "not said" to the other, and a ``fit`` stating ``min_cap_frac: null`` hid a pooled ``min_cap_frac`` from
    the clock's)."""
    stated = stated_min_cap_frac(prof)
    return ((stated is not None and stated >= 1.0) or prof.get("cap_points") == []
            or str(prof.get("gamma_source") or "").startswith("assumption"))


def profile_clock_floor(prof: Mapping) -> float | None:
    """The lowest clock (fraction of maximum) a profile's measurements cover: a pooled fit's ``min_clock_frac``, the
    least ``clock_fit`` of its ``cap_points`` (the clock its fitted model runs each cap row at under that row's cap,
    written by ``dcsim calibrate``, :func:`dcsim.node.calibrate.clock_at_cap`); 1.0 (full clock) for a profile whose
    fit holds no cap row (:func:`fitted_without_cap_rows`); None when it does not say (a hand-written profile, one
    with cap points written before ``clock_fit``: the caller takes the GPU's shipped figure,
    :func:`measured_clock_frac`)."""
    if prof.get("min_clock_frac") is not None:
        return float(prof["min_clock_frac"])
    clocks = [float(c["clock_fit"]) for c in prof.get("cap_points") or [] if c.get("clock_fit") is not None]
    if clocks:
        return min(1.0, min(clocks))
    return 1.0 if fitted_without_cap_rows(prof) else None


@functools.lru_cache(maxsize=None)
def _measured_clock_fracs() -> dict[str, float]:
    """The lowest GPU clock (fraction of maximum) dcsim's shipped profiles cover, by normalised GPU name
    (:func:`norm_gpu`): the least :func:`profile_clock_floor` of the GPU's shipped profiles that state one (today
    H100-SXM 0.69, the H100 Llama-3.3-70B fit's clock on Splitwise's 512-token prefill row at 0.7 x TDP)."""
    out: dict[str, float] = {}
    for prof in shipped_profiles().values():
        f = profile_clock_floor(prof)
        if f is not None:
            g = norm_gpu(str(prof.get("gpu")))
            out[g] = min(out.get(g, 1.0), f)
    return out


def measured_clock_frac(gpu: str) -> float:
    """The lowest clock (fraction of maximum) a shipped measurement of ``gpu`` covers (:func:`_measured_clock_fracs`):
    0.69 on H100-SXM (the clock dcsim's fits run Splitwise's capped prefill rows at; their decode rows run at full
    clock); 1.0 on a GPU with no capped measurement, where every calibration ran at full clock. A run whose
    controller or thermal throttle sets a lower DVFS clock runs where no measurement is (docs/node.md, "Extrapolated
    clock")."""
    return _measured_clock_fracs().get(norm_gpu(gpu), 1.0)


def stack_note(stack: str | None, current: bool) -> str | None:
    """What a profile's serving stack means for its figures: None on the current stack, else the note of its (first)
    older stack (:data:`SERVING_STACKS`' third element; :data:`OLDER_STACK_NOTE` for a stack it does not name).
    ``stack`` is :func:`serving_stack`'s: the stacks' names joined by "; "."""
    if current or stack is None:
        return None
    notes = {name: note for name, _, note in SERVING_STACKS.values()}
    return next((notes[part] for part in stack.split("; ") if notes.get(part)), OLDER_STACK_NOTE)


def serving_stack(prof: dict) -> tuple[str | None, bool]:
    """``(stack, current)`` of a profile from its ``measurements`` files (:data:`SERVING_STACKS`): the stack(s)
    its latencies and power were measured on, and whether all are dcsim's current one. ``(None, True)`` when the
    profile names no shipped measurement set (a user profile: its author knows its stack)."""
    found = []
    for f in prof.get("measurements") or []:
        if f.startswith(RATIO_ONLY):
            continue
        prefix = max((k for k in SERVING_STACKS if f.startswith(k)), key=len, default=None)
        if prefix is None:
            return None, True
        if SERVING_STACKS[prefix] not in found:
            found.append(SERVING_STACKS[prefix])
    if not found:
        return None, True
    return "; ".join(w for w, _, _ in found), all(c for _, c, _ in found)


def pooled_profiles() -> dict[str, dict]:
    """Pooled per-GPU fits (``dcsim calibrate --pool``) by GPU name."""
    return {p["gpu"]: p for p in (_read_yaml(f) for f in sorted(POOLED_DIR.glob("*.yaml")))}


def energy_is_own(model: str | ModelSpec, precision: str) -> bool:
    """Whether a checkpoint's energy is its own: an FP8 checkpoint of a block-scaled model (``fp8_scaling: block`` in
    dcsim/data/models.yaml, its source there: 128 x 128 weight blocks and per-token-group activation scales,
    ``quantization_config.weight_block_size``). A pooled fit (:mod:`dcsim.node.calibrate`) fits its tokens/s (its step
    times identify the FP8 cost per layer) but not its J/token (nor a request row's power), when another group sets
    the shared power; a transferred pair of such a checkpoint takes its J/token band from those pairs' left-out errors
    (:func:`own_energy_band`).

    Why, with the figures: docs/node.md, "Twenty-fourth pass" (Qwen3-235B-A22B-FP8 draws more energy per step than
    the same model in BF16 at small batch, where the per-channel FP8 checkpoints pooled do not; its own profiles fit
    its J/token only at the ordering bound P_sync = P_memory). The only other block-scaled FP8 checkpoint measured,
    DeepSeek-V3.1 on 8 B200s (held out, docs/validation.md H-DSV31-B200), is *over*-predicted at batch 8 J/token
    (+20.2 %) by the B200 pool: the opposite of an excess the pools lack, so the excess is not shown to be a
    property of block scaling."""
    return precision == "fp8" and resolve_model(model).fp8_scaling == "block"


def own_energy_band(pooled: dict) -> float | None:
    """The worst leave-one-model-out J/token error (%) of a pooled fit's groups whose energy it did not fit
    (``energy_not_fitted``, :func:`energy_is_own`); None without such groups. The J/token band of a transferred
    block-scaled FP8 checkpoint: the pool does not describe such a checkpoint's energy (the kind band would not
    cover it: H100 dense ±30.8 % against 40.4 % measured for Qwen3-235B-FP8 on 4 H100s left out)."""
    own = set(pooled.get("energy_not_fitted") or [])
    errs = [r["max_err_j_per_tok_pct"] for r in pooled.get("leave_one_model_out") or [] if r["profile"] in own]
    return max(errs) if errs else None


def own_energy_groups(pools: list[dict]) -> list[str]:
    """The groups of ``pools`` whose J/token their pooled fit left to their own profiles (``energy_not_fitted``)."""
    return sorted({g for p in pools for g in p.get("energy_not_fitted") or []})


def with_own_energy(band: dict, pools: list[dict], model: ModelSpec | None, precision: str) -> tuple[dict, list[str]]:
    """``band`` and the groups it took its J/token from, for a transfer of ``model`` in ``precision`` from ``pools``:
    for a checkpoint whose energy is its own (:func:`energy_is_own`) the J/token band is at least the pools'
    :func:`own_energy_band` and the groups are :func:`own_energy_groups`; otherwise ``band`` unchanged and no groups."""
    if model is None or not energy_is_own(model, precision):
        return band, []
    own = [e for e in (own_energy_band(p) for p in pools) if e is not None]
    if own and band.get("j_per_tok_pct") is not None:
        band = {**band, "j_per_tok_pct": max([band["j_per_tok_pct"]] + own)}
    return band, own_energy_groups(pools)


def lomo_band(pooled: dict, moe: bool | None = None) -> dict:
    """Worst leave-one-model-out errors (%) of a pooled fit: the expected error of a transferred pair.

    With ``moe`` given, only the left-out models of the same kind (MoE or dense) count, when there
    are any: a dense model's transfer is judged by how dense models transferred.
    """
    rows = pooled.get("leave_one_model_out") or []
    if moe is not None:
        cat = model_catalog()
        same = [r for r in rows if (cat[r["profile"].split("_")[1]].n_experts > 0) == moe]
        rows = same or rows
    return _worst(rows)


def _worst(rows: list[dict]) -> dict:
    """The worst point errors (%) over error rows (leave-one-model-out or another TP); None without rows."""
    if not rows:
        return {"tok_s_pct": None, "j_per_tok_pct": None}
    return {"tok_s_pct": max(r["max_err_tok_s_pct"] for r in rows),
            "j_per_tok_pct": max(r["max_err_j_per_tok_pct"] for r in rows)}


def carry_ratio(row: dict) -> float:
    """The TP ratio of a ``cross_tp`` row (the larger degree over the smaller: 2 for TP4 <- TP2 and TP2 <- TP4)."""
    a, b = (int(str(row[k]).rsplit("_tp", 1)[1]) for k in ("profile", "from"))
    return max(a, b) / min(a, b)


def _cross_tp_rows(gpu: str) -> list[dict]:
    """``gpu``'s pooled fit's ``cross_tp`` rows, or every pooled GPU's when it has none."""
    pools = pooled_profiles()
    return (pools.get(gpu) or {}).get("cross_tp") or [r for p in pools.values() for r in p.get("cross_tp") or []]


def other_tp_band(gpu: str, ratio: float | None = None) -> dict:
    """Worst errors (%) of a calibration carried to another tensor-parallel degree on ``gpu`` (the pooled
    fit's ``cross_tp`` rows: each group predicted by its model's fit at another TP); over every pooled
    GPU when ``gpu`` has no such rows. With ``ratio`` (the carry's TP ratio, :func:`carry_ratio`) only the rows of that
    ratio or less count (A100 Llama-2-70B: its 2x carries erred up to 69 % tok/s, its one 4x carry 161 %), the least
    measured ratio's when none is that small; a carry beyond the largest ratio measured (:func:`measured_tp_ratio_max`)
    takes them all, and its band is a lower bound (:func:`dcsim.node.model.calibration_record`)."""
    rows = _cross_tp_rows(gpu)
    if ratio is not None and rows:
        keep = [r for r in rows if carry_ratio(r) <= ratio * (1 + 1e-9)]
        least = min(carry_ratio(r) for r in rows)
        rows = keep or [r for r in rows if carry_ratio(r) == least]
    return _worst(rows)


def _worst_point_pct(row: dict) -> float:
    """The larger of a table row's worst tokens/s and worst J/token error (%): the point issue 14.4's bar limits."""
    return float(max(_worst([row]).values()))


def pool_over_carry(gpu: str, model: str, precision: str, tp: int, carried_from: str) -> dict | None:
    """The pooled fit's leave-one-model-out row for (``gpu``, ``model``, ``precision``, ``tp``) when that pair, measured
    but without a profile of its own, is predicted better by its GPU's pool than by the calibration ``carried_from``
    (another TP degree of the model): both predictions were measured on the pair's own rows — the pool's without any
    of the model's data (``leave_one_model_out``), the carry's from the other TP's fit (``cross_tp``) — and the one
    whose worst point (tokens/s or J/token, the quantity issue 14.4's 25 % bar limits) is smaller is used. None when
    the carry is as good or either row is missing (an unmeasured pair keeps the carry: nothing says otherwise).
    A100-SXM4-40GB Gemma-2-9B TP1, H100 Gemma-3-27B TP1 and Qwen3-32B TP1 (docs/node.md, "Twenty-ninth pass" and its
    review); the band such a pair runs with is :func:`dcsim.node.model.calibration_record`'s."""
    pool = pooled_profiles().get(gpu)
    if pool is None:
        return None
    name = profile_name(gpu, model, precision, tp)
    lomo = next((r for r in pool.get("leave_one_model_out") or [] if r["profile"] == name), None)
    carry = next((r for r in pool.get("cross_tp") or [] if r["profile"] == name and r["from"] == carried_from), None)
    if lomo is None or carry is None or _worst_point_pct(lomo) >= _worst_point_pct(carry):
        return None
    return {"leave_one_model_out": lomo, "carry": carry}


def measured_tp_ratio_max(gpu: str) -> float | None:
    """The largest TP ratio of a measured carry on ``gpu`` (its ``cross_tp`` rows, or every pooled GPU's when it has
    none; all of H100's and B200's are 2x, A100's up to 4x); None without rows."""
    rows = _cross_tp_rows(gpu)
    return max(carry_ratio(r) for r in rows) if rows else None


def tp_carry_evidence(ratio: float) -> tuple[dict, list[str], float] | None:
    """What the widest measured TP carries say of a carry of ``ratio`` beyond its own GPU's measured ratios:
    ``(worst band, their GPUs, their smallest ratio)`` over every pooled GPU's ``cross_tp`` rows of at least
    ``ratio`` — or, when none reaches it, of the largest ratio measured anywhere (A100 Llama-2-70B TP8 <- TP2 and
    TP2 <- TP8, 4x: 161 % tok/s, 41 % J/token) —; None without rows."""
    rows = [(g, r) for g, p in pooled_profiles().items() for r in p.get("cross_tp") or []]
    if not rows:
        return None
    top = max(carry_ratio(r) for _, r in rows)
    sel = [(g, r) for g, r in rows if carry_ratio(r) >= min(ratio, top) - 1e-9]
    return _worst([r for _, r in sel]), sorted({g for g, _ in sel}), min(carry_ratio(r) for _, r in sel)


#: parameters free in a pooled fit only when its data identify them (MoE dispatch, FP8 cost); a generic
#: profile averages them over the pools that fitted them, not over the pools that fixed them at 0; for
#: each, the Derived count of the layers that charge it and its name in words
BORROWABLE = {"t_moe_layer_s": ("moe_layers_run", "MoE dispatch"), "t_fp8_layer_s": ("fp8_layers_run", "FP8 cost")}
_IDENTIFIED_ONLY = tuple(BORROWABLE)


def _lenders(pools) -> list[tuple[str, dict, dict]]:
    """``(gpu, params, uncertainty)`` of pooled fits, as :func:`borrow_unidentified` takes them."""
    return [(q["gpu"], q["params"], q.get("uncertainty") or {}) for q in pools]


def max_band(bands: list[dict]) -> dict:
    """The worst of several error bands (tokens/s and J/token, %), None where none has a figure."""
    return {k: max((b[k] for b in bands if b[k] is not None), default=None) for k in ("tok_s_pct", "j_per_tok_pct")}


def borrow_unidentified(params: dict, uncertainty: dict, donors: list[tuple[str, dict, dict]]) -> tuple[dict, dict]:
    """A pooled fit's parameters with the MoE dispatch and FP8 cost its own data did not identify (no MoE model,
    no FP8 pair: fixed at 0, not a measurement of 0) taken as the mean over the ``donors`` — ``(gpu, params,
    uncertainty)`` of other GPUs' pooled fits — that did identify them. Assumption: these costs are short,
    launch- and routing-bound kernels whose time per layer differs little between GPU generations (the H100 and
    B200 pools fit 87.9 and 99.9 µs of MoE dispatch per MoE layer), nearer the truth than no cost at all.

    Returns ``(params, borrowed)``, ``borrowed[name]`` = the donor GPUs of each parameter taken (empty if none).
    """
    out, borrowed = dict(params), {}
    for k in _IDENTIFIED_ONLY:
        if k in uncertainty:
            continue  # identified by this GPU's own data
        src = [(g, q[k]) for g, q, u in donors if k in u]
        if src:
            out[k] = float(sum(v for _, v in src) / len(src))
            borrowed[k] = sorted(g for g, _ in src)
    return out, borrowed


def mean_gamma_source(pools) -> str:
    """The ``gamma_source`` of a generic GPU's transfer (:func:`transfer_profile`), whose DVFS exponent γ is the mean of
    the ``pools``' (pooled fits): each pool's γ with its own source (fitted to cap rows, or the assumption it was fixed
    at). Until session 53 the generic transfer recorded none ("γ source not recorded" in the EXTRAPOLATED CAP / CLOCK
    texts)."""
    each = [f"{p['gpu']} {float(p['params']['gamma']):.6g} ({p.get('gamma_source') or 'source not recorded'})"
            for p in sorted(pools, key=lambda p: p["gpu"])]
    return "mean of the pooled fits of " + ", ".join(each)


def pool_clock_floors(pools) -> dict[str, float]:
    """The lowest clock (fraction of maximum) each of ``pools``' measurements cover, by GPU (:func:`profile_clock_floor`
    of the pooled fit, the GPU's shipped figure :func:`measured_clock_frac` where it does not say): what a generic GPU's
    transfer, averaging them, records as ``clock_floors_of_pools``."""
    out = {}
    for p in sorted(pools, key=lambda p: p["gpu"]):
        f = profile_clock_floor(p)
        out[p["gpu"]] = round(float(measured_clock_frac(p["gpu"]) if f is None else f), 4)
    return out


def has_shipped_measurements(gpu: str) -> bool:
    """Whether dcsim ships a calibration (a profile or a pooled fit) measured on ``gpu``."""
    g = norm_gpu(gpu)
    return any(norm_gpu(str(p.get("gpu"))) == g for p in [*shipped_profiles().values(), *pooled_profiles().values()])


def same_silicon_gpu(gpu: GpuSpec) -> GpuSpec | None:
    """A calibrated catalog GPU (one with a pooled fit) on ``gpu``'s die, for a ``gpu`` with no pooled fit of its
    own (H200 -> H100-SXM: both GH100); None when ``gpu`` has its own fit, names no die, or no sibling is calibrated."""
    pooled = pooled_profiles()
    if gpu.silicon is None or gpu.name in pooled:
        return None
    sib = [g for name, g in sorted(gpu_catalog().items())
           if name != gpu.name and name in pooled and g.silicon is not None and norm_gpu(g.silicon) == norm_gpu(gpu.silicon)]
    return sib[0] if sib else None


def rescale_power(params: dict, src: GpuSpec, dst: GpuSpec) -> dict:
    """``params`` fitted on ``src`` with the power terms scaled to ``dst``'s dynamic range (TDP - idle) [D]."""
    f = (dst.tdp_w - dst.idle_w) / (src.tdp_w - src.idle_w)
    return {k: (v * f if k in ("p_compute_w", "p_memory_w", "p_sync_w") else v) for k, v in params.items()}


def pooled_precisions(pools) -> list[str]:
    """The precisions of the groups pooled fits were fitted to (``pooled_groups``, named by
    :func:`profile_name`): what a transfer from them has measured."""
    return sorted({g.rsplit("_", 2)[1] for p in pools for g in p.get("pooled_groups") or []})


def _lengths_over(profs) -> dict:
    """The prompt lengths and decode contexts measured over several fits (``measured_lengths``, ``[lowest,
    highest]`` each): what a profile averaging them was measured at."""
    out = {}
    for k in ("prompt_tokens", "decode_context"):
        r = [p["measured_lengths"][k] for p in profs if (p.get("measured_lengths") or {}).get(k)]
        if r:
            out[k] = [min(a for a, _ in r), max(b for _, b in r)]
    return out


def transfer_mfu(mfu: float, src: GpuSpec, dst: GpuSpec, peak_precision: str, cap: bool = True) -> float:
    """A compute efficiency fitted on ``src`` carried to ``dst`` (both fractions of the dense peak in
    ``peak_precision``): its share of ``src``'s achievable matmul rate (:func:`dcsim.node.perf.mfu_ceiling`,
    [MAMF]), at most 1 with ``cap``, times ``dst``'s achievable share of its peak. The software's efficiency
    relative to what the silicon reaches transfers; what the silicon reaches does not (MI300X reaches 51 % of its
    datasheet peak, H100 80 %). With ``cap`` the result never exceeds ``dst``'s ceiling: a pooled fit above its own
    ceiling (the H100 pool's MFU 0.972 against 0.803) is held there. ``src`` = ``dst``: ``min(mfu, ceiling)``."""
    u = mfu / mfu_ceiling(src, peak_precision)
    return (min(u, 1.0) if cap else u) * mfu_ceiling(dst, peak_precision)


def compute_ceiling(gpu: GpuSpec, peak_precision: str, mfu: float, from_mfu: float) -> dict:
    """The record of an MFU set against the achievable matmul ceiling (a transfer profile's ``compute_ceiling``):
    the precision, the achievable FLOP/s and how it is known (:func:`dcsim.node.perf.achievable_flops`), the MFU
    used and the one it came from."""
    a, how = achievable_flops(gpu, peak_precision)
    return {"precision": peak_precision, "achievable_flops": float(f"{a:.6g}"), "achievable_from": how,
            "ceiling_mfu": round(mfu_ceiling(gpu, peak_precision), 6), "mfu": round(float(mfu), 6),
            "from_mfu": round(float(from_mfu), 6)}


def _peak_precision(model: ModelSpec | None, precision: str) -> str:
    """The precision ``model`` computes in when served in ``precision`` (:func:`dcsim.node.perf.compute_precision`);
    with no model, FP8 for ``fp8`` and BF16 otherwise."""
    return compute_precision(model, precision) if model is not None else ("fp8" if precision == "fp8" else "bf16")


def pool_transfer(pool: dict, gpu: GpuSpec, model: ModelSpec | None, precision: str, pooled: dict[str, dict], *,
                  name: str | None = None, status: str | None = None) -> dict:
    """A pooled fit (``dcsim calibrate --pool``, fitted on ``src``: ``gpu`` when the pool is this GPU's, else the
    catalog's GPU the pool names) used for ``model`` on ``gpu``, as a transfer: the
    compute efficiency set against the achievable matmul rate of the precision the model computes in (its share of
    ``src``'s, held at ``gpu``'s ceiling: :func:`transfer_mfu`; the shipped H100 pool fits MFU 0.972, the H100's
    achievable share is 0.803 in BF16 [MAMF]), recorded under ``compute_ceiling``; the MoE dispatch and FP8 cost its
    data do not identify borrowed from the shipped pools of the other GPUs (:func:`borrow_unidentified`, recorded
    under ``borrowed``); as band the pool's worst leave-one-model-out error over the left-out models of ``model``'s
    kind (:func:`lomo_band`; unknown without such a table), and for an MoE model whose dispatch is borrowed the
    lenders' MoE transfer errors too. ``pooled`` are dcsim's own pools (:func:`pooled_profiles`), the lenders;
    ``name`` and ``status``, when given, replace the pool's own.

    The one rule for dcsim's own pools (:func:`transfer_profile`, status ``transferred``) and for a pooled fit file a
    scenario names as ``node.profile`` (:func:`dcsim.node.model.build_node`, status ``user-pool``)."""
    prec = _peak_precision(model, precision)
    moe = None if model is None else model.n_experts > 0
    src = gpu if pool.get("gpu") == gpu.name else gpu_catalog().get(str(pool.get("gpu")), gpu)
    lenders = _lenders(q for g, q in pooled.items() if g != pool.get("gpu"))
    params, borrowed = borrow_unidentified(pool["params"], pool.get("uncertainty") or {}, lenders)
    fitted = params["mfu"]
    params["mfu"] = transfer_mfu(fitted, src, gpu, prec)
    band = lomo_band(pool, moe)
    if moe and "t_moe_layer_s" in borrowed and band["tok_s_pct"] is not None:
        # the dispatch comes from other GPUs' MoE models: their MoE transfer errors bound this one too
        band = max_band([band] + [lomo_band(pooled[g], True) for g in borrowed["t_moe_layer_s"]])
    # the pool leaves an own-energy checkpoint's J/token out: its band is how far the left-out ones landed
    band, own_from = with_own_energy(band, [pool], model, precision)
    named = {k: v for k, v in (("name", name), ("status", status)) if v is not None}
    out = {**pool, "params": params, **named, "error_band_pct": band, "measured_precisions": pooled_precisions([pool]),
           "precisions_gpu": str(pool.get("gpu")), "precisions_of": "its pooled fit holds",
           "compute_ceiling": compute_ceiling(gpu, prec, params["mfu"], fitted)}
    if borrowed:
        out["borrowed"] = borrowed
    if own_from:
        out["energy_band_from"] = own_from
    return out


def transfer_profile(gpu: GpuSpec, model: ModelSpec | None = None, precision: str = "bf16") -> dict:
    """Parameters for a (GPU, model) pair with no calibration.

    ``transferred``: the GPU's pooled fit (one parameter set fitted to all its calibrated models,
    each weighted equally, with standard errors; ``dcsim calibrate --pool``), with the MoE dispatch and
    FP8 cost its data do not identify taken from the pools that do (:func:`borrow_unidentified`, recorded
    under ``borrowed``; an MoE model's band then covers those pools' MoE transfer errors too); the model's own
    FLOPs, bytes and KV traffic per token come from its shape. ``generic``: a GPU with no pooled
    fit takes the mean of the pooled GPUs' efficiencies, power terms rescaled by its own dynamic
    range (TDP - idle) [D]; the MoE dispatch and FP8 costs are averaged over the pools that fitted them, the host wait
    over every pool (0 where a pool held it at 0: its per-sequence cost is then in its ``t_seq_layer_s``). The record carries the expected error band (leave-one-model-out, over
    the left-out models of ``model``'s kind, MoE or dense, when given).

    The compute efficiency is set against the GPU's achievable matmul rate in the precision ``model`` computes in
    when served in ``precision`` (:func:`transfer_mfu`, recorded under ``compute_ceiling``): a pooled MFU above the
    GPU's ceiling is held at it (the H100 pool fits 0.972, the ceiling is 0.803 in BF16, 0.709 in FP8); a generic GPU
    takes the mean over the pools of each pool's share of its own GPU's achievable rate (at most 1) times its own
    achievable share (MI300X: 0.511 of 1,307 TFLOP/s in BF16, where the mean of the pools' MFUs gave 0.894).
    """
    pooled = pooled_profiles()
    if not pooled:
        raise ValueError("no pooled profiles shipped (dcsim/data/profiles/pooled/); cannot transfer")
    if gpu.name in pooled:
        return pool_transfer(pooled[gpu.name], gpu, model, precision, pooled, name=f"pooled-{gpu.name}",
                             status="transferred")
    prec = _peak_precision(model, precision)
    moe = None if model is None else model.n_experts > 0
    cat = gpu_catalog()
    params: dict[str, float] = {}
    # only the pools measured on the current serving stack: a pool of an older stack (A100: Splitwise's 2023 DB,
    # ~7x H100's per-layer overheads) would make a GPU with no calibration (H200) slower than the H100 it improves on
    current = {g: serving_stack(p)[1] for g, p in pooled.items()}
    use = [p for g, p in pooled.items() if current[g]] or list(pooled.values())
    left = sorted(g for g, ok in current.items() if not ok and len(use) < len(pooled))
    # every parameter any pool writes (the first pool's keys alone dropped the H100 pool's host wait, which the B200
    # pool holds at 0 and so does not write: session 52); a value a pool does not write reads 0, the value its fit
    # held it at. Not over the identifying pools alone, as the MoE dispatch and FP8 cost below: a pool with no MoE
    # model has no MoE layer its other terms could stand in for, but a pool holding the host wait has fitted its
    # decoding sequences' cost all the same, in t_seq_layer_s (the two are told apart only by depth: step.py charges
    # t_seq_layer_s * layers + t_host_seq_s per sequence). The B200 pool with the term free fits 14.4 us of it (its
    # prior's pull; data-only SE 33 us) and t_seq_layer_s 0.652 us (0.813 held): 66.6 against 65.0 us per sequence per
    # step on 80 layers. The mean with 0 is the mean of the pools' per-sequence costs at every depth (84.1 us on 80
    # layers); the H100's 22.3 us alone on the mean t_seq_layer_s would be 95.2, and put MLPerf's MI300X Llama-2-70B
    # FP8 ratio at 1.027 (1.102 with the mean)
    for k in dict.fromkeys(k for p in use for k in p["params"]):
        if k in _IDENTIFIED_ONLY:
            continue  # below: over the pools that identified it, not those that fixed it at 0
        vals = [rescale_power(p["params"], cat[p["gpu"]], gpu).get(k, 0.0) for p in use]
        params[k] = float(sum(vals) / len(vals))
    params, _ = borrow_unidentified({**params, **dict.fromkeys(_IDENTIFIED_ONLY, 0.0)}, {}, _lenders(use))
    # each pool's MFU as its share of its own GPU's achievable matmul rate, at most 1, on this GPU's achievable rate
    fitted = params["mfu"]
    params["mfu"] = float(sum(transfer_mfu(p["params"]["mfu"], cat[p["gpu"]], gpu, prec) for p in use) / len(use))
    worst = max_band([lomo_band(p, moe) for p in use])
    worst, own_from = with_own_energy(worst, use, model, precision)
    return {"name": f"generic-{gpu.name}", "gpu": gpu.name, "model": "*", "precision": "*", "tensor_parallel": None,
            "params": params, "status": "generic", "error_band_pct": worst,
            # where its γ comes from (the pools averaged, each with its own source) and the lowest clock each of those
            # pools' measurements cover: no measurement of this GPU sets either (dcsim.node.model.clock_floor)
            "gamma_source": mean_gamma_source(use), "clock_floors_of_pools": pool_clock_floors(use),
            **({"energy_band_from": own_from} if own_from else {}),
            "compute_ceiling": compute_ceiling(gpu, prec, params["mfu"], fitted),
            "measurements": sorted({f for p in use for f in p.get("measurements") or []}),
            "measured_lengths": _lengths_over(use),
            "measured_precisions": pooled_precisions(use),
            "precisions_of": "the " + ", ".join(sorted(p["gpu"] for p in use)) + " pooled fits it averages hold",
            "source": "[D] mean of the pooled fits of " + ", ".join(sorted(p["gpu"] for p in use)) + ", power terms "
                      "scaled by (TDP - idle), MFU as a share of each GPU's achievable matmul rate [MAMF]; no "
                      "measurement of this GPU"
                      + (f" ({', '.join(left)} left out: calibrated on an older serving stack)" if left else "")}
