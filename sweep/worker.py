"""One sweep task in its own process: ``python -m sweep.worker TASK.json RESULT.json`` (:mod:`sweep.run`).

A task is ``{"kind": "hardware", "point": {...}, "work": DIR}`` (:func:`sweep.points.hardware`) or
``{"kind": "network", "network", "limit", "method", "requests", "work"}``
(:func:`sweep.points.network_figures`, its result kept in ``<work>/network/<key>.json`` and read from there
when the key matches). The result file gets ``{"status": "ok", "result": ..., "tool_runs": n, "cached":
bool}`` or ``{"status": "failed", "error": "<exception type>: <message>"}``; the exit status is 0 either
way, so a non-zero exit means the process died (killed, out of memory) and :mod:`sweep.run` retries it.

``BITSPARSE_SWEEP_KILL_ONCE=DIR`` (fault injection for the tests and for trying a cluster's retries):
the first run of each task in ``DIR`` kills its own process with SIGKILL, as a lost worker would end.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import traceback
from pathlib import Path

__all__ = ["run_task", "network_key", "main"]


def network_key(task: dict) -> str:
    """The cache key of a network task: its request and :func:`sweep.points.source_digest`."""
    from sweep.points import source_digest
    request = {k: task[k] for k in ("network", "limit", "method", "requests")}
    return hashlib.sha256((json.dumps(request, sort_keys=True) + source_digest()).encode()).hexdigest()


def run_task(task: dict) -> dict:
    """Run one task in this process; return its result record (module docstring)."""
    import fpga.synth
    from sweep.points import hardware, network_figures
    from sweep.spec import Point
    work = Path(task["work"])
    if task["kind"] == "hardware":
        before = fpga.synth.TOOL_RUNS
        result = hardware(Point(**task["point"]), work)
        runs = fpga.synth.TOOL_RUNS - before
        return {"status": "ok", "result": result, "tool_runs": runs, "cached": runs == 0}
    key = network_key(task)
    path = work / "network" / f"{key}.json"
    if path.exists():
        return {"status": "ok", "result": json.loads(path.read_text()), "tool_runs": 0, "cached": True}
    result = network_figures(task["network"], task["limit"], task["method"], task["requests"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(path)
    return {"status": "ok", "result": result, "tool_runs": 0, "cached": False}


def _kill_once(task: dict) -> None:
    marks = os.environ.get("BITSPARSE_SWEEP_KILL_ONCE")
    if not marks:
        return
    mark = Path(marks) / hashlib.sha256(json.dumps(task, sort_keys=True).encode()).hexdigest()[:16]
    if not mark.exists():
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text("killed once\n")
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m sweep.worker TASK.json RESULT.json", file=sys.stderr)
        return 2
    task = json.loads(Path(argv[0]).read_text())
    _kill_once(task)
    try:
        out = run_task(task)
    except Exception as e:              # a failed point is a result, not a crash of the sweep
        traceback.print_exc()
        out = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
    Path(argv[1]).write_text(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
