"""Shipped GPU/model catalogs and calibrated node profiles (``dcsim/data``).

Catalog entries become :class:`GpuSpec` / :class:`ModelSpec`; a scenario may give either a
catalog name or an inline spec. Profiles are YAML files written by ``dcsim calibrate``.
"""

from __future__ import annotations

from pathlib import Path
from statistics import median

import yaml

from dcsim.scenario.node import GpuSpec, ModelSpec

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PROFILE_DIR = DATA_DIR / "profiles"
MEASUREMENT_DIR = DATA_DIR / "measurements"


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


#: libyaml's C loader when available (7x faster on the profiles), same safe semantics
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path):
    """Parse a shipped YAML file with the safe loader."""
    return yaml.load(path.read_text(), Loader=_SafeLoader)  # noqa: S506 (safe loader)


def gpu_catalog() -> dict[str, GpuSpec]:
    """All shipped GPUs by name (``dcsim/data/gpus.yaml``)."""
    raw = _read_yaml(DATA_DIR / "gpus.yaml")
    return {k: GpuSpec(name=k, **v) for k, v in raw.items()}


def model_catalog() -> dict[str, ModelSpec]:
    """All shipped models by name (``dcsim/data/models.yaml``)."""
    raw = _read_yaml(DATA_DIR / "models.yaml")
    return {k: ModelSpec(name=k, **v) for k, v in raw.items()}


def _lookup(cat: dict, name: str, what: str):
    by = {_norm(k): v for k, v in cat.items()}
    for v in cat.values():
        if getattr(v, "hf_id", ""):
            by.setdefault(_norm(v.hf_id), v)
    if _norm(name) not in by:
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(sorted(cat))} (or define it inline)")
    return by[_norm(name)]


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


def load_profile(ref: str, base_dir: str | Path | None = None) -> dict:
    """A profile by shipped name, or by path (relative to ``base_dir``) to a calibrate YAML."""
    shipped = shipped_profiles()
    if ref in shipped:
        return shipped[ref]
    p = Path(ref)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if p.is_file():
        prof = yaml.safe_load(p.read_text())
        if not isinstance(prof, dict) or "params" not in prof:
            raise ValueError(f"{p}: not a dcsim node profile (no 'params' key)")
        return prof
    raise ValueError(f"profile {ref!r}: neither a shipped profile ({', '.join(shipped)}) nor a file")


def find_profile(gpu: str, model: str, precision: str, tp: int | None) -> dict | None:
    """The shipped profile for this GPU/model/precision (same TP preferred), or None."""
    cands = [p for p in shipped_profiles().values()
             if _norm(p["gpu"]) == _norm(gpu) and _norm(p["model"]) == _norm(model) and p["precision"] == precision]
    if not cands:
        return None
    same = [p for p in cands if tp is not None and p["tensor_parallel"] == tp]
    return (same or cands)[0]


def generic_profile(gpu: GpuSpec) -> dict:
    """Median of the shipped fits, power terms rescaled by (TDP - idle) of ``gpu`` [D].

    Used when no calibrated profile matches the GPU and model. Prefers the profiles of the same
    GPU; otherwise uses all shipped profiles.
    """
    profs = list(shipped_profiles().values())
    if not profs:
        raise ValueError("no shipped profiles to derive a generic profile from")
    same = [p for p in profs if _norm(p["gpu"]) == _norm(gpu.name)]
    use = same or profs
    cat = gpu_catalog()
    keys = ("p_base_w", "p_compute_w", "p_memory_w")
    params = {}
    for k in ("mfu", "mbu", "t_fixed_s", "t_seq_s", "overlap_p", "gamma"):
        params[k] = float(median(p["params"][k] for p in use))
    for k in keys:
        rel = []
        for p in use:
            g = cat.get(p["gpu"])
            span = (g.tdp_w - g.idle_w) if g is not None else 1.0
            rel.append(p["params"][k] / span)
        params[k] = float(median(rel)) * (gpu.tdp_w - gpu.idle_w)
    return {"name": f"generic-{gpu.name}", "gpu": gpu.name, "model": "*", "precision": "*",
            "tensor_parallel": None, "params": params,
            "source": "[D] median of shipped profiles " + ", ".join(p["name"] for p in use)}
