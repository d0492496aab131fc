"""Depthwise convolutions on the layer engine: what they cost in cycles and in area (docs/array.md,
"Depthwise convolutions").

``python -m fpga.depthwise_report [--arch A ...] [--synth-arch A ...] [--no-synth]`` writes
``build/reports/depthwise.json`` and ``depthwise.md``:

* **cycles**, every architecture of :data:`hw.array.archs.ARCHS` (or ``--arch``) on 4 x 4 PEs: the cycle
  model (:func:`golden.array.engine_cycles`, the count the RTL's ``cycles`` counter gives, which
  ``make test`` checks on a slice of the same layer) of EfficientNet-Lite0's whole depthwise
  ``_blocks.8._depthwise_conv`` (480 channels, 5 x 5, 14 x 14 outputs; the method's weights from
  :meth:`~hw.array.archs.Arch.prepare_depthwise`), beside the block's own 1 x 1 expansion
  ``_blocks.8._expand_conv`` (:func:`fpga.array_report.whole_layer_cycles`), as MACs per cycle and as
  ratios to the Stripes arrays (``stripes8``: equal lanes; ``stripes``: equal weights per pass);
* **area**, the ``--synth-arch`` architectures (default: all; about 10 minutes): ECP5 LUT4 and FF of
  the registered 4 x 4 engine (:data:`fpga.registry.ENGINE_BUFFERS`) built with and without
  ``ArrayConfig(depthwise=True)`` (:func:`fpga.array_report.ecp5_area_full`; the engine without it is
  ``make synth``'s, read from its cache when there; the rest is kept in ``build/depthwise_cache.json``).
  ``--no-synth`` skips it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from golden.array import ArrayConfig, engine_cycles
from golden.check import check_choice
from golden.pretrained import pretrained_depthwise
from hw.array.archs import ARCHS
from hw.array.images import depthwise_passes, layer_steps

from fpga import array_report as ar

__all__ = ["depthwise_cycles", "depthwise_area", "cycles_table", "area_table", "markdown", "main"]

SHAPE = (4, 4)
SYNTH_ARCHS = tuple(sorted(ARCHS))
EXPAND = "_blocks.8._expand_conv"


def depthwise_cycles(arch: str, rows: int = SHAPE[0], cols: int = SHAPE[1]) -> dict:
    """The whole real depthwise layer on ``rows x cols`` PEs of ``arch``: ``{"cycles", "compute_only",
    "macs", "macs_per_cycle", "steps_per_pass"}`` (the mean over passes of the slowest row's steps) and
    the expansion's ``expand_macs_per_cycle``."""
    a = ARCHS[check_choice("arch", arch, ARCHS)]
    layer = pretrained_depthwise()
    pe = a.make_pe()
    w = a.prepare_depthwise(layer.q)
    _, w_passes = depthwise_passes(w, pe.input_lanes)
    steps = layer_steps(pe, w, w_passes)
    cfg = ArrayConfig(rows=rows, cols=cols, depthwise=True)
    cyc = engine_cycles(steps, config=cfg, out_size=layer.out_size, latency=pe.latency)
    C, _, KH, KW = layer.q.shape
    macs = C * KH * KW * int(np.prod(layer.out_size))
    kt = -(-C // rows)
    slowest = np.pad(steps, ((0, kt * rows - C), (0, 0)), mode="edge").reshape(kt, rows, -1).max(axis=1)
    expand = ar.whole_layer_cycles(arch, rows, cols, EXPAND)
    return {"cycles": cyc.compute, "compute_only": cyc.compute_only, "macs": macs,
            "macs_per_cycle": macs / cyc.compute, "steps_per_pass": float(slowest.mean()),
            "expand_macs_per_cycle": expand["macs_per_cycle"]}


def depthwise_area(arch: str, cache=None, work=ar.WORK) -> dict:
    """ECP5 area of the registered 4 x 4 engine of ``arch`` without and with depthwise convolutions:
    ``{"without": {...}, "with": {...}}`` (``lut4``, ``ff``, ``bram``, ``dsp``). The engine without is
    ``make synth``'s: its result is read from ``docs/array_cache.json`` when there; ``cache`` (an
    :class:`fpga.array_report.Cache`) keeps the rest."""
    base = ar.Engine(arch, *SHAPE, "registry", work=work)
    dw = ar.Engine(arch, *SHAPE, "registry", work=work)
    dw.config = dataclasses.replace(base.config, depthwise=True)
    dw.top, dw.work = base.top + "_dw", base.work.with_name(base.name + "_dw")
    out = {}
    for name, e in (("without", base), ("with", dw)):
        key = e.step_key("ecp5_area")
        area = ar.Cache(ar.CACHE).get(key) if name == "without" else None
        if area is None:
            area = ar._cached(cache, key, f"{e.top}: ECP5 synthesis",
                              lambda e=e: ar.ecp5_area_full(e.top, e.make, e.work / "ecp5_area"))
        out[name] = {k: area[k] for k in ("lut4", "ff", "bram", "dsp")}
    return out


def cycles_table(report: dict) -> str:
    """The cycles of every architecture on the whole depthwise layer, with ratios to the Stripes arrays."""
    cyc = report["cycles"]
    ref8, ref16 = (cyc.get(b, {}).get("macs_per_cycle") for b in ("stripes8", "stripes"))
    lines = ["| arch | cycles | steps per pass | MACs/cycle | vs stripes8 | vs stripes | expansion MACs/cycle |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for arch, c in cyc.items():
        r8 = f"{c['macs_per_cycle'] / ref8:.2f}x" if ref8 else "n/a"
        r16 = f"{c['macs_per_cycle'] / ref16:.2f}x" if ref16 else "n/a"
        lines.append(f"| {arch} | {c['cycles']:,} | {c['steps_per_pass']:.2f} | {c['macs_per_cycle']:.2f} | {r8} | "
                     f"{r16} | {c['expand_macs_per_cycle']:.2f} |")
    return "\n".join(lines) + "\n"


def area_table(report: dict) -> str:
    """ECP5 LUT4 and FF of the 4 x 4 engines without and with depthwise convolutions."""
    lines = ["| arch | LUT4 without | LUT4 with | added | FF without | FF with |", "|---|---:|---:|---:|---:|---:|"]
    for arch, a in report.get("area", {}).items():
        w, d = a["without"], a["with"]
        lines.append(f"| {arch} | {w['lut4']:,} | {d['lut4']:,} | {d['lut4'] - w['lut4']:+,} | {w['ff']:,} | "
                     f"{d['ff']:,} |")
    return "\n".join(lines) + "\n"


def markdown(report: dict) -> str:
    out = (f"`{report['layer']}` ({report['layer_shape']}, {report['macs']:,} MACs) on {SHAPE[0]} x {SHAPE[1]} "
           f"PEs (cycle model), beside the block's 1 x 1 expansion:\n\n" + cycles_table(report))
    if report.get("area"):
        out += "\nECP5 area of the 4 x 4 engine without and with depthwise convolutions:\n\n" + area_table(report)
    return out


def main(argv=None, prog: str = "python -m fpga.depthwise_report") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", action="append", choices=sorted(ARCHS), help="architectures for the cycles "
                    "(default: all)")
    ap.add_argument("--synth-arch", action="append", choices=sorted(ARCHS),
                    help="architectures for the area (default: all)")
    ap.add_argument("--no-synth", action="store_true", help="the cycles only")
    ap.add_argument("--reports", default=str(ar.REPORTS))
    args = ap.parse_args(argv)
    layer = pretrained_depthwise()
    report = {"layer": layer.name, "layer_shape": f"{layer.q.shape[0]} channels, "
              f"{layer.q.shape[2]} x {layer.q.shape[3]}, {layer.out_size[0]} x {layer.out_size[1]} outputs",
              "shape": list(SHAPE), "cycles": {}}
    for arch in args.arch or sorted(ARCHS):
        report["cycles"][arch] = depthwise_cycles(arch)
        ar.log(f"{arch}: {report['cycles'][arch]['cycles']:,} cycles")
    report["macs"] = next(iter(report["cycles"].values()))["macs"]
    if not args.no_synth:
        cache = ar.Cache(ar.ROOT / "build" / "depthwise_cache.json")
        report["area"] = {a: depthwise_area(a, cache) for a in args.synth_arch or SYNTH_ARCHS}
    out = Path(args.reports)
    out.mkdir(parents=True, exist_ok=True)
    (out / "depthwise.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "depthwise.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
