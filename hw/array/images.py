"""Host side of the layer engine: a layer as buffer images, descriptor and expectations (docs/array.md).

:func:`fc_layer` (and :func:`conv_layer`) turns a layer (weights processed by a method, INT8 activations, bias, optional
requantization) into the words the host loads into a :class:`~hw.array.layer.LayerEngine`, its
descriptor, the exact outputs (:func:`golden.array.fc_reference`, :func:`golden.array.requantize`) and
the exact cycles (:func:`golden.array.engine_cycles`). The weight words use each PE's own payload
encoding (:meth:`hw.pe.PE.payloads`), so the buffer holds the method's compressed format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden import cycles as gcycles
from golden.array import (EngineCycles, _check_padding, conv_out_size, conv_reference, depthwise_reference,
                          engine_cycles, fc_reference, requantize)
from golden.bbs import BBSEncoded, decode
from golden.bits import twos_range
from golden.check import check_bool, check_int, check_int_array
from hw.array.layer import BUFFERS, LayerEngine, param_layout

__all__ = ["LayerImage", "fc_layer", "conv_layer", "depthwise_layer", "avg_pool_layer", "global_avg_pool_layer", "block_diagonal", "depthwise_passes",
           "pass_steps", "layer_steps"]


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
    if name == "BitletPE":       # every lane enabled (the payloads' default lane mask); a pass takes >= 1 step
        return np.maximum(1, gcycles.group_cycles_bitlet(w_passes, bits=cfg.n_channel + 1, n_total=cfg.n_total,
                                                         n_check=cfg.n_check, lane_mask=cfg.full_lane_mask))
    raise TypeError(f"the layer engine has no cycle model for {name}; supported: StripesPE, ParallelMAC, "
                    f"PragmaticPE, BitBalancePE, EBSPPE, BitVertPE, BitletPE")


def layer_steps(pe, weights, w_passes) -> np.ndarray:
    """``[K, P]`` compute steps of a layer's passes ``w_passes [K, P, lanes]`` (integer) on ``pe``;
    ``weights`` is what the layer was given (a :class:`golden.bbs.BBSEncoded` tells BitVert which passes
    belong to INT8 channels)."""
    sens = None
    if isinstance(weights, BBSEncoded):
        K, lanes = w_passes.shape[0], w_passes.shape[2]
        sens = np.repeat(np.asarray(weights.sensitive, dtype=bool).reshape(K, -1), weights.group // lanes, axis=1)
    return pass_steps(pe, w_passes, sensitive=sens)


def depthwise_passes(weights, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(w, w_passes)`` of depthwise weights (integer ``[C, 1, KH, KW]``, or a :class:`golden.bbs.BBSEncoded`
    of their :func:`block_diagonal`): the integer weights ``[C, 1, KH, KW]`` and the passes ``[C, KH * KW,
    lanes]`` the engine runs (pass ``p`` = tap ``(kh, kw)``, channel ``k``'s weight in lane ``k % lanes``)."""
    if isinstance(weights, BBSEncoded):
        w_bd = _weights_int(weights, 4)
        if w_bd.shape[1] != lanes:
            raise ValueError(f"a BBSEncoded depthwise layer must encode block_diagonal(w, {lanes}) "
                             f"[C, {lanes}, KH, KW], got shape {w_bd.shape}")
        w_int = w_bd[np.arange(len(w_bd)), np.arange(len(w_bd)) % lanes][:, None]
        if not np.array_equal(block_diagonal(w_int, lanes), w_bd):
            raise ValueError("a BBSEncoded depthwise layer must encode block_diagonal(w): its weights are "
                             "not zero outside each channel's own lane")
    else:
        w_int = check_int_array("weights", weights, ndim=4)
        if w_int.shape[1] != 1:
            raise ValueError(f"weights must be depthwise [C, 1, KH, KW], got shape {w_int.shape}")
        w_bd = block_diagonal(w_int, lanes)
    C, _, KH, KW = w_int.shape
    return w_int, w_bd.transpose(0, 2, 3, 1).reshape(C, KH * KW, lanes)


@dataclass(frozen=True, eq=False)
class LayerImage:
    """Everything one layer needs on an engine: ``load`` (``(buffer, addr, data)`` words
    in load order), ``desc`` (descriptor field values), ``expected`` (``[K, T]`` output words as the
    drain delivers them, k-major), ``cycles`` (the exact :class:`~golden.array.EngineCycles`)."""

    load: list
    desc: dict
    expected: np.ndarray
    cycles: EngineCycles
    reference: np.ndarray = field(repr=False)    # [K, T] int64 accumulator + bias (before requantization)


def _field_int(layout, value) -> int:
    return int(layout.const(value).as_value().value)


def _weights_int(weights, ndim: int) -> np.ndarray:
    if isinstance(weights, BBSEncoded):
        if len(weights.grouping.shape) != ndim:
            raise ValueError(f"weights must encode a tensor of {ndim} axes, got shape {weights.grouping.shape}")
        return decode(weights)
    return check_int_array("weights", weights, ndim=ndim)


_OPTIONS = ("bias", "mult", "shift", "relu", "requant", "drain", "w_base", "a_base", "p_base", "to_acts",
            "to_map")


def fc_layer(engine: LayerEngine, weights, x, *, load_acts: bool = True, **options) -> LayerImage:
    """The buffer images of ``y = weights @ x.T + bias`` (then requantized when ``requant``) on ``engine``.

    ``weights``: integer ``[K, C]`` as the method leaves them (sign-magnitude-safe for Pragmatic,
    Bit-balance, EBSP), or for a BitVert engine a :class:`golden.bbs.BBSEncoded` of a ``[K, C]`` tensor;
    ``C`` a multiple of the PE's ``pe_length``. ``x``: ``[T, C]`` activations in the PE's range.

    ``options`` (all layers): ``bias`` ``[K]`` int (default 0); ``mult`` ``[K]`` unsigned 16-bit
    (default 1), ``shift``, ``relu``, ``requant``: the output stage, :func:`golden.array.requantize`;
    ``drain`` (default True): stream the outputs back; ``w_base``, ``a_base``, ``p_base``: where the
    layer's words start in the weight, activation and parameter buffers; ``to_acts``: also write the
    requantized outputs into the activation buffer from that word on, as the next layer's input (``K``
    a multiple of ``pe_length``; the region must not overlap this layer's activations), laid out for a
    fully connected layer, or with ``to_map=True`` as a feature map (pixel ``t``'s word ``t * K /
    pe_length + k // pe_length``, the input of :func:`conv_layer`; a convolution always writes this).

    ``load_acts=False`` leaves the activations out of ``load`` (they are already in the buffer, e.g.
    written by the layer before).
    """
    _check_engine(engine)
    pe, cfg = engine.pe, engine.config
    lanes = pe.input_lanes
    w_int = _weights_int(weights, 2)
    K, C = w_int.shape
    if C % lanes:
        raise ValueError(f"weights must have a multiple of pe_length={lanes} input channels, got C={C}")
    P = C // lanes
    lo, hi = twos_range(pe.input_act_bits)
    x = check_int_array("x", x, lo=lo, hi=hi, ndim=2)
    if x.shape[1] != C:
        raise ValueError(f"x must have C={C} input channels (last axis), got shape {x.shape}")
    T = x.shape[0]
    load_acts = check_bool("load_acts", load_acts)
    kt, tt = cfg.tiles(K, T)
    cols = cfg.cols
    xp = np.zeros((tt * cols, C), dtype=np.int64)
    xp[:T] = x
    al = engine.grid.acts_layout
    a_base = options.get("a_base", 0)
    act_load = [(BUFFERS["acts"], a_base + t_t * P + p,
                 sum(_field_int(al, [int(v) for v in xp[t_t * cols + c, p * lanes:(p + 1) * lanes]])
                     << (c * al.size) for c in range(cols)))
                for t_t in range(tt) for p in range(P)]
    y = fc_reference(w_int, x)
    bound = np.abs(w_int) @ np.abs(x).T
    geometry = {"tokens": T, "row_tokens": T, "t_tiles": tt, "passes": P}
    return _image(engine, weights, w_int.reshape(K, P, lanes), y, bound, act_load if load_acts else [],
                  len(act_load), geometry, {"tokens": T}, options)


def conv_layer(engine: LayerEngine, weights, x, *, stride: int = 1, padding=((0, 0), (0, 0)),
               load_acts: bool = True, **options) -> LayerImage:
    """The buffer images of a convolution ``y = conv(x, weights) + bias`` (:func:`golden.array.conv_reference`)
    with the addresses generated in hardware (:mod:`hw.array.conv_address`).

    ``weights``: integer ``[K, C, KH, KW]`` (or for BitVert a :class:`golden.bbs.BBSEncoded` of one),
    ``C`` a multiple of ``pe_length``; ``x``: ``[C, H, W]``; ``stride`` 1..7; ``padding`` ``((top,
    bottom), (left, right))``, each 0..15. The feature map is loaded once, pixel-major (word ``(y * W +
    x) * C/pe_length + cg`` from ``a_base``), each word broadcast to every column bank. Outputs in
    ``[K, OH * OW]`` order (``t = oy * OW + ox``). ``options``: as :func:`fc_layer`.
    """
    _check_engine(engine)
    lanes = engine.pe.input_lanes
    w_int = _weights_int(weights, 4)
    K, C, KH, KW = w_int.shape
    if C % lanes:
        raise ValueError(f"weights must have a multiple of pe_length={lanes} input channels, got C={C}")
    CG = C // lanes
    x, stride, padding, (OH, OW), act_load, geometry = _conv_map(engine, x, C, (KH, KW), stride, padding, options)
    P = KH * KW * CG
    geometry["passes"] = P
    y = conv_reference(w_int, x, stride=stride, padding=padding).reshape(K, OH * OW)
    bound = conv_reference(np.abs(w_int), np.abs(x), stride=stride, padding=padding).reshape(K, OH * OW)
    # passes in (kh, kw, cg) order, as golden.layout.group_weights orders a convolution
    w_passes = w_int.transpose(0, 2, 3, 1).reshape(K, P, lanes)
    return _image(engine, weights, w_passes, y, bound, act_load if check_bool("load_acts", load_acts) else [],
                  len(act_load), geometry, {"out_size": (OH, OW)}, _as_map(options))


def _conv_map(engine, x, C, kernel, stride, padding, options):
    """What a convolution and a depthwise layer share: ``x`` checked (``[C, H, W]`` in the PE's range),
    ``stride`` and ``padding``, ``(OH, OW)``, the feature map's load words (pixel-major, ``C / pe_length``
    words a pixel, broadcast to every bank) and the descriptor's map fields (the caller adds ``passes``)."""
    pe, cfg = engine.pe, engine.config
    lanes = pe.input_lanes
    CG = C // lanes
    KH, KW = kernel
    for name, v in (("KH", KH), ("KW", KW)):
        check_int(name, v, lo=1, hi=15, extra="(kernel size)")
    lo, hi = twos_range(pe.input_act_bits)
    x = check_int_array("x", x, lo=lo, hi=hi, ndim=3)
    if x.shape[0] != C:
        raise ValueError(f"x must have C={C} input channels (axis 0 of [C, H, W]), got shape {x.shape}")
    stride = check_int("stride", stride, lo=1, hi=7)
    padding = _check_padding(padding)
    _, H, W = x.shape
    OH, OW = conv_out_size((H, W), (KH, KW), stride, padding)
    cols = cfg.cols
    a_base = options.get("a_base", 0)
    al = engine.grid.acts_layout
    hwc = x.transpose(1, 2, 0).reshape(H * W * CG, lanes)
    act_load = [(BUFFERS["acts_broadcast"], a_base + i, _field_int(al, [int(v) for v in hwc[i]]))
                for i in range(len(hwc))]
    (pt, _), (pl, _) = padding
    geometry = {"tokens": OH * OW, "row_tokens": OW, "t_tiles": OH * -(-OW // cols),
                "conv": 1, "conv_h": H, "conv_w": W, "conv_cg": CG, "conv_kh": KH, "conv_kw": KW,
                "conv_stride": stride, "conv_pad_t": pt, "conv_pad_l": pl,
                "conv_origin": a_base - pt * W * CG - pl * CG, "conv_row_words": W * CG,
                "conv_col_step": stride * CG, "conv_tile_step": cols * stride * CG,
                "conv_row_step": stride * W * CG}
    return x, stride, padding, (OH, OW), act_load, geometry


def _as_map(options) -> dict:
    """``options`` with ``to_map`` set: a convolution's output feeds the next layer as a feature map."""
    if options.get("to_map") is False:
        raise ValueError("a convolution writes to_acts as a feature map: to_map cannot be False")
    return {**options, "to_map": True}


def block_diagonal(w, lanes: int) -> np.ndarray:
    """Depthwise weights ``[C, 1, KH, KW]`` as the engine's passes hold them: ``[C, lanes, KH, KW]``, output
    channel ``k``'s weights in lane ``k % lanes`` (its own input channel within its channel group) and
    zeros in the other lanes (docs/array.md, "Depthwise convolutions")."""
    w = check_int_array("w", w, ndim=4)
    lanes = check_int("lanes", lanes, lo=1)
    if w.shape[1] != 1:
        raise ValueError(f"w must be depthwise weights [C, 1, KH, KW], got shape {w.shape}")
    C = w.shape[0]
    out = np.zeros((C, lanes) + w.shape[2:], dtype=np.int64)
    out[np.arange(C), np.arange(C) % lanes] = w[:, 0]
    return out


def depthwise_layer(engine: LayerEngine, weights, x, *, stride: int = 1, padding=((0, 0), (0, 0)),
                    load_acts: bool = True, **options) -> LayerImage:
    """The buffer images of a depthwise convolution ``y[k] = conv(x[k], weights[k]) + bias[k]``
    (:func:`golden.array.depthwise_reference`) on an engine built with ``ArrayConfig(depthwise=True)``.

    ``weights``: integer ``[C, 1, KH, KW]`` as the method leaves them, or for BitVert a
    :class:`golden.bbs.BBSEncoded` of their :func:`block_diagonal` ``[C, pe_length, KH, KW]``
    (:meth:`hw.array.archs.Arch.prepare_depthwise`); ``x``: ``[C, H, W]``, ``C`` a multiple of
    ``pe_length``; ``stride``, ``padding``, ``load_acts`` and ``options`` as :func:`conv_layer`. The
    feature map is the one :func:`conv_layer` loads (pixel-major, ``C / pe_length`` words a pixel), so a
    convolution's ``to_acts`` output feeds it and its ``to_acts`` output feeds a convolution. Channel tile
    ``kt`` (``rows`` channels of one channel group) runs one pass per tap, ``KH * KW`` passes.
    """
    _check_engine(engine)
    pe, cfg = engine.pe, engine.config
    lanes = pe.input_lanes
    if not cfg.depthwise:
        raise ValueError("the engine was built without depthwise convolutions: build it with "
                         "ArrayConfig(depthwise=True)")
    w_int, w_passes = depthwise_passes(weights, lanes)
    C, _, KH, KW = w_int.shape
    if C % lanes:
        raise ValueError(f"a depthwise layer needs a multiple of pe_length={lanes} channels, got C={C}")
    x, stride, padding, (OH, OW), act_load, geometry = _conv_map(engine, x, C, (KH, KW), stride, padding, options)
    geometry.update(passes=KH * KW, conv_dw=1)
    y = depthwise_reference(w_int, x, stride=stride, padding=padding).reshape(C, OH * OW)
    bound = depthwise_reference(np.abs(w_int), np.abs(x), stride=stride, padding=padding).reshape(C, OH * OW)
    return _image(engine, weights, w_passes, y, bound, act_load if check_bool("load_acts", load_acts) else [],
                  len(act_load), geometry, {"out_size": (OH, OW)}, _as_map(options))


def avg_pool_layer(engine: LayerEngine, arch: str, x, kernel, *, stride: int = 1, padding=((0, 0), (0, 0)),
                   **options) -> LayerImage:
    """The average pool of INT8 ``x [C, H, W]`` over ``kernel = (KH, KW)`` windows (each 1..15; ``stride``,
    ``padding`` as :func:`depthwise_layer`, padding zeros counted) as a depthwise layer on ``engine`` (of
    architecture ``arch``, built with ``ArrayConfig(depthwise=True)``): equal weights, requantized so that
    each output is the window's mean rounded half up, :func:`golden.array.avg_pool_reference` (the weight,
    bias, multiplier and shift of :func:`golden.array.pool_requantization`, exact for every INT8 map).
    ``options``: ``drain``, ``w_base``, ``a_base``, ``p_base``, ``load_acts``, ``to_acts`` as
    :func:`depthwise_layer` (the output stage is the pool's own). The weights are ``arch``'s processing of
    the equal weights (:meth:`hw.array.archs.Arch.prepare_depthwise`), refused if the method changes them."""
    from golden.array import _check_pair, avg_pool_reference, pool_requantization
    from golden.check import check_choice
    from hw.array.archs import ARCHS
    a = ARCHS[check_choice("arch", arch, ARCHS)]
    taken = sorted(set(options) & {"bias", "mult", "shift", "requant", "relu"})
    if taken:
        raise TypeError(f"a pool sets the output stage itself; {taken[0]!r} is not an option")
    x = check_int_array("x", x, lo=-128, hi=127, ndim=3)
    KH, KW = _check_pair("kernel", kernel, 1)
    C = x.shape[0]
    weight, bias, mult, shift = pool_requantization(KH * KW)
    w = a.prepare_depthwise(np.full((C, 1, KH, KW), weight, dtype=np.int64))
    w_int, _ = depthwise_passes(w, engine.pe.input_lanes)
    if not (w_int == weight).all():
        raise ValueError(f"{arch}'s method changes the pool's weights ({weight}); it cannot pool exactly")
    image = depthwise_layer(engine, w, x, stride=stride, padding=padding, bias=np.full(C, bias),
                            mult=np.full(C, mult), shift=shift, requant=True, **options)
    want = avg_pool_reference(x, (KH, KW), stride=stride, padding=padding)
    if not np.array_equal(image.expected, want.reshape(C, -1)):
        raise AssertionError("the pool's output stage differs from the rounded mean")
    return image


def global_avg_pool_layer(engine: LayerEngine, arch: str, x, **options) -> LayerImage:
    """The global average pool of INT8 ``x [C, H, W]`` (``H``, ``W`` up to 15): :func:`avg_pool_layer` with
    the whole map as its one window, one output per channel (:func:`golden.array.avg_pool_reference` with
    ``kernel=None``)."""
    x = check_int_array("x", x, lo=-128, hi=127, ndim=3)
    for name, v in (("H", x.shape[1]), ("W", x.shape[2])):
        check_int(name, v, lo=1, hi=15, extra="(a global pool's kernel is the whole map)")
    return avg_pool_layer(engine, arch, x, x.shape[1:], **options)


def _check_engine(engine):
    if not isinstance(engine, LayerEngine):
        raise TypeError(f"engine must be a hw.array.layer.LayerEngine, got {type(engine).__name__}")


def _image(engine, weights, w_passes, y, bound, act_load, act_words, geometry, tiling, options) -> LayerImage:
    """The parts every layer shares: output stage, weight and parameter words, cycles, descriptor."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"unknown option {unknown[0]!r}; the options are {', '.join(_OPTIONS)}")
    pe, cfg = engine.pe, engine.config
    rows, lanes = cfg.rows, pe.input_lanes
    K, P, _ = w_passes.shape
    T = geometry["tokens"]
    bias, mult = options.get("bias"), options.get("mult")
    b = np.zeros(K, dtype=np.int64) if bias is None else check_int_array("bias", bias, ndim=1)
    m = np.ones(K, dtype=np.int64) if mult is None else check_int_array("mult", mult, ndim=1)
    for name, v in (("bias", b), ("mult", m)):
        if v.shape != (K,):
            raise ValueError(f"{name} must have shape ({K},), one value per output channel, got {v.shape}")
    requant, relu, drain = (check_bool(n, options.get(n, n == "drain")) for n in ("requant", "relu", "drain"))
    shift = check_int("shift", options.get("shift", 0), lo=0)
    w_base, a_base, p_base = (options.get(n, 0) for n in ("w_base", "a_base", "p_base"))
    cfg.check_layer(K, T, P, act_words=act_words) if "out_size" not in tiling else \
        cfg.check_layer(K, T, P, act_words=max(act_words, 1))
    kt, tt = cfg.tiles(K, 1)[0], geometry["t_tiles"]
    for name, base, need, depth in (("w_base", w_base, kt * P, cfg.weight_depth),
                                    ("a_base", a_base, act_words, cfg.act_depth),
                                    ("p_base", p_base, kt, cfg.param_depth)):
        check_int(name, base, lo=0, hi=depth - need,
                  extra=f"(the layer's {need} words must fit the buffer's {depth})")

    to_acts, to_map = options.get("to_acts"), check_bool("to_map", options.get("to_map", False))
    dst = {"to_acts": 0, "dst_base": 0, "dst_passes": 0, "to_map": 0, "dst_row_words": 0}
    if to_acts is not None:
        if not requant or not engine.chains:
            raise ValueError("to_acts needs requant=True and an engine whose activations are INT8")
        if K % lanes:
            raise ValueError(f"to_acts needs K={K} to be a multiple of pe_length={lanes} (the next "
                             f"layer's passes)")
        dst_passes = K // lanes
        words = (T if to_map else tt) * dst_passes
        check_int("to_acts", to_acts, lo=0, hi=cfg.act_depth - words,
                  extra=f"(the next layer's {words} words must fit the buffer's {cfg.act_depth})")
        if to_acts < a_base + act_words and a_base < to_acts + words:
            raise ValueError(f"to_acts={to_acts} overlaps this layer's activations (words {a_base}.."
                             f"{a_base + act_words - 1})")
        dst = {"to_acts": 1, "dst_base": to_acts, "dst_passes": dst_passes, "to_map": int(to_map),
               "dst_row_words": geometry["row_tokens"] * dst_passes}

    # the exact results, refused when they leave the accumulator
    y = y + b[:, None]
    alo, ahi = twos_range(cfg.acc_width)
    reach = int((bound + np.abs(b)[:, None]).max(initial=0))
    if reach > ahi:
        raise ValueError(f"the layer's sums reach {reach}, beyond the {cfg.acc_width}-bit "
                         f"accumulator's [{alo}, {ahi}]")
    expected = requantize(y, m, shift, relu) if requant else y

    # weight fields of every (k, p), in the PE's own encoding
    if isinstance(weights, BBSEncoded):
        payloads = pe.payloads(weights, np.zeros((weights.n_groups, weights.group), dtype=np.int64))
    else:
        payloads = pe.payloads(w_passes.reshape(K * P, lanes), np.zeros((K * P, lanes), dtype=np.int64))
    wl = engine.grid.weights_layout
    wfield = np.array([_field_int(wl, p["weights"]) for p in payloads], dtype=object).reshape(K, P)
    load = []
    for t_k in range(kt):
        # a padding row repeats the tile's first row: same steps, its outputs are not written
        ks = [k if k < K else t_k * rows for k in range(t_k * rows, t_k * rows + rows)]
        for p in range(P):
            word = sum(int(wfield[k, p]) << (r * wl.size) for r, k in enumerate(ks))
            load.append((BUFFERS["weights"], w_base + t_k * P + p, word))
    load += act_load
    pl = param_layout(rows)
    for t_k in range(kt):
        vals = [{"bias": int(b[k]), "mult": int(m[k])} if k < K else {"bias": 0, "mult": 0}
                for k in range(t_k * rows, t_k * rows + rows)]
        load.append((BUFFERS["params"], p_base + t_k, _field_int(pl, vals)))

    steps = layer_steps(pe, weights, w_passes)
    cycles = engine_cycles(steps, config=cfg, latency=pe.latency, act_words=len(act_load), **tiling)
    desc = {"channels": K, "k_tiles": kt, "requant": int(requant), "relu": int(relu), "shift": shift,
            "drain": int(drain), "w_base": w_base, "a_base": a_base, "p_base": p_base, **geometry, **dst}
    desc.pop("t_tiles")
    desc["t_tiles"] = tt
    return LayerImage(load=load, desc=desc, expected=expected, cycles=cycles, reference=y)
