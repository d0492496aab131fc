"""Each method applied to a whole network's weights, with a per-layer policy (docs/networks.md, "Methods on
a whole network").

:func:`compress` takes a network's float weights (``name -> [K, C]`` linear or ``[K, C, kh, kw]``
convolution, ``C`` the input channels *per group*, so a depthwise convolution has ``C = 1``), quantizes
every layer (a 1-D convolution's ``[K, C, k]`` runs as ``[K, C, 1, k]``) to INT8 per output channel (:func:`golden.quant.quantize`) and applies one method of
:data:`METHODS` to it with the papers' settings. It returns, per layer, the integer weights the hardware
multiplies (with the INT8 scales: ``weight ~ q * scale``), the bits per weight the method's stored format
takes, and the policy that was applied; per network, the totals.

The policy (a choice, the same for every network):

* **BBS** (``bbs_*``) and **BitWave** (``bitwave_*``) work on groups of input channels. A layer keeps the
  method's group (32 for BBS, 16 for BitWave) when its ``C`` is a multiple of it or smaller than it and
  at least 8; otherwise it takes the largest of 16 and 8 that divides ``C`` (``group 16``, ``group 8`` in
  the report: more metadata per weight, no padding); a layer with ``C < 8`` or no such divisor (the
  stem, ``C = 3``; depthwise, ``C = 1``) stays INT8 (``int8: C = 3``), stored at 8 bits and run dense.
  Sensitive channels (``beta`` of them, Algorithm 2, :func:`golden.bbs.select_sensitive` with tiles of
  32 channels) are chosen across the layers the method applies to only: a layer kept INT8 is all INT8
  already, and counting its channels would spend the budget there.
* **Bit-balance** (``bitbalance_k*``), **EBSP** (``ebsp_w*``) and **Bitlet** (``bitlet``) work per weight
  and apply to every layer. Bitlet is lossless (the INT8 weights, 8 bits).
* **INT8** (``int8``) is the baseline every ratio is taken to.

Bits per weight are those of each method's stored format: BBS the length of
:meth:`golden.bbs.BBSEncoded.to_bytes` (metadata included; sensitive channels at 8 bits); BitWave
:func:`golden.bitwave.bits_per_weight`; Bit-balance and EBSP their configurations' ``encoded_bits``
(one code word per weight); INT8 and Bitlet 8. For BBS every layer's weights go through
:func:`golden.bbs.encode` and :func:`golden.bbs.decode`, so the weights the engine computes with are the
ones the format stores. ZPS in the authors' reference mode (``bbs_mod_ref``) can leave groups that the
format has no code for (docs/bbs.md); such a layer is reported with ``encodable=False`` and its bits per
weight counted from the layout (:func:`golden.bbs.bits_per_weight` of the metadata).

Memory: one layer's INT8 copy and the method's outputs at a time besides the results kept (the integer
weights of every layer, int64: eight times the INT8 model).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from golden import bbs, bitbalance, bitwave, ebsp
from golden.check import check_choice, check_float_array
from golden.quant import quantize

__all__ = ["Method", "METHODS", "LayerResult", "NetworkResult", "compress", "layer_group", "save", "summary",
           "main"]


@dataclass(frozen=True)
class Method:
    """One method at one setting: ``family`` in int8, bbs, bitwave, bitbalance, ebsp, bitlet; ``params`` its
    settings; ``arch`` the architecture of :mod:`golden.cycles` that runs it (None: no cycle model here);
    ``label`` how tables name it."""
    name: str
    family: str
    label: str
    params: Mapping = field(default_factory=dict)
    arch: str | None = None


def _m(name, family, label, arch, **params):
    return name, Method(name, family, label, MappingProxyType(params), arch)


#: The methods with the papers' settings, in report order.
METHODS = MappingProxyType(dict([
    _m("int8", "int8", "INT8", "stripes"),
    _m("bbs_cons", "bbs", "BBS cons (RA, N = 2, 10 % INT8)", "bitvert", prune="ra", pruned=2, beta=0.1),
    _m("bbs_mod", "bbs", "BBS mod (ZPS paper, N = 4, 20 % INT8)", "bitvert", prune="zps", pruned=4,
       beta=0.2, mode="paper", const_bits=6),
    _m("bbs_mod_ref", "bbs", "BBS mod (ZPS reference code, CB = 5)", "bitvert", prune="zps", pruned=4,
       beta=0.2, mode="reference", const_bits=5),
    _m("bitwave_n2", "bitwave", "BitWave bit flip (N = 2, 10 % INT8)", None, pruned=2, beta=0.1),
    _m("bitwave_n4", "bitwave", "BitWave bit flip (N = 4, 20 % INT8)", None, pruned=4, beta=0.2),
    _m("bitbalance_k2", "bitbalance", "Bit-balance k = 2", "bitbalance", k=2),
    _m("bitbalance_k3", "bitbalance", "Bit-balance k = 3", "bitbalance", k=3),
    _m("bitbalance_k4", "bitbalance", "Bit-balance k = 4", "bitbalance", k=4),
    _m("ebsp_w3", "ebsp", "EBSP window 3", "ebsp", window=3),
    _m("ebsp_w4", "ebsp", "EBSP window 4", "ebsp", window=4),
    _m("ebsp_w5", "ebsp", "EBSP window 5", "ebsp", window=5),
    _m("bitlet", "bitlet", "Bitlet (lossless)", "bitlet"),
]))

_GROUP = {"bbs": 32, "bitwave": 16}
#: the per-weight methods: module (project, encode, pack, unpack, decode), configuration, parameter
_PER_WEIGHT = {"bitbalance": (bitbalance, bitbalance.BitBalanceConfig, "k"), "ebsp": (ebsp, ebsp.EBSPConfig, "window")}
_SMALLER_GROUPS = (16, 8)
_TILE = 32                      # sensitive channels are chosen in tiles of 32 output channels (Algorithm 2)


@dataclass(frozen=True, eq=False)
class LayerResult:
    """One layer under one method.

    ``q``: int64 weights the hardware multiplies (the layer's shape); ``scales``: float64 ``[K]``, the INT8
    per-channel scales (``weight ~ q * scales``); ``bits_per_weight``: of the stored format; ``policy``:
    ``"method"``, ``"group 16"``, ``"group 8"`` or ``"int8: C = <C>"``; ``group``: the group used (0 if
    none); ``sensitive``: bool ``[K]`` of INT8 channels (BBS, BitWave) or None; ``encodable``: False
    when the stored format has no code for some group (reference-mode ZPS); ``error``: the squared error
    of ``q`` to the INT8 weights, summed."""
    name: str
    shape: tuple
    q: np.ndarray
    scales: np.ndarray
    bits_per_weight: float
    policy: str
    group: int = 0
    sensitive: np.ndarray | None = None
    encodable: bool = True
    error: int = 0

    @property
    def n_weights(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True, eq=False)
class NetworkResult:
    """A network under one method: ``layers`` in the order given; the totals as properties."""
    method: Method
    layers: tuple

    @property
    def n_weights(self) -> int:
        return sum(r.n_weights for r in self.layers)

    @property
    def bits(self) -> float:
        return sum(r.bits_per_weight * r.n_weights for r in self.layers)

    @property
    def bits_per_weight(self) -> float:
        return self.bits / self.n_weights

    @property
    def compression(self) -> float:
        """Size of the INT8 network (8 bits a weight) over this one's."""
        return 8 * self.n_weights / self.bits


def layer_group(c: int, group: int) -> tuple[int, str]:
    """The group a grouped method uses for a layer with ``c`` input channels per group, and the policy's
    name for it (module docstring): ``(group, "method")``, ``(16 or 8, "group 16" / "group 8")``, or
    ``(0, "int8: C = <c>")``."""
    if c % group == 0 or 8 <= c < group:
        return min(c, group), "method"
    for g in _SMALLER_GROUPS:
        if g < group and c % g == 0:
            return g, f"group {g}"
    return 0, f"int8: C = {c}"


def _check_weights(weights) -> dict:
    if not isinstance(weights, Mapping) or not weights:
        raise TypeError(f"weights must be a non-empty mapping of layer name -> float array, "
                        f"got {type(weights).__name__}")
    out = {}
    for name, w in weights.items():
        a = check_float_array(f"weights[{name!r}]", w, ndim=(2, 3, 4))
        if a.size == 0:
            raise ValueError(f"weights[{name!r}] must not be empty, got shape {a.shape}")
        out[name] = a
    return out


def compress(weights, method: str, *, progress=None) -> NetworkResult:
    """Apply ``method`` (a key of :data:`METHODS`) to every layer of ``weights`` (module docstring).

    ``weights``: mapping ``name -> float array`` (``[K, C]``, ``[K, C, k]`` or ``[K, C, kh, kw]``, finite),
    in network order; ``progress``: optional callable, called with each layer's name once it is done.
    Returns a :class:`NetworkResult`."""
    method = METHODS[check_choice("method", method, METHODS)]
    layers = _check_weights(weights)
    progress = progress or (lambda name: None)
    quantized = {name: quantize(w[:, :, None] if w.ndim == 3 else w, bits=8, per_channel=True)
                 for name, w in layers.items()}
    fam, p = method.family, method.params
    if fam in _GROUP:
        plans = {name: layer_group(q.shape[1], _GROUP[fam]) for name, (q, _) in quantized.items()}
        applied = {name: s for name, (q, s) in quantized.items() if plans[name][0]}
        sensitive = bbs.select_sensitive(applied, beta=p["beta"], channels_per_tile=_TILE) if applied else {}
    results = []
    for name, (q, scales) in quantized.items():
        if results:
            progress(results[-1].name)
        if fam in ("int8", "bitlet"):
            results.append(LayerResult(name, q.shape, q, scales, 8.0, "method"))
        elif fam in _PER_WEIGHT:
            module, config, key = _PER_WEIGHT[fam]
            arg = {key: p[key]}
            # projected, then through the stored code word and back: the weights the format holds
            stored = module.decode(module.unpack(module.pack(module.encode(module.project(q, **arg), **arg)), **arg))
            results.append(LayerResult(name, q.shape, stored, scales, float(config(**arg).encoded_bits), "method",
                                       error=_sq(stored, q)))
        else:
            g, policy = plans[name]
            if not g:
                results.append(LayerResult(name, q.shape, q, scales, 8.0, policy))
                continue
            sens = sensitive[name]
            if fam == "bitwave":
                flipped = bitwave.bit_flip(q, group=g, pruned=p["pruned"])
                out = np.where(_channel_mask(sens, q.ndim), q, flipped)
                # the INT8 channels are stored like the others: their columns, the mask
                results.append(LayerResult(name, q.shape, out, scales, bitwave.bits_per_weight(out, group=g),
                                           policy, g, sens, error=_sq(out, q)))
                continue
            results.append(_bbs_layer(name, q, scales, g, policy, sens, p))
    progress(results[-1].name)
    shapes = {name: w.shape for name, w in layers.items()}
    return NetworkResult(method, tuple(r if r.shape == shapes[r.name] else      # conv1d back to [K, C, k]
                                       dataclasses.replace(r, shape=shapes[r.name], q=r.q.reshape(shapes[r.name]))
                                       for r in results))


def _channel_mask(sens, ndim):
    return sens.reshape((-1,) + (1,) * (ndim - 1))


def _sq(a, b) -> int:
    d = (a - b).ravel()
    return int(d @ d)


def _bbs_layer(name, q, scales, g, policy, sens, p) -> LayerResult:
    if p["prune"] == "ra":
        pruned, meta = bbs.round_average(q, group=g, pruned=p["pruned"])
    else:
        pruned, meta = bbs.zero_point_shift(q, group=g, pruned=p["pruned"], const_bits=p["const_bits"],
                                            mode=p["mode"])
    w = np.where(_channel_mask(sens, q.ndim), q, pruned)
    try:
        encoded = bbs.encode(w, meta, sensitive=sens)
    except ValueError:
        if p.get("mode") != "reference":
            raise
        return LayerResult(name, q.shape, w, scales, bbs.bits_per_weight(meta, sensitive=sens), policy, g,
                           sens, encodable=False, error=_sq(w, q))
    stored = bbs.decode(encoded)
    return LayerResult(name, q.shape, stored, scales, bbs.bits_per_weight(encoded), policy, g, sens,
                       error=_sq(stored, q))


def save(result: NetworkResult, path) -> None:
    """Write ``result`` to ``path`` (``.npz``): per layer ``<name>.q`` (int16: every method's integers fit)
    and ``<name>.scales`` (float64; ``weight ~ q * scales``), and ``<name>.sensitive`` where the method has
    INT8 channels; ``method`` names the method."""
    arrays = {"method": np.array(result.method.name)}
    for r in result.layers:
        arrays[f"{r.name}.q"] = r.q.astype(np.int16)
        arrays[f"{r.name}.scales"] = r.scales
        if r.sensitive is not None:
            arrays[f"{r.name}.sensitive"] = r.sensitive
    np.savez_compressed(path, **arrays)


def summary(result: NetworkResult, source: str = "") -> dict:
    """A JSON-ready summary of ``result``: totals and, per layer, shape, policy, group, bits per weight,
    sensitive channels and the squared error to the INT8 weights."""
    return {"source": source, "method": result.method.name, "label": result.method.label,
            "weights": result.n_weights, "bits_per_weight": result.bits_per_weight,
            "compression": result.compression,
            "layers": [{"name": r.name, "shape": list(r.shape), "policy": r.policy, "group": r.group,
                        "bits_per_weight": r.bits_per_weight,
                        "sensitive": None if r.sensitive is None else int(r.sensitive.sum()),
                        "encodable": r.encodable, "squared_error_to_int8": r.error} for r in result.layers]}


def main(argv=None, prog: str = "python -m network.compress") -> int:
    """Compress a weights file (PyTorch, safetensors or ONNX; :func:`network.layers.load_layers`) with one
    method: ``MODEL --method M [-o OUT.npz] [--json OUT.json]``; prints the totals and a table per layer."""
    import argparse
    import json
    import os
    from pathlib import Path

    from tqdm import tqdm

    from .layers import load_layers

    ap = argparse.ArgumentParser(prog=prog, description="Compress a model's conv and linear weights with one "
                                 "method (network/compress.py): the integer weights and scales to an .npz, "
                                 "the sizes and policies to JSON.")
    ap.add_argument("model", help="a .pt/.pth state dict, a .safetensors file or an .onnx model")
    ap.add_argument("--method", required=True, help=f"one of {', '.join(METHODS)}")
    ap.add_argument("-o", "--output", help="the compressed weights (.npz; default <model>.<method>.npz)")
    ap.add_argument("--json", help="the summary (default <output without .npz>.json)")
    args = ap.parse_args(argv)
    try:
        check_choice("--method", args.method, METHODS)
        loaded = load_layers(args.model)
        if not loaded.layers:
            raise ValueError(f"{args.model}: no conv or linear layer found")
        out = Path(args.output or f"{os.path.splitext(args.model)[0]}.{args.method}.npz")
        if out.suffix != ".npz":
            raise ValueError(f"-o must name an .npz file, got {os.fspath(out)!r}")
        if out.is_dir() or not out.parent.is_dir():
            raise ValueError(f"-o {os.fspath(out)!r}: not a file in an existing folder")
        js = Path(args.json or out.with_suffix(".json"))
        weights = {layer.name: layer.weight for layer in loaded.layers}
        with tqdm(total=len(weights), unit="layer", desc=args.method, disable=None) as bar:
            result = compress(weights, args.method, progress=lambda name: bar.update(1))
        save(result, out)
        js.write_text(json.dumps(summary(result, os.fspath(args.model)), indent=1) + "\n")
    except (ValueError, TypeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.model}: {len(result.layers)} layers, {result.n_weights:,} weights; {result.method.label}: "
          f"{result.bits_per_weight:.3f} bits per weight, {result.compression:.3f}x smaller than INT8")
    for r in result.layers:
        sens = "" if r.sensitive is None else f", {int(r.sensitive.sum())} INT8 channels"
        print(f"  {r.name:40s} {str(list(r.shape)):22s} {r.policy:14s} {r.bits_per_weight:6.3f} bits{sens}")
    if loaded.skipped:
        print(f"  not layers: {len(loaded.skipped)} tensors ({', '.join(loaded.skipped_names[:4])}"
              f"{', ...' if len(loaded.skipped) > 4 else ''})")
    print(f"wrote {out} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
