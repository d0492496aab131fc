"""Speed and memory of the golden model on a ResNet-50-sized network (``make bench``).

Run ``python -m golden.bench [--out PATH] [--scale F] [--only NAME[,NAME...]]``. It writes a JSON list,
one object per method, ``{"name", "weights", "seconds", "weights_per_s", "peak_rss_mb"}``, to
``build/reports/bench.json`` by default, and prints a table.

The network has the **real ResNet-50 (v1.5, torchvision) layer shapes** (:data:`RESNET50_LAYERS`):
conv1 64x3x7x7; four stages of bottleneck blocks (3, 4, 6, 3 blocks; widths 64, 128, 256, 512;
expansion 4) each with conv1 1x1, conv2 3x3, conv3 1x1 and a 1x1 downsample in the first block; and
fc 1000x2048: 53 convolutions plus the fc, 25,502,912 weights (BN and biases excluded). The values
are Laplace-distributed (scale ``1/sqrt(fan_in)``, seeded per layer) and quantized per channel to INT8
with :func:`golden.quant.quantize`. ``--scale F`` keeps ``max(1, round(F*K))`` output channels of every
layer (the input channels are kept, so every grouping still works), for a quick smoke run.

Each method runs over the whole network in a **fresh subprocess** (``python -m golden.bench --one
NAME``): the time is ``time.perf_counter`` around the loop over the layers only (building and quantizing
the inputs is not timed, except for ``quantize`` itself whose input is the float weights), and the peak
RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that child, i.e. the inputs plus the method's own
working memory, not polluted by the other methods.

Methods: ``quantize``; ``bbs.round_average`` (N = 2, G = 32); ``bbs.zero_point_shift`` (N = 4, G = 32,
6-bit constants, all 64 candidates, ``mode="paper"``); ``bitbalance.project`` (k = 3);
``ebsp.project`` (window = 3); the Bitlet cycle model (``bitlet.pass_cycles`` on every 64-pair group,
through :func:`golden.cycles.layer_cycles`); and the Stripes, Pragmatic and bit-parallel cycle models.
A method whose module is not importable is reported as skipped and left out of the JSON.

Goals (reported, not asserted): zero_point_shift <= 15 s, round_average <= 2 s, other projections
<= 5 s, peak memory <= 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .check import check_choice

__all__ = ["RESNET50_LAYERS", "resnet50_layers", "METHODS", "GOALS", "run_one", "main"]


def resnet50_layers() -> list[tuple[str, tuple[int, ...], tuple[int, int] | None]]:
    """``(name, weight shape, output size)`` of every conv/fc layer of ResNet-50 v1.5 at 224x224.

    conv1 64x3x7x7 -> 112x112; then (after a 3x3/2 max pool to 56x56) per stage ``s`` with ``planes``
    p and ``blocks`` n: block 0 = conv1 p x in x1x1, conv2 p x p x3x3 (stride 2 from stage 2 on, v1.5),
    conv3 4p x p x1x1, downsample 4p x in x1x1; blocks 1..n-1 = conv1 p x 4p x1x1, conv2, conv3.
    Stages: (64, 3, 56x56), (128, 4, 28x28), (256, 6, 14x14), (512, 3, 7x7). fc 1000x2048 (output
    size ``None``: one token).
    """
    layers: list[tuple[str, tuple[int, ...], tuple[int, int] | None]] = [("conv1", (64, 3, 7, 7), (112, 112))]
    inplanes, in_hw = 64, 56
    for stage, (planes, blocks, hw) in enumerate([(64, 3, 56), (128, 4, 28), (256, 6, 14), (512, 3, 7)], 1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            conv1_hw = in_hw if b == 0 else hw
            layers.append((f"{p}.conv1", (planes, inplanes, 1, 1), (conv1_hw, conv1_hw)))
            layers.append((f"{p}.conv2", (planes, planes, 3, 3), (hw, hw)))
            layers.append((f"{p}.conv3", (planes * 4, planes, 1, 1), (hw, hw)))
            if b == 0:
                layers.append((f"{p}.downsample", (planes * 4, inplanes, 1, 1), (hw, hw)))
            inplanes = planes * 4
        in_hw = hw
    layers.append(("fc", (1000, 2048), None))
    return layers


RESNET50_LAYERS = resnet50_layers()

GOALS = {  # seconds
    "zero_point_shift": 15.0, "round_average": 2.0, "bitbalance_project": 5.0, "ebsp_project": 5.0,
}
GOAL_RSS_MB = 4096.0


def _scaled(scale: float):
    for i, (name, shape, out) in enumerate(RESNET50_LAYERS):
        k = max(1, int(round(shape[0] * scale)))
        yield i, name, (k,) + shape[1:], out


def float_layers(scale: float = 1.0):
    """Yield ``(name, float weights, out_size)``; Laplace, scale ``1/sqrt(fan_in)``, seed = layer index."""
    for i, name, shape, out in _scaled(scale):
        fan_in = int(np.prod(shape[1:]))
        rng = np.random.default_rng(1000 + i)
        yield name, rng.laplace(0.0, 1.0 / np.sqrt(fan_in), size=shape), out


def int8_layers(scale: float = 1.0):
    """The float layers quantized per channel to INT8 (the floats are not kept)."""
    from .quant import quantize
    return [(name, quantize(w, bits=8)[0], out) for name, w, out in float_layers(scale)]


def _cycles(arch, **kw):
    def run(layers):
        from .cycles import layer_cycles
        total = 0
        for _, q, out in layers:
            spatial = {"tokens": 1} if out is None else {"out_size": out}
            total += layer_cycles(arch, q, **spatial, **kw)
        return total
    return run


def _per_layer(fn_getter):
    def run(layers):
        fn = fn_getter()
        for _, q, _ in layers:
            fn(q)
    return run


def _quantize(layers):
    from .quant import quantize
    for _, w, _ in layers:
        quantize(w, bits=8)


def _round_average():
    from . import bbs
    return lambda q: bbs.round_average(q, bits=8, group=32, pruned=2)


def _zero_point_shift():
    from . import bbs
    return lambda q: bbs.zero_point_shift(q, bits=8, group=32, pruned=4, const_bits=6, mode="paper")


def _bitbalance():
    from . import bitbalance
    return lambda q: bitbalance.project(q, bits=8, k=3)


def _ebsp():
    from . import ebsp
    return lambda q: ebsp.project(q, bits=8, window=3)


# name -> (input kind, runner); the module a runner needs is imported inside it
METHODS = {
    "quantize": ("float", _quantize),
    "round_average": ("int8", _per_layer(_round_average)),
    "zero_point_shift": ("int8", _per_layer(_zero_point_shift)),
    "bitbalance_project": ("int8", _per_layer(_bitbalance)),
    "ebsp_project": ("int8", _per_layer(_ebsp)),
    "bitlet_cycles": ("int8", _cycles("bitlet")),
    "stripes_cycles": ("int8", _cycles("stripes")),
    "pragmatic_cycles": ("int8", _cycles("pragmatic")),
    "parallel_cycles": ("int8", _cycles("parallel")),
}

_MODULE_OF = {"round_average": "bbs", "zero_point_shift": "bbs", "bitbalance_project": "bitbalance",
              "ebsp_project": "ebsp", "bitlet_cycles": "bitlet"}


def run_one(name: str, scale: float) -> dict:
    """Run one method in this process; return its result object (or ``{"name", "skipped"}``)."""
    check_choice("name", name, METHODS)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ValueError(f"scale must be a number in (0, 1], got {scale!r}")
    kind, runner = METHODS[name]
    mod = _MODULE_OF.get(name)
    if mod is not None:
        try:
            __import__(f"golden.{mod}")
        except ImportError as exc:
            return {"name": name, "skipped": f"golden.{mod} is not importable: {exc}"}
    layers = list(float_layers(scale)) if kind == "float" else int8_layers(scale)
    weights = int(sum(w.size for _, w, _ in layers))
    t0 = time.perf_counter()
    runner(layers)
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB
    return {"name": name, "weights": weights, "seconds": seconds,
            "weights_per_s": weights / seconds if seconds > 0 else float("inf"), "peak_rss_mb": rss_mb}


_TAG = "BENCH_RESULT "


def run_child(module: str, args: list[str], tag: str, what: str) -> dict:
    """Run ``python -m module args`` in a fresh process (from the project root) and return the JSON it
    prints after ``tag``; ``what`` names the run in errors (used by golden.bench and golden.membench)."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=root, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith(tag):
            return json.loads(line[len(tag):])
    raise RuntimeError(f"{what} printed no result:\n{proc.stdout[-2000:]}")


def _run_child(name: str, scale: float) -> dict:
    return run_child("golden.bench", ["--one", name, "--scale", repr(scale)], _TAG, f"bench method {name!r}")


def _table(results: list[dict], skipped: list[dict]) -> str:
    lines = [f"{'method':<20} {'weights':>11} {'seconds':>9} {'Mweights/s':>11} {'peak MB':>9}  goal"]
    for r in results:
        goal = GOALS.get(r["name"])
        notes = []
        if goal is not None:
            notes.append(f"<= {goal:g} s {'ok' if r['seconds'] <= goal else 'MISSED'}")
        if r["peak_rss_mb"] > GOAL_RSS_MB:
            notes.append(f"memory > {GOAL_RSS_MB:g} MB")
        lines.append(f"{r['name']:<20} {r['weights']:>11,} {r['seconds']:>9.3f} "
                     f"{r['weights_per_s'] / 1e6:>11.2f} {r['peak_rss_mb']:>9.1f}  {'; '.join(notes)}")
    for s in skipped:
        lines.append(f"{s['name']:<20} skipped: {s['skipped']}")
    return "\n".join(lines)


def main(argv=None, prog: str = "python -m golden.bench") -> int:
    default_out = Path(__file__).resolve().parents[1] / "build" / "reports" / "bench.json"
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=default_out, help=f"JSON output (default {default_out})")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="fraction of each layer's output channels to keep, in (0, 1] (default 1)")
    ap.add_argument("--only", default=None,
                    help=f"comma-separated methods to run, from: {', '.join(METHODS)}")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)   # internal: run in this process
    args = ap.parse_args(argv)
    if not (0.0 < args.scale <= 1.0):
        ap.error(f"--scale must be in (0, 1], got {args.scale}")
    if args.one is not None:
        if args.one not in METHODS:
            ap.error(f"--one must be one of {', '.join(METHODS)}, got {args.one!r}")
        print(_TAG + json.dumps(run_one(args.one, args.scale)), flush=True)
        return 0
    names = list(METHODS) if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    bad = [n for n in names if n not in METHODS]
    if bad or not names:
        ap.error(f"--only must list methods from {', '.join(METHODS)}, got {args.only!r}")
    results, skipped = [], []
    for name in names:
        r = _run_child(name, args.scale)
        (skipped if "skipped" in r else results).append(r)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(_table(results, skipped))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
