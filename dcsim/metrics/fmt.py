"""Number formats of every figure dcsim prints (terminal summary, HTML, plots, compare): defined once.

``None`` and non-numbers print as ``"n/a"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# a calibration band's printed form lives beside the calibration record (dcsim.node sits below this layer and
# prints it too: dcsim predict); every surface uses this one formatter
from dcsim.node.catalog import context_carry
from dcsim.node.model import (cap_assumption_text, cap_text, clock_text, context_band, context_beyond, context_extrapolation_factor, expected_error,
                               fmt_band)

__all__ = ["ENERGY_LABELS", "energy_label", "energy_overheads", "closed_form_binding", "get_path", "sample_scope", "fmt_si", "fmt_power_w", "fmt_delivered_power", "SUBUNIT_PREFIX_UNITS", "fmt_energy", "fmt_celsius", "fmt_pct", "fmt_num", "fmt_multiple", "whole_replicas_from", "fmt_replicas_from",
           "fmt_ceilings", "NEAR_TIE", "tok_s_apart", "fmt_gain_tok_s", "near_tie_text", "near_tie_label",
           "pools_power_note", "gain_text", "within_band_alternatives", "within_band_lead", "within_band_lead_names", "or_list", "with_band_lead",
           "within_band_text", "WITHIN_BAND_MIN_SHARE",
           "band_window_text",
           "fmt_jpt", "fmt_duration", "fmt_time",
           "fmt_hms", "fmt_local_time", "fmt_local_short", "fmt_local_window", "local_datetime",
           "fmt_band", "expected_error", "calibration_caveat", "calibration_caveats", "calibration_caveat_kinds",
           "calibration_label", "calibration_source", "headline_band", "jpt_band_pct_by_level", "band_pct_value", "unique_words", "fmt_headline_band", "band_source", "band_is_lower_bound", "out_of_sample_bands", "group_band", "calibration_bands", "band_frac", "pool_band_fracs", "jpt_band_frac", "tok_s_band_frac", "HEADLINE_BAND_KINDS", "in_range_status", "UNCALIBRATED", "NAMED_UNCALIBRATED", "CALIBRATION_CAVEATS", "CaveatKind",
           "STATUS_SOURCE",
           "OTHER_SOURCE"]

#: calibration statuses (dcsim.node) whose figures are not fitted to measurements of that configuration, of a profile
#: dcsim chose for it (the run warns "no calibrated profile for ...", dcsim.engine.build)
UNCALIBRATED = ("transferred", "generic", "same-architecture", "same-silicon", "other-tp", "other-layout",
                "lever-modelled")
#: the same, of a profile the scenario names (``node.profile``): a pooled fit file (``user-pool``) and a shipped
#: calibration named for another setup (``other-setup``, which the run's warnings name as such). Their caveat is
#: UNCALIBRATED too. A profile file the user fitted (``user-profile``) is neither: it is fitted to the user's own
#: measurements, and its caveat (USER PROFILE) says from which files, with its in-sample band.
NAMED_UNCALIBRATED = ("user-pool", "other-setup")


def in_range_status(c: Mapping) -> str:
    """A calibration record's status within the lengths its profile was measured at: ``in_range_status`` (the
    status a ``context-extrapolated`` record had before its pool's lengths were compared), else ``status`` (a
    report written before the field existed)."""
    return str(c.get("in_range_status") or c.get("status") or "")


def calibration_caveat(calibration: list | None) -> str | None:
    """One line saying which rack groups run on parameters not fitted to their own measurements and
    the expected error band, which run beyond the batches or the lengths their profile was measured at, and which
    were measured on an older serving stack (the kinds of :func:`calibration_caveat_kinds`: ``extrapolated``,
    ``context``, ``stack``; ``provenance.calibration`` of a report); ``None`` when all are calibrated on the
    current stack, within range."""
    return " | ".join(calibration_caveats(calibration)) or None


def calibration_caveats(calibration: list | None) -> list[str]:
    """The caveats :func:`calibration_caveat` joins, one string each (``Result.caveats`` lists them): each kind of
    :data:`CALIBRATION_CAVEATS` that applies, ``"TAG — what"``."""
    return [f"{k.tag} — {text}" for k, text in calibration_caveat_kinds(calibration)]


def calibration_caveat_kinds(calibration: list | None) -> list[tuple[CaveatKind, str]]:
    """``(kind, what)`` for each kind of :data:`CALIBRATION_CAVEATS` that applies to ``provenance.calibration``, in
    the table's order; ``what`` is the caveat's text after its tag. Every view (the terminal's headline,
    ``Result.caveats``, plan answers, compare's "Node calibration" row, the HTML banners) reads the kinds here."""
    out = []
    for k in CALIBRATION_CAVEATS:
        groups = [c for c in calibration or [] if k.applies(c)]
        if groups:
            out.append((k, k.text(groups)))
    return out


def calibration_label(calibration: list | None) -> str:
    """A run's node calibration in a word or a few (compare's "Node calibration" row): the ``word`` of every kind of
    :data:`CALIBRATION_CAVEATS` that applies, else ``"calibrated"``; ``"n/a"`` for a report without the record."""
    if calibration is None:
        return "n/a"
    return ", ".join(k.word for k, _ in calibration_caveat_kinds(calibration)) or "calibrated"


def _context_text(ext: list[dict]) -> str:
    def over(c) -> str:
        (what, v, m), *more = context_beyond(c, c.get("mean_input"), c.get("decode_context"))
        return (f"{what} {v:,.0f} tokens ({v / m:.1f}x the {m:,.0f} its profile {c.get('profile')} was measured up "
                f"to)" + "".join(f", {w} {x:,.0f} tokens ({x / y:.1f}x its {y:,.0f})" for w, x, y in more))

    which = "; ".join(f"{c.get('group')}: {over(c)}, {expected_error(c)}" for c in ext)
    xs = [r["context_x"] for r in context_carry()]
    return (f"{which}: beyond {context_extrapolation_factor():.1f}x a profile's measured "
            f"context its own band does not hold (chat-fitted profiles run at ML.ENERGY's GPQA lengths, "
            f"{min(xs):.1f}-{max(xs):.1f}x, missed by up to {fmt_band(context_band()).replace('±', '')}: "
            f"docs/validation.md H-*-gpqa-*)")


def _extrapolation_text(ext: list[dict]) -> str:
    which = "; ".join(f"{c.get('group')}: batch up to {c.get('batch_limit'):,.0f} at full load, profile "
                      f"{c.get('profile')} measured up to {c.get('measured_batch_max'):,.0f} "
                      f"({c.get('batch_limit') / c.get('measured_batch_max'):.1f}x)" for c in ext)
    return (f"{which}: no error band is measured that far beyond a profile's batches "
            f"(ML.ENERGY's MoE points there read dcsim up to 46 % slow, docs/validation.md REP-*)")


def _cap_text(ext: list[dict]) -> str:
    return "; ".join(f"{c.get('group')}: {cap_text(c)}: {cap_assumption_text(c)}" for c in ext)


def _clock_text(ext: list[dict]) -> str:
    return "; ".join(f"{c.get('group')}: {clock_text(c)}" for c in ext)


def _stack_text(old: list[dict]) -> str:
    which = "; ".join(f"{c.get('group')}: {c.get('for')} measured on {c.get('serving_stack')}" for c in old)
    return f"{which}: {old[0].get('stack_note')}"


def _uncalibrated_text(bad: list[dict]) -> str:
    def what(c: dict) -> str:
        lv = c.get("levers") or []
        st = in_range_status(c)
        return st + (f" [{', '.join(lv)}]" if lv and st == "lever-modelled" else "")

    return "; ".join(f"{c.get('group')}: {c.get('for')} {what(c)} ({expected_error(c)}"
                     + "".join(f"; {n}" for n in c.get("band_notes") or []) + ")" for c in bad)


#: a sha256 in full (64 hex digits), printed by its first 12 in a caveat (report.json's ``meaning`` keeps it whole)
_SHA256 = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")


def _user_text(mine: list[dict]) -> str:
    def one(c: dict) -> str:
        lv = c.get("levers") or []
        meaning = _SHA256.sub(r"\1…", str(c.get("meaning")))
        return (f"{c.get('group')}: {c.get('for')}" + (f" with levers {', '.join(lv)}" if lv else "")
                + f", {expected_error(c)}: {meaning}")

    return "; ".join(one(c) for c in mine)


@dataclass(frozen=True)
class CaveatKind:
    """A kind of calibration caveat, one row of :data:`CALIBRATION_CAVEATS`."""

    key: str
    #: how its line opens on the terminal, in ``Result.caveats`` and in plan answers ("UNCALIBRATED — ...")
    tag: str
    #: its word in compare's "Node calibration" row
    word: str
    #: the bold title of its banner above report.html's cards
    title: str
    #: whether a rack group's calibration record (an item of ``provenance.calibration``) carries it
    applies: Callable[[dict], bool]
    #: the caveat's text after the tag (which rack groups, how far, the band), of the groups that carry it
    text: Callable[[list[dict]], str]
    #: the caveat in one line — which groups, how far, the band or that none is measured — for the collapsed banner
    #: above report.html's cards, whose full :attr:`text` opens under it (mixed-fleet's two banners ran 8 lines above
    #: the cards); every kind has one (optional until the review of WALK3, 2026-12-06, which no kind used)
    brief: Callable[[list[dict]], str]


_NO_BAND = "no error band is measured there"


def _brief_uncalibrated(bad: list[dict]) -> str:
    return "; ".join(f"{c.get('group')}: {in_range_status(c)}, {expected_error(c)}" for c in bad)


def _brief_user(mine: list[dict]) -> str:
    return "; ".join(f"{c.get('group')}: a profile fitted to your measurements, {expected_error(c)} in-sample"
                     for c in mine)


def _brief_batch(ext: list[dict]) -> str:
    return "; ".join(f"{c.get('group')}: batch {float(c.get('batch_limit') or 0) / float(c.get('measured_batch_max') or 1):.1f}x "
                     f"the largest its profile was measured at, {_NO_BAND}" for c in ext)


def _brief_context(ext: list[dict]) -> str:
    def one(c: dict) -> str:
        over = context_beyond(c, c.get("mean_input"), c.get("decode_context"))
        how = ", ".join(f"{w} {v / m:.1f}x" for w, v, m in over)
        return f"{c.get('group')}: {how + ' the longest its profile was measured at, ' if how else ''}{expected_error(c)}"

    return "; ".join(one(c) for c in ext)


def _brief_cap(ext: list[dict]) -> str:
    return "; ".join(f"{c.get('group')}: board limit {float(c.get('limit_frac_tdp') or 0):.2f}x TDP, below the caps "
                     f"measured, {_NO_BAND}" for c in ext)


def _brief_clock(ext: list[dict]) -> str:
    def one(c: dict) -> str:
        pct = float(c.get("clock_below_range_share") or 0) * 100
        share = f"{pct:.1f} %" if pct >= 0.05 else "under 0.1 %"
        return (f"{c.get('group')}: {share} of its GPU-time below the measured clocks (down to "
                f"{float(c.get('clock_below_range_min') or 0):.2f} of full clock), {_NO_BAND}")

    return "; ".join(one(c) for c in ext)


def _brief_stack(old: list[dict]) -> str:
    return "; ".join(f"{c.get('group')}: measured on {c.get('serving_stack')}" for c in old)


#: Every kind of calibration caveat a run can carry, in the order every view lists them: the one home of the kinds
#: (the terminal, ``Result.caveats``, plan answers, compare and the HTML banners read them here). What makes a
#: group uncalibrated is its status (:data:`UNCALIBRATED`: transferred, other-TP, same-silicon, ...), with the band
#: notes of a TP carry beyond the ratios measured or a precision never measured on the GPU in its text.
CALIBRATION_CAVEATS: tuple[CaveatKind, ...] = (
    CaveatKind("uncalibrated", "UNCALIBRATED", "UNCALIBRATED", "Calibration caveat",
               lambda c: in_range_status(c) in UNCALIBRATED + NAMED_UNCALIBRATED, _uncalibrated_text, _brief_uncalibrated),
    # a profile file the user fitted (dcsim calibrate) and the scenario names: what it is, from which files, with the
    # band it states in-sample and that dcsim has not checked it held-out (dcsim.node.model.calibration_record)
    CaveatKind("user", "USER PROFILE", "user profile", "User profile",
               lambda c: in_range_status(c) == "user-profile", _user_text, _brief_user),
    CaveatKind("extrapolated", "EXTRAPOLATED BATCH", "extrapolated", "Extrapolated batch",
               lambda c: bool(c.get("extrapolated")), _extrapolation_text, _brief_batch),
    CaveatKind("context", "EXTRAPOLATED CONTEXT", "extrapolated context", "Extrapolated context",
               lambda c: bool(c.get("context_extrapolated")), _context_text, _brief_context),
    # a board limit below the lowest power cap measured on the GPU (dcsim.node.model.at_workload)
    CaveatKind("cap", "EXTRAPOLATED CAP", "extrapolated cap", "Extrapolated power cap",
               lambda c: bool(c.get("cap_extrapolated")), _cap_text, _brief_cap),
    # the controller's power capping or the thermal throttle ran a DVFS clock below the lowest one the GPU's (or the
    # named profile's) measurements cover, on some of the run's GPU-time (dcsim.engine.assemble.clock_below_range)
    CaveatKind("clock", "EXTRAPOLATED CLOCK", "extrapolated clock", "Throttled below the measured clock range",
               lambda c: c.get("clock_below_range_share") is not None, _clock_text, _brief_clock),
    CaveatKind("stack", "OLDER SERVING STACK", "older stack", "Older serving stack",
               lambda c: c.get("stack_current") is False, _stack_text, _brief_stack),
)


#: where an uncalibrated group's figures come from, by its status, when every uncalibrated group has that status
#: (:func:`calibration_source`)
STATUS_SOURCE = {
    "lever-modelled": "serving levers modelled from literature figures and assumptions, not measured on this setup "
                      "(docs/node.md, Levers)",
    "same-silicon": "the parameters of a calibrated GPU on the same die, with this GPU's own memory, bandwidth and "
                    "power range; the band is that GPU's, a lower bound (docs/node.md, Transfer to pairs with no "
                    "calibration)",
    "same-architecture": "the calibration of another model of the same shape (a fine-tune or rename) on this GPU; "
                         "the band is the larger of that profile's and the one measured same-shape carry's "
                         "(docs/validation.md SA-*), a lower bound (docs/node.md, Transfer to pairs with no "
                         "calibration)",
    "user-pool": "a pooled fit the scenario names as node.profile, used for this model as dcsim transfers its own "
                 "pools: the compute efficiency held at the GPU's achievable matmul rate, the band the pool's "
                 "leave-one-model-out error (docs/node.md, Using a profile you fitted)",
    "other-setup": "a shipped calibration of another setup that the scenario names as node.profile; the band is that "
                   "setup's, a lower bound (docs/node.md, Using a profile you fitted)",
}
#: the source of a mix of uncalibrated statuses, or of transferred, generic, other-TP ... parameters
OTHER_SOURCE = ("transferred or borrowed node parameters, not measurements of this configuration (docs/validation.md, "
                "leave-one-model-out table)")


def calibration_source(calibration: list | None) -> str:
    """Where the figures of a run's uncalibrated rack groups come from (report.html's calibration banner says it
    after the groups): :data:`STATUS_SOURCE` of their status when they share one of those, else
    :data:`OTHER_SOURCE` (naming modelled levers too when some group has them)."""
    # only the groups the uncalibrated caveat names: a user profile beside a same-silicon group is its own banner
    st = {in_range_status(c) for c in calibration or []} & set(UNCALIBRATED + NAMED_UNCALIBRATED)
    if st == {"lever-modelled"}:
        return STATUS_SOURCE["lever-modelled"]
    for s in ("same-silicon", "same-architecture", "user-pool", "other-setup"):
        if st <= {s}:
            return STATUS_SOURCE[s]
    return OTHER_SOURCE + ("; serving levers modelled (docs/node.md, Levers)" if "lever-modelled" in st else "")


#: the caveat kinds whose rack groups run on figures not fitted in-sample to their own configuration and workload
#: (transferred or borrowed parameters, a batch, a context or a board limit beyond the profile's measured range): the
#: run's headline figures and its figures' error bars carry their band (:func:`out_of_sample_bands`, :func:`headline_band`). A
#: calibrated profile within range (its in-sample fit residual, ±3-6 %), a user profile (its own in-sample band, in
#: its banner) and an older serving stack (no band for the stack) do not: an in-sample residual is not the error of a
#: facility figure and would read as a precision claim.
HEADLINE_BAND_KINDS = ("uncalibrated", "extrapolated", "context", "cap")


def band_is_lower_bound(record: Mapping[str, Any]) -> bool:
    """Whether a rack group's stated band is a lower bound on its error, the one rule every surface prints ``≥`` by:
    the record says so (``band_lower_bound``), or the group runs beyond its profile's batches (``extrapolated``),
    where no error band is measured (its banner says so, :func:`_extrapolation_text`): the stated band is then the
    least the error can be. Until 2026-12-05 the headline counted ``extrapolated`` and the figures' legends did not
    ("≥±4 %" beside "±4 %" under a banner saying no band is measured)."""
    return bool(record.get("band_lower_bound")) or bool(record.get("extrapolated"))


def calibration_bands(report: Mapping[str, Any], out_of_sample: bool = True) -> list[dict]:
    """The rack groups of a run with their band, each ``{"group", "status", "lower_bound", "error_band_pct"}``: the
    group's band as report.json states it (``provenance.calibration[*].error_band_pct``, %; its one home,
    dcsim.node.model.calibration_record, nothing is recomputed here; :func:`band_frac` reads one figure as a
    fraction; a band that is not a mapping gives none), ``lower_bound`` by :func:`band_is_lower_bound`. With
    ``out_of_sample`` only the groups whose node figures are not in-sample calibrated (:data:`HEADLINE_BAND_KINDS`:
    :func:`out_of_sample_bands`); else every group (``dcsim compare``'s band between runs on different profiles,
    where an in-sample profile's residual is the error that does not cancel). Empty for a report without the
    record."""
    kinds = [k for k in CALIBRATION_CAVEATS if k.key in HEADLINE_BAND_KINDS]
    return [{"group": str(c.get("group", "")), "status": str(c.get("status", "")),
             "lower_bound": band_is_lower_bound(c), "error_band_pct": dict(c.get("error_band_pct") or {})
             if isinstance(c.get("error_band_pct"), Mapping) else {}}
            for c in ((report.get("provenance") or {}).get("calibration") or [])
            if isinstance(c, Mapping) and (not out_of_sample or any(k.applies(dict(c)) for k in kinds))]


def out_of_sample_bands(report: Mapping[str, Any]) -> list[dict]:
    """The rack groups of a run whose node figures are not in-sample calibrated (:data:`HEADLINE_BAND_KINDS`), as
    :func:`calibration_bands` gives them: the groups whose band the headline figures and the figures' error bars
    carry. Empty for a calibrated run or a report without the record."""
    return calibration_bands(report, out_of_sample=True)


def group_band(calibration: list[Mapping[str, Any]] | None, groups: Iterable[str] | None = None) -> dict | None:
    """The calibration band a limit's reading carries, the one rule of ``binding.within_band``
    (:func:`dcsim.engine.assemble.binding_within_band`, per pool) and of a plan answer's band
    (:func:`dcsim.plan.model_band`, the scenario's groups): the widest band of the out-of-sample groups
    (:func:`out_of_sample_bands`: transferred or extrapolated; an in-sample calibrated group's fit residual is not the
    error of a facility figure) among the rack groups ``groups`` (names; every group when None) of the records
    ``calibration`` (report.json ``provenance.calibration``, :func:`dcsim.engine.assemble.calibration_provenance`).
    The widest, not weighted by share as :func:`headline_band` is: the question is whether a ceiling could be
    another's, and the group furthest off answers it. ``tok_s`` and ``j_per_tok`` as fractions (:func:`band_frac`),
    ``lower_bound`` when any group read is one, ``groups`` the out-of-sample groups read (records' order); None when
    no such group states a band above 0. The caller takes the largest ``Group.power_cap_ratio`` of ``groups``."""
    bands = out_of_sample_bands({"provenance": {"calibration": list(calibration or [])}})
    if groups is not None:
        wanted = set(groups)
        bands = [b for b in bands if b["group"] in wanted]
    bt = max((band_frac(b, "tok_s") for b in bands), default=0.0)
    bj = max((band_frac(b, "j_per_tok") for b in bands), default=0.0)
    if bt <= 0 and bj <= 0:
        return None
    return {"tok_s": bt, "j_per_tok": bj, "lower_bound": any(b["lower_bound"] for b in bands),
            "groups": [b["group"] for b in bands]}


def band_frac(band: Mapping[str, Any], key: str) -> float:
    """One figure of an :func:`out_of_sample_bands` entry's band as a fraction: ``key`` ``tok_s`` or ``j_per_tok``
    (``error_band_pct[key + "_pct"]`` / 100), 0 where it has no finite figure."""
    v = band["error_band_pct"].get(f"{key}_pct")
    return float(v) / 100.0 if isinstance(v, (int, float)) and math.isfinite(v) else 0.0


def pool_band_fracs(report: Mapping[str, Any], bands: list[dict], key: str) -> list[float]:
    """Per pool of report ``pools`` (in order), the widest ``key`` band (fraction, :func:`band_frac`) of its
    out-of-sample groups, 0 for a pool whose groups are all in-sample; one entry (the widest of all) for a report
    without pools."""
    pools = [p for p in (report.get("pools") or []) if isinstance(p, Mapping)]
    by_group = {b["group"]: band_frac(b, key) for b in bands}
    named = {str(g.get("name")) for p in pools for g in (p.get("groups") or []) if isinstance(g, Mapping)}
    if not pools or not set(by_group) <= named:  # a record naming no pool's group (hand-made) cannot be placed
        return [max(by_group.values(), default=0.0)]
    return [max((by_group.get(str(g.get("name")), 0.0) for g in (p.get("groups") or []) if isinstance(g, Mapping)),
                default=0.0) for p in pools]


def _weighable(fracs: list[float], weights: list[float]) -> bool:
    """Whether :func:`_share_weighted` weights ``fracs`` by ``weights``: several pools, a weight for each, all finite,
    at least 0 and summing above 0."""
    return (len(fracs) > 1 and len(weights) == len(fracs) and all(math.isfinite(w) and w >= 0 for w in weights)
            and sum(weights) > 0)


def _share_weighted(fracs: list[float], weights: list[float]) -> tuple[float, bool]:
    """(Σ fracᵢ·wᵢ / Σ wᵢ, True) where :func:`_weighable`; else (the widest frac, False) (a run without pools, or a
    report without the per-pool figure): the value and whether it was weighted, from one reading."""
    if _weighable(fracs, weights):
        return float(sum(f * w for f, w in zip(fracs, weights)) / sum(weights)), True
    return max(fracs, default=0.0), False


def _pool_band(report: Mapping[str, Any], bands: list[dict], key: str, figure: str) -> tuple[float, bool]:
    """The ``key`` band (fraction) of the run's figure ``figure`` (a ``pools[i]`` path), each pool's band
    (:func:`pool_band_fracs`) weighted by its share of it, and whether it was weighted (:func:`_share_weighted`);
    0 when no group is out of sample."""
    fracs = pool_band_fracs(report, bands, key)
    v, weighted = _share_weighted(fracs, _pool_figure(report, figure))
    return (v if any(f > 0 for f in fracs) else 0.0), weighted


def _pool_figure(report: Mapping[str, Any], path: str) -> list[float]:
    out = []
    for p in report.get("pools") or []:
        v = get_path(p, path) if isinstance(p, Mapping) else None
        out.append(float(v) if isinstance(v, (int, float)) else math.nan)
    return out


def jpt_band_frac(report: Mapping[str, Any], level: str, bands: list[dict]) -> float:
    """The J/token error band (fraction) of the run's ``level`` (``gpu``, ``it``, ``facility``) energy per token: with
    several pools each pool's band (its out-of-sample groups' widest, 0 in-sample) weighted by its share of that
    level's energy (report ``pools[i].energy_j``: a pool's J/token off by b moves the run's energy, at its tokens, by
    b times its share); else the run's widest band. 0 when no group is out of sample."""
    return _pool_band(report, bands, "j_per_tok", f"energy_j.{level}")[0]


def tok_s_band_frac(report: Mapping[str, Any], bands: list[dict]) -> float:
    """The tok/s error band (fraction) of the run's output throughput: with several pools each pool's band (its
    out-of-sample groups' widest, 0 in-sample) weighted by its share of the output served (report
    ``pools[i].throughput_tok_s.output``): the headline figure is that sum, so a pool's rate off by b moves it by b
    times the pool's share (mixed-fleet: b200-reasoning serves 63.7 of 224 ktok/s, ≥±31.8 % on it is ≥±9.0 % on the
    fleet). The served share, not each pool's compute ceiling C as the signature figure's shaded C band weighs it:
    that band is on C, this one on the figure it is printed after. Else the run's widest band; 0 when no group is out
    of sample."""
    return _pool_band(report, bands, "tok_s", "throughput_tok_s.output")[0]


def headline_band(report: Mapping[str, Any], out_of_sample: bool = True) -> dict | None:
    """The error band the run's headline figures carry, from the rack groups' own calibration records
    (``provenance.calibration[].error_band_pct``, the run's one home for the band; not recomputed) of the groups an
    out-of-sample caveat names (:func:`out_of_sample_bands`), each pool's band weighted by its share of the fleet's
    figure: ``tok_s_pct`` of the output served (:func:`tok_s_band_frac`), ``j_per_tok_pct`` of the facility energy
    and ``j_per_tok_pct_by_level`` (gpu, it, facility) of each level's (:func:`jpt_band_frac`, the J/token figure's
    error bars); ``lower_bound`` when any group that adds to it is one (:func:`band_is_lower_bound`); ``groups``
    (their names). None when no group carries such a caveat (in-sample calibrated runs). Until 2026-12-05 it took the
    widest group's band: one pool's ≥±46 % on the whole of mixed-fleet's 3.13 J, whose figure drew ±19 %. With
    ``out_of_sample`` False every group's band, in-sample ones too (:func:`calibration_bands`; ``dcsim compare``'s
    band between runs on different profiles, :func:`dcsim.report.compare.run_error_band`), by the same arithmetic.
    ``bands`` are the groups it read (:func:`calibration_bands`' entries, for a figure's legend) and ``stated`` the
    figures (``tok_s_pct``, ``j_per_tok_pct``) any of them states a number for, so that a caller reads them here
    rather than working them out again."""
    bands = calibration_bands(report, out_of_sample=out_of_sample)
    if not bands:
        return None
    by_level = {lv: _pool_band(report, bands, "j_per_tok", f"energy_j.{lv}") for lv in ("gpu", "it", "facility")}
    levels = {lv: 100.0 * v for lv, (v, _) in by_level.items()}
    tok_frac, tok_weighted = _pool_band(report, bands, "tok_s", "throughput_tok_s.output")
    tok = 100.0 * tok_frac
    adds = [b for b in bands if band_frac(b, "tok_s") > 0 or band_frac(b, "j_per_tok") > 0] or bands
    stated = [q for q in ("tok_s_pct", "j_per_tok_pct")
              if any(isinstance(b["error_band_pct"].get(q), (int, float)) for b in bands)]
    return {"groups": [b["group"] for b in adds], "lower_bound": any(b["lower_bound"] for b in adds),
            "bands": bands, "stated": stated,
            "tok_s_pct": tok if tok > 0 else None, "j_per_tok_pct": levels["facility"] or None,
            "j_per_tok_pct_by_level": levels,
            # "by pool share" only where both figures were weighted (a report missing a pool's figure takes the widest)
            "weighted": tok_weighted and by_level["facility"][1]}


def jpt_band_pct_by_level(band: Mapping[str, Any] | None, levels=("gpu", "it", "facility")) -> list[float]:
    """The J/token error bar (%) at each of ``levels`` (gpu, it, facility) of a :func:`headline_band`: its
    ``j_per_tok_pct_by_level``, 0 where it gives none and without a band. The one read of the per-level bars that the
    report's J/token figure and ``dcsim compare``'s J/token overlay draw (each had its own copy until session 52)."""
    by_level = (band or {}).get("j_per_tok_pct_by_level") or {}
    return [float(by_level.get(k) or 0.0) for k in levels]


def band_pct_value(x: Any) -> float | None:
    """A band figure (%) as a table stores it: rounded to 9 decimals, so that a band stated 30.83 and weighted back is
    30.83, not 30.829999999999995 (the float arithmetic of :func:`headline_band`); None for no figure. results.csv
    (dcsim.sweep.headline_columns) and compare.json (dcsim.report.compare.error_band_view) store it so."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return None
    return round(float(x), 9)


def unique_words(statuses: Iterable[Any]) -> str:
    """Calibration statuses (``calibration.status``, the comma-separated words of :func:`calibration_label`) as one
    list of their distinct words in first-seen order: ``"UNCALIBRATED, extrapolated clock"``, not
    ``"UNCALIBRATED; UNCALIBRATED, extrapolated clock"`` (dcsim sweep's caveat line and sweep.png's legend)."""
    words = [w.strip() for s in statuses for w in str(s).split(",") if w.strip()]
    return ", ".join(dict.fromkeys(words))


def fmt_headline_band(band: Mapping[str, Any] | None, quantity: str, level: str | None = None) -> str:
    """One figure of a :func:`headline_band` (``"tok_s_pct"`` or ``"j_per_tok_pct"``, the latter at ``level`` gpu,
    it or facility when given, else facility) as printed after a headline number: ``"≥±19 %"`` (:func:`fmt_band`'s
    form without its unit); ``""`` for an in-sample calibrated run (None) or a figure without a band. The band is
    computed once per view and handed in."""
    if band is None:
        return ""
    v = (band.get("j_per_tok_pct_by_level") or {}).get(level) if level else band.get(quantity)
    if not isinstance(v, (int, float)) or not v > 0:
        return ""
    return fmt_band({quantity: v}, bool(band["lower_bound"]), quantities=(quantity,)).rsplit(" ", 1)[0]


def band_source(band: Mapping[str, Any] | None) -> str:
    """Which groups a :func:`headline_band` comes from, as printed beside it: ``"b200-reasoning's band, by share"``
    (several pools: weighted by each pool's share) or ``"b200-reasoning's band"``; ``"hall-a: no error band
    measured"`` when none of its groups states a figure (an EXTRAPOLATED CAP group alone); ``""`` without one."""
    if not band:
        return ""
    if not band["stated"]:
        return f"{', '.join(band['groups'])}: no error band measured"
    return f"{', '.join(band['groups'])}'s band" + (", by pool share" if band.get("weighted") else "")


#: report.json ``energy_j`` keys in the words of the run's power figure (dcsim.plots.figures.power_stack_plot's layers:
#: "GPU", "rest of IT (host, network)", "cooling", "delivery losses", "fixed loads"): report.html's energy table and the
#: terminal's energy rows name each part so (the audit of 2026-12-05: the table showed ``server_non_gpu_and_rack``,
#: ``loss_pdu``, ``power_losses`` beside a figure that says "rest of IT (host, network)" and "delivery losses").
#: ``power_losses`` is both overheads outside cooling: the delivery chain's losses and the fixed loads, which the
#: figure draws apart.
ENERGY_LABELS: dict[str, str] = {
    "facility": "facility", "it": "IT", "gpu": "GPU", "server_non_gpu_and_rack": "rest of IT (host, network)",
    "cooling": "cooling", "cooling_chiller": "chiller", "cooling_fans": "fans", "cooling_pumps": "pumps",
    "cooling_tower": "cooling tower",
    "power_losses": "delivery losses + fixed loads", "delivery_losses": "delivery losses", "fixed_loads": "fixed loads",
    "loss_ups": "UPS", "loss_pdu": "PDU", "loss_transformer": "transformer",
}


def energy_overheads(energy: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """The run's energy overheads beside IT, ``[(energy_label(k), value)]`` for the keys of report.json ``energy_j``
    present: cooling, then the delivery losses and the fixed loads apart, as the power figure draws them, or their
    sum ``power_losses`` for a report without the split. The terminal's overhead row and report.html's summary row
    both print these (until 2026-12-05 each wrote the split by hand)."""
    e = energy or {}
    keys = ["cooling"] + (["delivery_losses", "fixed_loads"]
                          if e.get("delivery_losses") is not None and e.get("fixed_loads") is not None
                          else ["power_losses"])
    return [(energy_label(k), e.get(k)) for k in keys if k == "cooling" or e.get(k) is not None]


#: the ``cooling_tower`` energy part in words by report.json ``heat_rejection`` (the key keeps its name for every
#: plant, dcsim.thermal.facility.heat_rejection_kind); a report without the field (written before 2026-12-05, or a
#: quick-study plant) keeps the key's own label
HEAT_REJECTION_LABELS: dict[str, str] = {"cooling_tower": "heat rejection (cooling-tower fans)",
                                         "dry_cooler": "heat rejection (dry-cooler fans)"}


def energy_label(key: str, heat_rejection: str | None = None) -> str:
    """An ``energy_j`` key in words (:data:`ENERGY_LABELS`); a key it does not list with its prefix dropped and
    underscores as spaces (``cooling_crah`` → ``crah``). ``cooling_tower`` is named by the plant's
    ``heat_rejection`` (report.json, :data:`HEAT_REJECTION_LABELS`) when given: a dry cooler's fans are not a
    cooling tower (the audit of 2026-12-05)."""
    if key == "cooling_tower" and heat_rejection in HEAT_REJECTION_LABELS:
        return HEAT_REJECTION_LABELS[heat_rejection]
    if key in ENERGY_LABELS:
        return ENERGY_LABELS[key]
    for prefix in ("cooling_", "loss_"):
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix):].replace("_", " ")
    return key.replace("_", " ")


def get_path(d: Mapping[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """``d["a"]["b"]`` for ``"a.b"`` (list items by index: ``"faults.0.kind"``), or ``default``
    when any level is missing."""
    cur: Any = d
    for part in dotted.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


_SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"))
#: Units of physical quantities that take the milli and micro prefixes below 1 (``0.6 J`` → ``600 mJ``). Any other
#: unit is a count (tokens, tok/s, requests, a bare number: ``""``) and prints plainly below 1: ``6.11 mtok/s`` read
#: as millions beside ``171 ktok/s`` (a one-request trace's summary printed it until 2026-12-05), and compare's
#: ``+667.2m`` beside ``57.33k`` did the same. One rule, here, for the summary, compare and the HTML.
SUBUNIT_PREFIX_UNITS = frozenset({"W", "Wh", "J", "s", "Hz", "B", "B/s", "FLOP/s", "FLOP", "K"})


def fmt_si(x: Any, unit: str, digits: int = 3, keep_zeros: bool = False) -> str:
    """``1.23e6, "W"`` → ``"1.23 MW"``; ``None``/non-numbers → ``"n/a"``. Below 1 only the units of
    :data:`SUBUNIT_PREFIX_UNITS` take ``m`` / ``µ`` (``6e-4, "W"`` → ``"600 µW"``); counts print plainly
    (``0.00611, "tok/s"`` → ``"0.00611 tok/s"``, not ``"6.11 mtok/s"``, which reads as millions). ``keep_zeros``:
    ``digits`` significant figures with their trailing zeros kept (``13.997e6, "W"`` → ``"14.0 MW"``, ``1.2e6`` →
    ``"1.20 MW"``, ``325.3e3`` → ``"325 kW"``; :func:`fmt_power_w`)."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    x = float(x)
    if not math.isfinite(x):
        return f"{x} {unit}".strip()
    if x == 0:
        return f"0 {unit}".strip()
    scale, prefix = 1.0, ""
    for sc, pr in _SI_PREFIXES:
        if sc < 1.0 and unit not in SUBUNIT_PREFIX_UNITS:
            break
        if abs(x) >= sc * 0.9995:
            scale, prefix = sc, pr
            break
    m = x / scale
    if not keep_zeros:
        return f"{m:.{digits}g} {prefix}{unit}".strip()
    exp = math.floor(math.log10(abs(float(f"{m:.{digits}g}"))))  # the rounded mantissa's (999.96 -> 1000)
    return f"{m:.{max(digits - 1 - exp, 0)}f} {prefix}{unit}".strip()


def fmt_power_w(x: Any, digits: int = 3) -> str:
    """A site power (W): :func:`fmt_si` with its trailing zeros kept (``keep_zeros``: ``13.997e6`` → ``"14.0 MW"``,
    ``16e6`` → ``"16.0 MW"``, ``325.3e3`` → ``"325 kW"``, ``1.2e6`` → ``"1.20 MW"``): without them a 10–99 MW figure
    read "14 MW", two significant figures where the reference hall's "325 kW" has three (the audit of 2026-12-05 on
    campus-interconnect). The summary's and report.html's delivered-power and peak-power figures print with it."""
    return fmt_si(x, "W", digits, keep_zeros=True)


def fmt_delivered_power(report: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """report.json ``pue_adjusted_delivered_power_w`` used (the mean), available (its mean) and available's min, as the
    summary and report.html's card print them: :func:`fmt_power_w`, with digits enough to tell two of them apart
    when they lie within :data:`NEAR_TIE` of each other (:func:`fmt_ceilings`), so that the card's used / available /
    min does not collapse to one number: campus-interconnect's 13.997 / 13.997 / 13.956 MW print "13.997 MW of
    13.997 MW available (min 13.956 MW)", where :func:`fmt_si` printed "14 MW of 14 MW available (min 14 MW)"."""
    pad = (report or {}).get("pue_adjusted_delivered_power_w") or {}
    used = pad.get("used", pad.get("mean"))
    a, b, c = fmt_ceilings([used, get_path(pad, "available.mean"), get_path(pad, "available.min")],
                           fmt=lambda v, d: fmt_power_w(v, d))
    return a, b, c


#: two ceilings within this fraction of each other are a near tie: printed with digits enough to tell them apart
#: (:func:`fmt_ceilings`), and a power- or cooling-bound tick whose ceiling is this close to the compute ceiling is
#: named binding "by a hair" (:func:`dcsim.engine.assemble.near_tie_notes`: more of the binding resource buys less
#: than this; assumption: a planner's threshold of "not worth buying"; docs/report.md, binding)
NEAR_TIE = 0.01


def fmt_ceilings(values: Any, unit: str = "tok/s", digits: int = 3, *, max_digits: int = 7,
                 fmt: Callable[[float, int], str] | None = None) -> list[str]:
    """A row of ceilings (C, P, Q, …) with :func:`fmt_si`, at ``digits`` significant figures unless two of them lie
    within :data:`NEAR_TIE` of each other (and differ): then every one of the row at the fewest figures
    (up to ``max_digits``) at which each such pair prints differently, and one more (it reads as the gap, not a
    different last digit); a pair alike at ``max_digits`` is equal but for rounding. Three figures printed
    reference's peak "226 k / 224 k / 224 k tok/s -> cooling", hiding P 224,256 against Q 223,969 (0.13 % apart),
    which decides the binding; now "226.18 k / 224.26 k / 223.97 k". ``fmt(value, d)`` replaces :func:`fmt_si`
    (``d`` then counts what it counts: :func:`tok_s_apart`'s decimals). ``None`` and non-numbers print as
    ``"n/a"``."""
    vals = list(values)
    nums = [float(v) if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            and math.isfinite(float(v)) else None for v in vals]
    if fmt is None:
        def fmt(v: float, d: int) -> str:
            return fmt_si(v, unit, d)
    out = lambda d: [fmt(v, d) if v is not None else "n/a" for v in nums]  # noqa: E731
    close = [(i, j) for i in range(len(nums)) for j in range(i + 1, len(nums))
             if nums[i] is not None and nums[j] is not None and nums[i] != nums[j]
             and abs(nums[i] - nums[j]) <= NEAR_TIE * max(abs(nums[i]), abs(nums[j]))
             and fmt(nums[i], max_digits) != fmt(nums[j], max_digits)]  # alike at max_digits: equal but for rounding
    d = digits
    while d < max_digits and any(fmt(nums[i], d) == fmt(nums[j], d) for i, j in close):
        d += 1
    if close and d > digits:  # one more figure than tells them apart reads as the gap, not a different last digit
        d = min(d + 1, max_digits)
    return out(d)


def tok_s_apart(*values: float) -> list[str]:
    """Token rates as ``dcsim tpf`` prints them (``75,265``), with as many decimals (up to 3) as tell apart those
    within :data:`NEAR_TIE` of each other, and one more: :func:`fmt_ceilings` with decimals. Mixed-fleet's
    reasoning pool at its mean-demand moment, C 75,265.067 and P 75,265.057 tok/s, both read "75,265"; rates
    alike to a thousandth of a token/s print whole (a rounding apart)."""
    return fmt_ceilings(values, digits=0, max_digits=3, fmt=lambda v, d: f"{v:,.{d}f}")


def fmt_gain_tok_s(x: float) -> str:
    """A gain in tokens/s: whole from 100, else 3 significant figures (``+250``, ``+0.0105``)."""
    return f"{x:+,.0f}" if abs(x) >= 100 else f"{x:+.3g}"


def near_tie_label(tie: Mapping[str, Any] | None, below: str = "") -> str:
    """The "by a hair" label of a moment's binding (``near_tie``, :func:`near_tie_text`): ``"by a hair"``, naming the
    pool whose near tie it is (``"by a hair (pool X{below})"``, ``below`` where the pool's row is); ``""`` without
    one. ``dcsim tpf`` and report.html print the same label."""
    if not tie:
        return ""
    return f"by a hair (pool {tie['pool']}{below})" if tie.get("pool") else "by a hair"


def closed_form_binding(report: Mapping[str, Any] | None) -> tuple[str | None, str]:
    """The closed form's binding at the run's operating point (report.json ``tpf.binding``, ``tpf.operating_point``)
    and its :func:`near_tie_label` (``"by a hair"``, ``""`` without a near tie at that moment): the one reading of
    it that the terminal summary, report.html's binding card and summary table and ``dcsim tpf`` print (the audit
    of 2026-12-05: the summary said "cooling" where the table and ``dcsim tpf`` said "cooling by a hair")."""
    tpf = (report or {}).get("tpf") or {}
    binding = tpf.get("binding")
    mom = (tpf.get("moments") or {}).get(tpf.get("operating_point")) if isinstance(tpf.get("moments"), Mapping) else None
    tie = mom.get("near_tie") if isinstance(mom, Mapping) and mom.get("binding") == binding else None
    return (None if binding is None else str(binding)), (near_tie_label(tie) if isinstance(tie, Mapping) else "")


def pools_power_note(pools: Any, binding: Any, minus: str = "−") -> str:
    """With several pools, a moment whose binding is not demand while a pool is at its demand: the note that its P
    is what the IT budget buys for each pool's own work (that pool's demand), its C every pool's full compute, so
    C − P is no power shortfall (docs/report.md, tpf); ``""`` otherwise. ``minus``: the terminal prints ``-``."""
    at_demand = [str(p.get("name")) for p in pools or [] if isinstance(p, Mapping) and p.get("binding") == "demand"]
    if not at_demand or binding == "demand":
        return ""
    return (f"P with several pools: what the IT budget buys for each pool's own work ({', '.join(at_demand)} at "
            f"{'its' if len(at_demand) == 1 else 'their'} demand), C every pool's full compute: C {minus} P is no "
            "power shortfall")


def near_tie_text(tie: Mapping[str, Any], in_parens: bool = False) -> str:
    """The closed form's "by a hair" note (``near_tie`` of a moment or pool, :func:`dcsim.engine.steady.steady_report`,
    the rule of the run's notes, :func:`dcsim.tpf.near_tie_margin`): how far the binding ceiling sits under C, and
    that more of it buys no more than that gap. ``in_parens``: the caller prints it inside parentheses of its own
    (report.html's notes), so the source closes with theirs, ``...; docs/report.md, binding`` (until 2026-12-05 the
    pool rows of mixed-fleet's report.html read "(by a hair: ... (docs/report.md, binding))")."""
    kind, sym = str(tie["kind"]), {"power": "P", "cooling": "Q"}.get(str(tie["kind"]), "?")
    gap, margin = float(tie["gap_tok_s"]), float(tie["margin"])
    thr = float(tie.get("threshold", NEAR_TIE))
    nxt, buy = str(tie.get("next", "compute")), tie.get("buy_tok_s")
    if gap > 0:
        said = f"{sym} is {fmt_gain_tok_s(gap)[1:]} tok/s ({100 * margin:.2g} %) under C: more {kind} would buy at most "
        if nxt == "compute" or not isinstance(buy, (int, float)):
            said += "that"
        else:  # the other ceiling (or the demand) sits between: more of this one buys only up to it
            c_tok_s = gap / margin  # margin = gap / C, > 0 here
            said += f"{fmt_gain_tok_s(float(buy))[1:]} tok/s ({100 * float(buy) / c_tok_s:.2g} % of C)"
    else:  # at or a little over C: the work is critically loaded at C
        said = f"{sym} is at C ({fmt_gain_tok_s(-gap)[1:]} tok/s over): more {kind} would buy nothing"
        nxt = "compute"
    src = "; docs/report.md, binding" if in_parens else " (docs/report.md, binding)"
    return f"by a hair: {said}, within the run's near tie ({100 * thr:g} %); {nxt} holds the rest{src}"


def gain_text(gain: Any, achieved: float, step: str) -> str:
    """What a crossover above the scenario's own value buys (``crossover.*_gain_tok_s``), ``step`` the move that
    reaches it: ``": +250 tok/s (+0.083 %) for +26.9 % contract"``; ``""`` where there is nothing to buy (a
    crossover below the scenario's value)."""
    if not isinstance(gain, (int, float)) or isinstance(gain, bool) or not math.isfinite(float(gain)):
        return ""
    pct = f" ({100 * float(gain) / achieved:+.2g} %)" if achieved > 0 else ""
    return f": {fmt_gain_tok_s(float(gain))} tok/s{pct} for {step}"


def fmt_energy(j: Any) -> str:
    """Energy in Wh-multiples (``3.6e9 J`` → ``"1 MWh"``)."""
    if j is None or not isinstance(j, (int, float, np.integer, np.floating)):
        return "n/a"
    return fmt_si(float(j) / 3600.0, "Wh")


def fmt_pct(x: Any) -> str:
    """A fraction as a percentage with one decimal (``0.123`` → ``"12.3%"``)."""
    if x is None or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    return f"{100 * float(x):.1f}%"


def fmt_multiple(x: float) -> str:
    """A multiple of a reference value as said: below 1 as a percentage, from 1 as a multiple (``1e-3`` →
    ``"0.1 %"``, ``100.0`` → ``"100x"``): the ends of a search range scaled from the scenario's own value."""
    return f"{100 * float(x):g} %" if x < 1 else f"{float(x):g}x"


def whole_replicas_from(gpus: float, gpus_per_replica: int, gpus_per_server: int | None = None) -> dict | None:
    """The first whole count of replicas at which a crossover found at ``gpus`` installed GPUs (a continuous count:
    the closed form scales the fleet smoothly, :func:`dcsim.engine.steady.crossovers`, ``dcsim plan -q max-gpus``)
    has happened: ``replicas`` = ceil(the replicas ``gpus`` installed GPUs hold), their ``gpus`` (replicas x
    ``gpus_per_replica``), and ``servers`` of ``gpus_per_server`` that hold them (None without a server size);
    ``replicas_below`` = ``replicas`` - 1, the most that still run on the near side. A planner buys replicas in
    servers: 311.1 GPUs of tensor-parallel-4 replicas in 8-GPU servers is 77.8 replicas, so the limit binds from 78
    replicas (312 GPUs, 39 servers) and 77 (308 GPUs) still run flat out — one rule, used by plan and tpf alike (they
    printed 311 and 312 for the same crossover, one rounding to nearest and one up). A crossover exactly on a
    whole count (within 1e-9 replicas) is that count. None for a non-finite ``gpus``."""
    if gpus is None or not math.isfinite(float(gpus)):
        return None
    tp = int(gpus_per_replica)
    per = int(gpus_per_server) if gpus_per_server else None
    rps = max(per // tp, 1) if per else None  # replicas a server holds (its GPUs beyond rps x tp stay unused)
    exact = float(gpus) / per * rps if per else float(gpus) / tp  # replicas the installed GPUs hold
    n = max(int(math.ceil(exact - 1e-9)), 0)
    return {"replicas": n, "gpus": n * tp, "servers": int(math.ceil(n / rps - 1e-9)) if rps else None,
            "replicas_below": max(n - 1, 0), "replicas_exact": exact, "gpus_per_replica": tp,
            "gpus_per_server": per}


def fmt_replicas_from(w: Mapping) -> str:
    """A count of :func:`whole_replicas_from` as said: ``"78 replicas (312 GPUs; in 39 servers of 8)"``."""
    srv = f"; in {w['servers']:,} servers of {w['gpus_per_server']}" if w.get("servers") is not None else ""
    return f"{w['replicas']:,} replicas ({w['gpus']:,} GPUs{srv})"


def fmt_num(x: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits."""
    if x is None or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    return f"{float(x):.{digits}g}"


def fmt_pue(x: Any) -> str:
    """A PUE at three decimals, everywhere a planner reads one (terminal summary, report.html's cards, summary and shift
    table): they printed "1.44" (four significant figures), "1.42" (three) and "1.422" for one run until session 53."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or not math.isfinite(x):
        return "n/a"
    return f"{float(x):.3f}"


def fmt_jpt(x: Any) -> str:
    """Joules per token, three significant digits kept (``1.2`` → ``"1.20 J"``)."""
    if x is None or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    x = float(x)
    if math.isfinite(x) and abs(x) >= 99.95:  # "220 J", not the "220." of the '#' format
        return f"{x:,.0f} J"
    return f"{x:#.3g} J"


def fmt_celsius(x: Any) -> str:
    """A temperature in degC, one decimal, with the degree sign (``41.04`` → ``"41.0 °C"``), as every planner-facing
    temperature is printed (the terminal's, plan's and controller log's read ``41.0 degC`` until session 55's review)."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    return f"{float(x):.1f} °C"


def fmt_duration(s: Any) -> str:
    """A run length: seconds, minutes or hours."""
    if not isinstance(s, (int, float, np.integer, np.floating)):
        return "n/a"
    s = float(s)
    if s >= 999.5 * 3600:  # a year: "8,760 h", not "8.76e+03 h"
        return f"{s / 3600:,.0f} h"
    if s >= 2 * 3600:
        return f"{s / 3600:.3g} h"
    if s >= 120:
        return f"{s / 60:.3g} min"
    return f"{s:.3g} s"


def fmt_time(x: Any) -> str:
    """A latency in seconds as a short label, three significant digits: ``0.05`` → ``"50 ms"``,
    ``2`` → ``"2 s"``, ``1738`` → ``"1,740 s"`` (seconds with a thousands separator from 1,000 s on,
    never the exponent form ``"1.74e+03 s"``)."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return "n/a"
    x = float(x)
    if not math.isfinite(x):
        return f"{x} s"
    r = float(f"{x:.3g}")  # rounded first, so 0.9996 s is "1 s", not "1e+03 ms"
    if abs(r) >= 1000:
        return f"{r:,.0f} s"
    if abs(r) >= 1 or r == 0:
        return f"{r:.3g} s"
    if abs(r) >= 1e-3:
        return f"{1e3 * x:.3g} ms"
    return f"{1e6 * x:.3g} µs"


def local_datetime(t: Any, clock: Any) -> tuple[Any, bool] | None:
    """The scenario's local date-time ``t`` seconds from the start of the run (rounded to the second), and whether
    its date is a calendar date (the report's ``clock`` has a ``start``) or only a day of the year (from its
    ``day_of_year`` and ``hour``, then in a stand-in non-leap year: read its ``tm_yday``, not its year); ``None``
    without a clock."""
    from datetime import datetime, timedelta

    if not isinstance(t, (int, float, np.integer, np.floating)) or isinstance(t, bool) or not isinstance(clock, Mapping):
        return None
    if not math.isfinite(float(t)):
        return None
    step = timedelta(seconds=round(float(t)))
    if clock.get("start"):
        try:
            return datetime.fromisoformat(str(clock["start"])).replace(microsecond=0) + step, True
        except ValueError:
            return None
    day, hour = clock.get("day_of_year"), clock.get("hour")
    if not isinstance(day, (int, float)) or not isinstance(hour, (int, float)) or isinstance(day, bool):
        return None
    # 2001: a non-leap year, so day 365 + 1 day is day 1 again (the weather year wraps)
    return datetime(2001, 1, 1) + timedelta(days=int(day) - 1, seconds=round(float(hour) * 3600.0)) + step, False


def fmt_local_time(t: Any, clock: Any) -> str:
    """Seconds from the start of the run as the scenario's local clock: ``YYYY-MM-DD HH:MM`` when the report's
    ``clock`` has a ``start`` date-time, else ``day N HH:MM`` from its ``day_of_year`` and ``hour``; "n/a" without
    a clock."""
    loc = local_datetime(t, clock)
    if loc is None:
        return "n/a"
    when, dated = loc
    return when.strftime("%Y-%m-%d %H:%M") if dated else f"day {when.timetuple().tm_yday} {when:%H:%M}"


#: a run this long or shorter (s) names its moments by the hour alone (``HH:MM``): the header gives the date
SHORT_CLOCK_S = 86400.0


def fmt_local_short(t: Any, clock: Any, span_s: Any = None) -> str:
    """A moment of the run as a planner reads it, in the scenario's local clock: ``HH:MM`` in a run of a day or less
    (``span_s``, its duration; the header says the start), ``MM-DD HH:MM`` in a longer one (``day N HH:MM`` when
    the clock has no date). Without a clock, elapsed time that says so: ``HH:MM:SS from the start``."""
    loc = local_datetime(t, clock)
    if loc is None:
        return f"{fmt_hms(t)} from the start" if fmt_hms(t) != "n/a" else "n/a"
    when, dated = loc
    if isinstance(span_s, (int, float)) and not isinstance(span_s, bool) and span_s <= SHORT_CLOCK_S:
        return f"{when:%H:%M}"
    return f"{when:%m-%d %H:%M}" if dated else f"day {when.timetuple().tm_yday} {when:%H:%M}"


def fmt_local_window(t0: Any, t1: Any, clock: Any, span_s: Any = None) -> str:
    """A window of the run in the local clock (:func:`fmt_local_short`): ``11:10–11:50``; a long run's window within
    one day names the day once (``03-04 10:00–14:00``); without a clock ``HH:MM:SS–HH:MM:SS from the start``."""
    if local_datetime(t0, clock) is None or local_datetime(t1, clock) is None:
        return f"{fmt_hms(t0)}–{fmt_hms(t1)} from the start"
    a, b = fmt_local_short(t0, clock, span_s), fmt_local_short(t1, clock, span_s)
    day_a, _, _ = a.rpartition(" ")
    day_b, _, hour_b = b.rpartition(" ")
    return f"{a}–{hour_b if day_a and day_a == day_b else b}"


def fmt_hms(t: Any) -> str:
    """Seconds from the start of the run as ``[Nd ]HH:MM:SS``."""
    if not isinstance(t, (int, float, np.integer, np.floating)) or isinstance(t, bool):
        return "n/a"
    t = int(round(float(t)))
    d, r = divmod(t, 86400)
    h, r = divmod(r, 3600)
    m, s = divmod(r, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def sample_scope(report: Mapping[str, Any], with_share: bool = True) -> str | None:
    """At hybrid fidelity, where the request counts come from: "the simulated sample of 8 of 80 replicas, 10 % of the
    compute" (``serving.hybrid``); None when every replica is simulated. The counts are the sample's own, not scaled
    to the facility (docs/engine.md, hybrid): the audit of 2026-12-05 read "Requests arrived 1.25 M" beside the
    facility's token figures, where the 80 replicas had 12.5 M. ``with_share``: add the sample's share of the
    compute."""
    hyb = get_path(report, "serving.hybrid")
    if not isinstance(hyb, Mapping) or not isinstance(hyb.get("sampled_replicas"), (int, float)):
        return None
    compute_share = hyb.get("compute_share") if with_share else None
    if isinstance(compute_share, (int, float)):
        share_txt = f" ({fmt_pct(compute_share)} of the compute)"
    elif isinstance(compute_share, Mapping):
        share_txt = " (" + ", ".join(f"{k} {fmt_pct(v)}" for k, v in compute_share.items()) + " of each pool's compute)"
    else:
        share_txt = ""
    total = report.get("replicas")
    of = f" of {total:,}" if isinstance(total, int) else ""
    return f"the simulated sample of {int(hyb['sampled_replicas']):,}{of} replicas{share_txt}"


# --------------------------------------------------------------------------- the binding within the calibration band
# (dcsim.tpf.ceilings_within_band is the rule; these say it: the run's summary, report.html's binding card)

def band_window_text(window: Any) -> str:
    """A :func:`dcsim.tpf.band_ratio_window` as said: ``"0.50-1.67x"`` (``"from 0.50x"`` without an upper end)."""
    lo, hi = (list(window or []) + [None, None])[:2]
    if not isinstance(lo, (int, float)):
        return "n/a"
    return f"{lo:.2f}-{hi:.2f}x" if isinstance(hi, (int, float)) and math.isfinite(hi) else f"from {lo:.2f}x"


def within_band_alternatives(wb: Mapping[str, Any] | None, named: str | None = None) -> list[str]:
    """The limits that could bind instead of the one named within the calibration band, the most frequent first, ties
    in the order compute, power, cooling (report.json's keys come back sorted), ``named`` left out. With ``named``
    and the run's per-limit record (``binding.within_band.by_named``): only the alternatives recorded on the ticks
    ``named`` binds (an alternative of compute on compute-bound ticks is not one of power on power-bound ticks);
    otherwise ``binding.within_band.alternatives`` over the run."""
    wb = wb or {}
    per = wb.get("by_named")
    alt = (per.get(named) or {}) if named and isinstance(per, Mapping) else (wb.get("alternatives") or {})
    order = ("compute", "power", "cooling")
    return [k for k, v in sorted(alt.items(), key=lambda kv: (-float(kv[1] or 0),
                                                              order.index(kv[0]) if kv[0] in order else 9))
            if isinstance(v, (int, float)) and v > 0 and k != named]


def or_list(names: list[str]) -> str:
    """``"a"``, ``"a or b"``, ``"a, b or c"``: the one spelling of an either-or list of names (the summary's, the
    compare table's and the planner's; until 2026-12-05 compare and plan spelled it on their own, plan as
    "a or b or c"); ``""`` for none."""
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def within_band_lead_names(wb: Mapping[str, Any] | None, top: str | None, limit_share: float) -> list[str]:
    """The limits the binding headline names as able to bind instead of ``top`` within the calibration band: those
    recorded on the ticks ``top`` binds (:func:`within_band_alternatives`), where ``top`` is undetermined on at least
    half of the time some limit binds (``binding.within_band.share_by_named[top]``; ``share`` in a record without
    it); ``[]`` otherwise (an in-sample calibrated run, a band that cannot flip the order, a run whose longest binding
    is demand: "demand …, or power" would misname what the band reorders, the limits, which :func:`within_band_text`
    names)."""
    if not wb or not limit_share > 0 or top in (None, "demand"):
        return []
    by = wb.get("share_by_named")
    sh = by.get(top) if isinstance(by, Mapping) else wb.get("share")
    if not isinstance(sh, (int, float)) or sh < 0.5 * limit_share:
        return []
    return within_band_alternatives(wb, top)


def within_band_lead(wb: Mapping[str, Any] | None, top: str | None, limit_share: float) -> str:
    """What the binding headline adds (:func:`within_band_lead_names`): ``"power or cooling could bind instead within
    the calibration band, undetermined on 60.6% of the run"``, said inside the headline's parenthesis
    (:func:`with_band_lead`); ``""`` without. The share is ``binding.within_band.share``, the run's whole share on
    which the limit named is undetermined (:func:`within_band_text`'s): the lead alone read "power 56.7 %" on
    mixed-fleet, whose binding is undetermined on 60.6 % of the run, the folded line saying so (review of WALK3,
    2026-12-06). A run undetermined on every tick reads ``"… within the calibration band throughout the run"``: the
    headline's parenthesis already gives the limit's share, and "(100.0%; …, undetermined on 100.0% of the run)" said
    it twice on the reference hall in FP8 at noon (session 55)."""
    names = within_band_lead_names(wb, top, limit_share)
    if not names:
        return ""
    share = wb.get("share") if wb else None
    on = ""
    if isinstance(share, (int, float)) and not isinstance(share, bool) and share > 0:
        # a share short of every tick that prints as 100.0% (over 99.95 %: one tick of a 1-s day short) would say
        # "(100.0%; …, undetermined on 100.0% of the run)" again: "over 99.9%" is what it is (review of AUDIT2)
        pct = fmt_pct(share) if fmt_pct(share) != fmt_pct(1.0) else f"over {fmt_pct(0.999)}"
        on = " throughout the run" if share >= 1.0 else f", undetermined on {pct} of the run"
    return f"{or_list(names)} could bind instead within the calibration band{on}"


def with_band_lead(first: str, lead: str) -> str:
    """The binding headline with :func:`within_band_lead` inside its parenthesis: ``"compute most of the time (52.4%;
    power or cooling could bind instead within the calibration band)"``; unchanged without a lead."""
    if not lead:
        return first
    return f"{first[:-1]}; {lead})" if first.endswith(")") else f"{first} ({lead})"


_LETTER = {"compute": "C", "power": "P", "cooling": "Q"}


def _gap_clause(wb: Mapping[str, Any]) -> str:
    """``"P and Q sit 8.7 % and 10.3 % above C"`` (alternatives of compute), ``"C sits 5.0 % above the power or
    cooling ceiling named"``: each alternative's median gap from the ceiling named on the ticks it is one."""
    gaps = wb.get("median_gap") or {}
    alts = [k for k in within_band_alternatives(wb) if isinstance(gaps.get(k), (int, float))]
    if not alts:
        return ""
    word = lambda g: "above" if g >= 0 else "below"  # noqa: E731
    energy = [k for k in alts if k != "compute"]
    parts = []
    if energy:
        gs = [gaps[k] for k in energy]
        same = len({word(g) for g in gs}) == 1
        if same:
            parts.append(f"{' and '.join(_LETTER[k] for k in energy)} sit{'s' if len(energy) == 1 else ''} "
                         f"{' and '.join(f'{100 * abs(g):.1f} %' for g in gs)} {word(gs[0])} C")
        else:
            parts += [f"{_LETTER[k]} sits {100 * abs(gaps[k]):.1f} % {word(gaps[k])} C" for k in energy]
    if "compute" in alts:
        g = gaps["compute"]
        parts.append(f"C sits {100 * abs(g):.1f} % {word(g)} the power or cooling ceiling named")
    return "; ".join(parts)


#: the least share of a run on which "undetermined within the calibration band" is said (:func:`within_band_text`) and
#: marked (sweep.png's hatch, dcsim.plots.sweep): an assumption, 1 % of the run
WITHIN_BAND_MIN_SHARE = 0.01


def within_band_text(wb: Mapping[str, Any] | None, min_share: float = WITHIN_BAND_MIN_SHARE) -> str | None:
    """The line under the binding headline where the binding limit is undetermined within the run's calibration band
    on at least ``min_share`` of the run (report.json ``binding.within_band``, dcsim.engine.assemble.binding_within_band):
    the band, the share of the run, each limit that could bind instead with its median gap, and the window of ratios
    over which the order of compute and power (or cooling) can flip (:func:`dcsim.tpf.band_ratio_window`). None
    otherwise."""
    if not wb or not isinstance(wb.get("share"), (int, float)) or wb["share"] < min_share:
        return None
    band = fmt_band({"tok_s_pct": wb.get("tok_s_pct"), "j_per_tok_pct": wb.get("j_per_tok_pct")},
                    bool(wb.get("lower_bound")))
    return (f"undetermined within the calibration band ({band}) on {fmt_pct(wb['share'])} of the run: "
            f"{_gap_clause(wb)} (median), inside the band's {band_window_text(wb.get('ratio_window'))}"
            " of P/C and Q/C (docs/report.md, binding)")
