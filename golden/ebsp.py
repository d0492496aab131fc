"""EBSP golden model: one-bits confined to an ``L``-bit window (docs/ebsp.md).

Paper: F. Liu et al., "EBSP: Evolving Bit Sparsity Patterns for Hardware-Friendly Inference of Quantized
DNNs", DAC 2022. Only the abstract and talk slides are available; the pattern, its encoding, the datapath
and the ADMM training are reconstructions, so each is a choice of this project (docs/ebsp.md, Choices):

Choice: pattern, on the magnitude
    Weights are ``bits``-bit **sign-magnitude** integers in ``[-(2**(bits-1)-1), 2**(bits-1)-1]``
    (``-2**(bits-1)`` is refused, never clipped). The window is counted on the **magnitude**, not on the
    two's-complement code: the allowed magnitudes are
    ``P(B, L) = {d * 2**p : 0 <= d < 2**L, 0 <= p <= B-1-L}`` (:func:`pattern_values`); for B=8, L=3 these are
    the 24 magnitudes listed in docs/ebsp.md. The sign is a separate bit, so ``q`` is allowed iff ``|q|`` is.

Choice: projection
    :func:`project` returns the value of ``±P(B, L)`` nearest to ``q`` on the magnitude (sign kept, zero stays
    zero), **ties to the smaller magnitude**. Idempotent. Vectorized as one cached table look-up.

Choice: encoding (sign, shift, digits)
    The canonical code is exactly what the hardware LOD path computes from the magnitude ``m``::

        e = LOD(m)                 # index of the most significant one; m = 0 -> p = 0, d = 0
        p = max(e - (L - 1), 0)    # shift, 0..B-1-L          (shift_width bits)
        d = (m >> p) & (2**L - 1)  # L digits, stored in full (digit_width = L bits)

    so ``m = d << p`` for every pattern value, and a code is canonical iff ``p == 0`` or the top digit bit is
    set. We store all ``L`` digits (no implicit leading one) so that the stored code *is* the LOD output and
    the PE needs no re-insertion logic; encoded bits per weight are ``1 + shift_width + L`` (7 for B=8, L=3).
    Zero is sign 0 (no negative zero). :func:`decode` and :func:`dot` refuse non-canonical codes, so
    encoding is a bijection. Packed word (:func:`pack`, LSB first): ``d`` in bits ``[0, L)``, ``p`` in
    ``[L, L + shift_width)``, sign in bit ``L + shift_width``.

Choice: datapath
    Per lane: ``t = LUT_x[d]`` with ``LUT_x = {0, x, 2x, ..., (2**L-1)x}`` built by shifts and adds only
    (:func:`lut`: even entries ``2j`` are ``LUT[j] << 1``, odd entries ``2j+1`` are ``LUT[2j] + x``: one adder
    per odd entry above 1), then ``(s ? -t : t) << p`` goes to the adder tree. Activations are signed
    ``act_bits``-bit two's complement. One cycle per dot product.

Plain integers that violate the pattern
    If weights are stored as plain B-bit integers, the LOD/digit mux decodes them on the fly. For a value
    outside the pattern this silently **drops the one-bits below p** (truncation of the magnitude toward
    zero): :func:`decode_plain` gives the value the hardware uses, :func:`is_pattern` flags conforming values.

Choice: ADMM
    :func:`admm_step` is the Z/U half of the standard ADMM iteration on float weights, with the
    projection done as quantize (``rint(v / scale)``, round half to even, clipped to the symmetric range) ->
    :func:`project` -> dequantize (``* scale``). The W step belongs to the caller's training loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .bits import SignMagnitudeDotWidths, nearest_magnitude_table, product_range, signed_width, twos_range, \
    unsigned_width
from .check import (check_code_format, check_float_array, check_int, check_int_array, check_lane_shapes,
                    check_no_negative_zero, check_sign_magnitude_array, first_index)
from .primitives import leading_one

__all__ = [
    "EBSPConfig", "EBSPCode", "pattern_values", "project", "lod", "encode", "decode", "pack", "unpack",
    "lut", "dot", "decode_plain", "is_pattern", "project_float", "admm_step",
]

_MAX_BITS = 16
_MAX_ACT_BITS = 32


def _check_bits_window(bits, window):
    bits = check_int("bits", bits, lo=2, hi=_MAX_BITS)
    window = check_int("window", window, lo=1, hi=bits - 1, extra="(the window lies in the bits-1 magnitude bits)")
    return bits, window


def _shift_width(bits, window):
    max_shift = bits - 1 - window
    return 0 if max_shift == 0 else unsigned_width(max_shift)


@dataclass(frozen=True)
class EBSPConfig(SignMagnitudeDotWidths):
    """Parameters of an EBSP PE, shared by the golden model and the generator.

    Parameters
    ----------
    bits : int
        Weight width ``B`` (sign-magnitude), 2..16, default 8.
    window : int
        ``L``, width of the digit window, ``1..bits-1``, default 3.
    pe_length : int
        ``G_pe``, lanes summed per dot product, >= 1, default 16.
    act_bits : int
        Signed two's-complement activation width, 2..32, default 8.
    lut_sharing : int
        PEs sharing one activation LUT (>= 1, default 1); only the amortized LUT cost depends on it.

    ``product_range``, ``product_width`` (one lane's shifted, signed LUT output) and ``acc_width`` (the sum
    of ``pe_length`` of them) come from :class:`golden.bits.SignMagnitudeDotWidths`.
    """

    bits: int = 8
    window: int = 3
    pe_length: int = 16
    act_bits: int = 8
    lut_sharing: int = 1

    def __post_init__(self):
        _check_bits_window(self.bits, self.window)
        check_int("pe_length", self.pe_length, lo=1, hi=1 << 16)
        check_int("act_bits", self.act_bits, lo=2, hi=_MAX_ACT_BITS)
        check_int("lut_sharing", self.lut_sharing, lo=1)

    @property
    def max_shift(self) -> int:
        """Largest shift ``p``: ``bits - 1 - window``."""
        return self.bits - 1 - self.window

    @property
    def shift_width(self) -> int:
        """Bits of the shift field: ``unsigned_width(max_shift)``, or 0 when the only shift is 0 (L = B-1)."""
        return _shift_width(self.bits, self.window)

    @property
    def digit_width(self) -> int:
        """Bits of the digit field: ``window`` (all digits stored, no implicit leading one)."""
        return self.window

    @property
    def encoded_bits(self) -> int:
        """Stored bits per weight: sign + shift + digits."""
        return 1 + self.shift_width + self.digit_width

    @property
    def max_magnitude(self) -> int:
        """Largest pattern magnitude ``(2**L - 1) << (B-1-L)``."""
        return ((1 << self.window) - 1) << self.max_shift

    @property
    def lut_entries(self) -> int:
        """Entries of one activation LUT: ``2**window``."""
        return 1 << self.window

    @property
    def lut_entry_width(self) -> int:
        """Signed width of a LUT entry ``d * x`` (``act_bits + window`` for window >= 2, ``act_bits`` for 1)."""
        return signed_width(*product_range((0, (1 << self.window) - 1), twos_range(self.act_bits)))

    @property
    def lut_adders(self) -> int:
        """Adders to build one LUT: one per odd entry ``3x, 5x, ...`` (even entries are shifts)."""
        return (1 << (self.window - 1)) - 1

    @property
    def lut_adders_per_pe(self) -> float:
        """LUT adders amortized over the ``lut_sharing`` PEs that share it."""
        return self.lut_adders / self.lut_sharing

    @property
    def cycles_per_group(self) -> int:
        """One cycle per dot product (LUT look-up + shift + adder tree)."""
        return 1

    def pattern_values(self) -> np.ndarray:
        """Sorted allowed magnitudes ``P(bits, window)``."""
        return pattern_values(self.bits, self.window)


@dataclass(frozen=True)
class EBSPCode:
    """Encoded EBSP weights: ``value = (-1)**sign * (digits << shift)`` (layout in the module docstring)."""

    sign: np.ndarray
    shift: np.ndarray
    digits: np.ndarray
    bits: int
    window: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.sign))


@lru_cache(maxsize=None)
def _tables(bits: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted P(bits, window), projection LUT over every signed value -(2**(bits-1)-1)..2**(bits-1)-1)."""
    d = np.arange(1 << window, dtype=np.int64)
    vals = np.unique(np.concatenate([d << p for p in range(bits - window)]))
    vals = vals[vals <= (1 << (bits - 1)) - 1]
    vals.setflags(write=False)
    return vals, nearest_magnitude_table(vals, bits)


def pattern_values(bits: int = 8, window: int = 3) -> np.ndarray:
    """Sorted allowed magnitudes ``P(B, L) = {d * 2**p : 0 <= d < 2**L, 0 <= p <= B-1-L}`` (docs/ebsp.md, pattern).

    Read-only int64 array; ``pattern_values(8, 3)`` has the 24 magnitudes ``0..7, 8, 10, ..., 112``.
    """
    bits, window = _check_bits_window(bits, window)
    return _tables(bits, window)[0]


def project(q, *, bits: int = 8, window: int = 3) -> np.ndarray:
    """Project integer weights onto ``±P(bits, window)``: nearest magnitude, ties to the smaller one.

    Choice (docs/ebsp.md): the window is counted on the magnitude (sign-magnitude view); the sign is kept
    and zero stays zero. Idempotent.

    Parameters
    ----------
    q : array_like of int
        Weights in ``[-(2**(bits-1)-1), 2**(bits-1)-1]``; ``-2**(bits-1)`` is refused.
    bits : int
        Weight width, 2..16.
    window : int
        ``L``, ``1..bits-1``.

    Returns
    -------
    ndarray of int64, same shape as ``q`` (one cached table look-up, ~0.5 s per 25.6M weights).
    """
    bits, window = _check_bits_window(bits, window)
    a = check_sign_magnitude_array("q", q, bits)
    return _tables(bits, window)[1][a + ((1 << (bits - 1)) - 1)]


def lod(m) -> np.ndarray:
    """Leading-one detector: index of the most significant one of each non-negative integer, **-1 for 0**.

    The hardware LOD has a separate "all zero" flag; here ``-1`` stands for it (``lod(m) >= 0`` is the
    flag). It is :func:`golden.primitives.leading_one`, the golden function of ``hw/blocks/lod.py``.
    """
    index, valid = leading_one(check_int_array("m", m, lo=0), 63)
    return np.where(valid == 1, index, -1)


def _lod_fields(m, window):
    """(shift, digits) of the LOD path for non-negative magnitudes ``m``."""
    e = lod(m)
    p = np.maximum(e - (window - 1), 0)
    d = (m >> p) & ((1 << window) - 1)
    return p, d


def decode_plain(q, *, bits: int = 8, window: int = 3) -> np.ndarray:
    """Value the EBSP hardware uses for a plain (not pre-encoded) ``bits``-bit integer weight.

    The LOD/digit mux of the PE runs on ``|q|``: ``p = max(LOD(m) - (L-1), 0)``, ``d = (m >> p) & (2**L-1)``, and
    the PE computes with ``±(d << p)``. For a pattern value this is ``q``; otherwise the one-bits **below
    p are dropped** (magnitude truncated toward zero), sign kept. Accepts the symmetric signed range
    (non-negative magnitudes are a special case); ``-2**(bits-1)`` is refused.
    """
    bits, window = _check_bits_window(bits, window)
    a = check_sign_magnitude_array("q", q, bits)
    m = np.abs(a)
    p, d = _lod_fields(m, window)
    v = d << p
    return np.where(a < 0, -v, v)


def is_pattern(q, *, bits: int = 8, window: int = 3) -> np.ndarray:
    """Bool array: ``True`` where ``|q|`` is in ``P(bits, window)`` (so :func:`decode_plain` is exact)."""
    bits, window = _check_bits_window(bits, window)
    a = check_sign_magnitude_array("q", q, bits)
    return decode_plain(a, bits=bits, window=window) == a


def encode(q, *, bits: int = 8, window: int = 3) -> EBSPCode:
    """Canonical ``(sign, shift, digits)`` code of pattern weights, computed as the PE's LOD path does.

    Refuses values outside ``±P(bits, window)`` (``ValueError``; run :func:`project` first) and
    ``-2**(bits-1)``.
    """
    return _encode(q, bits, window, "q")


def _encode(q, bits, window, name):
    bits, window = _check_bits_window(bits, window)
    a = check_sign_magnitude_array(name, q, bits)
    m = np.abs(a)
    p, d = _lod_fields(m, window)
    idx = first_index((d << p) != m)
    if idx is not None:
        raise ValueError(f"{name} holds {int(a[idx])} at index {idx}, which is outside the pattern "
                         f"P({bits}, {window}) (one-bits span more than {window} positions); project it first")
    return EBSPCode((a < 0).astype(np.uint8), p, d, bits, window)


def _check_code(code) -> EBSPCode:
    if not isinstance(code, EBSPCode):
        raise TypeError(f"code must be an EBSPCode (from encode), got {type(code).__name__}")
    bits, window = _check_bits_window(code.bits, code.window)
    sign = check_int_array("sign", code.sign, lo=0, hi=1)
    shift = check_int_array("shift", code.shift, lo=0, hi=bits - 1 - window)
    digits = check_int_array("digits", code.digits, lo=0, hi=(1 << window) - 1)
    if shift.shape != sign.shape or digits.shape != sign.shape:
        raise ValueError(f"sign, shift and digits must have one shape, got {sign.shape}, {shift.shape}, "
                         f"{digits.shape}")
    idx = first_index((shift > 0) & ((digits >> (window - 1)) == 0))
    if idx is not None:
        raise ValueError(f"code is not canonical at index {idx}: shift {int(shift[idx])} > 0 needs the top "
                         f"digit bit set, got digits {int(digits[idx])}")
    check_no_negative_zero(sign, digits == 0)
    return EBSPCode(sign.astype(np.uint8), shift, digits, bits, window)


def decode(code: EBSPCode) -> np.ndarray:
    """Inverse of :func:`encode`: ``(-1)**sign * (digits << shift)`` (int64). Refuses non-canonical codes."""
    c = _check_code(code)
    v = c.digits << c.shift
    return np.where(c.sign == 1, -v, v)


def pack(code: EBSPCode) -> np.ndarray:
    """Pack a code into one ``encoded_bits``-wide unsigned word per weight (layout in the module docstring)."""
    c = _check_code(code)
    sw = _shift_width(c.bits, c.window)
    return (c.sign.astype(np.int64) << (c.window + sw)) | (c.shift << c.window) | c.digits


def unpack(words, *, bits: int = 8, window: int = 3) -> EBSPCode:
    """Inverse of :func:`pack`; refuses words wider than ``encoded_bits``, shifts > max and non-canonical codes."""
    cfg = EBSPConfig(bits=bits, window=window)
    w = check_int_array("words", words, lo=0, hi=(1 << cfg.encoded_bits) - 1)
    digits = w & ((1 << window) - 1)
    shift = (w >> window) & ((1 << cfg.shift_width) - 1)
    sign = (w >> (window + cfg.shift_width)) & 1
    return _check_code(EBSPCode(sign.astype(np.uint8), shift, digits, bits, window))


def lut(x, window: int, *, act_bits: int = 8) -> np.ndarray:
    """Activation LUT ``{0, x, 2x, ..., (2**L-1)x}`` built with shifts and adds only, as the PE does.

    Entry ``2j`` is ``LUT[j] << 1`` (wiring), entry ``2j+1`` is ``LUT[2j] + x`` (one adder), so the table
    costs ``2**(L-1) - 1`` adders. Returns int64 of shape ``x.shape + (2**window,)`` (entry axis last).
    """
    window = check_int("window", window, lo=1, hi=_MAX_BITS - 1)
    act_bits = check_int("act_bits", act_bits, lo=2, hi=_MAX_ACT_BITS)
    lo, hi = twos_range(act_bits)
    xa = check_int_array("x", x, lo=lo, hi=hi)
    n = 1 << window
    table = np.empty(xa.shape + (n,), dtype=np.int64)
    table[..., 0] = 0
    table[..., 1] = xa
    for v in range(2, n):
        table[..., v] = table[..., v >> 1] << 1 if v % 2 == 0 else table[..., v - 1] + xa
    return table


def _as_code(w, bits, window) -> EBSPCode:
    if isinstance(w, EBSPCode):
        c = _check_code(w)
        check_code_format(c, bits=bits, window=window)
        return c
    return _encode(w, 8 if bits is None else bits, 3 if window is None else window, "w")


def dot(w, x, *, bits: int | None = None, window: int | None = None, act_bits: int = 8) -> np.ndarray:
    """Bit-exact EBSP dot product over the last (lane) axis: ``sum_lanes (s ? -LUT_x[d] : LUT_x[d]) << p``.

    Parameters
    ----------
    w : EBSPCode or array_like of int
        Encoded weights, or pattern-conforming integer weights (encoded by :func:`encode`, which refuses
        values outside the pattern; use :func:`decode_plain` to model what the LOD path makes of them).
        For a code, ``bits``/``window`` come from it (and must match if given); otherwise default 8 and 3.
    x : array_like of int
        Signed ``act_bits``-bit activations, broadcast against the weights, lanes on the last axis.

    Returns
    -------
    ndarray of int64, the broadcast shape without the lane axis; equals ``q @ x`` for 1-D ``x``.
    """
    c = _as_code(w, bits, window)
    table = lut(x, c.window, act_bits=act_bits)
    shape = check_lane_shapes(c.shape, table.shape[:-1])
    t = np.take_along_axis(np.broadcast_to(table, shape + table.shape[-1:]),
                           np.broadcast_to(c.digits, shape)[..., None], axis=-1)[..., 0]   # LUT read
    t = np.where(c.sign == 1, -t, t)                                                       # sign
    return (t << c.shift).sum(axis=-1)                                                     # shifter + tree


def project_float(w, *, scale, bits: int = 8, window: int = 3) -> np.ndarray:
    """Quantize-project-dequantize: ``scale * project(clip(rint(w / scale)))`` (float64).

    ``rint`` rounds half to even; the clip is to the symmetric range ``±(2**(bits-1)-1)`` (float weights
    beyond the quantizer's range saturate, as in any symmetric quantizer). NaN/inf refused.

    ``scale`` is a positive finite float, or an array with as many dimensions as ``w`` that broadcasts to
    ``w``'s shape: one scale per output channel of a ``[K, C]`` weight is shape ``(K, 1)``, i.e.
    :func:`golden.quant.quantize`'s ``(K,)`` scales reshaped. A scale with fewer dimensions than ``w`` is
    refused (``ValueError``), since NumPy would broadcast it along the last axes (a ``(K,)`` scale on a
    square ``[K, K]`` weight would scale the input channels), and so is one that would enlarge ``w``.
    """
    bits, window = _check_bits_window(bits, window)
    wa = check_float_array("w", w)
    s = check_float_array("scale", scale)
    idx = first_index(~(s > 0))
    if idx is not None:
        raise ValueError(f"scale must be > 0, got {s[idx]} at index {idx}")
    if s.ndim not in (0, wa.ndim):
        dims = f"{wa.ndim} dimension{'' if wa.ndim == 1 else 's'}"
        hint = ""
        if wa.ndim:
            per_channel = (wa.shape[0],) + (1,) * (wa.ndim - 1)
            hint = (f", e.g. one scale per output channel as shape {per_channel} "
                    f"(quantize's scales.reshape({', '.join(map(str, per_channel))}))")
        raise ValueError(f"scale of shape {s.shape} does not match w of shape {wa.shape}: give a scalar or an "
                         f"array with w's {dims} that broadcasts to it{hint}")
    try:
        fits = np.broadcast_shapes(wa.shape, s.shape) == wa.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"scale of shape {s.shape} does not broadcast to w of shape {wa.shape}")
    top = (1 << (bits - 1)) - 1
    q = np.clip(np.rint(wa / s), -top, top).astype(np.int64)
    return project(q, bits=bits, window=window) * s


def admm_step(w, z, u, *, scale, bits: int = 8, window: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Z/U update of ADMM-based pattern training (docs/ebsp.md, ADMM), usable from any training loop.

    ``Z <- scale * project(rint((W + U) / scale))`` (see :func:`project_float`), then ``U <- U + W - Z``.
    The caller performs the W step (``argmin Loss(W) + rho/2 ||W - Z + U||^2``, e.g. some SGD epochs) and,
    at the end, ``W <- project_float(W)``. The incoming ``z`` is only checked (shape, finiteness): the
    standard update does not read it.

    Parameters
    ----------
    w, z, u : array_like of float
        Weights, auxiliary (projected) variable and scaled dual variable, one shape; NaN/inf refused.
    scale : float or array_like
        Quantizer step, > 0: a scalar or an array of ``w``'s dimensions broadcasting to it (see
        :func:`project_float`).

    Returns
    -------
    (z, u) : tuple of float64 ndarrays.
    """
    wa = check_float_array("w", w)
    za = check_float_array("z", z)
    ua = check_float_array("u", u)
    if za.shape != wa.shape or ua.shape != wa.shape:
        raise ValueError(f"w, z and u must have one shape, got {wa.shape}, {za.shape}, {ua.shape}")
    z_new = project_float(wa + ua, scale=scale, bits=bits, window=window)
    return z_new, ua + wa - z_new
