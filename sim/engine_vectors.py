"""Vectors of the layer-engine bench (:mod:`sim.tb_layer`): images of :func:`hw.array.images.fc_layer`
and :func:`~hw.array.images.conv_layer` as the words the generated Verilog's ports take, and the real
EfficientNet-Lite0 layer slices the engine benches, the simulation-speed benchmark and the array
report run (:func:`real_layer_images`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from golden.array import conv_reference, depthwise_reference, fc_reference
from golden.bbs import BBSEncoded, decode
from golden.pretrained import pretrained_depthwise, pretrained_layers
from sim.engine_sim import load_payload

__all__ = ["write_engine_vectors", "real_layers", "real_layer_images"]


def write_engine_vectors(path, engine, layers, *, load_prob=1.0, drain_prob=1.0, seed=0) -> Path:
    """Write the bench's JSON for ``layers`` (:class:`~hw.array.images.LayerImage`) run in turn on
    ``engine``; returns ``path``."""
    out = []
    max_cycles = 1000
    for image in layers:
        words = [int(engine.load_layout.const(load_payload(*w)).as_value().value) for w in image.load]
        desc = int(engine.desc_layout.const(image.desc).as_value().value)
        n_out = image.desc["channels"] * image.desc["tokens"] if image.desc["drain"] else 0
        out.append({"load": [f"{w:x}" for w in words], "desc": f"{desc:x}",
                    "expected": [int(v) for v in image.expected.ravel()] if n_out else [],
                    "n_out": n_out, "cycles": image.cycles.compute})
        max_cycles += 20 * (len(words) + n_out) + 2 * image.cycles.compute
    path = Path(path)
    path.write_text(json.dumps({"layers": out, "load_prob": load_prob, "drain_prob": drain_prob, "seed": seed,
                                "out_width": engine.config.acc_width, "max_cycles": max_cycles}))
    return path


def real_layers(arch: str, rows: int, cols: int, seed: int, depthwise: bool = False):
    """Three real layers, INT8 per channel, processed by ``arch``'s method, their first ``rows + 2``
    output channels (and with ``depthwise`` a fourth):

    * the classifier ``_fc`` (C = 1280: 80 passes of 16), ``cols + 1`` tokens;
    * the 1 x 1 convolution ``_blocks.8._expand_conv`` (C = 80), ``cols + 1`` output pixels as tokens;
    * the stem ``_conv_stem`` (3 x 3, stride 2, padding ((0, 1), (0, 1))) on an 11 x 11 crop of the map:
      5 x 5 outputs, its C = 3 input channels zero-padded to one pass (the PE's lanes);
    * with ``depthwise``: the depthwise ``_blocks.8._depthwise_conv`` (5 x 5, stride 1, padding 2,
      :func:`golden.pretrained.pretrained_depthwise`), its first ``pe_length`` channels (one channel
      group) on a 4 x 4 crop: 4 x 4 outputs (``Arch.prepare_depthwise``: BitVert keeps it INT8).

    Activations are INT8 (random, seeded: the network's real activations need its whole forward pass);
    each layer's real bias is taken at the accumulator's scale (weight step x an activation step of 1/32).
    Yields ``(name, kind, weights, x, bias)``."""
    from hw.array.archs import ARCHS
    rng = np.random.default_rng(seed)
    layers = pretrained_layers()
    K = rows + 2
    lanes = ARCHS[arch].config.pe_length
    for name in ("_fc", "_blocks.8._expand_conv", "_conv_stem"):
        layer = layers[name]
        q = layer.q[:K]
        bias = np.round(layer.bias_float[:K] / (layer.scales[:K] / 32)).astype(np.int64)
        sens = (np.arange(K) % 3 == 1) if arch.startswith("bitvert") else None   # a few INT8 channels
        if name == "_conv_stem":
            q = np.pad(q, ((0, 0), (0, lanes - q.shape[1]), (0, 0), (0, 0)))
            x = np.pad(rng.integers(-128, 128, (3, 11, 11)), ((0, lanes - 3), (0, 0), (0, 0)))
            yield name, "conv", ARCHS[arch].prepare(q, sens), x, bias
        else:
            q = q.reshape(K, -1)
            yield name, "fc", ARCHS[arch].prepare(q, sens), rng.integers(0, 128, (cols + 1, q.shape[1])), bias
    if depthwise:
        layer = pretrained_depthwise()
        bias = np.round(layer.bias_float[:lanes] / (layer.scales[:lanes] / 32)).astype(np.int64)
        yield (layer.name, "depthwise", ARCHS[arch].prepare_depthwise(layer.q[:lanes]),
               rng.integers(-128, 128, (lanes, 4, 4)), bias)


def real_layer_images(engine, arch: str, *, seed: int = 0) -> list:
    """The images of :func:`real_layers` on ``engine`` (of ``arch``), each checked against plain integer
    NumPy (:func:`golden.array.fc_reference`, :func:`~golden.array.conv_reference`)."""
    from hw.array.images import conv_layer, depthwise_layer, fc_layer
    rows, cols = engine.config.rows, engine.config.cols
    images = []
    stem, dw = pretrained_layers()["_conv_stem"], pretrained_depthwise()
    for name, kind, w, x, bias in real_layers(arch, rows, cols, seed=seed, depthwise=engine.config.depthwise):
        w_int = decode(w) if isinstance(w, BBSEncoded) else w
        if kind == "depthwise":
            image = depthwise_layer(engine, w, x, stride=dw.stride, padding=dw.padding, bias=bias)
            want = depthwise_reference(dw.q[:len(x)], x, stride=dw.stride, padding=dw.padding, bias=bias) \
                if arch.startswith("bitvert") else \
                depthwise_reference(w_int, x, stride=dw.stride, padding=dw.padding, bias=bias)
        elif kind == "conv":
            image = conv_layer(engine, w, x, stride=stem.stride, padding=stem.padding, bias=bias)
            want = conv_reference(w_int, x, stride=stem.stride, padding=stem.padding, bias=bias)
        else:
            image = fc_layer(engine, w, x, bias=bias)
            want = fc_reference(w_int, x, bias)
        if not np.array_equal(image.expected, want.reshape(len(want), -1)):
            raise AssertionError(f"{name}: the image's expected outputs differ from plain integer NumPy")
        images.append((name, image))
    return images
