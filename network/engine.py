"""An integer inference engine for whole networks, with the layer engine's requantization, and its float
reference (docs/networks.md, the integer engine).

The accuracy a network reaches on the accelerators is the accuracy of the integers they compute. This
module runs a network exactly as the arrays do arithmetic (:mod:`golden.array`): INT8 activations, INT8
weights per output channel, exact integer sums, and every convolution and fully connected layer ending in
the layer engine's own output stage, :func:`golden.array.requantize` (reused, not re-implemented). A
float64 pass of the same network is the reference the integers are compared with (no PyTorch needed).

Three parts:

* **Integer ops** on NumPy arrays, ``NCHW`` (2-D) or ``NCL`` (1-D), INT8 values held in int64 arrays:
  :func:`conv` (:func:`conv1d`, :func:`conv2d`; stride, padding, dilation, groups, so depthwise is
  ``groups == channels``), :func:`linear`, :func:`max_pool`, :func:`avg_pool`, :func:`global_avg_pool`,
  :func:`relu`, :func:`relu6`, :func:`add` (a residual add of two tensors of different scales),
  :func:`flatten`, and :func:`requantize_channels` (the output stage over the channel axis).
* **The network description**: a list of layer specs (frozen dataclasses) :class:`Conv`, :class:`Linear`,
  :class:`ReLU`, :class:`ReLU6`, :class:`MaxPool`, :class:`AvgPool`, :class:`GlobalAvgPool`,
  :class:`Flatten` and :class:`Residual` (a sub-list whose output is added to its input, or to a shortcut
  sub-list's output), with the float weights in a ``{name: array}`` mapping (a state dict).
  :class:`Network` holds both: :meth:`Network.forward` is the float64 reference pass,
  :meth:`Network.quantize` calibrates the scales on a batch and returns a :class:`QuantizedNetwork`,
  whose :meth:`QuantizedNetwork.forward` is the integer pass.
* **Helpers**: :func:`multiplier_shift` (real multipliers to the output stage's 16-bit multipliers and
  one shift), :func:`quantized_six`, :func:`calibration_scale`, :func:`quantize_activations`,
  :func:`top1_agreement`.

Number formats and rounding (the choices; docs/networks.md):

* **Activations** are signed INT8, ``[-128, 127]``, symmetric, zero point 0, one float scale per tensor.
  After a ReLU they are the non-negative half, ``[0, 127]``, still signed INT8: that is what the layer
  engine's output stage writes with ``relu`` (``lo = 0``) and what its PEs read (signed ``act_bits``
  activations), so the integer pass chains layers as the hardware does; the cost is one bit of range
  after a ReLU.
* **Weights** are INT8 per output channel from :func:`golden.quant.quantize` (symmetric, ``[-127, 127]``,
  round half to even); the integer ops accept any INT8 ``[-128, 127]``.
* **Sums** are exact in int64. An op refuses inputs whose worst-case sum could leave int64
  (``R * 128 * 160 + max|bias| > 2**63 - 1``, ``R`` the products per output); a quantized layer is built
  so that every channel's worst case ``128 * sum|w[k]| + |bias[k]|`` fits the signed 32-bit accumulator
  of the arrays and of :func:`golden.array.requantize` (dead channels, below).
* **Requantization** of a conv or linear layer: ``q = clamp(((acc + bias) * mult[k] + 2**(shift-1)) >>
  shift, lo, 127)`` (:func:`golden.array.requantize`: round half up, ``lo`` 0 after a fused ReLU, else
  -128), with ``bias[k] = rint(b[k] / (s_in * s_w[k]))`` and ``mult[k] / 2**shift`` the real multiplier
  ``s_in * s_w[k] / s_out`` rounded (half to even) to 16 bits, one shift per layer, the largest in
  0..47 that keeps every ``mult <= 65535`` (:func:`multiplier_shift`).
* **Residual add**: ``clamp((a * m_a + b * m_b + 2**(shift-1)) >> shift, lo, 127)``, the same output stage
  with ``mult = 1`` on the exact sum ``a * m_a + b * m_b``; ``m_a / 2**shift ~ s_a / s_out`` and
  ``m_b / 2**shift ~ s_b / s_out`` share one shift (:func:`multiplier_shift`).
* **Average pool**: the exact integer sum of the window divided by the window size (padding counted,
  as PyTorch's default ``count_include_pad=True``), rounded half up: ``floor((2 * sum + n) / (2 * n))``;
  the scale is unchanged. **Global average pool**: the same over the whole map, output ``[N, C]``.
* **Max pool, ReLU, flatten** do not change the scale; max pool pads with minus infinity (a padded
  position never wins). **ReLU6** clamps at the quantized six, ``min(127, floor(6 / s + 1/2))``.
* **Scales**: the input's and every requantized tensor's scale is ``calibration_scale(t) = a / 127``,
  ``a`` the largest ``|t|`` of the float pass over the calibration batch (``percentile=100``) or that
  percentile of ``|t|``; 1.0 when ``a`` is 0. A conv or linear layer followed by ReLU or ReLU6 (and a
  residual add followed by one) is calibrated after the activation, which runs fused in its output stage.
  The input is quantized as ``clamp(rint(x / s), -128, 127)``.
* **Dead channels**: a channel whose weights are all but zero (``quantize`` gives it a tiny scale) and
  whose bias is real would need an integer bias beyond 32 bits; its weight scale is widened to the
  layer's largest (or more, until ``|bias| <= 2**31 - 1 - 128 * 127 * n``, ``n`` its weights) and its
  weights re-rounded, so it outputs its bias with the precision of the layer's other multipliers
  (:attr:`QConv.widened`; EfficientNet-Lite0 has such channels, docs/networks.md).
* **Memory**: a convolution is an im2col (a strided window view of the padded input, copied chunk by
  chunk) and one integer ``np.matmul`` per chunk. A chunk is a run of samples, or of output rows of one
  sample, whose im2col columns and outputs hold at most :data:`CHUNK_ELEMENTS` elements (or one output
  row, if that is larger), so the temporaries stay bounded whatever the batch size.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from golden.array import MULT_BITS, OUT_BITS, SHIFT_MAX, requantize
from golden.bits import twos_range
from golden.check import check_float_array, check_int, check_int_array
from golden.pretrained import fold_batch_norm
from golden.quant import quantize

__all__ = [
    # integer ops
    "conv", "conv1d", "conv2d", "linear", "max_pool", "avg_pool", "global_avg_pool", "relu", "relu6",
    "add", "flatten", "requantize_channels",
    # helpers
    "multiplier_shift", "quantized_six", "calibration_scale", "quantize_activations", "top1_agreement",
    # network description
    "Conv", "Linear", "ReLU", "ReLU6", "MaxPool", "AvgPool", "GlobalAvgPool", "Flatten", "Residual",
    "Network", "QuantizedNetwork", "QConv", "QLinear", "QResidual", "QOp",
    "ACT_RANGE", "INT8_RANGE", "WEIGHT_RANGE", "ACC_RANGE", "CHUNK_ELEMENTS",
]

#: INT8 activations, the range of the layer engine's requantized outputs
ACT_RANGE = twos_range(OUT_BITS)
#: INT8, the weights golden.quant.quantize gives ([-127, 127]) and the engine quantizes to
INT8_RANGE = twos_range(8)
#: the weights the integer ops accept: INT8 widened by 32 either way, so the values a method's format stores
#: fit too (BBS adds its 6-bit constant back, w' = q + C: every golden.bbs.BBSConfig.weight_range lies inside)
WEIGHT_RANGE = (INT8_RANGE[0] - 32, INT8_RANGE[1] + 32)
#: the signed 32-bit accumulator (and the input range of golden.array.requantize)
ACC_RANGE = twos_range(32)
#: the elements (im2col columns plus outputs) of one convolution chunk: 4 Mi, 32 MiB of int64
CHUNK_ELEMENTS = 1 << 22

_MULT_MAX = (1 << MULT_BITS) - 1
_INT64_MAX = (1 << 63) - 1


# ---- argument helpers ---------------------------------------------------------------------------------

def _ints(name: str, v, d: int, lo: int) -> tuple[int, ...]:
    """An int or a sequence of ``d`` ints, each >= lo, as a ``d``-tuple."""
    if isinstance(v, (tuple, list)):
        if len(v) != d:
            raise ValueError(f"{name} must be an int or {d} ints (one per spatial axis), got {v!r}")
        return tuple(check_int(name, a, lo=lo) for a in v)
    return (check_int(name, v, lo=lo),) * d


def _padding(v, d: int) -> tuple[tuple[int, int], ...]:
    """``p``, ``(p_axis, ...)`` or ``((before, after), ...)`` as ``d`` pairs ``(before, after)``; for one
    axis also ``(before, after)``."""
    if d == 1 and isinstance(v, (tuple, list)) and len(v) == 2 and not any(isinstance(p, (tuple, list)) for p in v):
        v = (tuple(v),)
    if isinstance(v, (tuple, list)):
        if len(v) != d:
            raise ValueError(f"padding must be an int, {d} ints or {d} (before, after) pairs, got {v!r}")
        out = []
        for p in v:
            if isinstance(p, (tuple, list)):
                if len(p) != 2:
                    raise ValueError(f"padding must be an int, {d} ints or {d} (before, after) pairs, got {v!r}")
                out.append((check_int("padding", p[0], lo=0), check_int("padding", p[1], lo=0)))
            else:
                p = check_int("padding", p, lo=0)
                out.append((p, p))
        return tuple(out)
    p = check_int("padding", v, lo=0)
    return ((p, p),) * d


def _act(name: str, x, ndim=None) -> np.ndarray:
    """INT8 activations (integers in [-128, 127]) as int64; floats are refused (quantize them first)."""
    return check_int_array(name, x, lo=ACT_RANGE[0], hi=ACT_RANGE[1], ndim=ndim)


def _spatial_dims(name: str, x: np.ndarray) -> int:
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must be [N, C, L] (1-D) or [N, C, H, W] (2-D), got shape {x.shape}")
    return x.ndim - 2


def _as_2d(x: np.ndarray) -> np.ndarray:
    """``[N, C, L]`` as ``[N, C, 1, L]`` (a 1-D op is the 2-D op of a map one row high)."""
    return x[:, :, None, :] if x.ndim == 3 else x


# ---- the shared cores (any dtype: int64 for the integer pass, float64 for the float pass) ----------------

def _conv_core(x, w, stride, padding, dilation, groups):
    """``[N, C, H, W]`` x ``[K, C/groups, KH, KW]`` -> ``[N, K, OH, OW]`` in ``x``'s dtype, im2col per chunk."""
    N, C, H, W = x.shape
    K, Cg, KH, KW = w.shape
    G, Kg = groups, K // groups
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    eh, ew = dh * (KH - 1) + 1, dw * (KW - 1) + 1
    OH, OW = (xp.shape[2] - eh) // sh + 1, (xp.shape[3] - ew) // sw + 1
    if xp.shape[2] < eh or xp.shape[3] < ew:
        raise ValueError(f"a {KH}x{KW} kernel (dilation {dilation}) does not fit the padded "
                         f"{xp.shape[2]}x{xp.shape[3]} map (input {H}x{W}, padding {padding})")
    win = np.lib.stride_tricks.sliding_window_view(xp, (eh, ew), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    wm = w.reshape(G, Kg, Cg * KH * KW).transpose(0, 2, 1)           # [G, R, Kg]
    out = np.empty((N, K, OH, OW), dtype=np.result_type(x.dtype, w.dtype))
    per_row = (C * KH * KW + K) * OW                                  # elements of one output row
    rows = max(1, CHUNK_ELEMENTS // per_row)
    rb = min(OH, rows)                                                # output rows per chunk
    nb = max(1, rows // OH) if rb == OH else 1                        # samples per chunk
    for n0 in range(0, N, nb):
        for r0 in range(0, OH, rb):
            blk = win[n0:n0 + nb, :, r0:r0 + rb]                      # [n, C, r, OW, KH, KW]
            n, r = blk.shape[0], blk.shape[2]
            cols = blk.reshape(n, G, Cg, r, OW, KH, KW).transpose(0, 1, 3, 4, 2, 5, 6).reshape(
                n, G, r * OW, Cg * KH * KW)                           # the copy: [n, G, r*OW, R]
            y = np.matmul(cols, wm)                                   # [n, G, r*OW, Kg]
            out[n0:n0 + n, :, r0:r0 + r] = y.transpose(0, 1, 3, 2).reshape(n, K, r, OW)
    return out


def _pool_windows(x, kernel, stride, padding, fill):
    """The ``[N, C, OH, OW, KH, KW]`` window view of ``x`` padded with ``fill``."""
    (kh, kw), (sh, sw) = kernel, stride
    for (a, b), k in zip(padding, kernel):
        if a > k // 2 or b > k // 2:
            raise ValueError(f"pool padding {padding} must be at most half the kernel {kernel} on each side")
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding), constant_values=fill)
    if xp.shape[2] < kh or xp.shape[3] < kw:
        raise ValueError(f"a {kh}x{kw} pool does not fit the padded {xp.shape[2]}x{xp.shape[3]} map")
    return np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def _window_max(x, kernel, stride, padding, fill):
    """Max over each window of ``[N, C, H, W]`` ``x`` (padded with ``fill``); windows that tile the map
    (stride = kernel) by one reshape, the others from the window view."""
    (kh, kw), (sh, sw) = kernel, stride
    if (sh, sw) != (kh, kw):
        return _pool_windows(x, kernel, stride, padding, fill).max(axis=(-2, -1))
    win = _pool_windows(x, kernel, stride, padding, fill)          # checks, and gives the output size
    n, c, oh, ow = win.shape[:4]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding), constant_values=fill)
    return xp[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw).max(axis=(3, 5))


def _pool_args(x, kernel, stride, padding):
    d = x.ndim - 2
    k = _ints("kernel", kernel, d, 1)
    s = k if stride is None else _ints("stride", stride, d, 1)
    p = _padding(padding, d)
    if d == 1:
        k, s, p = (1,) + k, (1,) + s, ((0, 0),) + p
    return k, s, p


def _conv_args(x, w, stride, padding, dilation, groups):
    d = w.ndim - 2
    if x.ndim != w.ndim:
        raise ValueError(f"x must have {w.ndim} dimensions ([N, C, {'L' if d == 1 else 'H, W'}]) for a "
                         f"{d}-D convolution with weight of shape {w.shape}, got shape {x.shape}")
    groups = check_int("groups", groups, lo=1)
    K, Cg = w.shape[:2]
    if K % groups:
        raise ValueError(f"groups={groups} must divide the {K} output channels (weight shape {w.shape})")
    if x.shape[1] != Cg * groups:
        raise ValueError(f"x has {x.shape[1]} channels (axis 1), the weight of shape {w.shape} with "
                         f"groups={groups} needs {Cg * groups}")
    s, dl, p = _ints("stride", stride, d, 1), _ints("dilation", dilation, d, 1), _padding(padding, d)
    if d == 1:
        s, dl, p = (1,) + s, (1,) + dl, ((0, 0),) + p
    return s, p, dl, groups


def _bias(bias, K: int, *, integer: bool):
    if bias is None:
        return None
    b = check_int_array("bias", bias, ndim=1) if integer else check_float_array("bias", bias, ndim=1)
    if b.shape != (K,):
        raise ValueError(f"bias must have shape ({K},), one value per output channel, got {b.shape}")
    return b


def _check_int64_sums(R: int, b) -> None:
    """Refuse when ``R`` INT8 x INT8 products plus the bias could leave int64."""
    top = R * 128 * max(-WEIGHT_RANGE[0], WEIGHT_RANGE[1]) + (int(np.abs(b).max()) if b is not None and b.size else 0)
    if top > _INT64_MAX:
        raise ValueError(f"the sums could reach {top}, beyond int64 ({R} products per output plus the bias)")


# ---- integer ops -----------------------------------------------------------------------------------------

def conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, groups: int = 1) -> np.ndarray:
    """The exact integer convolution, 1-D or 2-D by ``w``'s shape: int64 accumulators (``acc + bias``).

    ``x``: INT8 ``[N, C, L]`` or ``[N, C, H, W]``; ``w``: INT8 ``[K, C/groups, KL]`` or ``[K, C/groups,
    KH, KW]``; ``bias``: integer ``[K]`` (in the accumulator's scale) or ``None``. ``stride``,
    ``dilation``: an int or one per spatial axis; ``padding``: zeros, an int, one int per axis, or
    ``(before, after)`` per axis (``((top, bottom), (left, right))``). ``groups`` divides ``C`` and ``K``:
    output channel ``k`` sees input channels ``(k // (K/groups)) * C/groups ..`` (depthwise: ``groups ==
    C``). ``y[n, k, o] = sum_{c, j} w[k, c, j] * xp[n, g*C/groups + c, o*stride + j*dilation] + bias[k]``
    with ``xp`` the zero-padded input, exactly, in int64.
    """
    w = check_int_array("w", w, lo=WEIGHT_RANGE[0], hi=WEIGHT_RANGE[1])
    if w.ndim not in (3, 4):
        raise ValueError(f"w must be [K, C/groups, KL] or [K, C/groups, KH, KW], got shape {w.shape}")
    x = _act("x", x)
    s, p, dl, g = _conv_args(x, w, stride, padding, dilation, groups)
    b = _bias(bias, w.shape[0], integer=True)
    _check_int64_sums(int(np.prod(w.shape[1:])), b)
    y = _conv_core(_as_2d(x), _as_2d(w), s, p, dl, g)
    if b is not None:
        y += b[None, :, None, None]
    return y[:, :, 0, :] if w.ndim == 3 else y


def conv1d(x, w, bias=None, *, stride=1, padding=0, dilation=1, groups: int = 1) -> np.ndarray:
    """:func:`conv` for ``x [N, C, L]`` and ``w [K, C/groups, KL]``."""
    if np.ndim(w) != 3:
        raise ValueError(f"conv1d needs w of shape [K, C/groups, KL], got shape {np.shape(w)}")
    return conv(x, w, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv2d(x, w, bias=None, *, stride=1, padding=0, dilation=1, groups: int = 1) -> np.ndarray:
    """:func:`conv` for ``x [N, C, H, W]`` and ``w [K, C/groups, KH, KW]``."""
    if np.ndim(w) != 4:
        raise ValueError(f"conv2d needs w of shape [K, C/groups, KH, KW], got shape {np.shape(w)}")
    return conv(x, w, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


def linear(x, w, bias=None) -> np.ndarray:
    """``y[n, k] = sum_c w[k, c] * x[n, c] + bias[k]``, exact int64 ``[N, K]``; ``x`` INT8 ``[N, C]``,
    ``w`` INT8 ``[K, C]``, ``bias`` integer ``[K]`` or ``None``."""
    w = check_int_array("w", w, lo=WEIGHT_RANGE[0], hi=WEIGHT_RANGE[1], ndim=2)
    x = _act("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must be [N, C] for a linear layer (flatten it first), got shape {x.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features (axis 1), the weight of shape {w.shape} needs {w.shape[1]}")
    b = _bias(bias, w.shape[0], integer=True)
    _check_int64_sums(w.shape[1], b)
    y = x @ w.T
    return y if b is None else y + b


def requantize_channels(acc, mult, shift: int, relu: bool = False) -> np.ndarray:
    """The layer engine's output stage on ``[N, K, ...]`` accumulators: :func:`golden.array.requantize`
    with channel ``k`` (axis 1) scaled by ``mult[k]``; INT8 (int64) of ``acc``'s shape."""
    a = check_int_array("acc", acc)
    if a.ndim < 2:
        raise ValueError(f"acc must be [N, K, ...] (channels on axis 1), got shape {a.shape}")
    y = np.moveaxis(a, 1, 0)
    z = requantize(y.reshape(y.shape[0], -1), mult, shift, relu)
    return np.moveaxis(z.reshape(y.shape), 0, 1)


def max_pool(x, kernel, stride=None, padding=0) -> np.ndarray:
    """Max over each window of INT8 ``x`` (``[N, C, L]`` or ``[N, C, H, W]``); ``stride`` defaults to the
    kernel; padding (at most half the kernel) never wins. Exact; the scale is unchanged."""
    x = _act("x", x)
    d = _spatial_dims("x", x)
    k, s, p = _pool_args(x, kernel, stride, padding)
    y = _window_max(_as_2d(x), k, s, p, np.iinfo(np.int64).min)
    return y[:, :, 0, :] if d == 1 else y


def avg_pool(x, kernel, stride=None, padding=0) -> np.ndarray:
    """Mean of each window of INT8 ``x``, rounded half up: ``floor((2 * sum + n) / (2 * n))`` with ``n``
    the window size, padding zeros counted (PyTorch's ``count_include_pad=True``). The scale is unchanged."""
    x = _act("x", x)
    d = _spatial_dims("x", x)
    k, s, p = _pool_args(x, kernel, stride, padding)
    n = k[0] * k[1]
    sums = _pool_windows(_as_2d(x), k, s, p, 0).sum(axis=(-2, -1))
    y = (2 * sums + n) // (2 * n)
    return y[:, :, 0, :] if d == 1 else y


def global_avg_pool(x) -> np.ndarray:
    """Mean over the whole map of INT8 ``x`` (``[N, C, L]`` or ``[N, C, H, W]``) -> ``[N, C]``, rounded
    half up as :func:`avg_pool`. The scale is unchanged."""
    x = _act("x", x)
    _spatial_dims("x", x)
    n = int(np.prod(x.shape[2:]))
    sums = x.reshape(x.shape[0], x.shape[1], -1).sum(axis=2)
    return (2 * sums + n) // (2 * n)


def relu(x) -> np.ndarray:
    """``max(x, 0)`` of INT8 ``x`` (zero point 0, so exact; the scale is unchanged)."""
    return np.maximum(_act("x", x), 0)


def relu6(x, six: int) -> np.ndarray:
    """``clamp(x, 0, six)`` of INT8 ``x``; ``six`` the quantized 6 of ``x``'s scale (:func:`quantized_six`)."""
    six = check_int("six", six, lo=0, hi=ACT_RANGE[1])
    return np.clip(_act("x", x), 0, six)


def add(a, b, mult_a: int, mult_b: int, shift: int, relu: bool = False) -> np.ndarray:
    """A residual add of INT8 ``a`` (scale ``s_a``) and ``b`` (scale ``s_b``) into INT8 of scale ``s_out``:
    the output stage (:func:`golden.array.requantize`, multiplier 1) of the exact sum ``a * mult_a + b *
    mult_b``, i.e. ``clamp((a * mult_a + b * mult_b + 2**(shift-1)) >> shift, lo, 127)``, round half up,
    ``lo`` 0 with ``relu`` else -128. ``mult_a / 2**shift ~ s_a / s_out``, ``mult_b / 2**shift ~ s_b /
    s_out``: :func:`multiplier_shift` ``([s_a / s_out, s_b / s_out])``."""
    a, b = _act("a", a), _act("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {a.shape} and {b.shape}")
    ma = check_int("mult_a", mult_a, lo=0, hi=_MULT_MAX)
    mb = check_int("mult_b", mult_b, lo=0, hi=_MULT_MAX)
    y = a * ma + b * mb
    return requantize(y.reshape(1, -1), np.ones(1, dtype=np.int64), shift, relu).reshape(a.shape)


def flatten(x) -> np.ndarray:
    """``[N, ...]`` -> ``[N, prod(...)]`` (C-order, as PyTorch's ``flatten(1)``); the scale is unchanged."""
    x = _act("x", x)
    if x.ndim < 2:
        raise ValueError(f"x must be [N, ...] with at least 2 dimensions, got shape {x.shape}")
    return x.reshape(x.shape[0], -1)


# ---- helpers ---------------------------------------------------------------------------------------------

def multiplier_shift(real) -> tuple[np.ndarray, int]:
    """Real multipliers (>= 0, 1-D) as the output stage's ``(mult, shift)``: ``mult / 2**shift ~ real``.

    One shift for all of them, the largest in ``0..SHIFT_MAX`` (47) with every ``mult = rint(real *
    2**shift)`` (round half to even) at most ``2**16 - 1``; so the largest multiplier keeps 16
    significant bits (15 after rounding up) and a multiplier ``2**16`` times smaller than the largest
    keeps about one (it may round to 0). ``ValueError`` if the largest is too big even at shift 0
    (``>= 65535.5``). All zero: ``mult`` 0, shift 0.
    """
    r = check_float_array("real", real, ndim=1)
    if r.size and (r < 0).any():
        raise ValueError(f"real multipliers must be >= 0, got {r[np.argmax(r < 0)]}")
    top = float(r.max(initial=0.0))
    if top == 0.0:
        return np.zeros(r.shape, dtype=np.int64), 0
    shift = SHIFT_MAX
    while shift > 0 and np.rint(top * 2.0 ** shift) > _MULT_MAX:
        shift -= 1
    if np.rint(top * 2.0 ** shift) > _MULT_MAX:
        raise ValueError(f"a real multiplier of {top} does not fit the output stage's {MULT_BITS}-bit "
                         f"multiplier (at most {_MULT_MAX} at shift 0)")
    return np.rint(r * 2.0 ** shift).astype(np.int64), shift


def quantized_six(scale: float) -> int:
    """The INT8 value of 6.0 at ``scale``, for ReLU6: ``min(127, floor(6 / scale + 1/2))``."""
    s = _scale("scale", scale)
    return int(min(ACT_RANGE[1], math.floor(6.0 / s + 0.5)))


def _scale(name, s) -> float:
    if isinstance(s, bool) or not isinstance(s, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number > 0, got {s!r}")
    s = float(s)
    if not (s > 0 and math.isfinite(s)):
        raise ValueError(f"{name} must be a finite number > 0, got {s}")
    return s


def calibration_scale(t, percentile: float = 100.0) -> float:
    """The INT8 scale of a float tensor: ``a / 127``, ``a`` = ``max|t|`` (``percentile=100``) or that
    percentile of ``|t|`` (``numpy.percentile``, linear interpolation); 1.0 if ``a`` is 0 (or below the
    normal float64 range, as :func:`golden.quant.quantize` does)."""
    a = check_float_array("t", t)
    p = _percentile(percentile)
    m = float(np.abs(a).max(initial=0.0)) if p == 100.0 else float(np.percentile(np.abs(a), p))
    top = ACT_RANGE[1]
    return m / top if m >= top * np.finfo(np.float64).tiny else 1.0


def _percentile(p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"percentile must be a number in (0, 100], got {p!r}")
    p = float(p)
    if not (0 < p <= 100):
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    return p


def quantize_activations(x, scale: float) -> np.ndarray:
    """Float activations to INT8: ``clamp(rint(x / scale), -128, 127)`` (round half to even), int64.
    NaN and infinity are refused."""
    a = check_float_array("x", x)
    s = _scale("scale", scale)
    return np.clip(np.rint(a / s), *ACT_RANGE).astype(np.int64)


def top1_agreement(a, b) -> float:
    """The fraction of rows of ``[N, classes]`` scores ``a`` and ``b`` whose argmax is the same."""
    a, b = check_float_array("a", a, ndim=2), check_float_array("b", b, ndim=2)
    if a.shape != b.shape or a.shape[0] == 0:
        raise ValueError(f"a and b must be [N, classes] of one shape, N >= 1, got {a.shape} and {b.shape}")
    return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))


# ---- the network description ---------------------------------------------------------------------------

def _name(what: str, v, optional: bool = False):
    if v is None and optional:
        return None
    if not isinstance(v, str) or not v:
        raise TypeError(f"{what} must be a non-empty str (a key of the parameters){' or None' * optional}, got {v!r}")
    return v


@dataclass(frozen=True)
class Conv:
    """A convolution, 1-D or 2-D by its weight's shape (``[K, C/groups, KL]`` or ``[K, C/groups, KH, KW]``).

    ``weight``, ``bias``: keys of the network's parameters (``bias`` may be ``None``). ``stride``,
    ``dilation``: an int or one per spatial axis; ``padding``: an int, one per axis or ``(before, after)``
    per axis (zeros; e.g. :func:`golden.pretrained.same_padding`'s pairs); ``groups``: depthwise is
    ``groups == C``. ``bn``: the prefix of a batch norm that follows (``<bn>.weight``, ``.bias``,
    ``.running_mean``, ``.running_var``), folded into the weights with
    :func:`golden.pretrained.fold_batch_norm` and ``bn_eps`` (PyTorch's default 1e-5; EfficientNet-Lite:
    1e-3).
    """
    weight: str
    bias: str | None = None
    stride: int | tuple = 1
    padding: int | tuple = 0
    dilation: int | tuple = 1
    groups: int = 1
    bn: str | None = None
    bn_eps: float = 1e-5

    def __post_init__(self):
        _name("weight", self.weight)
        _name("bias", self.bias, optional=True)
        _name("bn", self.bn, optional=True)
        check_int("groups", self.groups, lo=1)
        _scale("bn_eps", self.bn_eps)


@dataclass(frozen=True)
class Linear:
    """A fully connected layer ``y = x @ weight.T + bias`` on ``[N, C]`` (``weight [K, C]``; ``bias`` a
    key or ``None``)."""
    weight: str
    bias: str | None = None

    def __post_init__(self):
        _name("weight", self.weight)
        _name("bias", self.bias, optional=True)


@dataclass(frozen=True)
class ReLU:
    """``max(x, 0)``; right after a :class:`Conv`, :class:`Linear` or :class:`Residual` it runs fused in
    that layer's output stage (``relu``)."""


@dataclass(frozen=True)
class ReLU6:
    """``min(max(x, 0), 6)``; fused like :class:`ReLU`, the 6 is the quantized six of the output scale."""


@dataclass(frozen=True)
class MaxPool:
    """Max pool: ``kernel`` (int or one per axis), ``stride`` (default the kernel), ``padding`` (at most
    half the kernel)."""
    kernel: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0


@dataclass(frozen=True)
class AvgPool:
    """Average pool, padding counted in the divisor; arguments as :class:`MaxPool`."""
    kernel: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0


@dataclass(frozen=True)
class GlobalAvgPool:
    """Mean over the whole map: ``[N, C, ...]`` -> ``[N, C]`` (PyTorch's ``AdaptiveAvgPool(1)`` then
    ``flatten(1)``)."""


@dataclass(frozen=True)
class Flatten:
    """``[N, ...]`` -> ``[N, prod(...)]``, C order (identity on ``[N, C]``)."""


@dataclass(frozen=True)
class Residual:
    """``body(x) + shortcut(x)``: ``body`` and ``shortcut`` are layer lists (the shortcut empty, the
    default, is the identity). Both must give one shape. A ReLU/ReLU6 right after it runs fused in the add."""
    body: tuple
    shortcut: tuple = ()

    def __post_init__(self):
        for name in ("body", "shortcut"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)):
                raise TypeError(f"Residual.{name} must be a list of layer specs, got {type(v).__name__}")
            object.__setattr__(self, name, tuple(v))
        if not self.body:
            raise ValueError("Residual.body must hold at least one layer")
        _check_specs(self.body, "Residual.body")
        _check_specs(self.shortcut, "Residual.shortcut")


_SPECS = (Conv, Linear, ReLU, ReLU6, MaxPool, AvgPool, GlobalAvgPool, Flatten, Residual)
_ACTS = (ReLU, ReLU6)


def _check_specs(layers, where: str) -> tuple:
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"{where} must be a list of layer specs, got {type(layers).__name__}")
    for i, s in enumerate(layers):
        if not isinstance(s, _SPECS):
            raise TypeError(f"{where}[{i}] is a {type(s).__name__}, not a layer spec "
                            f"({', '.join(c.__name__ for c in _SPECS)})")
    return tuple(layers)


# ---- resolved float layers (weights looked up, batch norm folded) ----------------------------------------

@dataclass(frozen=True, eq=False)
class _FLayer:
    """A Conv or Linear spec with its float64 weight and bias (batch norm folded) and normalized geometry."""
    spec: object
    w: np.ndarray
    b: np.ndarray
    stride: tuple = ()
    padding: tuple = ()
    dilation: tuple = ()
    groups: int = 1

    @property
    def is_conv(self) -> bool:
        return isinstance(self.spec, Conv)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.is_conv:
            s, p, dl, g = _conv_args(x, self.w, self.spec.stride, self.spec.padding, self.spec.dilation,
                                     self.spec.groups)
            y = _conv_core(_as_2d(x), _as_2d(self.w), s, p, dl, g)
            y = y[:, :, 0, :] if self.w.ndim == 3 else y
            return y + self.b.reshape((1, -1) + (1,) * (y.ndim - 2))
        if x.ndim != 2 or x.shape[1] != self.w.shape[1]:
            raise ValueError(f"Linear({self.spec.weight!r}) needs [N, {self.w.shape[1]}] input, got shape "
                             f"{x.shape} (flatten first)")
        return x @ self.w.T + self.b


@dataclass(frozen=True, eq=False)
class _FResidual:
    """A Residual spec with its body and shortcut resolved."""
    body: tuple
    shortcut: tuple


def _param(params: Mapping, key: str, what: str) -> np.ndarray:
    if key not in params:
        raise KeyError(f"{what}: no parameter {key!r} in the network's parameters")
    return check_float_array(key, params[key])


def _resolve(layers, params: Mapping) -> tuple:
    out = []
    for s in layers:
        if isinstance(s, Conv):
            w = _param(params, s.weight, "Conv")
            if w.ndim not in (3, 4):
                raise ValueError(f"Conv weight {s.weight!r} must be [K, C/groups, KL] or [K, C/groups, KH, KW], "
                                 f"got shape {w.shape}")
            K = w.shape[0]
            if K % s.groups:
                raise ValueError(f"Conv({s.weight!r}): groups={s.groups} must divide its {K} output channels")
            b = _param(params, s.bias, "Conv") if s.bias is not None else np.zeros(K)
            if b.shape != (K,):
                raise ValueError(f"Conv bias {s.bias!r} must have shape ({K},), got {b.shape}")
            if s.bn is not None:
                bn = [_param(params, f"{s.bn}.{p}", f"Conv({s.weight!r}) batch norm")
                      for p in ("weight", "bias", "running_mean", "running_var")]
                w, bn_b = fold_batch_norm(w, *bn, eps=s.bn_eps)
                b = b * (bn[0] / np.sqrt(bn[3] + s.bn_eps)) + bn_b    # the conv's own bias goes through the bn
            d = w.ndim - 2
            _ints("stride", s.stride, d, 1), _ints("dilation", s.dilation, d, 1), _padding(s.padding, d)
            out.append(_FLayer(s, w, b, groups=s.groups))
        elif isinstance(s, Linear):
            w = _param(params, s.weight, "Linear")
            if w.ndim != 2:
                raise ValueError(f"Linear weight {s.weight!r} must be [K, C], got shape {w.shape}")
            b = _param(params, s.bias, "Linear") if s.bias is not None else np.zeros(w.shape[0])
            if b.shape != (w.shape[0],):
                raise ValueError(f"Linear bias {s.bias!r} must have shape ({w.shape[0]},), got {b.shape}")
            out.append(_FLayer(s, w, b))
        elif isinstance(s, Residual):
            out.append(_FResidual(_resolve(s.body, params), _resolve(s.shortcut, params)))
        else:
            out.append(s)
    return tuple(out)


def _float_op(s, x: np.ndarray) -> np.ndarray:
    """One resolved layer on float64 ``x``."""
    if isinstance(s, _FLayer):
        return s.forward(x)
    if isinstance(s, ReLU):
        return np.maximum(x, 0.0)
    if isinstance(s, ReLU6):
        return np.clip(x, 0.0, 6.0)
    if isinstance(s, (MaxPool, AvgPool)):
        d = _spatial_dims("x", x)
        k, st, p = _pool_args(x, s.kernel, s.stride, s.padding)
        y = (_window_max(_as_2d(x), k, st, p, -np.inf) if isinstance(s, MaxPool) else
             _pool_windows(_as_2d(x), k, st, p, 0.0).mean(axis=(-2, -1)))
        return y[:, :, 0, :] if d == 1 else y
    if isinstance(s, GlobalAvgPool):
        _spatial_dims("x", x)
        return x.reshape(x.shape[0], x.shape[1], -1).mean(axis=2)
    if isinstance(s, Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(s, _FResidual):
        a, b = _float_seq(s.body, x), _float_seq(s.shortcut, x)
        if a.shape != b.shape:
            raise ValueError(f"a residual's body gives shape {a.shape}, its shortcut {b.shape}")
        return a + b
    raise TypeError(f"not a layer: {s!r}")


def _float_seq(layers, x, shapes=None):
    """``layers`` on float64 ``x``; ``shapes``: a dict that gets each conv/linear layer's output shape."""
    for s in layers:
        if isinstance(s, _FResidual) and shapes is not None:
            a, b = _float_seq(s.body, x, shapes), _float_seq(s.shortcut, x, shapes)
            if a.shape != b.shape:
                raise ValueError(f"a residual's body gives shape {a.shape}, its shortcut {b.shape}")
            x = a + b
            continue
        x = _float_op(s, x)
        if isinstance(s, _FLayer) and shapes is not None:
            shapes[s.spec.weight] = x.shape
    return x


# ---- the quantized network -----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class QConv:
    """A quantized convolution: ``requantize(conv(x, weight) + bias)`` (then ``min(., six)`` for a ReLU6).

    ``weight`` INT8 (int64), ``weight_scales`` its per-channel scales; ``bias`` int64 ``[K]`` in the
    accumulator's scale ``in_scale * weight_scales[k]``; ``mult`` ``[K]`` (16-bit) and ``shift`` the output
    stage; ``relu`` its ``lo = 0``; ``six`` the ReLU6 clamp or ``None``; ``widened``: the channels whose
    weight scale was widened so the bias fits the 32-bit accumulator (docs/networks.md).
    """
    name: str
    weight: np.ndarray
    weight_scales: np.ndarray
    bias: np.ndarray
    mult: np.ndarray
    shift: int
    relu: bool
    six: int | None
    in_scale: float
    out_scale: float
    widened: tuple
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    groups: int = 1
    weight_key: str = ""

    def accumulate(self, x) -> np.ndarray:
        return conv(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                    dilation=self.dilation, groups=self.groups)

    def forward(self, x) -> np.ndarray:
        z = requantize_channels(self.accumulate(x), self.mult, self.shift, self.relu)
        return z if self.six is None else np.minimum(z, self.six)


@dataclass(frozen=True, eq=False)
class QLinear(QConv):
    """A quantized fully connected layer: as :class:`QConv` with :func:`linear`."""

    def accumulate(self, x) -> np.ndarray:
        return linear(x, self.weight, self.bias)


@dataclass(frozen=True, eq=False)
class QResidual:
    """A quantized residual: :func:`add` of ``body``'s output (scale ``body_scale``) and ``shortcut``'s
    (scale ``shortcut_scale``; the input for an empty shortcut) into ``out_scale``."""
    body: tuple
    shortcut: tuple
    mult_body: int
    mult_shortcut: int
    shift: int
    relu: bool
    six: int | None
    body_scale: float
    shortcut_scale: float
    out_scale: float

    def forward(self, x) -> np.ndarray:
        a, b = _int_seq(self.body, x), _int_seq(self.shortcut, x)
        if a.shape != b.shape:
            raise ValueError(f"a residual's body gives shape {a.shape}, its shortcut {b.shape}")
        z = add(a, b, self.mult_body, self.mult_shortcut, self.shift, self.relu)
        return z if self.six is None else np.minimum(z, self.six)


@dataclass(frozen=True, eq=False)
class QOp:
    """A scale-preserving integer op: ``spec`` (ReLU, ReLU6, MaxPool, AvgPool, GlobalAvgPool, Flatten),
    ``six`` for ReLU6."""
    spec: object
    six: int | None = None

    def forward(self, x) -> np.ndarray:
        s = self.spec
        if isinstance(s, ReLU):
            return relu(x)
        if isinstance(s, ReLU6):
            return relu6(x, self.six)
        if isinstance(s, MaxPool):
            return max_pool(x, s.kernel, s.stride, s.padding)
        if isinstance(s, AvgPool):
            return avg_pool(x, s.kernel, s.stride, s.padding)
        if isinstance(s, GlobalAvgPool):
            return global_avg_pool(x)
        return flatten(x)


def _int_seq(layers, x):
    for q in layers:
        x = q.forward(x)
    return x


def _given_weights(f: _FLayer, given) -> tuple[np.ndarray, np.ndarray]:
    """A method's integer weights and scales for layer ``f`` (``Network.quantize(weights=...)``), checked."""
    key = f.spec.weight
    if not (isinstance(given, tuple) and len(given) == 2):
        raise TypeError(f"weights[{key!r}] must be a pair (integer weights, per-channel scales), "
                        f"got {type(given).__name__}")
    q = check_int_array(f"weights[{key!r}][0]", given[0], lo=WEIGHT_RANGE[0], hi=WEIGHT_RANGE[1])
    if q.shape != f.w.shape:
        raise ValueError(f"weights[{key!r}][0] must have the layer's weight shape {f.w.shape}, got {q.shape}")
    sw = check_float_array(f"weights[{key!r}][1]", given[1], ndim=1)
    if sw.shape != (q.shape[0],) or not (sw > 0).all():
        raise ValueError(f"weights[{key!r}][1] must hold {q.shape[0]} scales > 0 (one per output channel), "
                         f"got shape {sw.shape}")
    return q, sw


def _fit_layer(f: _FLayer, s_in: float, s_out: float, act, given=None) -> QConv:
    """Quantize one conv/linear layer for input scale ``s_in`` and output scale ``s_out``; ``given``: the
    integer weights and scales to use instead of :func:`golden.quant.quantize` of its float weights."""
    q, sw = quantize(f.w, bits=8, per_channel=True) if given is None else _given_weights(f, given)
    K = q.shape[0]
    n = q[0].size
    room = ACC_RANGE[1] - n * INT8_RANGE[1] * 128       # the bias a channel of n full-scale weights leaves
    b_real = f.b / (s_in * sw)
    over = np.abs(q.reshape(K, -1)).sum(axis=1) * 128 + np.abs(np.rint(b_real)) > ACC_RANGE[1]
    widened = tuple(int(k) for k in np.flatnonzero(over))
    if widened:
        if room <= 0:
            raise ValueError(f"{_label(f)}: {n} INT8 products per output could leave the 32-bit accumulator")
        sw = sw.copy()
        q = q.copy()
        top = float(sw.max())
        for k in widened:
            # the layer's largest weight scale (so the channel's multiplier keeps the precision of the
            # layer's others under their common shift), or more if the bias needs it to leave room beside
            # any n weights: |b / (s_in s')| <= room
            sw[k] = max(sw[k], top, abs(f.b[k]) / (s_in * room) * (1 + 1e-12))
            q[k] = np.clip(np.rint(f.w[k] / sw[k]), -INT8_RANGE[1], INT8_RANGE[1])
        b_real = f.b / (s_in * sw)
    bias = np.rint(b_real).astype(np.int64)
    reach = np.abs(q.reshape(K, -1)).sum(axis=1) * 128 + np.abs(bias)
    if (reach > ACC_RANGE[1]).any():                     # cannot happen: the widening above prevents it
        raise RuntimeError(f"{_label(f)}: a channel's sums reach {int(reach.max())}, beyond the 32-bit accumulator")
    mult, shift = multiplier_shift(s_in * sw / s_out)
    six = quantized_six(s_out) if isinstance(act, ReLU6) else None
    common = dict(name=_label(f), weight_key=f.spec.weight, weight=q, weight_scales=sw, bias=bias, mult=mult, shift=shift,
                  relu=act is not None, six=six, in_scale=s_in, out_scale=s_out, widened=widened)
    if f.is_conv:
        s = f.spec
        return QConv(**common, stride=s.stride, padding=s.padding, dilation=s.dilation, groups=s.groups)
    return QLinear(**common)


def _label(f: _FLayer) -> str:
    return f"{type(f.spec).__name__}({f.spec.weight!r})"


def _compile(layers, xf: np.ndarray, s_in: float, pct: float, weights=None):
    """The quantized layers of resolved ``layers`` for input scale ``s_in``, calibrated on the float
    activations ``xf`` (``weights``: a method's integer weights by weight key, or None); returns
    ``(qlayers, float output, output scale)``."""
    weights = {} if weights is None else weights
    out, i = [], 0
    while i < len(layers):
        s = layers[i]
        act = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], _ACTS) else None
        if isinstance(s, (_FLayer, _FResidual)):
            if isinstance(s, _FLayer):
                yf = s.forward(xf)
            else:
                qb, yb, sb = _compile(s.body, xf, s_in, pct, weights)
                qs, ys, ss = _compile(s.shortcut, xf, s_in, pct, weights)
                if yb.shape != ys.shape:
                    raise ValueError(f"a residual's body gives shape {yb.shape}, its shortcut {ys.shape}")
                yf = yb + ys
            if act is not None:
                yf = _float_op(act, yf)
            s_out = calibration_scale(yf, pct)
            if isinstance(s, _FLayer):
                out.append(_fit_layer(s, s_in, s_out, act, weights.get(s.spec.weight)))
            else:
                (mb, ms), shift = multiplier_shift(np.array([sb / s_out, ss / s_out]))
                out.append(QResidual(tuple(qb), tuple(qs), int(mb), int(ms), shift, act is not None,
                                     quantized_six(s_out) if isinstance(act, ReLU6) else None, sb, ss, s_out))
            xf, s_in = yf, s_out
            i += 2 if act is not None else 1
            continue
        xf = _float_op(s, xf)
        out.append(QOp(s, quantized_six(s_in) if isinstance(s, ReLU6) else None))
        i += 1
    return out, xf, s_in


class Network:
    """A network: a list of layer specs and its float parameters.

    ``layers``: :class:`Conv`, :class:`Linear`, :class:`ReLU`, :class:`ReLU6`, :class:`MaxPool`,
    :class:`AvgPool`, :class:`GlobalAvgPool`, :class:`Flatten`, :class:`Residual`, applied in order to an
    ``[N, C, L]`` / ``[N, C, H, W]`` input. ``params``: ``{name: float array}`` (a state dict, e.g. from
    :func:`golden.pretrained.load_state_dict`), looked up by the specs' names; batch norms are folded now.
    """

    def __init__(self, layers: Sequence, params: Mapping):
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of names to arrays, got {type(params).__name__}")
        self.layers = _check_specs(layers, "layers")
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        self._resolved = _resolve(self.layers, params)

    def forward(self, x) -> np.ndarray:
        """The float64 reference pass of float ``x`` (NaN and infinity refused)."""
        return _float_seq(self._resolved, check_float_array("x", x))

    def weight_keys(self) -> list[str]:
        """The weight keys of the network's conv and linear layers, in order (Residual bodies, then shortcuts)."""
        def walk(layers):
            for s in layers:
                if isinstance(s, _FLayer):
                    yield s.spec.weight
                elif isinstance(s, _FResidual):
                    yield from walk(s.body)
                    yield from walk(s.shortcut)
        return list(walk(self._resolved))

    def output_shapes(self, x) -> dict[str, tuple]:
        """Each conv and linear layer's output shape for the float input ``x``, by weight key (one float
        pass; a single sample is enough)."""
        shapes = {}
        _float_seq(self._resolved, check_float_array("x", x), shapes)
        return shapes

    def float_weights(self) -> dict[str, np.ndarray]:
        """The float64 weights (batch norm folded) by weight key, in :meth:`weight_keys` order."""
        def walk(layers):
            for s in layers:
                if isinstance(s, _FLayer):
                    yield s.spec.weight, s.w
                elif isinstance(s, _FResidual):
                    yield from walk(s.body)
                    yield from walk(s.shortcut)
        return dict(walk(self._resolved))

    def quantize(self, calibration, *, percentile: float = 100.0, weights=None) -> "QuantizedNetwork":
        """The integer network, its scales calibrated on the float pass of the batch ``calibration``
        (:func:`calibration_scale` of the input and of every requantized tensor).

        ``weights``: optional ``{weight key: (q, scales)}``, a method's integer weights (any of
        :data:`WEIGHT_RANGE`, the layer's shape) and per-channel scales (``weight ~ q * scales``) used
        instead of the INT8 quantization of the float weights (e.g. from :func:`network.compress.compress`
        of :meth:`float_weights`); layers not named keep INT8. A channel widened for the accumulator
        (docs/networks.md) is requantized from its float weights at the widened scale also then."""
        xf = check_float_array("calibration", calibration)
        pct = _percentile(percentile)
        s_in = calibration_scale(xf, pct)
        if weights is not None:
            if not isinstance(weights, Mapping):
                raise TypeError(f"weights must be a mapping of weight keys to (q, scales), "
                                f"got {type(weights).__name__}")
            unknown = sorted(set(weights) - set(self.weight_keys()))
            if unknown:
                raise ValueError(f"weights names {unknown[0]!r}, not a conv or linear weight of the network")
        qlayers, _, s_out = _compile(self._resolved, xf, s_in, pct, weights)
        return QuantizedNetwork(tuple(qlayers), s_in, s_out)


@dataclass(frozen=True, eq=False)
class QuantizedNetwork:
    """The integer network: ``layers`` (:class:`QConv`, :class:`QLinear`, :class:`QResidual`,
    :class:`QOp`) from an input of scale ``input_scale`` to an output of scale ``output_scale``."""
    layers: tuple
    input_scale: float
    output_scale: float

    def quantize_input(self, x) -> np.ndarray:
        """Float input to INT8 at ``input_scale`` (:func:`quantize_activations`)."""
        return quantize_activations(x, self.input_scale)

    def forward(self, xq) -> np.ndarray:
        """The integer pass of INT8 ``xq`` (float arrays refused): the INT8 output, int64."""
        return _int_seq(self.layers, _act("x", xq))

    def with_weights(self, weights) -> "QuantizedNetwork":
        """The same network with other integer weights and the same scales: ``weights`` maps weight keys
        to arrays of the layers' shapes in :data:`WEIGHT_RANGE` (e.g. a method's weights from
        :func:`network.compress.compress`, which keeps the INT8 scales this network was built with). The
        biases, multipliers and shifts stay, so this is :meth:`Network.quantize` with ``weights`` without
        the calibration pass; the channels widened for the accumulator keep their weights. Layers not
        named keep theirs."""
        if not isinstance(weights, Mapping):
            raise TypeError(f"weights must be a mapping of weight keys to integer arrays, got {type(weights).__name__}")
        seen = set()

        def swap(layers):
            out = []
            for layer in layers:
                if isinstance(layer, QConv) and layer.weight_key in weights:
                    key = layer.weight_key
                    q = check_int_array(f"weights[{key!r}]", weights[key], lo=WEIGHT_RANGE[0], hi=WEIGHT_RANGE[1])
                    if q.shape != layer.weight.shape:
                        raise ValueError(f"weights[{key!r}] must have the layer's weight shape {layer.weight.shape}, "
                                         f"got {q.shape}")
                    if layer.widened:
                        q = q.copy()
                        q[list(layer.widened)] = layer.weight[list(layer.widened)]
                    reach = np.abs(q.reshape(q.shape[0], -1)).sum(axis=1) * 128 + np.abs(layer.bias)
                    if (reach > ACC_RANGE[1]).any():
                        k = int(np.argmax(reach))
                        raise ValueError(f"weights[{key!r}]: channel {k}'s sums could reach {int(reach[k])}, beyond "
                                         f"the 32-bit accumulator")
                    seen.add(key)
                    layer = dataclasses.replace(layer, weight=q)
                elif isinstance(layer, QResidual):
                    layer = dataclasses.replace(layer, body=swap(layer.body), shortcut=swap(layer.shortcut))
                out.append(layer)
            return tuple(out)

        layers = swap(self.layers)
        unknown = sorted(set(weights) - seen)
        if unknown:
            raise ValueError(f"weights names {unknown[0]!r}, not a conv or linear weight of the network")
        return dataclasses.replace(self, layers=layers)

    def run(self, x) -> np.ndarray:
        """Float ``x`` through :meth:`quantize_input`, :meth:`forward`, then dequantized: float64."""
        return self.forward(self.quantize_input(x)).astype(np.float64) * self.output_scale
