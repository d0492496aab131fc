"""Run a sweep (``bitsparse sweep``, ``make sweep``; docs/sweep.md): every point's hardware and every
method's figures as tasks on a :class:`concurrent.futures.Executor`, then one record per point.

Execution. Each task runs in a fresh Python process (``python -m sweep.worker``, :func:`execute_task`),
so a timeout kills it with its Yosys and nextpnr (the process group), and a crash ends that process, not
the sweep. The executor is a local :class:`~concurrent.futures.ProcessPoolExecutor` of ``jobs`` workers
(default: the cores), or, given a scheduler address, a Dask cluster's (``dask.distributed``'s
``Client(address).get_executor()``; the ``dask`` extra). A task whose process died (a signal, or the
executor's worker lost: ``BrokenProcessPool``, Dask's ``KilledWorker``) is submitted once more; a
failed or timed-out task is recorded with its error and the sweep goes on.

Caching. Hardware runs keep their tool work directories under ``<work>/hw/`` with the content key of
:func:`fpga.synth.reuse_or_fresh`; a method's figures are kept under ``<work>/network/`` by their key
(:func:`sweep.worker.network_key`). A re-run, or the rest of an interrupted one, redoes only what is
missing: a record says ``cached`` and how many tool runs it took. With Dask, ``work`` must be a directory
every worker sees (a shared filesystem, as on a Slurm cluster).

Records (``results.json``: ``{"spec": ..., "points": [...]}``, also ``results.md`` and ``img/*.png``):
the point (``name``, ``key``, ``arch``, ``scope``, ``device``, ``lanes``, ``N``, ``k``, ``window``,
``multiplier``, ``rows``, ``cols``, ``pes``, ``method``), ``status`` (``ok``, ``failed``, ``timeout``) and
``error``; the hardware (``fits``, ``lut4``, ``ff``, ``bram``, ``dsp``, ``fmax_mhz``, ``note``); the
network (``network``, ``bits_per_weight``, ``compression``, ``accuracy``, ``accuracy_int8``,
``accuracy_measure``, ``accuracy_loss``: percentage points below INT8); the speed (``macs`` of one input,
``cycles``, ``macs_per_cycle``, ``macs_per_cycle_per_klut``, ``mmacs_per_s`` at Fmax,
``mmacs_per_s_per_klut``); and ``attempts``, ``seconds``, ``cached``, ``tool_runs``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path

from sweep.spec import ARCHS, DEVICES, PARAMS, Point, Spec, from_ranges, load_spec

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "sweep" / "work"
__all__ = ["execute_task", "tasks_of", "run_sweep", "records_of", "markdown", "headline", "write", "main",
           "WORK"]

#: attempts of a task whose process died
ATTEMPTS = 2
#: the record fields that depend on how a run went, not on what it computed
RUN_FIELDS = ("attempts", "seconds", "cached", "tool_runs")


def _tail(path: Path, n: int = 1500) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-n:].strip()


def execute_task(task: dict, timeout: float) -> dict:
    """Run ``task`` in its own process (``python -m sweep.worker``) within ``timeout`` seconds: the
    worker's result, plus ``seconds``; ``status`` ``timeout`` (the process group killed) or ``died``
    (ended by a signal or without a result) with the end of its log as ``error``."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bitsparse-sweep-") as d:
        d = Path(d)
        (d / "task.json").write_text(json.dumps(task))
        with open(d / "log.txt", "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "sweep.worker", str(d / "task.json"), str(d / "result.json")],
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return {"status": "timeout", "error": f"timed out after {timeout:g} s (its process group killed)",
                        "seconds": round(time.monotonic() - t0, 1)}
        seconds = round(time.monotonic() - t0, 1)
        if proc.returncode != 0 or not (d / "result.json").exists():
            how = (f"killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                   else f"exit status {proc.returncode}")
            return {"status": "died", "error": f"the task's process ended ({how}) without a result; its log ends: "
                                              f"{_tail(d / 'log.txt', 600)}", "seconds": seconds}
        out = json.loads((d / "result.json").read_text())
        if out["status"] != "ok":
            out["log"] = _tail(d / "log.txt")
        return {**out, "seconds": seconds}


def _request(p: Point) -> dict:
    return {"arch": p.arch, "lanes": p.lanes, "rows": p.rows, "cols": p.cols, "N": p.N, "k": p.k,
            "window": p.window}


def tasks_of(spec: Spec, work) -> dict:
    """The sweep's tasks by id: ``network:<method>`` (INT8 always, for the accuracy loss) then each point's
    ``<name>@<device>``."""
    work = str(Path(work).resolve())
    methods = {"int8": []}
    for p in spec.points:
        reqs = methods.setdefault(p.method, [])
        if _request(p) not in reqs:
            reqs.append(_request(p))
    tasks = {f"network:{m}": {"kind": "network", "network": spec.network, "limit": spec.limit, "method": m,
                              "requests": reqs, "work": work} for m, reqs in methods.items()}
    tasks.update({p.key: {"kind": "hardware", "point": p.to_dict(), "work": work} for p in spec.points})
    return tasks


def _executor(jobs, scheduler):
    """``(make executor, close)``: a local process pool, or a Dask cluster's executor."""
    if scheduler is None:
        # spawn, not fork: the driver may run threads (a test runner's, Dask's client)
        ctx = multiprocessing.get_context("spawn")
        return (lambda: ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1, mp_context=ctx)), (lambda: None)
    try:
        from dask.distributed import Client
    except ModuleNotFoundError:
        raise ValueError("--scheduler needs dask.distributed: pip install 'bitsparse[dask]' "
                         "(or pip install 'dask[distributed]')") from None
    try:
        client = Client(scheduler, timeout=30)
    except OSError as e:
        raise ValueError(f"no Dask scheduler answers at {scheduler!r}: {e}") from None
    return (lambda: client.get_executor(pure=False)), client.close


def _summary(r: dict) -> str:
    if r["status"] != "ok":
        return f"{r['status']}: {r.get('error', '')[:200]}"
    res = r["result"]
    if "lut4" in res:
        fig = f"{res['lut4']} LUT4" + (f", {res['fmax_mhz']:.1f} MHz" if res.get("fmax_mhz") else
                                       f" ({res['note']})" if res.get("note") else "")
    else:
        acc = res.get("accuracy")
        fig = f"{res['bits_per_weight']:.3f} bits/weight" + ("" if acc is None else f", accuracy {acc:.4f}")
    return ("cached: " if r.get("cached") else "") + fig


def execute(tasks: dict, timeout: float, *, jobs=None, scheduler=None, log=print) -> dict:
    """Run every task (module docstring) and return their results by id, each with ``attempts``."""
    make, close = _executor(jobs, scheduler)
    executor = make()
    attempts = {k: 0 for k in tasks}
    pending = {}
    results = {}

    def submit(k):
        attempts[k] += 1
        pending[executor.submit(execute_task, tasks[k], timeout)] = (k, executor)

    try:
        for k in tasks:
            submit(k)
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for f in done:
                k, ex = pending.pop(f)
                try:
                    r = f.result()
                except Exception as e:                # the executor lost the worker running it
                    if isinstance(e, BrokenProcessPool) and ex is executor:
                        executor = make()
                    r = {"status": "died", "error": f"the executor's worker was lost: {type(e).__name__}: {e}"}
                if r["status"] == "died" and attempts[k] < ATTEMPTS:
                    log(f"{k}: {r['error'][:200]}; retrying")
                    submit(k)
                    continue
                if r["status"] == "died":
                    r = {**r, "status": "failed", "error": f"died {attempts[k]} times; last: {r['error']}"}
                results[k] = {**r, "attempts": attempts[k]}
                log(f"[{len(results)}/{len(tasks)}] {k}: {_summary(r)} ({r.get('seconds', 0):.0f} s)")
    finally:
        for f in pending:
            f.cancel()
        if scheduler is None:
            executor.shutdown(wait=True, cancel_futures=True)
        else:
            executor.shutdown(wait=False)
        close()
    return results


def _per(value, klut):
    return None if value is None or not klut else value / klut


def records_of(spec: Spec, results: dict) -> list[dict]:
    """One record per point (module docstring) from the task results."""
    records = []
    base = results["network:int8"]
    for p in spec.points:
        hw, net = results[p.key], results[f"network:{p.method}"]
        rec = {"name": p.name, "key": p.key, **asdict(p), "scope": p.scope,
               "pes": 1 if p.rows is None else p.rows * p.cols, "method": p.method, "status": "ok", "error": None,
               "fits": None, "lut4": None, "ff": None, "bram": None, "dsp": None, "fmax_mhz": None, "note": "",
               "network": spec.network, "bits_per_weight": None, "compression": None, "accuracy": None,
               "accuracy_int8": None, "accuracy_measure": None, "accuracy_loss": None, "macs": None,
               "cycles": None, "macs_per_cycle": None, "macs_per_cycle_per_klut": None, "mmacs_per_s": None,
               "mmacs_per_s_per_klut": None}
        errors = []
        if hw["status"] == "ok":
            h = hw["result"]
            rec.update({k: h.get(k) for k in ("fits", "lut4", "ff", "bram", "dsp", "fmax_mhz", "note")})
            if not h["fits"]:
                errors.append(h["note"])
        else:
            rec["status"] = hw["status"]
            errors.append(hw["error"])
        if net["status"] == "ok":
            n = net["result"]
            rec.update({k: n[k] for k in ("bits_per_weight", "compression", "accuracy", "accuracy_measure", "macs")})
            rec["cycles"] = n["cycles"][json.dumps(_request(p), sort_keys=True)]
            if base["status"] == "ok" and n["accuracy"] is not None:
                rec["accuracy_int8"] = base["result"]["accuracy"]
                rec["accuracy_loss"] = 100 * (rec["accuracy_int8"] - n["accuracy"])
            if rec["cycles"]:
                rec["macs_per_cycle"] = rec["macs"] / rec["cycles"]
        else:
            rec["status"] = "failed" if rec["status"] == "ok" else rec["status"]
            errors.append(f"{p.method} on {spec.network}: {net['error']}")
        if errors and rec["status"] == "ok":
            rec["status"] = "failed"
        rec["error"] = "; ".join(e for e in errors if e) or None
        if rec["status"] == "ok":
            klut = rec["lut4"] / 1000 if rec["lut4"] else None
            rec["macs_per_cycle_per_klut"] = _per(rec["macs_per_cycle"], klut)
            if rec["macs_per_cycle"] is not None and rec["fmax_mhz"]:
                rec["mmacs_per_s"] = rec["macs_per_cycle"] * rec["fmax_mhz"]
            rec["mmacs_per_s_per_klut"] = _per(rec["mmacs_per_s"], klut)
        rec.update({"attempts": hw["attempts"], "seconds": hw.get("seconds"), "cached": bool(hw.get("cached")),
                    "tool_runs": hw.get("tool_runs")})
        records.append(rec)
    return records


def _f(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def markdown(records: list[dict], network: str, limit: int | None = None) -> str:
    """The results table of a sweep on ``network`` (its first ``limit`` inputs) and, per device, the points
    on the Pareto front of throughput per kLUT against accuracy loss."""
    measure = next((r["accuracy_measure"] for r in records if r["accuracy_measure"]), None)
    lines = [f"Network: {network}" + (f" (first {limit} inputs)" if limit else "")
             + (f"; accuracy: {measure} (loss in points below INT8)" if measure else "; no accuracy (no data)"),
             "",
             "| point | device | method | status | LUT4 | FF | BRAM | DSP | Fmax (MHz) | MACs/cycle | MMAC/s | "
             "MMAC/s per kLUT | bits/weight | accuracy loss |",
             "|---|---|---|---|" + "---:|" * 10]
    for r in records:
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r['error']}"
        lines.append(f"| {r['name']} | {DEVICES[r['device']]} | {r['method']} | {status} | {_f(r['lut4'], 'd')} | "
                     f"{_f(r['ff'], 'd')} | {_f(r['bram'], 'd')} | {_f(r['dsp'], 'd')} | {_f(r['fmax_mhz'], '.1f')} | "
                     f"{_f(r['macs_per_cycle'])} | {_f(r['mmacs_per_s'], '.1f')} | "
                     f"{_f(r['mmacs_per_s_per_klut'])} | {_f(r['bits_per_weight'], '.3f')} | "
                     f"{_f(r['accuracy_loss'])} |")
    from sweep.plots import fronts
    for dev, front in fronts(records).items():
        lines += ["", f"Pareto front on the {DEVICES[dev]} (least accuracy loss, most MMAC/s per kLUT): "
                  + ", ".join(f"{r['name']} ({_f(r['accuracy_loss'])} points, {r['mmacs_per_s_per_klut']:.2f})"
                              for r in front)]
    return "\n".join(lines) + "\n"


def headline(records: list[dict]) -> str:
    """The Pareto-front points of every device, one row each (the README's sweep table)."""
    from sweep.plots import fronts
    lines = ["| device | point | method | accuracy loss (points) | bits/weight | LUT4 | Fmax (MHz) | MMAC/s | "
             "MMAC/s per kLUT |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for dev, front in fronts(records).items():
        for r in front:
            lines.append(f"| {DEVICES[dev]} | {r['name']} | {r['method']} | {_f(r['accuracy_loss'])} | "
                         f"{_f(r['bits_per_weight'])} | {r['lut4']:,} | {r['fmax_mhz']:.1f} | "
                         f"{r['mmacs_per_s']:.1f} | {r['mmacs_per_s_per_klut']:.2f} |")
    return "\n".join(lines) + "\n"


def write(records: list[dict], spec: Spec, out) -> list[Path]:
    """``results.json``, ``results.md`` and the plots (:func:`sweep.plots.plots`) into ``out``."""
    from sweep.plots import plots
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"spec": {"network": spec.network, "limit": spec.limit, "timeout": spec.timeout,
                    "points": [p.to_dict() for p in spec.points]}, "points": records}
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "results.md").write_text(markdown(records, spec.network, spec.limit))
    return [out / "results.json", out / "results.md"] + plots(records, out / "img")


def run_sweep(spec: Spec, out, *, work=WORK, jobs=None, scheduler=None, log=print) -> list[dict]:
    """Run ``spec`` (module docstring), write its results into ``out`` and return the records."""
    results = execute(tasks_of(spec, work), spec.timeout, jobs=jobs, scheduler=scheduler, log=log)
    records = records_of(spec, results)
    for path in write(records, spec, out):
        log(f"wrote {path}")
    return records


def _values(kind):
    """An argparse type: ``a,b,c`` or, for integers, ``lo..hi`` (inclusive)."""
    def parse(text: str):
        items = []
        for part in text.split(","):
            part = part.strip()
            if kind is int and ".." in part:
                lo, hi = part.split("..", 1)
                try:
                    items += list(range(int(lo), int(hi) + 1))
                except ValueError:
                    raise argparse.ArgumentTypeError(f"{text!r}: a range is lo..hi of integers") from None
                continue
            try:
                items.append(kind(part))
            except ValueError:
                raise argparse.ArgumentTypeError(f"{part!r} is not {'an integer' if kind is int else 'a name'}") from None
        return items
    return parse


def main(argv=None, prog: str = "python -m sweep.run") -> int:
    ap = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sweep architectures and configurations: area, Fmax, cycles on a network's real weights, "
                    "accuracy and bits per weight, on a local process pool or a Dask cluster (docs/sweep.md).\n\n"
                    f"  {prog} FILE.toml|FILE.yaml          the points of a sweep file\n"
                    f"  {prog} --arch stripes,bitvert --lanes 8,16 --N 2,4 --device ice40\n"
                    "                                     one grid from the command line")
    ap.add_argument("file", nargs="?", help="a sweep file (.toml; .yaml/.yml with PyYAML)")
    ap.add_argument("--arch", type=_values(str), help=f"architectures: {', '.join(ARCHS)}")
    for name in PARAMS:
        ap.add_argument(f"--{name}", type=_values(str if name == "multiplier" else int), metavar="V[,V...]",
                        help=f"values of {name}" + (" (ints: lo..hi is a range)" if name != "multiplier" else ""))
    ap.add_argument("--device", type=_values(str), default=None, help="ice40, ecp5 (default ice40)")
    ap.add_argument("--network", help="reference (default), mnist, fashion, efficientnet_lite0, minilm")
    ap.add_argument("--limit", type=int, help="the first so many inputs of the network's data")
    ap.add_argument("--timeout", type=float, help="seconds per task (default 3600, or the file's)")
    ap.add_argument("--jobs", type=int, help="local worker processes (default: the cores)")
    ap.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): run there")
    ap.add_argument("--out", help="results directory (default build/sweep/<file name or 'cli'>)")
    ap.add_argument("--work", help=f"tool work directories and cache (default {WORK.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    grid_args = {p: getattr(args, p) for p in PARAMS}
    try:
        if args.file:
            if args.arch or any(v is not None for v in grid_args.values()) or args.device:
                raise ValueError("give a sweep file or --arch and its ranges, not both")
            spec = load_spec(args.file)
            overrides = {k: v for k, v in (("network", args.network), ("limit", args.limit),
                                           ("timeout", args.timeout)) if v is not None}
            spec = dataclasses.replace(spec, **overrides)
            name = Path(args.file).stem
        elif args.arch:
            spec = from_ranges(args.arch, args.device or ["ice40"], args.network or "reference", args.limit,
                               3600.0 if args.timeout is None else args.timeout, **grid_args)
            name = "cli"
        else:
            raise ValueError("nothing to sweep: give a sweep file or --arch (see --help)")
        if args.jobs is not None and args.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
        out = Path(args.out) if args.out else ROOT / "build" / "sweep" / name
        print(f"sweep: {len(spec.points)} points on {spec.network}"
              + (f" via the Dask scheduler {args.scheduler}" if args.scheduler else
                 f", {args.jobs or os.cpu_count()} local workers"), flush=True)
        records = run_sweep(spec, out, work=Path(args.work) if args.work else WORK, jobs=args.jobs,
                            scheduler=args.scheduler, log=lambda m: print(m, flush=True))
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write((out / "results.md").read_text())
    bad = [r for r in records if r["status"] != "ok"]
    print(f"{len(records) - len(bad)} of {len(records)} points ok"
          + (f"; {len(bad)} failed or timed out (their errors are in the table)" if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
