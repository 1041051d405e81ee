"""The ``dcsim`` command line: run, validate, schema, tpf, calibrate, compare, sweep, plan."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["main"]


class Progress:
    """A one-line stderr progress bar with ETA, shown only after ``delay_s`` of wall time."""

    def __init__(self, label: str, delay_s: float = 2.0, stream=None, enabled: bool = True):
        self.label, self.delay, self.t0 = label, delay_s, time.perf_counter()
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.shown = False

    def __call__(self, frac: float) -> None:
        if not self.enabled:
            return
        el = time.perf_counter() - self.t0
        if el < self.delay and frac < 1.0:
            return
        if el < self.delay and not self.shown:
            return
        self.shown = True
        eta = el / frac * (1 - frac) if frac > 0 else float("nan")
        n = int(30 * frac)
        self.stream.write(f"\r{self.label} [{'#' * n}{'.' * (30 - n)}] {100 * frac:5.1f}%  "
                          f"elapsed {el:6.1f}s  eta {eta:6.1f}s")
        self.stream.flush()
        if frac >= 1.0:
            self.stream.write("\n")

    def stage(self, text: str) -> None:
        """Name a stage after the simulated ticks (the SLO estimate, a flexibility baseline): the bar reads 100 %
        there with much of a long run's wall time still to go (a year: 6 s of ticks, 24 s after them)."""
        el = time.perf_counter() - self.t0
        if self.enabled and (self.shown or el >= self.delay):
            self.stream.write(f"{self.label}: {text} ... (elapsed {el:.1f}s)\n")
            self.stream.flush()


def _fail(msg: str, code: int = 2) -> int:
    """Print ``msg`` on stderr and return ``code``: wrapped at a terminal, one line each when piped or redirected
    (:func:`dcsim.report.summary.print_message`). A closed stderr (``2>&1 | head -1``, a reader gone) loses the
    message but not the exit code: the BrokenPipeError used to escape main() as exit 1."""
    try:
        from dcsim.report.summary import print_message

        print_message(msg, file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):  # BrokenPipeError, EPIPE, a closed stream object
        _quiet(2)
    return code


def _load(path: str, sets: list[str] | None = None, seed: int | None = None):
    from dcsim.scenario import GivenAs, load_scenario

    sets = list(sets or [])
    if seed is not None:
        sets.append(f"seed={seed}")
    return load_scenario(path, overrides=sets or None, given_as=GivenAs.SET_FLAG)  # its errors name the flag


def _warn(warnings) -> None:
    """Each warning on stderr: at a terminal wrapped to its width with the continuation under the text
    (:func:`dcsim.report.summary.wrap_hanging`), else one line each, whole for grep
    (:func:`dcsim.report.summary.is_terminal`); the warnings themselves (report.json, ``Result.warnings``) stay
    whole."""
    from dcsim.report.summary import is_terminal, wrap_hanging

    wrap = is_terminal(sys.stderr)
    for w in warnings:
        print("\n".join(wrap_hanging("warning: ", str(w))) if wrap else f"warning: {w}", file=sys.stderr)


def cmd_validate(args) -> int:
    from dcsim.engine.preflight import preflight

    sc = _load(args.file, args.set)
    pre = preflight(sc, label=args.file)  # files, catalog names, physics, resources
    import yaml

    _warn(pre.warnings)
    from dcsim.report.summary import TERMINAL_WIDTH, wrap_text

    e = pre.estimate
    reqs = (f", ~{e['requests_total']:,.0f} requests simulated (up to ~{e['requests_in_flight']:,.0f} held at once)"
            if "requests_total" in e else "")
    for text in (f"{args.file}: valid scenario (values in SI units; temperatures in °C)",
                 f"run estimate: {e['ticks']:,} ticks, ~{e['peak_memory_bytes'] / 1e6:,.0f} MB peak memory, "
                 f"~{e['csv_bytes'] / 1e6:,.1f} MB timeseries.csv{reqs}; {len(pre.warnings)} warning(s)"):
        for line in wrap_text(text, TERMINAL_WIDTH - 2):  # comment lines: the YAML under them still loads
            print(f"# {line}")
    print(yaml.safe_dump(sc.model_dump(mode="json"), sort_keys=False, width=100), end="")
    return 0


def cmd_schema(args) -> int:
    from dcsim.scenario import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


#: ``dcsim run --check``'s exit code when the run checked no claim (a window of the scenario, whose claims were
#: written for its whole run, or a scenario with no ``expect:`` block): not a failure (1), not a pass (0).
NOTHING_CHECKED_EXIT = 3


def cmd_run(args) -> int:
    from dcsim.engine.preflight import preflight
    from dcsim.engine.run import run
    from dcsim.report import write_outputs
    from dcsim.report.outdir import RunDir, safe_name
    from dcsim.report.summary import terminal_lines

    sc = _load(args.file, args.set, args.seed)
    pre = preflight(sc, label=args.file)  # every input checked before any work
    _warn(pre.warnings)
    out = args.out if args.out is not None else Path("results") / safe_name(sc.name)
    with RunDir(out, force=args.force) as rd:  # writable, not locked, staged: checked before simulating
        prog = Progress(f"{sc.name}", enabled=not args.quiet)
        try:
            res = run(sc, progress=prog)
        except KeyboardInterrupt:
            return _fail(f"interrupted before the first results were recorded; nothing written to {out}", 130)
        _warn(w for w in res.report.get("warnings", []) if w not in pre.warnings)
        partial = bool(res.report.get("partial"))
        note = f"{res.report.get('duration_s', 0):g} s of {sc.duration:g} s simulated"
        try:
            files = write_outputs(res, rd.staging, force=True, plots=not args.no_plots)
            rd.commit(partial=partial, note=note)
        except KeyboardInterrupt:  # the run is finished: keep its report, do not lose it whole; say what was not
            from dcsim.report.write import keep_interrupted_run  # written (shared with dcsim.report.write_outputs)

            return _fail(keep_interrupted_run(res, rd, out, partial, note), 130)
    if not args.quiet:
        try:
            print("\n".join(terminal_lines(res, files=files, out_dir=out)))  # the warnings repeated: never scrolled away
        except KeyboardInterrupt:
            return _fail(f"interrupted while printing the summary; the run is written to {out}", 130)
    if res.report.get("partial"):
        print("run interrupted: partial report written", file=sys.stderr)
        return 130
    exp = res.report.get("expect")
    if exp and exp.get("not_checked"):  # a window of the scenario's run: its claims do not apply (none failed)
        print(f"expect: {len(exp['not_checked'])} of the scenario's claims not checked: "
              f"{exp.get('not_checked_reason') or 'the run is a window of the scenario'}", file=sys.stderr)
    if exp and exp["passed"] is False:
        print(f"expect: {sum(not c['ok'] for c in exp['checks'])} of {len(exp['checks'])} checks failed", file=sys.stderr)
        return 1 if args.check else 0
    if args.check and not (exp or {}).get("checks"):
        # --check promises a check: a run that checked no claim passed nothing, and a CI job reading exit 0 would
        # pass having checked nothing (until 2026-12-05 a window of the scenario exited 0 this way)
        print(f"expect: --check: no claim was checked, exit {NOTHING_CHECKED_EXIT}: "
              + ("the run's window differs from the one the scenario's claims were written for; run the whole "
                 "scenario, or give the window's own claims with --set expect.PATH=[lo, hi]"
                 if exp and exp.get("not_checked") else
                 "the scenario has no expect: block; give claims in it or with --set expect.PATH=[lo, hi]"),
              file=sys.stderr)
        return NOTHING_CHECKED_EXIT
    return 0


def cmd_tpf(args) -> int:
    import math

    from dcsim.engine.steady import steady_report
    from dcsim.metrics.record import unlimited_cooling_to_null
    from dcsim.tpf import (CROSSOVER_GPU_RANGE_X, CROSSOVER_INTERCONNECT_RANGE_X, CROSSOVER_T_OUT_RANGE_C,
                           cooling_binds_text)
    from dcsim.units import format_quantity as fq

    from dcsim.engine.preflight import preflight

    sc = _load(args.file, args.set)
    models = preflight(sc, label=args.file).models
    rep = steady_report(models)
    unlimited_cooling_to_null(rep)  # a plant with no capacity sets no cooling ceiling: null, not inf
    if args.json:
        from dcsim.textio import json_text

        print(json_text(rep, indent=2, sort_keys=True))
        return 0
    from dcsim.metrics.fmt import (fmt_duration, fmt_local_short, fmt_local_time, fmt_multiple, fmt_replicas_from,
                                   gain_text, near_tie_label, near_tie_text, pools_power_note, tok_s_apart,
                                   whole_replicas_from)

    from dcsim.report.summary import print_wrapped

    clock = sc.clock_block()
    ic_lo, ic_hi = map(fmt_multiple, CROSSOVER_INTERCONNECT_RANGE_X)  # the searches' ranges, said in the reasons
    g_lo, g_hi = map(fmt_multiple, CROSSOVER_GPU_RANGE_X)
    t_lo, t_hi = CROSSOVER_T_OUT_RANGE_C
    units = {(g.node.gpus_per_replica, g.node.gpus_per_node) for g in models.groups}

    def gpus_from(x: float) -> str:
        """The GPU crossover in whole replicas and servers (the rule plan's max-gpus uses), where the fleet's
        replicas share one size; else in GPUs, rounded up, of the fleet scaled alike."""
        if len(units) == 1:
            (tp, per), = units
            return fmt_replicas_from(whole_replicas_from(x, tp, per))
        return (f"{math.ceil(x - 1e-9):,} GPUs (the fleet scaled alike, {x / models.gpus:.4g}x: its rack groups' "
                "replicas differ in size)")

    out: list[str] = []
    out.append(f"Token Production Function — {sc.name}: {rep['gpus']:,} GPUs in {rep['replicas']:,} replicas, "
          f"interconnect {fq(rep['interconnect_w'], 'power')}, {rep['flop_per_output_token']:.3g} FLOP/output token")
    out.append(f"local clock: start {fmt_local_time(0.0, clock)}, {fmt_duration(sc.duration)}; each moment below at its "
          "local time")
    for label, r in rep["moments"].items():
        x = r["crossover"]
        out.append(f"\n[{label}: {r['operating_point']}] at {fmt_local_short(r['t_s'], clock, sc.duration)}, "
              f"outdoor {r['t_out_c']:.1f} °C (wet-bulb {r['t_wb_c']:.1f} °C)")
        out.append(f"  demand  D = {r['demand_tok_s']:12,.0f} tok/s")
        out.append(f"  compute C = {r['compute_tok_s']:12,.0f} tok/s")
        out.append(f"  power   P = {r['power_tok_s']:12,.0f} tok/s   (IT budget {fq(r['it_budget_power_w'], 'power')})")
        # Q is set by the IT heat the plant can take (its capacity less the PDU and UPS losses it also rejects),
        # the like of the power line's IT budget; the raw capacity beside it would read E_tok 7 % high (docs/report.md)
        if r["cooling_tok_s"] is None:
            out.append("  cooling Q =    unlimited         (the plant has no capacity)")
        elif r.get("cooling_limit") == "die":
            out.append(f"  cooling Q = {r['cooling_tok_s']:12,.0f} tok/s   (the GPU dies at their limit in normal "
                       "operation hold the clock: the compute ceiling of the level they hold; the plant's IT heat "
                       f"budget {fq(r['it_budget_cooling_w'], 'power')} takes more)")
        else:
            out.append(f"  cooling Q = {r['cooling_tok_s']:12,.0f} tok/s   (IT heat budget "
                       f"{fq(r['it_budget_cooling_w'], 'power')} of the plant's {fq(r['heat_capacity_w'], 'power')})")
        if r.get("cooling_full_work_tok_s") is not None and r["cooling_full_work_tok_s"] != r["cooling_tok_s"]:
            out.append(f"  full-work Q = {r['cooling_full_work_tok_s']:10,.0f} tok/s   (the rate the run settles "
                       "at when the work exceeds it: the GPU dies at their limit hold the clock; C and P do not "
                       "depend on the demand)")
        tie = r.get("near_tie")
        pools = r.get("pools") or []
        out.append(f"  achieved  = {r['achieved_tok_s']:12,.0f} tok/s   binding: {r['binding'].upper()}"
                   + (f", {near_tie_label(tie, ', below')}" if tie else ""))
        if tie and not tie.get("pool"):
            out.append(f"    {near_tie_text(tie)}")
        for p in pools:  # several model pools (racks[].serves)
            c_txt, p_txt = tok_s_apart(p["compute_tok_s"], p["power_tok_s"])
            out.append(f"    pool {p['name']}: D {p['demand_tok_s']:,.0f}  C {c_txt}  P {p_txt}  "
                  f"achieved {p['achieved_tok_s']:,.0f} tok/s   binding: {p['binding'].upper()}"
                       + (f", {near_tie_label(p['near_tie'])}" if p.get("near_tie") else ""))
            if p.get("near_tie"):
                out.append(f"      {near_tie_text(p['near_tie'])}")
        note = pools_power_note(pools, r["binding"], minus="-")
        if note:  # P below C there is no power shortfall
            out.append(f"    {note} (docs/report.md, tpf)")
        cap = x["interconnect_w"]
        racks = " (the racks' own power limits bind here, whatever the interconnect)" if x.get("racks_hold_power") else ""
        if cap == cap:
            power_txt = "power binds at the interconnect below " + fq(cap, "power") + gain_text(
                x.get("interconnect_gain_tok_s"), r["achieved_tok_s"],
                f"+{100 * (cap / rep['interconnect_w'] - 1):.3g} % contract")
        elif r["binding"] == "power" and not racks:  # binds at every contract searched: a fixed rating caps IT power
            pc = sc.facility.power_chain
            fixed = [f"{name} rating {fq(float(getattr(pc, k)), 'power')}"
                     for k, name in (("ups_rating", "UPS"), ("transformer_rating", "transformer"))
                     if pc is not None and getattr(pc, k, None) is not None]
            power_txt = (f"power binds at every interconnect searched (to {ic_hi} the contract)"
                         + (f": the fixed {' and '.join(fixed)} (facility.power_chain) caps the IT power" if fixed
                            else ""))
        else:
            power_txt = f"power binds at the interconnect below (none in range: {ic_lo}-{ic_hi} the contract)"
        out.append("  crossovers: " + power_txt
              + racks
              + "; compute stops binding from " + (gpus_from(x["gpus"]) + gain_text(
                  x.get("gpus_gain_tok_s"), r["achieved_tok_s"], f"+{100 * (x['gpus'] / rep['gpus'] - 1):.3g} % GPUs")
                                                   if x["gpus"] == x["gpus"]
                                                   else f"(none in range: {g_lo}-{g_hi} the scenario's GPU count)")
              + "; " + cooling_binds_text(x["cooling_binds_t_out_c"], t_lo, t_hi))
    print_wrapped("\n".join(out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from dcsim.textio import out_folder, seed_arg

    p = argparse.ArgumentParser(prog="dcsim", description="Simulate LLM-inference data centers: tokens, J/token, binding constraints.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="cmd")

    r = sub.add_parser("run", help="run a scenario, write report.json, time series, plots and report.html")
    r.add_argument("file")
    r.add_argument("--out", type=out_folder, help="output folder (default results/<scenario name>)")
    r.add_argument("--seed", type=seed_arg, help="the scenario seed for this run (a whole number >= 0; overrides seed:)")
    r.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a field, e.g. facility.interconnect='15 MW'")
    r.add_argument("--force", action="store_true", help="overwrite a non-empty output folder")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots (faster); report.html is still written, without figures")
    r.add_argument("--quiet", "-q", action="store_true")
    r.add_argument("--check", action="store_true", help="exit 1 when a check of the scenario's expect: block fails, 3 when no claim was checked (a window of "
                        "the scenario, or no expect: block)")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="validate a scenario and print it resolved to SI units")
    v.add_argument("file")
    v.add_argument("--set", action="append", metavar="PATH=VALUE")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("schema", help="print the scenario JSON Schema (for editor completion)")
    s.set_defaults(func=cmd_schema)

    t = sub.add_parser("tpf", help="closed-form Token Production Function and crossover points of a scenario")
    t.add_argument("file")
    t.add_argument("--set", action="append", metavar="PATH=VALUE")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tpf)

    for modname in ("dcsim.node.calibrate", "dcsim.node.predict", "dcsim.report.compare", "dcsim.sweep", "dcsim.plan",
                    "dcsim.plan_flex"):  # predict adds --predict to `dcsim calibrate`, plan_flex --curtailment to `dcsim plan`
        try:
            mod = __import__(modname, fromlist=["add_parser"])
        except ImportError:
            continue
        if hasattr(mod, "add_parser"):
            mod.add_parser(sub)
    return p


#: Where internal errors (bugs) are to be reported.
BUG_REPORT = ("please report it, with the command line and the scenario file, on the dcsim issue tracker "
              "(README, 'Reporting bugs'); DCSIM_DEBUG=1 shows the traceback")


def _quiet(fd: int) -> None:
    """Point file descriptor ``fd`` (1 or 2) at /dev/null, so that nothing more written there (the interpreter's
    final flush, a later message) raises again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _quiet_stdout() -> None:
    """After a broken pipe (``dcsim schema | head``, or ``2>&1 | head -1`` where both streams share the pipe):
    send further output on stdout and stderr to /dev/null so the interpreter's final flush does not raise again."""
    _quiet(1)
    _quiet(2)


def main(argv: list[str] | None = None) -> int:
    """The CLI. Exit codes: 0 success, 2 bad input or unusable output folder (one message naming
    the file, field or line and the reason), 130 interrupted, 70 internal error (a bug), 141 output pipe
    closed. A closed stderr never changes the code (the message is lost, the code is not)."""
    import os

    try:
        from dcsim.report.outdir import OutputError
        from dcsim.scenario import ScenarioError
        from dcsim.thermal.weather import WeatherError
        from dcsim.workload.trace import TraceError

        parser = build_parser()
        args = parser.parse_args(argv)
        if args.version:
            from dcsim import __version__

            print(f"dcsim {__version__}")
            return 0
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:  # first: the names below may not be imported yet
        return _fail("interrupted", 130)
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except ScenarioError as e:
        return _fail(str(e))
    except (TraceError, WeatherError, OutputError) as e:
        return _fail(f"error: {e}")
    except OSError as e:  # disk full, permission denied, file vanished: the environment, not a bug
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _fail(f"error: {where}{e.strerror or e}")
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the one place internal errors are turned into a message
        if os.environ.get("DCSIM_DEBUG"):
            raise
        from dcsim import __version__
        from dcsim.units import excerpt

        return _fail(f"dcsim {__version__}: internal error (a bug in dcsim, not in your input): "
                     f"{type(e).__name__}: {excerpt(str(e), 300, quote=False)}\n{BUG_REPORT}", 70)


if __name__ == "__main__":
    sys.exit(main())
