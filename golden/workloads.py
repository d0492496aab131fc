"""Reference workloads for PE characterization: one realistic layer, INT8 and its BBS variants.

A convolution layer ``[320, 128, 3, 3]`` (368,640 weights) with Laplace-distributed float weights (the
usual fit of trained CNN weights), quantized to INT8 per output channel (:func:`golden.quant.quantize`).
From it, the BBS paper's two operating points (docs/bbs.md):

* ``cons``: 10 % sensitive channels kept INT8 (:func:`golden.bbs.select_sensitive`, tile 32), the rest
  rounded averaging with N = 2;
* ``mod``: 20 % sensitive channels, the rest zero-point shifting with N = 4.

320 output channels make 10 % and 20 % exact multiples of the 32-channel tile, so the per-layer rounding
of Algorithm 2 does not inflate the sensitive share. The float weights use a per-channel Laplace scale
drawn log-uniformly over a decade, so the per-channel scales differ as in a real network (and the
sensitive channels are the large-scale ones). Seeded: the same numbers on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .check import check_int

__all__ = ["Workload", "reference_layer", "bbs_workloads"]

LAYER_SHAPE = (320, 128, 3, 3)


@dataclass(frozen=True, eq=False)
class Workload:
    name: str                 # "int8", "cons" or "mod"
    weights: np.ndarray       # integer weights [K, C, H, W] as the PE sees them
    sensitive: np.ndarray     # bool [K]: channels kept INT8
    pruned: int               # N of the pruned channels (0 for int8)


def reference_layer(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(q, scales)``: the INT8 per-channel quantized reference layer."""
    from .quant import quantize
    seed = check_int("seed", seed, lo=0)
    rng = np.random.default_rng(seed)
    k = LAYER_SHAPE[0]
    spread = 10.0 ** rng.uniform(-1.0, 0.0, size=(k, 1, 1, 1))
    w = rng.laplace(scale=0.02, size=LAYER_SHAPE) * spread
    return quantize(w, bits=8, per_channel=True)


def bbs_workloads(seed: int = 0) -> dict[str, Workload]:
    """The INT8 layer and its BBS ``cons`` and ``mod`` versions."""
    from . import bbs
    q, scales = reference_layer(seed)
    none = np.zeros(q.shape[0], dtype=bool)
    out = {"int8": Workload("int8", q, none, 0)}
    for name, beta, pruned, method in (("cons", 0.1, 2, "ra"), ("mod", 0.2, 4, "zps")):
        sens = np.asarray(bbs.select_sensitive([scales], beta=beta)[0], dtype=bool)
        if method == "ra":
            wp, _ = bbs.round_average(q, bits=8, group=32, pruned=pruned)
        else:
            wp, _ = bbs.zero_point_shift(q, bits=8, group=32, pruned=pruned)
        out[name] = Workload(name, np.where(sens[:, None, None, None], q, wp), sens, pruned)
    return out
