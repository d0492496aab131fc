"""The layer engine's golden model: geometry, integer reference, requantization and exact cycle count
(docs/array.md).

A layer runs on an output-stationary array of ``rows x cols`` PEs (:class:`hw.array.layer.LayerEngine`):
row ``r`` of a tile is output channel ``kt * rows + r``, column ``c`` token ``tt * cols + c``; each PE
sums its output over the ``P`` passes of the input dimension (``P = C / pe_length``, one pass per PE
transaction). The rows run in lock step, so pass ``p`` of a tile costs the slowest row's steps.

This module holds what is independent of the PE: :class:`ArrayConfig` (shared by the golden model and
the generator), :func:`fc_reference` (plain integer NumPy), :func:`requantize` (the output stage's exact
arithmetic) and :func:`engine_cycles` (the cycles the RTL takes, from per-pass step counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bits import twos_range
from .check import check_bool, check_int, check_int_array

__all__ = ["ArrayConfig", "fc_reference", "conv_reference", "depthwise_reference", "avg_pool_reference",
           "pool_requantization", "conv_out_size", "requantize", "engine_cycles", "EngineCycles",
           "MULT_BITS", "SHIFT_MAX", "OUT_BITS"]

#: the requantization multiplier is unsigned, MULT_BITS wide; the shift is 0..SHIFT_MAX
MULT_BITS = 16
SHIFT_MAX = 47
#: requantized outputs are signed OUT_BITS-bit integers (INT8)
OUT_BITS = 8


@dataclass(frozen=True)
class ArrayConfig:
    """Geometry and buffer sizes of a layer engine, shared by the golden model and the generator.

    Parameters
    ----------
    rows, cols : int
        PEs per column (output channels per tile) and per row (tokens per tile), 1..64.
    weight_depth : int
        Words of the weight buffer; a word holds one pass of all ``rows`` rows (``k_tiles * P`` words).
    act_depth : int
        Words of the activation buffer; a word holds one pass of all ``cols`` columns (``t_tiles * P``).
    param_depth : int
        Words of the parameter buffer; a word holds bias and multiplier of ``rows`` channels (one per
        channel tile).
    out_depth : int
        Words of the output buffer, one output (``K * T``).
    acc_width : int
        Bits of each PE's output accumulator (and of a raw output word), 8..32.
    depthwise : bool
        Build the engine with depthwise convolutions (the descriptor's ``conv_dw``; docs/array.md,
        "Depthwise convolutions"): ``rows`` must divide the PE's ``pe_length``. Default False: the
        characterized engines of ``make synth`` are built without it.
    """

    rows: int = 4
    cols: int = 4
    weight_depth: int = 256
    act_depth: int = 256
    param_depth: int = 16
    out_depth: int = 256
    acc_width: int = 32
    depthwise: bool = False

    def __post_init__(self):
        check_int("rows", self.rows, lo=1, hi=64)
        check_int("cols", self.cols, lo=1, hi=64)
        for name in ("weight_depth", "act_depth", "param_depth", "out_depth"):
            check_int(name, getattr(self, name), lo=1, hi=1 << 20)
        check_int("acc_width", self.acc_width, lo=8, hi=32)
        check_bool("depthwise", self.depthwise)

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    def tiles(self, channels: int, tokens: int) -> tuple[int, int]:
        """``(k_tiles, t_tiles)`` of a layer of ``channels`` outputs and ``tokens`` tokens."""
        channels = check_int("channels", channels, lo=1)
        tokens = check_int("tokens", tokens, lo=1)
        return -(-channels // self.rows), -(-tokens // self.cols)

    def check_layer(self, channels: int, tokens: int, passes: int, act_words: int | None = None) -> None:
        """``ValueError`` naming the buffer when a layer of this size does not fit the engine
        (``act_words``: the activation words, default the fully connected layout's ``t_tiles * passes``)."""
        passes = check_int("passes", passes, lo=1, hi=(1 << 16) - 1)
        kt, tt = self.tiles(channels, tokens)
        act_words = tt * passes if act_words is None else act_words
        for field, need in (("weight_depth", kt * passes), ("act_depth", act_words),
                            ("param_depth", kt), ("out_depth", channels * tokens)):
            if need > getattr(self, field):
                raise ValueError(f"the layer ({channels} channels, {tokens} tokens, {passes} passes) needs "
                                 f"{need} words of the {field.split('_')[0]} buffer, the engine has "
                                 f"{field}={getattr(self, field)}: split the layer or build a larger engine")


def fc_reference(w, x, bias=None) -> np.ndarray:
    """``y[k, t] = sum_c w[k, c] * x[t, c] + bias[k]``: the plain integer layer, int64 ``[K, T]``.

    ``w``: integer ``[K, C]``; ``x``: integer ``[T, C]``; ``bias``: integer ``[K]`` or ``None``.
    """
    w = check_int_array("w", w, ndim=2)
    x = check_int_array("x", x, ndim=2)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x must have {w.shape[1]} input channels (the last axis of w), got shape {x.shape}")
    b = None
    if bias is not None:
        b = check_int_array("bias", bias, ndim=1)
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape ({w.shape[0]},), got {b.shape}")
    _check_no_overflow(w, x, w.shape[1], b)
    y = w.astype(np.int64) @ x.astype(np.int64).T
    if b is not None:
        y = y + b[:, None]
    return y


def conv_out_size(size: tuple, kernel: tuple, stride: int, padding) -> tuple[int, int]:
    """``(OH, OW)`` of a convolution of an ``(H, W)`` map, ``(KH, KW)`` kernel, ``stride`` and
    ``padding = ((top, bottom), (left, right))``."""
    H, W = _check_pair("size", size, 1)
    KH, KW = _check_pair("kernel", kernel, 1)
    stride = check_int("stride", stride, lo=1)
    if not isinstance(padding, (tuple, list)) or len(padding) != 2:
        raise TypeError(f"padding must be ((top, bottom), (left, right)), got {padding!r}")
    (pt, pb), (pl, pr) = (_check_pair("padding", p, 0) for p in padding)
    oh, ow = (H + pt + pb - KH) // stride + 1, (W + pl + pr - KW) // stride + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"a {KH}x{KW} kernel does not fit the padded {H}x{W} map (padding {padding})")
    return oh, ow


def _check_pair(name: str, value, lo: int) -> tuple[int, int]:
    """A pair of ints ``>= lo``, or ``TypeError``/``ValueError`` naming ``name``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair of integers >= {lo}, got {value!r}")
    return check_int(name, value[0], lo=lo), check_int(name, value[1], lo=lo)


def _check_no_overflow(w, x, terms: int, bias=None) -> None:
    """``ValueError`` when ``terms`` products of ``w`` and ``x`` values (plus ``bias``) could leave int64."""
    mag = lambda a: max(-int(a.min()), int(a.max())) if a.size else 0
    worst = mag(w) * mag(x) * terms + (0 if bias is None else mag(bias))
    if worst >= 1 << 63:
        raise ValueError(f"w and x are too large: a sum of {terms} products |w| <= {mag(w)} times |x| <= {mag(x)} "
                         f"could overflow int64")


def _check_padding(padding) -> tuple:
    try:
        (pt, pb), (pl, pr) = padding
    except (TypeError, ValueError):
        raise ValueError(f"padding must be ((top, bottom), (left, right)), got {padding!r}") from None
    return tuple((check_int("padding", a, lo=0, hi=15), check_int("padding", b, lo=0, hi=15))
                 for a, b in ((pt, pb), (pl, pr)))


def conv_reference(w, x, *, stride: int = 1, padding=((0, 0), (0, 0)), bias=None) -> np.ndarray:
    """The plain integer convolution ``y[k, oy, ox] = sum_{c,kh,kw} w[k,c,kh,kw] * xp[c, oy*s+kh, ox*s+kw]
    + bias[k]``, int64 ``[K, OH, OW]``; ``xp`` is ``x [C, H, W]`` zero-padded by ``padding``
    (``((top, bottom), (left, right))``)."""
    w = check_int_array("w", w, ndim=4)
    x = check_int_array("x", x, ndim=3)
    if x.shape[0] != w.shape[1]:
        raise ValueError(f"x must have {w.shape[1]} input channels (axis 0, [C, H, W]), got shape {x.shape}")
    if 0 in w.shape or 0 in x.shape:
        raise ValueError(f"w and x must not be empty, got shapes {w.shape} and {x.shape}")
    stride = check_int("stride", stride, lo=1, hi=7)
    padding = _check_padding(padding)
    K, C, KH, KW = w.shape
    OH, OW = conv_out_size(x.shape[1:], (KH, KW), stride, padding)
    b = None if bias is None else check_int_array("bias", bias, ndim=1)
    _check_no_overflow(w, x, C * KH * KW, b)
    xp = np.pad(x.astype(np.int64), ((0, 0),) + padding)
    y = np.zeros((K, OH, OW), dtype=np.int64)
    for kh in range(KH):
        for kw in range(KW):
            win = xp[:, kh:kh + stride * (OH - 1) + 1:stride, kw:kw + stride * (OW - 1) + 1:stride]
            y += np.einsum("kc,chw->khw", w[:, :, kh, kw].astype(np.int64), win)
    if bias is not None:
        b = check_int_array("bias", bias, ndim=1)
        if b.shape != (K,):
            raise ValueError(f"bias must have shape ({K},), got {b.shape}")
        y += b[:, None, None]
    return y


def depthwise_reference(w, x, *, stride: int = 1, padding=((0, 0), (0, 0)), bias=None) -> np.ndarray:
    """The plain integer depthwise convolution ``y[k, oy, ox] = sum_{kh,kw} w[k,0,kh,kw] * xp[k, oy*s+kh,
    ox*s+kw] + bias[k]`` (output channel ``k`` sees input channel ``k`` alone), int64 ``[C, OH, OW]``;
    ``w``: integer ``[C, 1, KH, KW]``, ``x``: ``[C, H, W]``, ``padding`` as :func:`conv_reference`."""
    w = check_int_array("w", w, ndim=4)
    x = check_int_array("x", x, ndim=3)
    if w.shape[1] != 1:
        raise ValueError(f"w must be [C, 1, KH, KW] (one input channel per output), got shape {w.shape}")
    if x.shape[0] != w.shape[0]:
        raise ValueError(f"x must have C={w.shape[0]} channels (axis 0 of [C, H, W], one per output "
                         f"channel), got shape {x.shape}")
    if bias is not None:
        b = check_int_array("bias", bias, ndim=1)
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape ({w.shape[0]},), got {b.shape}")
    return np.concatenate([conv_reference(w[k:k + 1], x[k:k + 1], stride=stride, padding=padding,
                                          bias=None if bias is None else bias[k:k + 1])
                           for k in range(w.shape[0])])


def avg_pool_reference(x, kernel=None, *, stride: int = 1, padding=((0, 0), (0, 0))) -> np.ndarray:
    """The average pool of INT8 ``x [C, H, W]``: each ``kernel = (KH, KW)`` window's mean rounded half up,
    ``floor((2 * sum + n) / (2 * n))`` with ``n = KH * KW`` and padding zeros counted
    (:func:`network.engine.avg_pool`'s arithmetic), int64 ``[C, OH, OW]``; ``kernel=None``: the global
    pool, the whole map, int64 ``[C]`` (:func:`network.engine.global_avg_pool`)."""
    x = check_int_array("x", x, lo=twos_range(OUT_BITS)[0], hi=twos_range(OUT_BITS)[1], ndim=3)
    if 0 in x.shape:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    if kernel is None:
        n = x.shape[1] * x.shape[2]
        return (2 * x.astype(np.int64).reshape(x.shape[0], -1).sum(axis=1) + n) // (2 * n)
    KH, KW = _check_pair("kernel", kernel, 1)
    sums = depthwise_reference(np.ones((x.shape[0], 1, KH, KW), dtype=np.int64), x, stride=stride, padding=padding)
    return (2 * sums + KH * KW) // (2 * KH * KW)


def pool_requantization(n: int) -> tuple[int, int, int, int]:
    """``(weight, bias, mult, shift)`` with which a pool of ``n``-value windows runs as a depthwise layer:
    every weight ``weight``, every channel's bias ``bias`` and :func:`requantize` by ``mult``, ``shift``
    give, for a window of ``n`` INT8 values summing to ``S``, their mean rounded half up ``floor((2 * S + n)
    / (2 * n))``, for every ``S`` such a window can sum to (checked exhaustively). The search takes the
    smallest ``weight`` (1..127), then ``bias`` (below ``weight``), then ``shift``, with ``mult =
    round(2**shift / (n * weight))``: ``weight * mult / 2**shift`` is ``1 / n`` to the precision the window
    needs, the weight lending the ``MULT_BITS``-bit multiplier bits, and the bias lifts the exact halves of
    an even ``n`` (``S / n = k + 1/2``) above the rounding boundary. A ``ValueError`` when none does."""
    n = check_int("n", n, lo=1, hi=1 << 12)
    lo, hi = twos_range(OUT_BITS)
    S = np.arange(lo * n, hi * n + 1, dtype=np.int64)
    want = (2 * S + n) // (2 * n)
    for weight in range(1, hi + 1):
        for bias in range(weight):
            for shift in range(SHIFT_MAX + 1):
                mult = round((1 << shift) / (n * weight))
                if mult >= 1 << MULT_BITS:
                    break
                rnd = (1 << (shift - 1)) if shift else 0
                if mult and np.array_equal(((S * weight + bias) * mult + rnd) >> shift, want):
                    return weight, bias, mult, shift
    raise ValueError(f"no weight in [1, {hi}] and {MULT_BITS}-bit multiplier make the requantization the exact "
                     f"mean of n={n} values")


def requantize(y, mult, shift: int, relu: bool = False) -> np.ndarray:
    """The output stage: ``clamp(((y * mult[k]) + round) >> shift, lo, 127)``, int64 of ``y``'s shape.

    ``y``: integer ``[K, T]`` (the accumulator plus bias, signed 32-bit); ``mult``: ``[K]`` unsigned
    ``MULT_BITS``-bit; ``shift`` 0..``SHIFT_MAX``; ``round = 2**(shift-1)`` (0 when ``shift == 0``): round
    half up. ``>>`` is the arithmetic shift (floor). ``lo`` is 0 with ``relu``, else -128.
    """
    y = check_int_array("y", y, lo=twos_range(32)[0], hi=twos_range(32)[1], ndim=2)
    m = check_int_array("mult", mult, lo=0, hi=(1 << MULT_BITS) - 1, ndim=1)
    if m.shape != (y.shape[0],):
        raise ValueError(f"mult must have one value per output channel, shape ({y.shape[0]},), got {m.shape}")
    shift = check_int("shift", shift, lo=0, hi=SHIFT_MAX)
    relu = check_bool("relu", relu)
    rnd = (1 << (shift - 1)) if shift else 0
    z = (y * m[:, None] + rnd) >> shift
    lo, hi = twos_range(OUT_BITS)
    return np.clip(z, 0 if relu else lo, hi)


@dataclass(frozen=True)
class EngineCycles:
    """Cycles of one layer on the engine. ``compute``: from ``start`` to the end of the last write-back
    (the engine's ``cycles`` counter); ``compute_only``: the sum of the lock-step pass costs alone (what
    :func:`golden.cycles.layer_cycles` counts); ``load``: load-port words at one word per cycle;
    ``drain``: drain-port words at one word per cycle."""

    compute: int
    compute_only: int
    load: int
    drain: int

    @property
    def total(self) -> int:
        return self.load + self.compute + self.drain


def engine_cycles(steps, *, config: ArrayConfig, tokens: int | None = None, out_size=None, latency: int = 1,
                  act_words: int | None = None) -> EngineCycles:
    """The exact cycles the layer engine takes for a layer (docs/array.md, cycle model).

    ``steps``: integer ``[K, P]``, the compute steps of output channel ``k``'s pass ``p`` (the PE's cycle
    model, e.g. :func:`golden.cycles.group_cycles_bitvert` on the pass's weights). A fully connected
    layer gives ``tokens`` (``T``: ``ceil(T / cols)`` token tiles), a convolution ``out_size``
    (``(OH, OW)``: ``OH * ceil(OW / cols)`` token tiles, a tile never spans two output rows).
    ``latency``: the PE's :attr:`hw.pe.PE.latency`; ``act_words``: the activation words the host loads
    (default: the fully connected layout's ``t_tiles * P``; 0 when the layer before wrote them).

    Per tile ``j`` (``kt``, ``tt``; ``tt`` outer), with ``S_j = sum_p s_p`` and ``s_p = max over the tile's
    rows of steps[k, p]`` (a pass is issued to every PE in the cycle the slowest row takes its last step of
    the pass before, the next pass having been read from the buffers meanwhile):

    * the tile is done ``S_j + latency + 2`` cycles after the tile before was captured (its first pass
      is issued the cycle after; ``latency + 1`` for the last results to reach the accumulators and the
      delivery counters, one for the controller to see it), and is captured into the result registers
      then, or when the write-back of the tile before has finished, ``rows * cols + 2`` cycles after
      that tile's capture (``rows * cols`` outputs, one per cycle, a step to the next tile's place, one
      cycle for the write-back to be free), whichever is later: a tile costs
      ``max(S_j + latency, rows * cols) + 2``;
    * the first tile is done ``FILL + S_0 + latency + 2`` cycles after ``start`` (``FILL = 1``, the first
      buffer read, and the cycle after ``start``), and the last tile's write-back takes ``rows * cols + 1``
      cycles after its capture (the last output is written in the step cycle, counted).

    So the layer costs ``FILL + S_0 + latency + rows * cols + 3 + sum_{j >= 1} (max(S_j + latency,
    rows * cols) + 2)``: the write-back is hidden behind every tile after the first whose passes take
    at least ``rows * cols`` cycles. The engine's ``cycles`` counter counts from the cycle after
    ``start`` to the cycle of the last write (inclusive). Padding rows (``K`` not a multiple of ``rows``)
    repeat their tile's first row, so they never change ``s_p``.
    """
    s = check_int_array("steps", steps, lo=1, ndim=2)
    if not isinstance(config, ArrayConfig):
        raise TypeError(f"config must be a golden.array.ArrayConfig, got {type(config).__name__}")
    latency = check_int("latency", latency, lo=0)
    K, P = s.shape
    if (tokens is None) == (out_size is None):
        raise ValueError("give tokens (a fully connected layer) or out_size (a convolution), not both")
    if tokens is not None:
        n_tokens = check_int("tokens", tokens, lo=1)
        kt, tt = config.tiles(K, n_tokens)
    else:
        oh, ow = _check_pair("out_size", out_size, 1)
        n_tokens = oh * ow
        kt, tt = config.tiles(K, ow)[0], oh * config.tiles(1, ow)[1]
    pad = np.zeros((kt * config.rows - K, P), dtype=s.dtype)
    per_tile = np.concatenate([s, pad]).reshape(kt, config.rows, P).max(axis=1).sum(axis=1)   # [kt]
    compute_only = int(per_tile.sum()) * tt
    pes = config.pes
    first = int(per_tile[0]) + latency + pes + 3
    tile_costs = [max(int(x) + latency, pes) + 2 for x in per_tile]     # Python ints: no overflow
    later = sum(tile_costs) * tt - tile_costs[0]
    compute = FILL + first + later
    act_words = tt * P if act_words is None else check_int("act_words", act_words, lo=0)
    return EngineCycles(compute=compute, compute_only=compute_only, load=kt * P + act_words + kt,
                        drain=K * n_tokens)


#: cycles from the first counted cycle to the first pass issued (the first buffer read)
FILL = 1
