"""Host side of the layer engine: a fully connected layer as buffer images, descriptor and expectations
(docs/array.md).

:func:`fc_layer` turns a layer (weights processed by a method, INT8 activations, bias, optional
requantization) into the words the host loads into a :class:`~hw.array.layer.LayerEngine`, its
descriptor, the exact outputs (:func:`golden.array.fc_reference`, :func:`golden.array.requantize`) and
the exact cycles (:func:`golden.array.engine_cycles`). The weight words use each PE's own payload
encoding (:meth:`hw.pe.PE.payloads`), so the buffer holds the method's compressed format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden import cycles as gcycles
from golden.array import ArrayConfig, EngineCycles, engine_cycles, fc_reference, requantize
from golden.bbs import BBSEncoded, decode
from golden.bits import twos_range
from golden.check import check_bool, check_int, check_int_array
from hw.array.layer import BUFFERS, LayerEngine, param_layout

__all__ = ["FCLayerImage", "fc_layer", "pass_steps"]


def pass_steps(pe, w_passes, sensitive=None) -> np.ndarray:
    """Compute steps of each pass ``[..., lanes]`` of integer weights on ``pe`` (its golden cycle model)."""
    name, cfg = type(pe).__name__, pe.config
    if name == "StripesPE":
        return gcycles.group_cycles_stripes(w_passes, bits=cfg.bits)
    if name == "ParallelMAC":
        return gcycles.group_cycles_parallel(w_passes, bits=cfg.bits)
    if name == "PragmaticPE":
        return gcycles.group_cycles_pragmatic(w_passes, bits=cfg.bits)
    if name == "BitBalancePE":
        return gcycles.group_cycles_bitbalance(w_passes, bits=cfg.bits, k=cfg.k)
    if name == "EBSPPE":
        return gcycles.group_cycles_ebsp(w_passes, bits=cfg.bits, window=cfg.window)
    if name == "BitVertPE":
        return gcycles.group_cycles_bitvert(w_passes, bits=cfg.bits, pruned=cfg.pruned, sensitive=sensitive)
    raise TypeError(f"the layer engine has no cycle model for {name}; supported: StripesPE, ParallelMAC, "
                    f"PragmaticPE, BitBalancePE, EBSPPE, BitVertPE")


@dataclass(frozen=True, eq=False)
class FCLayerImage:
    """Everything one fully connected layer needs on an engine: ``load`` (``(buffer, addr, data)`` words
    in load order), ``desc`` (descriptor field values), ``expected`` (``[K, T]`` output words as the
    drain delivers them, k-major), ``cycles`` (the exact :class:`~golden.array.EngineCycles`)."""

    load: list
    desc: dict
    expected: np.ndarray
    cycles: EngineCycles
    reference: np.ndarray = field(repr=False)    # [K, T] int64 accumulator + bias (before requantization)


def _field_int(layout, value) -> int:
    return int(layout.const(value).as_value().value)


def fc_layer(engine: LayerEngine, weights, x, *, bias=None, mult=None, shift: int = 0, relu: bool = False,
             requant: bool = False, drain: bool = True, w_base: int = 0, a_base: int = 0, p_base: int = 0,
             load_acts: bool = True, to_acts: int | None = None) -> FCLayerImage:
    """The buffer images of ``y = weights @ x.T + bias`` (then requantized when ``requant``) on ``engine``.

    ``weights``: integer ``[K, C]`` as the method leaves them (sign-magnitude-safe for Pragmatic,
    Bit-balance, EBSP), or for a BitVert engine a :class:`golden.bbs.BBSEncoded` of a ``[K, C]`` tensor;
    ``C`` a multiple of the PE's ``pe_length``. ``x``: ``[T, C]`` activations in the PE's range.
    ``bias``: ``[K]`` int (default 0); ``mult``: ``[K]`` unsigned 16-bit (default 1), ``shift``, ``relu``:
    the requantization of :func:`golden.array.requantize`.

    ``w_base``, ``a_base``, ``p_base``: where the layer's words start in the weight, activation and
    parameter buffers. ``load_acts=False`` leaves the activations out of ``load`` (they are already in the
    buffer, e.g. written by the layer before). ``to_acts``: also write the requantized outputs into the
    activation buffer from that word on, laid out as the next layer's input (``K`` a multiple of
    ``pe_length``; the region must not overlap this layer's activations).
    """
    if not isinstance(engine, LayerEngine):
        raise TypeError(f"engine must be a hw.array.layer.LayerEngine, got {type(engine).__name__}")
    pe, cfg = engine.pe, engine.config
    lanes = pe.input_lanes
    if isinstance(weights, BBSEncoded):
        if len(weights.grouping.shape) != 2:
            raise ValueError(f"weights must encode a [K, C] tensor, got shape {weights.grouping.shape}")
        w_int = decode(weights)
    else:
        w_int = check_int_array("weights", weights, ndim=2)
    K, C = w_int.shape
    if C % lanes:
        raise ValueError(f"weights must have a multiple of pe_length={lanes} input channels, got C={C}")
    P = C // lanes
    lo, hi = twos_range(pe.input_act_bits)
    x = check_int_array("x", x, lo=lo, hi=hi, ndim=2)
    if x.shape[1] != C:
        raise ValueError(f"x must have C={C} input channels (last axis), got shape {x.shape}")
    T = x.shape[0]
    b = np.zeros(K, dtype=np.int64) if bias is None else check_int_array("bias", bias, ndim=1)
    m = np.ones(K, dtype=np.int64) if mult is None else check_int_array("mult", mult, ndim=1)
    for name, v in (("bias", b), ("mult", m)):
        if v.shape != (K,):
            raise ValueError(f"{name} must have shape ({K},), one value per output channel, got {v.shape}")
    requant, relu, drain = (check_bool(n, v) for n, v in (("requant", requant), ("relu", relu),
                                                          ("drain", drain)))
    shift = check_int("shift", shift, lo=0)
    load_acts = check_bool("load_acts", load_acts)
    cfg.check_layer(K, T, P)
    kt, tt = cfg.tiles(K, T)
    for name, base, need, depth in (("w_base", w_base, kt * P, cfg.weight_depth),
                                    ("a_base", a_base, tt * P, cfg.act_depth),
                                    ("p_base", p_base, kt, cfg.param_depth)):
        check_int(name, base, lo=0, hi=depth - need,
                  extra=f"(the layer's {need} words must fit the buffer's {depth})")
    dst_passes = 0
    if to_acts is not None:
        if not requant or not engine.chains:
            raise ValueError("to_acts needs requant=True and an engine whose activations are INT8")
        if K % lanes:
            raise ValueError(f"to_acts needs K={K} to be a multiple of pe_length={lanes} (the next "
                             f"layer's passes)")
        dst_passes = K // lanes
        check_int("to_acts", to_acts, lo=0, hi=cfg.act_depth - tt * dst_passes,
                  extra=f"(the next layer's {tt * dst_passes} words must fit the buffer's {cfg.act_depth})")
        if to_acts < a_base + tt * P and a_base < to_acts + tt * dst_passes:
            raise ValueError(f"to_acts={to_acts} overlaps this layer's activations (words {a_base}.."
                             f"{a_base + tt * P - 1})")
    rows, cols = cfg.rows, cfg.cols

    # the exact results, refused when they leave the accumulator
    y = fc_reference(w_int, x, b)
    alo, ahi = twos_range(cfg.acc_width)
    partial = np.abs(w_int.astype(np.int64)) @ np.abs(x.astype(np.int64)).T + np.abs(b)[:, None]
    if partial.max(initial=0) > ahi:
        raise ValueError(f"the layer's sums reach {int(partial.max())}, beyond the {cfg.acc_width}-bit "
                         f"accumulator's [{alo}, {ahi}]")
    expected = requantize(y, m, shift, relu) if requant else y

    # weight fields of every (k, p), in the PE's own encoding
    zeros = np.zeros((K * P, lanes), dtype=np.int64)
    if isinstance(weights, BBSEncoded):
        payloads = pe.payloads(weights, np.zeros((weights.n_groups, weights.group), dtype=np.int64))
    else:
        payloads = pe.payloads(w_int.reshape(K * P, lanes), zeros)
    wl = engine.grid.weights_layout
    wfield = np.array([_field_int(wl, p["weights"]) for p in payloads], dtype=object).reshape(K, P)
    al = engine.grid.acts_layout
    wbits, abits = wl.size, al.size

    load = []
    for t_k in range(kt):
        # a padding row repeats the tile's first row: same steps, its outputs are not written
        ks = [k if k < K else t_k * rows for k in range(t_k * rows, t_k * rows + rows)]
        for p in range(P):
            word = sum(int(wfield[k, p]) << (r * wbits) for r, k in enumerate(ks))
            load.append((BUFFERS["weights"], w_base + t_k * P + p, word))
    xp = np.zeros((tt * cols, C), dtype=np.int64)
    xp[:T] = x
    for t_t in range(tt if load_acts else 0):
        for p in range(P):
            word = sum(_field_int(al, [int(v) for v in xp[t_t * cols + c, p * lanes:(p + 1) * lanes]])
                       << (c * abits) for c in range(cols))
            load.append((BUFFERS["acts"], a_base + t_t * P + p, word))
    pl = param_layout(rows)
    for t_k in range(kt):
        vals = [{"bias": int(b[k]), "mult": int(m[k])} if k < K else {"bias": 0, "mult": 0}
                for k in range(t_k * rows, t_k * rows + rows)]
        load.append((BUFFERS["params"], p_base + t_k, _field_int(pl, vals)))

    sens = None
    if isinstance(weights, BBSEncoded):
        sens = np.repeat(np.asarray(weights.sensitive, dtype=bool).reshape(K, -1), weights.group // lanes, axis=1)
    steps = pass_steps(pe, w_int.reshape(K, P, lanes), sensitive=sens)
    cycles = engine_cycles(steps, tokens=T, config=cfg, latency=pe.latency, acts_loaded=load_acts)
    desc = {"channels": K, "tokens": T, "passes": P, "k_tiles": kt, "t_tiles": tt,
            "requant": int(requant), "relu": int(relu), "shift": shift, "drain": int(drain),
            "w_base": w_base, "a_base": a_base, "p_base": p_base,
            "to_acts": int(to_acts is not None), "dst_base": to_acts or 0, "dst_passes": dst_passes}
    return FCLayerImage(load=load, desc=desc, expected=expected, cycles=cycles, reference=y)
