"""Parameter sweeps: a base scenario, parameters varied by dotted path, one results row per point.

A sweep file (YAML) is a :class:`SweepSpec`::

    base: ../reference.yaml            # scenario file, relative to the sweep file
    mode: grid                         # grid | list | random | lhs
    parameters:
      facility.interconnect: {range: [300 kW, 600 kW], steps: 4}
      racks.0.count: {values: [8, 10, 12]}
    seeds: 1                           # a count (base seed, +1, ...) or a list; a dimension
    fixed: {duration: 6 h}             # overrides applied to every point

Every point is a dict of dotted-path overrides (:func:`expand`). Points run in parallel across
runs (never inside one) through ONE joblib call site: local processes (loky) by default, or a
Dask distributed cluster when a ``client`` (or scheduler address) is given. Each point's report is
cached as one JSON file named by the ``scenario_hash`` of the resolved scenario, in the cache
folder's subfolder of this code version (the first 12 hex digits of :func:`code_hash`, so two
dcsim installs sharing the user cache keep their own points), written atomically, so an interrupted sweep resumes and a repeated one is free. An entry is used only
when its :func:`cache_key` matches: the resolved scenario, a hash of dcsim's own sources and
data (:func:`code_hash`) and of every file the scenario names (traces, weather, length tables),
so a change in the physics or in an input file is never answered from a stale cache.

Workers never outlive their sweep: on Ctrl-C the local worker pool is shut down with its
processes killed, and each worker watches its parent and exits when the parent is gone (a
SIGKILL of the sweep leaves no worker running); a client the sweep opened itself is closed.
"""

from __future__ import annotations

import types

import argparse
import csv
import itertools
import hashlib
import json
import math
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from dcsim import __version__
from dcsim.metrics.fmt import band_pct_value, calibration_label, fmt_band, get_path, headline_band, unique_words
from dcsim.metrics.provenance import code_hash  # the one home of the code identity (report.json records it too)
from dcsim.report.outdir import atomic_write_bytes, safe_name
from dcsim.argcheck import check_scheduler_address, overlapping_paths, scheduler_arg
from dcsim.textio import check_count, count_arg, out_folder, plain
from dcsim.units import excerpt, quantity_dim, refuse_misread
from dcsim.scenario import GivenAs, Scenario, ScenarioError, load_scenario, read_yaml, scenario_hash, yaml_kind
from dcsim.scenario.base import FieldError, NoBoolNumbers
from dcsim.scenario.paths import param_name, split_path

__all__ = [
    "ParamSpec", "SweepSpec", "DEFAULT_METRICS", "load_sweep", "expand", "run_sweep", "sweep", "SweepWarning",
    "run_point", "extract", "columns", "write_table", "add_parser", "cache_key", "code_hash", "data_files",
    "default_cache_dir",
    "count_points", "max_points", "MAX_POINTS", "SweepInterrupted", "check_metrics", "SweepRows", "axis_info",
    "write_figure", "FIGURE_NAME", "HEADLINE_COLUMNS", "headline_columns", "calibration_caveat_line",
]

#: The most points a sweep may have (docs/limits.md); raise it with ``DCSIM_SWEEP_MAX_POINTS``. An assumption, chosen
#: from measurements on the shared 2-core build machine: preparing a point (validate, hash, cache look-up) takes
#: ~0.4 ms (100,000 points: 36-39 s, 195 MB peak) and running one 70 ms (a fluid day without the SLO estimate,
#: 2 workers) to 2 s, so 100,000 points are hours to days of runs; a million would run for weeks.
MAX_POINTS = 100_000
#: what --workers and run_sweep(workers=) count, in their refusals and the option's help (one wording for both)
_WORKERS = "local worker processes"

#: Report keys (dotted paths into report.json, see docs/report.md) extracted per point by default.
DEFAULT_METRICS: tuple[str, ...] = (
    "throughput_tok_s.output",
    "throughput_tok_s.demand_output",
    "goodput_tok_s",
    "slo_attainment",
    "joules_per_output_token.gpu",
    "joules_per_output_token.it",
    "joules_per_output_token.facility",
    "pue",
    "peak_power_w.facility",
    "interconnect_exceeded_s",
    "delivery_exceeded_s",
    "binding.share.demand",
    "binding.share.compute",
    "binding.share.power",
    "binding.share.cooling",
    "binding.n_shifts",
    "binding.most_common",
    "gpus",
)

#: Columns every point's row carries beside its metrics, read from its report as the run's own headline reads it
#: (:func:`headline_columns`): what binds most of the run by the rule of the summary, report.html's card and
#: sweep.png's markers (``binding.holds``, :func:`dcsim.tpf.binding_that_holds`, and ``binding.holds_share``, the
#: share of the run it binds; ``binding.most_common`` is the plurality of the four labels, which names demand at
#: 43 % beside limits binding 57 %), the node calibration in words (``calibration.status``,
#: :func:`dcsim.metrics.fmt.calibration_label`: ``calibrated`` or the caveats' words) and the error band the run's
#: headline prints on its tok/s and facility J/token (``error_band_pct.tok_s``, ``error_band_pct.j_per_tok``, %,
#: :func:`dcsim.metrics.fmt.headline_band`, empty for an in-sample calibrated point; ``error_band_lower_bound``
#: True where the band is a lower bound, printed ``≥±``). Until 2026-12-05 a sweep over precision drew the fp8
#: point (a transferred profile, ±28 % tok/s) as a plain measured point 11 % above bf16 (audit AUF items 1, 11).
#: ``binding.within_band.share`` is the share of the run on which another limit could bind within that band
#: (report.json ``binding.within_band.share``, :func:`dcsim.engine.assemble.binding_within_band`; empty where no group
#: is out of sample): sweep.png marks the binding share bar and the heatmap's binding cell by it (the fp8 point "removes
#: the power limit" only outside its band: power could bind instead on much of its run).
HEADLINE_COLUMNS: tuple[str, ...] = ("binding.holds", "binding.holds_share", "binding.within_band.share",
                                     "calibration.status", "error_band_pct.tok_s", "error_band_pct.j_per_tok",
                                     "error_band_lower_bound")


def headline_columns(report: dict | None) -> dict[str, Any]:
    """A point's :data:`HEADLINE_COLUMNS` from its report (all None for a refused point, ``report`` None or empty):
    the functions the run's own summary calls, not a recomputation."""
    if not report:
        return dict.fromkeys(HEADLINE_COLUMNS)
    from dcsim.tpf import binding_that_holds

    holds, share = binding_that_holds(get_path(report, "binding.share"))
    band = headline_band(report)
    tok = band_pct_value(band.get("tok_s_pct")) if band else None  # 30.83, not 30.829999999999995
    jpt = band_pct_value(band.get("j_per_tok_pct")) if band else None
    within = get_path(report, "binding.within_band.share")
    return {"binding.holds": holds, "binding.holds_share": share if holds is not None else None,
            "binding.within_band.share": float(within) if isinstance(within, (int, float)) else None,
            "calibration.status": calibration_label(get_path(report, "provenance.calibration")),
            "error_band_pct.tok_s": tok, "error_band_pct.j_per_tok": jpt,
            "error_band_lower_bound": bool(band["lower_bound"]) if band else None}


def _has_band(row: dict) -> bool:
    """Whether a point's row carries an error band: one of its ``error_band_pct`` columns set (above 0)."""
    return any(isinstance(row.get(f"error_band_pct.{q}"), (int, float)) and row[f"error_band_pct.{q}"] > 0
               for q in ("tok_s", "j_per_tok"))


def _uncalibrated_status(row: dict) -> bool:
    return row.get("calibration.status") not in (None, "calibrated", "n/a")


def calibration_caveat_line(rows: list[dict]) -> str | None:
    """The sweep's calibration caveat, said once (``dcsim sweep`` prints it on stderr): how many points carry an
    error band (their ``error_band_pct`` columns set, :func:`headline_columns`), their status and widest band, and
    that a difference between points within it is no measured change; then, in a clause of their own, the points
    whose status names a caveat without a band (an ``extrapolated clock`` point: "no error band measured"). None
    when every point is calibrated in-sample. Until 2026-12-05 the count took every point not ``calibrated`` and
    the widest band only the banded ones: an extrapolated-clock point was counted as carrying a band."""
    banded = [r for r in rows if _has_band(r)]
    bare = [r for r in rows if _uncalibrated_status(r) and not _has_band(r)]
    if not banded and not bare:
        return None
    parts = []
    if banded:
        statuses = unique_words(str(r["calibration.status"]) for r in banded)
        widest = {q: max((r.get(f"error_band_pct.{q}") or 0.0 for r in banded), default=0.0)
                  for q in ("tok_s", "j_per_tok")}
        lower = any(r.get("error_band_lower_bound") for r in banded)
        band = fmt_band({"tok_s_pct": widest["tok_s"] or None, "j_per_tok_pct": widest["j_per_tok"] or None}, lower)
        parts.append(f"{len(banded):,} of {len(rows):,} points run on a profile not calibrated in-sample "
                     f"({statuses}): their tok/s and J/token carry the error band their run's headline prints "
                     f"(up to {band}; results.csv error_band_pct.tok_s, error_band_pct.j_per_tok, calibration.status; "
                     f"{SWEEP_PNG_BANDED}). A difference between points within it is not a measured change")
    if bare:
        parts.append(f"{len(bare):,} of {len(rows):,} points "
                     f"({unique_words(str(r['calibration.status']) for r in bare)}): no error band measured")
    return "calibration caveat: " + "; ".join(parts) + "; `dcsim run` of such a point prints the full caveat"


#: how sweep.png draws a point whose run carries an error band (dcsim.plots.sweep), as the caveat line says it
SWEEP_PNG_BANDED = "sweep.png draws them as white diamonds with error bars"


_NUM_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


# --------------------------------------------------------------------------- spec

class ParamSpec(NoBoolNumbers):
    """How one parameter varies: explicit ``values``, a ``range`` with ``steps``, or a ``distribution``.

    Range and distribution bounds may carry a unit (``[300 kW, 600 kW]``); generated values keep it.
    ``log`` spaces a range geometrically; ``integer`` rounds generated values to integers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    values: list[Any] | None = None
    range: tuple[Any, Any] | None = None
    steps: int | None = Field(None, ge=1)
    log: bool = False
    distribution: Literal["uniform", "loguniform"] | None = None
    low: Any = None
    high: Any = None
    integer: bool = False

    @model_validator(mode="after")
    def _one_form(self):
        forms = [self.values is not None, self.range is not None, self.distribution is not None]
        if sum(forms) != 1:
            raise ValueError("give exactly one of: values, range (+ steps), distribution (+ low, high)")
        if self.values is not None and not self.values:
            raise ValueError("values must not be empty")
        if self.range is not None and self.steps is None:
            raise ValueError("range needs steps")
        if self.distribution is not None and (self.low is None or self.high is None):
            raise ValueError("distribution needs low and high")
        lo_hi = self.range if self.range is not None else (self.low, self.high)
        if self.values is None:
            (a, ua), (b, ub) = _split(lo_hi[0]), _split(lo_hi[1])
            if ua != ub:
                raise ValueError(f"bounds must share one unit, got {lo_hi[0]!r} and {lo_hi[1]!r}")
            if (self.log or self.distribution == "loguniform") and (a <= 0 or b <= 0):
                raise ValueError("log spacing needs positive bounds")
            if self.distribution is not None and not a < b:
                raise ValueError("distribution needs low < high")
            if self.range is not None and self.steps == 1 and a != b:  # linspace(lo, hi, 1) is [lo]: hi never ran
                raise ValueError(f"range [{lo_hi[0]}, {lo_hi[1]}] with steps 1 is its first bound alone ({lo_hi[1]} "
                                 f"would never run); give steps >= 2, or values: [{lo_hi[0]}]")
            if self.range is not None and self.integer:  # rounded to whole numbers, two steps can meet on one value
                n, whole = int(self.steps), abs(int(round(b)) - int(round(a))) + 1  # whole numbers the range reaches
                # evenly spaced, they repeat exactly when there are more steps than whole numbers (each value's
                # distance to its whole number runs linearly between the bounds'); a bound halfway between two
                # (0.5: round-half-even) breaks that rule, and such a range is made and counted as a log one is
                if not self.log and a % 1 != 0.5 and b % 1 != 0.5:
                    if n > whole:
                        lo, step = int(round(a)), (1 if b >= a else -1)
                        _refuse_repeats(lo_hi, n, whole, [_join(float(lo + step * k), ua, True)
                                                          for k in range(min(whole, 9))], self.log)
                elif n > whole and n > max_points():  # too many to make, and some must repeat
                    raise ValueError(f"range [{lo_hi[0]}, {lo_hi[1]}] with steps {n:,} and integer: true gives at "
                                     f"most {whole:,} distinct whole numbers: the other points would repeat them; "
                                     f"give steps <= {whole:,}")
                elif n <= max_points():  # log spacing rounds its small values together: made and counted
                    distinct = list(dict.fromkeys(self.discrete))
                    if len(distinct) < n:
                        _refuse_repeats(lo_hi, n, len(distinct), distinct[:9], self.log)
        return self

    @property
    def count(self) -> int | None:
        """How many values :attr:`discrete` has (None for a distribution), without making them."""
        if self.values is not None:
            return len(self.values)
        if self.range is not None:
            return int(self.steps)
        return None

    @property
    def discrete(self) -> list | None:
        """The finite value set (values or range), or None for a continuous distribution."""
        if self.values is not None:
            return list(self.values)
        if self.range is not None:
            return self._range_values(np.arange(int(self.steps)))
        return None

    def _range_values(self, i: np.ndarray) -> list:
        """The range's values at the indices ``i`` (0 .. steps-1), made alone, never the whole range: linear
        a + (b-a)·i/(n-1), log a·(b/a)**(i/(n-1)) = 10**(lg a + (lg b - lg a)·i/(n-1)), computed as ``np.linspace``
        and ``np.geomspace`` compute them (the same floats), each bound exact at its end. The values are whole
        numbers with ``integer: true``, or when both bounds are and every step lands on one."""
        (a, unit), (b, _) = _split(self.range[0]), _split(self.range[1])
        n, i = int(self.steps), np.asarray(i, dtype=np.int64)
        if n == 1:
            x = np.full(i.shape, a)
        else:
            lo, hi = (np.log10(a), np.log10(b)) if self.log else (a, b)
            x = i * ((hi - lo) / (n - 1)) + lo
            x = np.power(10.0, x) if self.log else x
            x = np.where(i == n - 1, b, np.where(i == 0, a, x))
        whole = self._whole_steps
        return [_join(float(v), unit, whole) for v in x]

    @property
    def _whole_steps(self) -> bool:
        """Whether a range's values are whole numbers: ``integer: true``, or both bounds whole and every step landing
        on a whole number, judged from the bounds and steps alone (a range of 10**9 steps is never made)."""
        if self.integer:
            return True
        r0, r1 = self.range
        if not (_is_int(r0) and _is_int(r1)):
            return False
        a, b, n = int(r0), int(r1), int(self.steps)
        if n == 1 or a == b:
            return True
        if not self.log:
            return (b - a) % (n - 1) == 0  # exact: a + (b-a)·i/(n-1) is whole for every i
        # a geometric run of n whole numbers has a ratio p/q (lowest terms) with q**(n-1) dividing a (q >= 2) or
        # b = a·p**(n-1) (q = 1, p >= 2): either way n - 1 <= log2(max(a, b)), so a longer one is never whole
        if n - 1 > math.log2(max(a, b)):
            return False
        x = np.geomspace(a, b, n)  # n - 1 <= 1,024 here
        return bool(np.allclose(x, np.round(x)))

    def from_unit(self, u: np.ndarray) -> list:
        """Map uniform samples ``u`` in [0, 1) to values (inverse CDF, or a stratum of the value set); a range
        makes only the values drawn."""
        u = np.asarray(u, dtype=float)
        n = self.count
        if n is not None:
            idx = np.minimum((u * n).astype(np.int64), n - 1)
            if self.values is not None:
                return [self.values[i] for i in idx]
            return self._range_values(idx)
        (a, unit), (b, _) = _split(self.low), _split(self.high)
        if self.distribution == "loguniform":
            x = np.exp(np.log(a) + u * (np.log(b) - np.log(a)))
        else:
            x = a + u * (b - a)
        return [_join(float(v), unit, self.integer) for v in x]


def _refuse_repeats(lo_hi, n: int, n_distinct: int, first: list, log: bool):
    """Refuse an ``integer: true`` range whose ``n`` steps round to ``n_distinct`` whole numbers (``first``: the first
    nine of them): the other points would run as duplicates (the input audit AUH, 12)."""
    shown = ", ".join(str(v) for v in first[:8]) + (", ..." if n_distinct > 8 else "")
    listed = f"values: [{shown}]" if n_distinct <= 8 else "the values you mean as values: [...]"
    fewer = "fewer steps (log spacing rounds its small values together)" if log else f"steps <= {n_distinct:,}"
    raise ValueError(f"range [{lo_hi[0]}, {lo_hi[1]}] with steps {n:,} and integer: true gives {n_distinct:,} distinct "
                     f"whole numbers ({shown}): {n - n_distinct:,} point{'s' * (n - n_distinct != 1)} would repeat "
                     f"others; give {fewer}, or {listed}")


class SweepSpec(NoBoolNumbers):
    """A sweep: base scenario, parameters by dotted path, how to combine them, what to extract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("sweep", pattern=r"^[A-Za-z0-9_.\-]+$")
    base: str | dict = Field(..., description="scenario file (relative to the sweep file) or inline scenario")
    parameters: dict[str, ParamSpec] = Field(default_factory=dict)
    mode: Literal["grid", "list", "random", "lhs"] = "grid"
    samples: int | None = Field(None, ge=1, description="points drawn in random and lhs modes")
    seeds: int | list[int] | None = Field(None, description="scenario seeds: a count (base seed, +1, ...) or a list")
    seed: int = Field(0, ge=0, description="seed of the sampler (random, lhs)")
    fixed: dict[str, Any] = Field(default_factory=dict, description="overrides applied to every point")
    metrics: list[str] | None = Field(None, description="report.json dotted keys to extract (default DEFAULT_METRICS)")

    _base_dir: Path | None = None
    _label: str = "<sweep>"
    _path: Path | None = None  # the sweep file, resolved (None for a dict): a base naming it is refused

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError("seeds count must be >= 1")
        if isinstance(v, list) and (not v or any(s < 0 for s in v)):
            raise ValueError("seeds list must be non-empty non-negative integers")
        return v

    @model_validator(mode="after")
    def _check(self):
        n_seeds = len(self.seeds) if isinstance(self.seeds, list) else (self.seeds or 1)
        if not self.parameters and n_seeds < 2:  # was: one full point ran, then "no parameter is swept"
            raise FieldError("parameters", "empty, and no seeds vary: the sweep would run one point; give at least "
                             "one field to vary (or seeds: N to repeat the base), or use dcsim run for one point")
        if self.mode in ("random", "lhs") and self.samples is None:
            raise ValueError(f"mode {self.mode} needs samples")
        if self.mode in ("grid", "list"):
            cont = [k for k, p in self.parameters.items() if p.count is None]
            if cont:
                raise ValueError(f"mode {self.mode} needs values or range, not a distribution: {', '.join(cont)}")
        # one field spelled two ways (`racks.0.count` and `racks[0].count`, as --set and error messages write it)
        # was two axes of which only the last applied: half the points repeated others (audit C, A11). A path
        # inside another (`racks.0` and `racks.0.count`) also sets one field twice, in an order the user never
        # chose. Both are refused, and so is a parameter that `fixed` also sets.
        keys = [("parameters", k) for k in self.parameters] + [("fixed", k) for k in self.fixed]
        twice = overlapping_paths(keys)  # ValueError (an empty key) is this field's error
        if twice is not None:
            wa, a, wb, b, same = twice
            what = "the same field" if same else "overlapping fields (one inside the other)"
            raise ValueError(f"{wa}.{a} and {wb}.{b} set {what}: give each field once (racks[0].count is racks.0.count)")
        if self.mode == "list":
            lens = {k: p.count for k, p in self.parameters.items()}
            if len(set(lens.values())) > 1:
                raise ValueError(f"mode list needs equally long value lists, got {lens}")
        return self

    @property
    def base_dir(self) -> Path:
        """Folder the ``base`` path is relative to (the sweep file's folder, else the working directory)."""
        return self._base_dir if self._base_dir is not None else Path.cwd()


def _split(v) -> tuple[float, str]:
    """``"300 kW"`` → (300.0, "kW"); ``12`` → (12.0, ""); a base-60 or octal number YAML made (``1:30``, ``010``) is
    refused (:func:`dcsim.units.refuse_misread`)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        x, unit = float(refuse_misread(v, "a number")), ""
    else:
        m = _NUM_UNIT.match(str(v))
        if not m:
            raise ValueError(f"expected a number with an optional unit, got {v!r}")
        x, unit = float(m.group(1)), m.group(2)
    if not math.isfinite(x):  # .nan and .inf bounds were said to "share no unit" (session 54); 1e999 kW is inf
        raise ValueError(f"a bound must be a finite number, got {excerpt(v, 40)}")
    return x, unit


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _join(x: float, unit: str, integer: bool):
    if integer:
        x = int(round(x))
    if unit:
        return f"{x:.12g} {unit}" if not integer else f"{x} {unit}"
    return x


def load_sweep(source: str | Path | dict | SweepSpec) -> SweepSpec:
    """A :class:`SweepSpec` from a YAML file, a dict or a spec; errors name the file and field."""
    if isinstance(source, SweepSpec):
        return source
    if isinstance(source, dict):
        raw, label, bdir = source, "<dict>", None
    else:
        p = Path(source)
        raw, label, bdir = read_yaml(p), str(p), p.resolve().parent
    if yaml_kind(raw)[0] == "scenario":
        # a scenario given as a sweep file (`dcsim sweep reference.yaml`) listed nine errors ("base: Field
        # required", "duration: Extra inputs are not permitted", ...)
        raise ScenarioError(label, [("", "a scenario, not a sweep file (it has racks:, no base:): run it with "
                                         "`dcsim run`, or sweep it from a sweep file whose base: names it "
                                         "(docs/sweeps.md)")])
    try:
        spec = SweepSpec.model_validate(raw)
    except Exception as e:  # pydantic ValidationError
        errs = getattr(e, "errors", None)
        if callable(errs):
            out = []
            for er in errs(include_url=False):
                loc = ".".join(str(x) for x in er.get("loc", ()))
                blamed = (er.get("ctx") or {}).get("error")
                if isinstance(blamed, FieldError):  # the field a check across fields blames, not <root>
                    out.append((f"{loc}.{blamed.field}" if loc else blamed.field, blamed.reason))
                else:
                    out.append((loc, er.get("msg", "").removeprefix("Value error, ")))
            raise ScenarioError(label, out) from None
        raise ScenarioError(label, [("", str(e))]) from None
    spec._base_dir = bdir
    spec._label = label
    spec._path = None if isinstance(source, dict) else Path(source).resolve()
    return spec


# --------------------------------------------------------------------------- expansion

def _seed_list(spec: SweepSpec, base_seed: int) -> list[int] | None:
    if spec.seeds is None:
        return None
    if isinstance(spec.seeds, int):
        return [base_seed + i for i in range(spec.seeds)]
    return list(spec.seeds)


def max_points() -> int:
    """The point limit: ``DCSIM_SWEEP_MAX_POINTS`` (a whole number) or :data:`MAX_POINTS`."""
    env = os.environ.get("DCSIM_SWEEP_MAX_POINTS")
    if env:
        try:
            v = int(env.replace("_", "").replace(",", ""))
        except ValueError:
            raise ScenarioError("DCSIM_SWEEP_MAX_POINTS", [("", f"{env[:40]!r} is not a whole number of points")]) from None
        if v < 1:
            raise ScenarioError("DCSIM_SWEEP_MAX_POINTS", [("", f"{v} is not a positive number of points")])
        return v
    return MAX_POINTS


def count_points(spec: SweepSpec | dict | str | Path) -> int:
    """How many points :func:`expand` gives, computed without making them (before any memory is spent)."""
    spec = load_sweep(spec)
    counts = [spec.parameters[k].count for k in spec.parameters]
    if spec.mode == "grid":
        n = math.prod(counts)
    elif spec.mode == "list":
        n = counts[0] if counts else 1
    else:
        n = int(spec.samples)
    if spec.seeds is not None:
        n *= spec.seeds if isinstance(spec.seeds, int) else len(spec.seeds)
    return n


def _check_size(spec: SweepSpec) -> int:
    n, limit = count_points(spec), max_points()
    if n > limit:
        how = {"grid": "the product of the parameters' value counts", "list": "the length of the value lists",
               "random": "samples", "lhs": "samples"}[spec.mode] + (" times the seeds" if spec.seeds is not None else "")
        raise ScenarioError(spec._label, [(
            "parameters" if spec.mode in ("grid", "list") else "samples",
            f"{n:,} points ({how}) is more than the limit of {limit:,} points per sweep (docs/limits.md): "
            "split the sweep into several files (points they share are run once, through the cache), or raise "
            f"the limit with DCSIM_SWEEP_MAX_POINTS={n}")])
    return n


def expand(spec: SweepSpec | dict | str | Path, base_seed: int = 0) -> list[dict]:
    """The sweep's points: one dict of dotted-path overrides each (``fixed`` first, then parameters, then ``seed``).

    grid: Cartesian product; list: parameters zipped; random: ``samples`` independent draws;
    lhs: a Latin hypercube of ``samples`` points (one point per stratum of every parameter).
    Seeds, when given, are a further dimension (every point × every seed). Deterministic in ``spec.seed``.
    A sweep of more than :func:`max_points` points is refused (:class:`ScenarioError`) before any is made.
    """
    spec = load_sweep(spec)
    _check_size(spec)
    names = list(spec.parameters)
    ps = [spec.parameters[k] for k in names]
    if spec.mode == "grid":
        combos = list(itertools.product(*(p.discrete for p in ps))) if names else [()]
    elif spec.mode == "list":
        combos = list(zip(*(p.discrete for p in ps))) if names else [()]
    else:
        n = int(spec.samples)
        rng = np.random.default_rng(np.random.SeedSequence(spec.seed))
        u = rng.random((n, len(names)))
        if spec.mode == "lhs":
            for j in range(len(names)):
                u[:, j] = (rng.permutation(n) + u[:, j]) / n
        cols = [p.from_unit(u[:, j]) for j, p in enumerate(ps)]
        combos = list(zip(*cols)) if names else [()] * n
    points = []
    seeds = _seed_list(spec, base_seed)
    for combo in combos:
        ov = dict(spec.fixed)
        ov.update(dict(zip(names, combo)))
        if seeds is None:
            points.append(ov)
        else:
            for s in seeds:
                points.append({**ov, "seed": s})
    return points


# --------------------------------------------------------------------------- running one point

def point_label(overrides: dict) -> str:
    """A sweep point's overrides as messages quote them: ``{'path': value, ...}`` with each value a short excerpt
    (:func:`dcsim.units.excerpt`: 60 characters, an integer of more than 40 digits by its length) and the whole at
    most 300 characters (docs/limits.md). Until 2026-12-06 the dict itself was printed: ``{range: [1, 1e300],
    integer: true}``'s second point quoted a 301-digit number."""
    text = "{" + ", ".join(f"{excerpt(str(k), 80)}: {excerpt(v, 60)}" for k, v in overrides.items()) + "}"
    return excerpt(text, 300, quote=False)


def run_point(raw: dict, overrides: dict, base_dir: str | None) -> dict:
    """Run the base scenario ``raw`` (a dict) with ``overrides``; return its report (JSON-safe) and wall time, s.

    The unit of parallel work: plain data in, plain data out, so it ships to any worker. A point
    the preflight refuses (an invalid scenario at that point: an interconnect that cannot power the
    idle fleet, a run over the memory limit, ...) comes back as ``{"error": [[field, reason], ...]}``
    instead of a report, before anything is simulated; any other error (a bug) as ``RuntimeError``
    with the message (always picklable).
    """
    from dcsim.engine.run import run

    t0 = time.perf_counter()
    try:
        sc = load_scenario(raw, overrides=overrides, base_dir=base_dir, given_as=GivenAs.POINT)
        res = run(sc)
        if res.report.get("partial"):  # Ctrl-C stopped the run at a tick: never cache half a point
            raise KeyboardInterrupt(f"sweep point {point_label(overrides)} interrupted")
    except ScenarioError as e:  # this point's scenario is refused: a result of the sweep, not a crash
        return {"error": [[str(f), str(r)] for f, r in e.errors], "wall_s": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001  (re-raised with its message; exception types may not pickle)
        raise RuntimeError(f"sweep point {point_label(overrides)}: {type(e).__name__}: {e}") from None
    return {"report": plain(res.report, nonfinite="keep"), "wall_s": time.perf_counter() - t0}


def point_error(payload: dict) -> str | None:
    """The one-line reason a point was refused (``field: reason; ...``), None for a point that ran."""
    errs = payload.get("error")
    if not errs:
        return None
    return "; ".join(f"{f}: {r}" if f else str(r) for f, r in errs)


def extract(report: dict, key: str):
    """Value at a dotted ``key`` of a report dict (None when absent)."""
    return get_path(report, key)


def _resolved(dump: dict, path: str):
    """SI value of the scenario field at ``path`` after validation (units parsed)."""
    v = extract(dump, path)
    return v if not isinstance(v, (dict, list)) else json.dumps(v, sort_keys=True)


# --------------------------------------------------------------------------- cache

def data_files(sc: Scenario) -> dict[str, str]:
    """Files the scenario names (any ``path``/``file`` field: traces, weather, length tables, rate
    profiles; a node ``profile`` given as a file), resolved as the readers resolve them → sha256
    of their content ("missing" if absent). Shipped names are covered by :func:`code_hash`."""
    from dcsim.workload.trace import SHIPPED_TRACES, shipped_dir

    out: dict[str, str] = {}

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("path", "file", "profile") and isinstance(v, str):
                    if v in SHIPPED_TRACES:
                        p = shipped_dir() / SHIPPED_TRACES[v][0]
                    else:
                        p = Path(v).expanduser()
                        if not p.is_absolute() and sc.base_dir is not None:
                            p = Path(sc.base_dir) / p
                    if k == "profile" and not p.is_file():
                        continue  # a shipped profile name
                    try:
                        out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
                    except OSError:
                        out[str(p)] = "missing"
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(sc.model_dump(mode="json"))
    return out


def cache_key(sc: Scenario, h: str | None = None) -> str:
    """The cache key of one point: resolved scenario hash + :func:`code_hash` + :func:`data_files`."""
    blob = json.dumps({"scenario": h or scenario_hash(sc), "code": code_hash(), "data": data_files(sc)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


#: A code version's cache subfolder not used for this long is removed when a sweep uses the cache folder: another
#: dcsim's points are kept while it is in use (two installs sharing the user cache no longer evict each other's points,
#: as one file per scenario did), and a version left behind does not grow the folder for ever. An assumption.
CACHE_KEEP_S = 30 * 86400


def _code_dir(cache_dir: Path) -> Path:
    """The subfolder of ``cache_dir`` that holds this code version's points: the first 12 hex digits of
    :func:`code_hash`."""
    return cache_dir / code_hash()[:12]


def _cache_path(cache_dir: Path, h: str) -> Path:
    return _code_dir(cache_dir) / f"{h}.json"


def _prune_cache(cache_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the code-version subfolders of ``cache_dir`` (12 hex digits, holding only ``*.json`` points) unused for
    :data:`CACHE_KEEP_S`, and mark this version's used; returns those removed. Best effort: a folder that cannot be
    read or removed is left."""
    import shutil

    now = time.time() if now is None else now
    mine = _code_dir(cache_dir)
    removed = []
    try:
        if mine.is_dir():
            os.utime(mine)
        subs = [d for d in cache_dir.iterdir() if d != mine and d.is_dir() and re.fullmatch(r"[0-9a-f]{12}", d.name)]
    except OSError:
        return removed
    for d in subs:
        try:
            if now - d.stat().st_mtime > CACHE_KEEP_S and all(f.suffix in (".json", ".tmp") and f.is_file()
                                                              for f in d.iterdir()):  # .tmp: a write cut short
                shutil.rmtree(d)
                removed.append(d)
        except OSError:
            continue
    return removed


def _cache_read(cache_dir: Path | None, h: str, key: str | None = None) -> dict | None:
    if cache_dir is None:
        return None
    p = _cache_path(cache_dir, h)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(d, dict) or d.get("scenario_hash") != h or d.get("dcsim_version") != __version__ \
            or "report" not in d:
        return None
    if key is not None and d.get("cache_key") != key:
        return None  # made by other code or from other input files: stale
    return d


def _cache_write(cache_dir: Path, h: str, payload: dict, key: str | None = None) -> None:
    """Write one point atomically (the one atomic-write helper)."""
    d = {"scenario_hash": h, "dcsim_version": __version__, **payload}
    if key is not None:
        d["cache_key"] = key
    atomic_write_bytes(_cache_path(cache_dir, h), json.dumps(d, sort_keys=True).encode("utf-8"))


# --------------------------------------------------------------------------- what a sweep says

class SweepWarning(UserWarning):
    """What :func:`run_sweep` warns of, through :mod:`warnings` (library code prints nothing of its own): a sweep
    estimated above :data:`SWEEP_WARN_S`, and the calibration caveat of its rows (:func:`calibration_caveat_line`).
    ``dcsim sweep`` shows each as a plain line on stderr; from Python, ``warnings.simplefilter("ignore",
    SweepWarning)`` silences them (and ``progress=False`` the progress bar and the cost line it opens with)."""


def _warn(text: str, cli_prefix: str = "") -> None:
    """Warn ``text`` as a :class:`SweepWarning` attributed to the caller's line: the first frame outside this module,
    whichever public name was called (``run_sweep``, or ``sweep``, which adds a frame: a fixed ``stacklevel=2``
    pointed the ``sweep()`` caller at dcsim/sweep.py until session 52). ``cli_prefix`` is what ``dcsim sweep`` puts
    before the text on stderr (``"warning: "``, :func:`_plain_sweep_warnings`); from Python the text stands alone."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename == _warn.__code__.co_filename:
        frame, level = frame.f_back, level + 1
    w = SweepWarning(text)
    w.cli_prefix = cli_prefix
    warnings.warn(w, stacklevel=level)


def _plain_sweep_warnings(show: Callable) -> Callable:
    """A ``warnings.showwarning`` for ``dcsim sweep``: a :class:`SweepWarning` as its text alone on stderr, after its
    ``cli_prefix`` (the cost warning's ``warning: ``), any other warning as ``show`` (the one it replaces) shows it."""
    def showwarning(message, category, *args, **kw):
        if issubclass(category, SweepWarning):
            sys.stderr.write(f"{getattr(message, 'cli_prefix', '')}{message}\n")
        else:
            show(message, category, *args, **kw)
    return showwarning


# --------------------------------------------------------------------------- progress

class _Progress:
    """``sweep  [#####.....]  12/100 points  elapsed 3.1s  eta 22.9s`` on stderr."""

    def __init__(self, total: int, label: str = "sweep", stream=None, enabled: bool = True, every: float = 0.0,
                 delay: float = 0.0):
        self.total, self.label, self.enabled = total, label, enabled
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.every, self._last = every, -1.0
        self.delay, self.shown = delay, False  # nothing drawn before `delay` s (a short phase stays silent)

    def __call__(self, done: int, ran: int) -> None:
        if not self.enabled or self.total == 0:
            return
        el = time.perf_counter() - self.t0
        if el < self.delay and not self.shown:
            return
        self.shown = True
        if self.every and done < self.total:  # throttled: at most one redraw per `every` seconds
            if el - self._last < self.every:
                return
            self._last = el
        frac = done / self.total
        left = self.total - done
        eta = el / ran * left if ran > 0 else (0.0 if left == 0 else float("nan"))
        n = int(30 * frac)
        eta_s = f"{eta:6.1f}s" if eta == eta else "    --"
        self.stream.write(f"\r{self.label} [{'#' * n}{'.' * (30 - n)}] {done}/{self.total} points  "
                          f"elapsed {el:6.1f}s  eta {eta_s}")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A line of the progress display (the sweep's cost before it runs), when the display is on."""
        if self.enabled:
            self.stream.write(text + "\n")


# --------------------------------------------------------------------------- the sweep

def _parallel_results(todo: list[tuple[dict, dict, str | None]], workers: int, client) -> Any:
    """THE parallel call site: yields ``(index, payload)`` as points finish.

    joblib with loky (local processes) by default; with a Dask ``client`` the same call runs
    under ``joblib.parallel_config(backend="dask")`` on the cluster's workers.
    """
    import joblib

    def gen(n_jobs):
        par = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        return par(joblib.delayed(_indexed)(i, *job) for i, job in enumerate(todo))

    if client is not None:
        with joblib.parallel_config(backend="dask"):
            yield from gen(-1)
    elif workers == 1 or len(todo) <= 1:
        for i, job in enumerate(todo):
            yield _indexed(i, *job, watch=False)
    else:
        with joblib.parallel_config(backend="loky"):
            yield from gen(int(workers))


_WATCHDOG: list = []


def _watch_parent() -> None:
    """In a worker process: exit as soon as the process that started it is gone (a SIGKILLed
    sweep cannot stop its workers itself; they notice within a second)."""
    if _WATCHDOG:
        return
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    t = threading.Thread(target=watch, name="dcsim-parent-watch", daemon=True)
    t.start()
    _WATCHDOG.append(t)


def _indexed(i: int, raw: dict, overrides: dict, base_dir: str | None, watch: bool = True) -> tuple[int, dict]:
    if watch:  # in a worker process (not when the sweep runs points in its own process)
        _watch_parent()
    return i, run_point(raw, overrides, base_dir)


def _kill_local_workers() -> None:
    """Shut the local (loky) worker pool down, killing its processes."""
    try:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=False, kill_workers=True)
    except Exception:  # noqa: BLE001 - best effort on the way out of an interrupted sweep
        pass


def default_cache_dir() -> Path:
    """The sweep's point cache when none is named: ``dcsim/sweep`` in the user's cache folder, where
    ``platformdirs.user_cache_dir("dcsim")`` places it (on Windows with ``appauthor=False``; platformdirs' default
    adds an author folder there): ``$XDG_CACHE_HOME`` when set to an absolute path, else ``~/.cache`` (Linux and
    other Unix), ``~/Library/Caches`` (macOS), ``%LOCALAPPDATA%\\dcsim\\Cache`` (Windows). Each code version keeps its
    points in its own subfolder (:func:`code_hash`, first 12 hex digits); one unused for :data:`CACHE_KEEP_S` is
    removed. It was ``.dcsim-cache`` in the working folder, so a
    sweep run from ``$HOME`` or a project left a cache folder there; one folder for every sweep keeps the points two
    sweeps share run once. ``--cache-dir`` (``cache_dir=``) names another, ``--no-cache`` (``None``) none."""
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "dcsim" / "Cache" / "sweep"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        base = Path(xdg)
    else:
        base = Path.home() / ("Library/Caches" if sys.platform == "darwin" else ".cache")
    return base / "dcsim" / "sweep"


class _UserCache:
    """``run_sweep``'s default ``cache_dir``: :func:`default_cache_dir`, resolved once when the sweep runs (the rows
    say where: ``rows.cache_dir``)."""

    def __repr__(self) -> str:
        return "default_cache_dir()"


USER_CACHE = _UserCache()


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; the message says how many points finished (and are cached) and how to resume."""

    def __init__(self, msg: str, *, done: int, total: int, cache_dir: Path | None):
        super().__init__(msg)
        self.done, self.total, self.cache_dir = done, total, cache_dir


def check_metrics(spec: SweepSpec) -> None:
    """Refuse ``metrics:`` keys no report can have (:func:`dcsim.metrics.expect.unknown_report_paths`, the check
    ``expect:`` keys get too), close matches suggested."""
    from dcsim.metrics.expect import unknown_report_paths

    if not spec.metrics:
        return
    bad = unknown_report_paths(spec.metrics)
    if bad:
        idx = {m: i for i, m in reversed(list(enumerate(spec.metrics)))}
        raise ScenarioError(spec._label, [(f"metrics.{idx.get(p, '?')}", f"{p!r}: {why}") for p, why in bad])


def _load_base(spec: SweepSpec) -> tuple[dict, Path | None, Scenario]:
    """The sweep's ``base`` scenario (a file, relative to the sweep file, or inline); refusals name the sweep file
    and its ``base`` field, then the base's own field (one formatter for a read error and a validation error alike;
    named '<dict>' before, as if no file held the base). A sweep file as the base (``parameters:``, no ``racks:``;
    this very file gave six '<dict>' errors) is refused as such. Returns the base's raw mapping, the folder its
    relative paths are read from, and the scenario."""
    inline = isinstance(spec.base, dict)
    bp = None if inline else (Path(spec.base) if Path(spec.base).is_absolute() else spec.base_dir / spec.base)
    where = "the inline scenario" if inline else str(bp)

    def refuse(errors) -> ScenarioError:
        return ScenarioError(spec._label, [("base", f"{where}: {f or '<root>'}: {r}") for f, r in errors])

    if inline:
        try:
            return spec.base, spec.base_dir, load_scenario(spec.base, base_dir=spec.base_dir)
        except ScenarioError as e:
            raise refuse(e.errors) from None
    if spec._path is not None and bp.resolve() == spec._path:
        raise ScenarioError(spec._label, [("base", f"{bp} is this sweep file itself: base names the scenario file "
                                                   "the sweep varies")])
    try:
        raw = read_yaml(bp)
        kind, key = yaml_kind(raw)
        if kind == "sweep":  # a sweep file's parameters: may be left out; base: is required in it
            raise ScenarioError(spec._label, [("", f"a sweep file (it has {key}:), not a scenario: base names "
                                                   "the scenario file the sweep varies")])
        return raw, bp.resolve().parent, load_scenario(raw, base_dir=bp.resolve().parent, label=str(bp))
    except ScenarioError as e:
        raise refuse(e.errors) from None


#: A sweep's cost before it runs (:func:`sweep_cost_s`): per point, SWEEP_POINT_S of set-up plus SWEEP_TICK_S per
#: controller tick. Measured 2026-12-05 with :func:`run_point` on scenarios/reference.yaml at fluid fidelity on the
#: project's 2-core machine under load: 1 h (60 ticks) 0.59-0.62 s, 24 h (1,440 ticks) 9.2-10.1 s; a 72 h run
#: took 9.8 s, so long fluid runs cost less per tick and the estimate is an order of magnitude, on the high side for
#: them. Request and hybrid fidelity cost more per tick (with the request rate): for them it is a lower bound.
SWEEP_POINT_S = 0.25
SWEEP_TICK_S = 6.0e-3
#: A fluid point without the SLO estimate (``serving.slo_estimate: false``), whose queueing estimate is most of a
#: fluid tick's cost: SWEEP_POINT_NO_SLO_S per point + SWEEP_TICK_NO_SLO_S per tick, fitted 2026-12-05 on two run
#: lengths from results.csv ``wall_s`` (the time :func:`run_point` takes, set-up included) of
#: scenarios/sweeps/outdoor_temperature.yaml at 12 steps of ``mean_t``, twice each, on the shared 2-core machine
#: (load 10-11): ``dcsim sweep FILE --no-cache --workers 1`` with ``duration: 1 h`` (60 ticks), mean wall_s 0.568 s
#: (0.39-0.90 s, 24 points), and with ``duration: 24 h`` (1,440 ticks), 0.588 s (0.47-1.01 s, 24 points): 0.020 s
#: more for 1,380 ticks is 0.015 ms a tick, inside the points' spread; without the estimate a fluid point costs
#: its set-up whatever its length. Checked on a length not in the fit: 6 points of 72 h, 6.3 s measured,
#: :func:`sweep_cost_s` 5.9 s. Until then one 24 h sweep (7.1 s, its start-up folded into the ticks) gave 0.65 ms a
#: tick and no set-up, and short sweeps read 3-4x low (6 points of 1 h: "about 1.73 s", 4.5-5.5 s taken).
SWEEP_POINT_NO_SLO_S = 0.567
SWEEP_TICK_NO_SLO_S = 1.5e-5
#: A sweep's start-up, once whatever its points (the worker pool, preparing the points, writing results.csv and
#: sweep.png): the sweep's own time (``dcsim sweep``'s "in X s") less the sum of its points' ``wall_s``, the four
#: fitting sweeps above: 1.65, 2.32, 2.60 and 1.98 s, mean 2.1 s (measured 2026-12-05, load 10-11).
SWEEP_START_S = 2.1
#: Above this estimated wall time a sweep is warned before it starts (an assumption: an hour is past a coffee).
SWEEP_WARN_S = 3600.0


def sweep_cost_s(points: int, ticks: int, workers: int = 1, ticks_no_slo: int = 0, points_no_slo: int = 0) -> float:
    """Estimated wall time [s] of running ``points`` points of ``ticks`` controller ticks in all, on ``workers``
    processes, of which ``points_no_slo`` points with ``ticks_no_slo`` ticks run at fluid fidelity without the SLO
    estimate: :data:`SWEEP_START_S` once, then per point :data:`SWEEP_POINT_S` + :data:`SWEEP_TICK_S` per tick, or
    :data:`SWEEP_POINT_NO_SLO_S` + :data:`SWEEP_TICK_NO_SLO_S` per tick without the estimate, divided by the workers
    (measured at fluid fidelity on scenarios/reference.yaml). 0 for no point to run."""
    if points <= 0:
        return 0.0
    slo = (points - points_no_slo) * SWEEP_POINT_S + (ticks - ticks_no_slo) * SWEEP_TICK_S
    quiet = points_no_slo * SWEEP_POINT_NO_SLO_S + ticks_no_slo * SWEEP_TICK_NO_SLO_S
    return SWEEP_START_S + (slo + quiet) / max(1, min(int(workers), points))


def _cost_text(name: str, total: int, n_run: int, n_cached: int, ticks: int, n_fine: int, workers: int,
               remote: bool, ticks_no_slo: int = 0, points_no_slo: int = 0) -> tuple[str, float]:
    """The sweep's size and cost as said before it runs, and the estimate (:func:`sweep_cost_s`; ``ticks`` all the
    ticks of the ``n_run`` points to run, ``ticks_no_slo`` / ``points_no_slo`` those without the SLO estimate)."""
    from dcsim.metrics.fmt import fmt_duration

    est = sweep_cost_s(n_run, ticks, 1 if remote else workers, ticks_no_slo, points_no_slo)
    on = "one worker (a scheduler's workers divide it)" if remote else f"{workers} worker{'s' if workers > 1 else ''}"
    fine = (f"; {n_fine:,} of the points run at request/hybrid fidelity, which costs more per tick: a lower bound"
            if n_fine else "")
    slo = f"{SWEEP_POINT_S:g} s per point + {SWEEP_TICK_S * 1e3:g} ms per tick"
    quiet = (f"{SWEEP_POINT_NO_SLO_S:g} s per point + {SWEEP_TICK_NO_SLO_S * 1e3:g} ms per tick without the SLO "
             "estimate")
    per = quiet if points_no_slo and points_no_slo == n_run else (
        f"{slo} with the SLO estimate, {quiet}" if points_no_slo else slo)
    text = (f"{name}: {total:,} points, {n_run:,} to run ({n_cached:,} cached), {ticks:,} controller ticks: about "
            f"{fmt_duration(est)} on {on} (estimated at {SWEEP_START_S:g} s start-up + {per}, measured on "
            f"scenarios/reference.yaml at fluid fidelity{fine})")
    return text, est


def run_sweep(spec_or_path: SweepSpec | dict | str | Path, workers: int = 1, client=None,
              cache_dir: str | Path | None | _UserCache = USER_CACHE, progress: bool | Callable = True,
              out: str | Path | None = None) -> SweepRows:
    """Run every point of a sweep and return one row (dict) per point, in :func:`expand` order, as a
    :class:`SweepRows` (a list that knows what was swept; ``rows.plot()`` draws the sweep's figure).

    A row holds ``point``, ``scenario_hash``, each varied input (its resolved SI value under its
    dotted path, plus ``seed``), the extracted metrics (dotted report keys), ``cached``
    (True when served from ``cache_dir``) and ``error`` (None, or ``field: reason`` when the preflight
    refused the point's scenario: its metrics are then None; the other points still run).
    Unknown ``metrics`` keys and a sweep of more than :func:`max_points` points are refused
    (:class:`ScenarioError`) before anything runs; Ctrl-C raises :class:`SweepInterrupted`. ``cache_dir``: the point
    cache, by default the user's cache folder (:func:`default_cache_dir`); ``None`` disables it. ``client`` is a
    ``dask.distributed.Client`` or a scheduler address; ``workers`` local processes otherwise.
    ``out``: folder to write ``results.csv`` (and ``results.parquet`` when pyarrow is importable) and the
    figure, ``sweep.png`` (:func:`write_figure`; ``rows.figure`` says what it shows, or why none is drawn).
    """
    try:  # workers=0 (or -1) ran the points one at a time without a word, where `dcsim sweep --workers 0` is refused
        workers = check_count(workers, _WORKERS)
    except ValueError as e:
        raise ValueError(f"run_sweep: workers: {e} (as `dcsim sweep --workers`)") from None
    if client is not None and not hasattr(client, "submit"):  # an address (or no client: client=42 failed in
        # joblib after every point was prepared): its form checked before any point is prepared
        client = check_scheduler_address(client, "run_sweep: client")
    spec = load_sweep(spec_or_path)
    base_raw, base_dir, base_sc = _load_base(spec)
    metrics = list(spec.metrics) if spec.metrics else list(DEFAULT_METRICS)
    check_metrics(spec)  # a typo is refused now, not found as an empty column after the runs
    total = _check_size(spec)  # before a single point is made
    cdir = default_cache_dir() if isinstance(cache_dir, _UserCache) else Path(cache_dir) if cache_dir is not None else None
    if cdir is not None:
        try:  # the folder is made before any point is prepared: a file on its path is said at once
            cdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ScenarioError("the point cache (--cache-dir, cache_dir=)", [("", f"{cdir}: {e.strerror or e}: "
                                "give a folder, or a path where one can be made")]) from None
        _prune_cache(cdir)
    show = progress if not callable(progress) else False
    prep = _Progress(total, label=f"{spec.name}: preparing", enabled=bool(show), every=0.25,
                     delay=1.0)
    points = expand(spec, base_seed=base_sc.seed)

    resolved: list[tuple[dict, str]] = []  # per point: its row's inputs (resolved SI values), scenario hash
    keys: dict[str, str] = {}
    payloads: dict[str, dict] = {}
    cached: set[str] = set()
    looked: set[str] = set()
    todo_h: list[str] = []
    todo: list[tuple[dict, dict, str | None]] = []
    bdir = str(base_dir) if base_dir is not None else None
    sc0: Scenario | None = None  # the first point's scenario: names and dimensions of the swept fields
    ticks_todo = ticks_quiet = n_quiet = n_fine = 0  # the points to run's cost (sweep_cost_s); quiet: no SLO estimate
    try:
        for i, ov in enumerate(points):
            try:
                sc = load_scenario(base_raw, overrides=ov, base_dir=base_dir, given_as=GivenAs.POINT)
            except ScenarioError as e:
                raise ScenarioError(f"{spec._label}: sweep point {i} {point_label(ov)}", e.errors) from None
            if sc0 is None:
                sc0 = sc
            h = scenario_hash(sc)
            dump = sc.model_dump(mode="json")
            inputs = {k: _resolved(dump, k) for k in spec.parameters}
            if spec.seeds is not None:
                inputs["seed"] = sc.seed
            resolved.append((inputs, h))  # not the Scenario: 100,000 of them held 1.4 GB
            if h not in looked:  # each distinct scenario once: key, cache look-up, queued if missing
                looked.add(h)
                if cdir is not None:
                    keys[h] = cache_key(sc, h)
                d = _cache_read(cdir, h, keys.get(h))
                if d is not None:
                    payloads[h] = d
                    cached.add(h)
                else:
                    todo_h.append(h)
                    todo.append((base_raw, ov, bdir))
                    n_ticks = int(math.ceil(float(sc.duration) / float(sc.controller.tick) - 1e-9))
                    ticks_todo += n_ticks
                    if sc.fidelity == "fluid" and not sc.serving.slo_estimate:  # the estimate is most of a tick
                        ticks_quiet += n_ticks
                        n_quiet += 1
                    n_fine += sc.fidelity != "fluid"
            prep(i + 1, i + 1)
    except KeyboardInterrupt:
        if prep.shown:
            prep.stream.write("\n")
        raise SweepInterrupted(f"interrupted while preparing the points ({len(resolved):,} of {total:,}): "
                               "no point was run", done=0, total=total, cache_dir=cdir) from None

    cost, est_s = _cost_text(spec.name, total, len(todo_h), len(cached), ticks_todo, n_fine, workers,
                             client is not None, ticks_quiet, n_quiet)
    if todo_h and est_s > SWEEP_WARN_S:  # was silent: 10,000 points started, eta 23 h shown after the first
        _warn(f"{cost}; above {SWEEP_WARN_S / 3600:g} h: Ctrl-C stops it, finished points are cached and the same "
              "command resumes", cli_prefix="warning: ")
    elif todo_h:
        prep.say(cost)
    own_client = None
    if isinstance(client, str):
        from dask.distributed import Client

        client = own_client = Client(client)
    prog = progress if callable(progress) else _Progress(len(todo_h) + len(cached), label=spec.name,
                                                          enabled=bool(progress))
    done = len(cached)
    prog(done, 0)
    ran = 0
    try:
        for i, payload in _parallel_results(todo, workers, client):
            h = todo_h[i]
            payloads[h] = payload
            if cdir is not None and "error" not in payload:  # a refused point is checked again on a rerun
                _cache_write(cdir, h, payload, keys.get(h))
            ran += 1
            prog(done + ran, ran)
    except BaseException as exc:  # Ctrl-C or an error: no worker outlives the sweep
        if client is None and workers > 1:
            _kill_local_workers()
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, SweepInterrupted):
            if not callable(progress) and progress:
                prog.stream.write("\n")  # the bar's line ends before the message
            n_pts = len(todo_h) + len(cached)
            kept = sum(1 for h in payloads if "error" not in payloads[h])
            if cdir is None:
                msg = (f"interrupted: {kept:,} of {n_pts:,} distinct points had finished; nothing is cached "
                       "(--no-cache), so a rerun starts again from the first point")
            else:
                msg = (f"interrupted: {kept:,} of {n_pts:,} distinct points finished and are cached in {cdir}/ "
                       f"({len(cached):,} of them from earlier runs); run the same command again to resume: "
                       f"only the {n_pts - kept:,} missing points run")
            raise SweepInterrupted(msg, done=kept, total=n_pts, cache_dir=cdir) from None
        raise
    finally:
        if own_client is not None:
            own_client.close()

    rows = SweepRows(name=spec.name, mode=spec.mode, parameters=axis_info(spec, sc0))
    rows.cache_dir = cdir
    rows.estimate_s = est_s  # the estimate said before the run (sweep_cost_s)
    for i, (inputs, h) in enumerate(resolved):
        row: dict[str, Any] = {"point": i, "scenario_hash": h, **inputs}
        rep = payloads[h].get("report") or {}
        for m in metrics:
            row[m] = extract(rep, m)
        row.update(headline_columns(rep))
        row["wall_s"] = payloads[h].get("wall_s")
        row["cached"] = h in cached
        row["error"] = point_error(payloads[h])
        rows.append(row)
    caveat = calibration_caveat_line(rows)
    if caveat:  # once for the sweep, as a run prints its caveat once above its figures
        _warn(caveat)
    if out is not None:
        write_table(rows, out)
        rows.figure = write_figure(rows, out)
    return rows


def sweep(spec_or_path, *, workers: int = 1, client=None, **kw) -> SweepRows:
    """Same as :func:`run_sweep` (the public name: ``dcsim.sweep.sweep(..., client=client)``)."""
    return run_sweep(spec_or_path, workers=workers, client=client, **kw)


# --------------------------------------------------------------------------- what was swept, for the figure

def _field_dim(parent: Any, key: str) -> str | None:
    """Dimension of a scenario field (``power``, ``temperature``, ...) from its unit-parsing type
    (:func:`dcsim.units.quantity_dim`), None for a count, name or choice."""
    fields = getattr(type(parent), "model_fields", None)
    info = fields.get(key) if fields else None
    return quantity_dim(info.annotation, info.metadata) if info is not None else None


def axis_info(spec: SweepSpec, sc: Scenario | None) -> dict[str, dict]:
    """Per swept parameter: ``name`` (readable, with the rack group's own name), ``dim`` (its dimension, from the
    scenario field's type), ``unit`` (the unit the sweep file wrote its values in, else None) and ``log`` (geometric
    spacing) -- what the sweep's figure labels its axes with (:func:`dcsim.plots.sweep.sweep_figure`)."""
    out: dict[str, dict] = {}
    for path, p in spec.parameters.items():
        parts = split_path(path)
        name = param_name(path)
        obj: Any = sc
        owner, dim = None, None
        for i, part in enumerate(parts):
            if obj is None:
                break
            if i == len(parts) - 1:
                dim = _field_dim(obj, part)
                break
            if isinstance(obj, (list, tuple)) and part.isdigit():
                obj = obj[int(part)] if int(part) < len(obj) else None
                own = getattr(obj, "name", None)
                if isinstance(own, str) and own:
                    owner = own
            else:
                obj = getattr(obj, part, None)
        if owner and sum(x.isdigit() for x in parts) == 1:
            name = f"{name} ({owner})"
        raw = list(p.values or []) if p.values is not None else list(p.range or (p.low, p.high))
        units = {_split(v)[1] if isinstance(v, str) and _NUM_UNIT.match(v) else "" for v in raw}
        unit = units.pop() or None if len(units) == 1 else None  # values in mixed units: the figure picks one
        out[path] = {"name": name, "dim": dim, "unit": unit, "log": bool(p.log or p.distribution == "loguniform")}
    return out


class SweepRows(list):
    """What :func:`run_sweep` returns: the rows (a list of dicts, one per point, as before) that also know what was
    swept -- ``name``, ``mode`` and ``parameters`` (:func:`axis_info`) -- and draw the sweep's figure (:meth:`plot`)."""

    def __init__(self, rows=(), *, name: str = "sweep", mode: str = "grid", parameters: dict | None = None):
        super().__init__(rows)
        self.name, self.mode, self.parameters = name, mode, dict(parameters or {})
        #: with ``run_sweep(out=...)``: (the figure's path, what it shows), or (None, why none is drawn)
        self.figure: tuple[Path | None, str] | None = None
        #: the point cache folder :func:`run_sweep` used (its ``cache_dir``, the user's by default), or None
        self.cache_dir: Path | None = None
        #: the wall time [s] :func:`run_sweep` estimated before running (:func:`sweep_cost_s`), or None
        self.estimate_s: float | None = None

    def plot(self, metric: str | None = None, title: str | None = None):
        """The sweep's figure (:func:`dcsim.plots.sweep.sweep_figure`): the headline figures against one swept
        axis, a heatmap over two, a scatter per parameter otherwise; refused points marked. Raises
        :class:`dcsim.plots.sweep.NoSweepFigure` (a ``ValueError``) with the reason when nothing can be drawn."""
        from dcsim.plots.sweep import sweep_figure

        return sweep_figure(self, metric=metric, title=title)


#: File name of the sweep's figure in its output folder.
FIGURE_NAME = "sweep.png"


def write_figure(rows: SweepRows, out_dir: str | Path) -> tuple[Path | None, str]:
    """Draw the sweep's figure into ``out_dir``/:data:`FIGURE_NAME` (atomically); returns (its path, what it shows)
    or (None, why nothing is drawn) -- an old figure there is then removed, so the folder never shows another sweep's."""
    import io

    from dcsim.plots.sweep import NoSweepFigure, _headline, _metric_label, sweep_figure, sweep_figure_kind

    path = Path(out_dir) / FIGURE_NAME
    try:
        kind = sweep_figure_kind(rows, list(rows.parameters), rows.mode)
        fig = sweep_figure(rows)
    except NoSweepFigure as e:
        path.unlink(missing_ok=True)
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - a drawing failure must not cost the points already run and written
        path.unlink(missing_ok=True)
        return None, (f"the figure could not be drawn ({type(e).__name__}: {e}); every point is in the results table "
                      "and cache, please report this")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    # what the figure shows, from the metric it draws and whether the rows hold a binding constraint (a sweep of
    # pue alone drew pue, with no binding map, and was said to show output tok/s and the binding constraint)
    drawn = _metric_label(_headline(rows, None, list(rows.parameters)))[0].split(" (")[0]
    bind = any(r.get("binding.most_common") for r in rows)
    what = {"line": "the headline figures against " + next(iter(rows.parameters), ""),
            "heatmap": drawn + (" and the binding constraint" if bind else "") + " over "
            + " x ".join(list(rows.parameters)[:2]),
            "scatter": drawn + " against each swept parameter"}[kind]
    return atomic_write_bytes(path, buf.getvalue()), what


# --------------------------------------------------------------------------- results table

def columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """Rows → columns (numpy arrays; float where every value is numeric or None, else object)."""
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    out = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in vals):
            out[k] = np.array([np.nan if v is None else float(v) for v in vals])
        else:
            out[k] = np.array(vals, dtype=object)
    return out


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    return str(v)


def write_table(rows: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.csv`` (and ``results.parquet`` when pyarrow is importable) atomically; returns paths."""
    import io

    out = Path(out_dir)
    keys = list(columns(rows)) if rows else []
    files = {}
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(keys)
    for r in rows:
        w.writerow([_cell(r.get(k)) for k in keys])
    files["results.csv"] = atomic_write_bytes(out / "results.csv", buf.getvalue().encode("utf-8"))
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return files
    cols = columns(rows)
    table = pa.table({k: (v.tolist() if v.dtype == object else v) for k, v in cols.items()})
    pbuf = pa.BufferOutputStream()
    pq.write_table(table, pbuf)
    files["results.parquet"] = atomic_write_bytes(out / "results.parquet", pbuf.getvalue().to_pybytes())
    return files


# --------------------------------------------------------------------------- CLI

def _out_problem(out: Path) -> str | None:
    """Why the table cannot be written under ``out`` (a file there or above it, a folder not writable), or None."""
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                return (f"{out}: exists and is not a folder; choose another --out" if p == out else
                        f"{out}: {p} is a file, not a folder; choose another --out")
            if not os.access(p, os.W_OK | os.X_OK):
                return f"{out}: {p} is not writable; choose another --out"
            return None
    return None


def cmd_sweep(args) -> int:
    from dcsim.report.summary import print_message  # wrapped at a terminal, one line each when piped

    spec = load_sweep(args.file)
    out = args.out if args.out is not None else Path("results") / "sweeps" / safe_name(spec.name)
    problem = _out_problem(Path(out))
    if problem:  # checked before any point runs, as run and compare do: a sweep can take hours (audit C, D7)
        print_message(f"error: {problem}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        cdir = None if args.no_cache else (args.cache_dir or USER_CACHE)
        with warnings.catch_warnings():  # the sweep's warnings as plain lines, each time, as the CLI always said them
            warnings.simplefilter("always", SweepWarning)
            warnings.showwarning = _plain_sweep_warnings(warnings.showwarning)
            rows = run_sweep(spec, workers=args.workers, client=args.scheduler, cache_dir=cdir,
                             progress=not args.quiet, out=out)
    except SweepInterrupted as e:
        print_message(str(e), file=sys.stderr)
        return 130
    el = time.perf_counter() - t0
    n_cached = sum(1 for r in rows if r["cached"])
    files = sorted(p.name for p in out.glob("results.*"))
    fig_path, fig_note = rows.figure or (None, "not drawn")
    if fig_path is not None:
        files.append(fig_path.name)
    print_message(f"{spec.name}: {len(rows)} points ({n_cached} from cache) in {el:.1f} s -> {out}/ ({', '.join(files)})")
    print_message(f"  figure: {out / fig_path.name}: {fig_note}" if fig_path is not None else f"  no figure: {fig_note}")
    if rows.cache_dir is not None:  # where the points are kept: the user cache folder unless --cache-dir names one
        print_message(f"  cache: {rows.cache_dir}/ (--cache-dir DIR for another, --no-cache for none)")
    failed = [r for r in rows if r["error"]]
    if failed:  # the table is written; the refused points are input errors, named with their reason
        from dcsim.units import excerpt

        lines = [f"{args.file}: {len(failed)} of {len(rows)} sweep points are invalid scenarios, not run "
                 f"(their rows in {out}/results.csv have empty figures and the reason in `error`):"]
        for r in failed[:25]:
            ov = {k: r[k] for k in spec.parameters} | ({"seed": r["seed"]} if "seed" in r else {})
            lines.append(f"  point {r['point']} {excerpt(json.dumps(ov), 200, quote=False)}: "
                         f"{excerpt(r['error'], 300, quote=False)}")
        if len(failed) > 25:
            lines.append(f"  ... and {len(failed) - 25} more")
        print_message("\n".join(lines), file=sys.stderr)
        return 2
    return 0


def _cache_dir_arg(text: str) -> str:
    """``--cache-dir``: not blank (``Path('')`` is the current folder). Whether a folder can be made there is
    :func:`run_sweep`'s check, the same for the API and the default folder."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError("is empty: give a folder, or --no-cache for none")
    return text


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``dcsim sweep FILE [--workers N] [--scheduler ADDRESS] [--out DIR] [--no-cache]``."""
    p = subparsers.add_parser("sweep", help="run a parameter sweep (grid, list, random, LHS), one row per point",
                              description="Run a sweep file: one row per point in results.csv and the sweep's "
                                          "figure, sweep.png; see docs/sweeps.md.")
    p.add_argument("file", help="sweep YAML file")
    p.add_argument("--workers", type=count_arg(_WORKERS), default=1, help=f"{_WORKERS} (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", type=scheduler_arg,
                   help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--out", type=out_folder, help="output folder (default results/sweeps/<sweep name>)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the point cache")
    p.add_argument("--cache-dir", type=_cache_dir_arg, default=None,
                   help="point cache folder (default: dcsim/sweep in the user cache folder, $XDG_CACHE_HOME or "
                        "~/.cache on Linux)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dcsim")
    add_parser(ap.add_subparsers(dest="cmd"))
    args = ap.parse_args(["sweep", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())


class _CallableModule(types.ModuleType):
    """Lets ``dcsim.sweep(spec, client=...)`` call :func:`sweep` while ``dcsim.sweep`` stays a module."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
