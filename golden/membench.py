"""Peak memory of the golden model on one large tensor (``make bench``; docs/results.md, memory).

Run ``python -m golden.membench [--out PATH] [--weights N[,N...]] [--only NAME[,NAME...]]``. For every
method and every size ``N`` (default 2e7 and 5e7 weights) a **fresh subprocess** builds the input, resets
its peak-RSS counter (``/proc/self/clear_refs``), reads its resident set (the interpreter, NumPy and the
input: the baseline), runs the method once and reads the peak resident set (``VmHWM``) again. The figure is
the peak **above** that baseline, so it holds the method's outputs and every temporary it made. It is written,
with the input's own size (``nbytes`` of the arrays passed), their ratio and the time, to
``build/reports/memory.json`` (one object per method and size: ``{"name", "weights", "input_bytes",
"output_bytes", "peak_bytes", "ratio", "seconds", "bound_bytes"}``), and printed as a table.

The input is one convolution layer ``[K, 256, 3, 3]`` with ``K = N // 2304`` (``[N // 64, 64]`` for
``bitlet.dot_fixed``), int64 weights (what :func:`golden.quant.quantize` returns) or float64 for
``quantize``; ``bound_bytes`` is the bound the functions' docstrings state, :func:`golden.chunks.bound`
of that input and its outputs. Methods: ``quantize``; ``bbs.round_average`` (N = 2, G = 32);
``bbs.zero_point_shift`` (N = 4, 64 shifts); ``bbs.encode`` (of the round-average result);
``bitlet.dot_fixed`` (8-bit magnitudes, 64 pairs); :func:`golden.cycles.layer_cycles` for every
architecture (``bitvert`` unpruned, ``bitbalance`` with ``k = 7``, ``ebsp`` with ``window = 7``, so random
INT8 weights are valid for each).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["METHODS", "run_one", "main"]

_SHAPE_C, _SHAPE_HW = 256, 9


def _kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:      # "5": reset the peak RSS (VmHWM) to the current RSS
        f.write("5")


def _int8_conv(n: int, rng, lo: int = -127, hi: int = 127) -> np.ndarray:
    k = max(1, n // (_SHAPE_C * _SHAPE_HW))
    return rng.integers(lo, hi + 1, size=(k, _SHAPE_C, 3, 3), dtype=np.int64)


def _quantize(n, rng):
    k = max(1, n // (_SHAPE_C * _SHAPE_HW))
    w = rng.standard_normal(size=(k, _SHAPE_C, 3, 3))
    from .quant import quantize
    return (w,), lambda: quantize(w, bits=8)


def _round_average(n, rng):
    q = _int8_conv(n, rng)
    from .bbs import round_average
    return (q,), lambda: round_average(q, bits=8, group=32, pruned=2)


def _zero_point_shift(n, rng):
    q = _int8_conv(n, rng)
    from .bbs import zero_point_shift
    return (q,), lambda: zero_point_shift(q, bits=8, group=32, pruned=4, const_bits=6)


def _encode(n, rng):
    from .bbs import encode, round_average
    w, meta = round_average(_int8_conv(n, rng), bits=8, group=32, pruned=2)
    return (w, meta.original, meta.redundant, meta.constant, meta.error), lambda: encode(w, meta)


def _dot_fixed(n, rng):
    m = max(1, n // 64)
    w = rng.integers(-255, 256, size=(m, 64), dtype=np.int64)
    a = rng.integers(-128, 128, size=(m, 64), dtype=np.int64)
    from .bitlet import dot_fixed
    return (w, a), lambda: dot_fixed(w, a, bits=8)


def _cycles(arch, **kw):
    def setup(n, rng):
        q = _int8_conv(n, rng)
        from .cycles import layer_cycles
        return (q,), lambda: layer_cycles(arch, q, out_size=(14, 14), **kw)
    return setup


METHODS = {
    "quantize": _quantize,
    "round_average": _round_average,
    "zero_point_shift": _zero_point_shift,
    "encode": _encode,
    "dot_fixed": _dot_fixed,
    "cycles_pragmatic": _cycles("pragmatic"),
    "cycles_bitlet": _cycles("bitlet"),
    "cycles_bitvert": _cycles("bitvert"),
    "cycles_stripes": _cycles("stripes"),
    "cycles_parallel": _cycles("parallel"),
    "cycles_bitbalance": _cycles("bitbalance", k=7),
    "cycles_ebsp": _cycles("ebsp", window=7),
}


def _nbytes(result) -> int:
    """Bytes of the NumPy arrays in a result (arrays, tuples, dataclasses of arrays; shared memory once)."""
    seen, total, todo = set(), 0, [result]
    while todo:
        x = todo.pop()
        if isinstance(x, np.ndarray):
            base = x if x.base is None else x.base
            if id(base) not in seen and isinstance(base, np.ndarray):
                seen.add(id(base))
                total += base.nbytes
        elif isinstance(x, (tuple, list)):
            todo.extend(x)
        elif hasattr(x, "__dataclass_fields__"):
            todo.extend(getattr(x, f) for f in x.__dataclass_fields__)
    return total


def run_one(name: str, weights: int) -> dict:
    """Run one method in this process on ``weights`` weights; return its result object."""
    rng = np.random.default_rng(16)
    inputs, call = METHODS[name](weights, rng)
    input_bytes = sum(a.nbytes for a in inputs)
    n = int(inputs[0].size)
    _reset_peak()
    base = _kb("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    out = call()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _kb("VmHWM") - base
    from .chunks import bound
    output_bytes = _nbytes(out)
    return {"name": name, "weights": n, "input_bytes": input_bytes, "output_bytes": output_bytes,
            "peak_bytes": peak, "ratio": peak / input_bytes, "seconds": seconds, "cpu_seconds": cpu,
            "bound_bytes": bound(input_bytes, output_bytes)}


_TAG = "MEMBENCH_RESULT "


def _run_child(name: str, weights: int) -> dict:
    from .bench import run_child
    return run_child("golden.membench", ["--one", name, "--weights", str(weights)], _TAG,
                     f"membench method {name!r}")


def table(results: list[dict]) -> str:
    """The Markdown table of docs/results.md (memory section)."""
    lines = ["| method | weights | input (MB) | output (MB) | peak above input (MB) | peak / input | bound (MB) "
             "| seconds | CPU seconds |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['name']} | {r['weights']:,} | {r['input_bytes'] / 1e6:.0f} | "
                     f"{r['output_bytes'] / 1e6:.0f} | {r['peak_bytes'] / 1e6:.0f} | {r['ratio']:.2f} | "
                     f"{r['bound_bytes'] / 1e6:.0f} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    default_out = Path(__file__).resolve().parents[1] / "build" / "reports" / "memory.json"
    ap = argparse.ArgumentParser(prog="python -m golden.membench", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=default_out, help=f"JSON output (default {default_out})")
    ap.add_argument("--weights", default="20000000,50000000",
                    help="comma-separated tensor sizes in weights (default 20000000,50000000)")
    ap.add_argument("--only", default=None, help=f"comma-separated methods to run, from: {', '.join(METHODS)}")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)   # internal: run in this process
    args = ap.parse_args(argv)
    try:
        sizes = [int(float(s)) for s in args.weights.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--weights must be comma-separated integers, got {args.weights!r}")
    if not sizes or min(sizes) < 1:
        ap.error(f"--weights must be comma-separated positive integers, got {args.weights!r}")
    if args.one is not None:
        if args.one not in METHODS:
            ap.error(f"--one must be one of {', '.join(METHODS)}, got {args.one!r}")
        print(_TAG + json.dumps(run_one(args.one, sizes[0])), flush=True)
        return 0
    names = list(METHODS) if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    bad = [n for n in names if n not in METHODS]
    if bad or not names:
        ap.error(f"--only must list methods from {', '.join(METHODS)}, got {args.only!r}")
    results = []
    for n in sizes:
        for name in names:
            r = _run_child(name, n)
            results.append(r)
            print(f"{name:<18} {r['weights']:>11,} weights  peak {r['peak_bytes'] / 1e6:8.0f} MB "
                  f"({r['ratio']:.2f} x input)  {r['seconds']:6.2f} s ({r['cpu_seconds']:.2f} s CPU)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results), end="")
    print(f"wrote {args.out}")
    over = [r for r in results if r["peak_bytes"] > r["bound_bytes"]]
    for r in over:
        print(f"warning: {r['name']} at {r['weights']:,} weights peaked at {r['peak_bytes'] / 1e6:.0f} MB, above "
              f"its stated bound {r['bound_bytes'] / 1e6:.0f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
