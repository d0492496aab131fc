"""Bit-balance golden model: at most ``k`` one-bits per weight magnitude (docs/bitbalance.md).

Paper: W. Sun et al., "Bit-balance: Model-Hardware Co-design for Accelerating NNs by Exploiting Bit-level
Sparsity", arXiv 2302.00201. Only the abstract is available, so everything below the headline claim
("every weight has a bounded number of non-zero bits, processed by a sparse bit-serial PE in a fixed number of
cycles") is a reconstruction, so each detail is a choice of this project (docs/bitbalance.md, Choices):

Choice: quantization and projection
    Weights are ``bits``-bit **sign-magnitude** integers in the symmetric range ``[-(2**(bits-1)-1),
    2**(bits-1)-1]``; the one-bit budget ``k`` counts one-bits of the **magnitude** (``bits-1`` planes).
    ``-2**(bits-1)`` has no sign-magnitude code and is **refused** (never clipped).
    :func:`project` returns the nearest value (absolute difference of the magnitudes) whose magnitude has at
    most ``k`` one-bits, **ties to the smaller magnitude**, sign kept, zero stays zero. This is the "nearest"
    formalisation of the paper's projection, not the greedy-MSB or signed-digit alternatives.
    The allowed set ``S_k = {v in [0, 2**(bits-1)-1] : popcount(v) <= k}`` always contains 0, so a nearest
    value exists; values above ``max(S_k)`` project down to it (``2**(bits-1)`` itself is out of range).

Choice: adaptive bitwidth
    "Adaptive bitwidth" is a per-layer ``k`` (:func:`project_layers`); the PE then takes ``k`` cycles.

Choice: encoding (sign, k slots)
    A weight is ``sign`` (1 = negative) plus ``k`` slots, each ``(valid, pos)``:

    * slots are **MSB-first**: slot 0 holds the position of the most significant one, slot 1 the next, ...;
    * used slots come first, positions strictly decreasing; unused slots have ``valid = 0`` and ``pos = 0``
      (so the valid bits of a weight form a thermometer code);
    * zero is ``sign = 0`` with every slot unused (no negative zero).

    We store one **valid bit per slot** rather than a count or a "repeated position" trick, because the PE
    consumes exactly one slot per cycle and the valid bit gates its adder with no decoding. It is not the
    smallest code (a count field would save ``k - unsigned_width(k)`` bits); bits-per-weight figures use
    :attr:`BitBalanceConfig.encoded_bits`, which counts the valid bits. Only canonical codes are accepted by
    :func:`decode`, :func:`dot` and :func:`pack`, so encoding is a bijection.

    Packed word (:func:`pack`, LSB first): slot ``j`` occupies bits ``[j*(P+1), (j+1)*(P+1))`` with ``pos`` in
    its low ``P = pos_width`` bits and ``valid`` in its top bit; the sign is bit ``k*(P+1)``.

Choice: PE arithmetic
    One slot per cycle, all lanes in lock-step (docs/bitbalance.md, PE): in cycle ``c`` lane ``i`` adds
    ``valid ? (sign ? -(x_i << pos) : (x_i << pos)) : 0`` to one accumulator shared by the ``pe_length`` lanes
    (summed by an adder tree). A dot product takes exactly ``k`` cycles whatever the weights are.
    Activations are signed ``act_bits``-bit two's complement (docs/bitbalance.md). Since every slot of a weight
    carries the same sign, each partial sum is bounded by the final worst case, so
    :attr:`BitBalanceConfig.acc_width` holds every cycle's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from collections.abc import Mapping, Sequence

import numpy as np

from .bits import SignMagnitudeDotWidths, nearest_magnitude_table, popcount, twos_range, unsigned_width
from .check import (check_code_format, check_int, check_int_array, check_lane_shapes, check_no_negative_zero,
                    check_sign_magnitude_array, first_index)
from .primitives import leading_one

__all__ = [
    "BitBalanceConfig", "BitBalanceCode", "allowed_magnitudes", "project", "project_layers",
    "encode", "decode", "pack", "unpack", "dot", "cycle_partial_sums",
]

_MAX_BITS = 16
_MAX_ACT_BITS = 32


def _check_bits_k(bits, k):
    bits = check_int("bits", bits, lo=2, hi=_MAX_BITS)
    k = check_int("k", k, lo=1, hi=bits - 1, extra="(at most bits-1 one-bits in a magnitude)")
    return bits, k


@dataclass(frozen=True)
class BitBalanceConfig(SignMagnitudeDotWidths):
    """Parameters of a Bit-balance PE, shared by the golden model and the generator.

    Parameters
    ----------
    bits : int
        Weight width ``B`` (sign-magnitude), 2..16, default 8.
    k : int
        Maximum number of one-bits per weight magnitude, ``1..bits-1``; also the cycles per dot product.
    pe_length : int
        ``G_pe``, lanes (weights x activations) summed per dot product, >= 1, default 16.
    act_bits : int
        Signed two's-complement activation width, 2..32, default 8.

    ``product_range``, ``product_width`` (one lane's full product ``w * x``) and ``acc_width`` (the sum of
    ``pe_length`` of them, which also holds every cycle's partial sum: the module docstring says why) come
    from :class:`golden.bits.SignMagnitudeDotWidths`.
    """

    bits: int = 8
    k: int = 3
    pe_length: int = 16
    act_bits: int = 8

    def __post_init__(self):
        _check_bits_k(self.bits, self.k)
        check_int("pe_length", self.pe_length, lo=1, hi=1 << 16)
        check_int("act_bits", self.act_bits, lo=2, hi=_MAX_ACT_BITS)

    @property
    def pos_width(self) -> int:
        """Bits of one slot position field (indexes ``0..bits-2``; at least 1)."""
        return unsigned_width(self.bits - 2)

    @property
    def encoded_bits(self) -> int:
        """Stored bits per weight: 1 sign + ``k`` slots of (valid bit + position)."""
        return 1 + self.k * (self.pos_width + 1)

    @property
    def max_magnitude(self) -> int:
        """Largest allowed magnitude: the top ``k`` of the ``bits-1`` magnitude bits set."""
        return (1 << (self.bits - 1)) - (1 << (self.bits - 1 - self.k))

    @property
    def cycles_per_group(self) -> int:
        """Cycles for one dot product: exactly ``k`` (one slot per cycle)."""
        return self.k

    def allowed_magnitudes(self) -> np.ndarray:
        """Sorted allowed magnitudes ``S_k`` (see :func:`allowed_magnitudes`)."""
        return allowed_magnitudes(self.bits, self.k)


@dataclass(frozen=True)
class BitBalanceCode:
    """Encoded Bit-balance weights (see the module docstring for the layout).

    Attributes
    ----------
    sign : ndarray of uint8, shape ``S``
        1 = negative. 0 for zero.
    pos : ndarray of int64, shape ``S + (k,)``
        Bit positions (``0..bits-2``), slot 0 = most significant one; 0 in unused slots.
    valid : ndarray of uint8, shape ``S + (k,)``
        1 where the slot holds a one-bit; a prefix of the slots.
    bits, k : int
        The format.
    """

    sign: np.ndarray
    pos: np.ndarray
    valid: np.ndarray
    bits: int
    k: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.sign))


@lru_cache(maxsize=None)
def _tables(bits: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted allowed magnitudes, projection LUT over every signed value -(2**(bits-1)-1)..2**(bits-1)-1)."""
    mags = np.arange(1 << (bits - 1), dtype=np.int64)
    allowed = mags[popcount(mags) <= k]
    allowed.setflags(write=False)
    return allowed, nearest_magnitude_table(allowed, bits)


def allowed_magnitudes(bits: int = 8, k: int = 3) -> np.ndarray:
    """Sorted magnitudes in ``[0, 2**(bits-1)-1]`` with at most ``k`` one-bits (read-only int64 array)."""
    bits, k = _check_bits_k(bits, k)
    return _tables(bits, k)[0]


def project(q, *, bits: int = 8, k: int = 3) -> np.ndarray:
    """Project integer weights onto values whose magnitude has at most ``k`` one-bits.

    Choice (docs/bitbalance.md), the "nearest" formalisation: ``|q'|`` is the allowed magnitude nearest to ``|q|``,
    **ties to the smaller magnitude**; the sign is kept and zero stays zero. Idempotent.

    Parameters
    ----------
    q : array_like of int
        Sign-magnitude weights in ``[-(2**(bits-1)-1), 2**(bits-1)-1]``; ``-2**(bits-1)`` is refused.
    bits : int
        Weight width, 2..16.
    k : int
        One-bit budget, ``1..bits-1``.

    Returns
    -------
    ndarray of int64, same shape as ``q``.

    Notes
    -----
    Vectorized as one table look-up: the projection of every signed value is precomputed (cached) per
    ``(bits, k)`` with ``np.searchsorted`` over the sorted allowed magnitudes (about 0.5 s per 25.6M weights).
    """
    bits, k = _check_bits_k(bits, k)
    a = check_sign_magnitude_array("q", q, bits)
    signed = _tables(bits, k)[1]
    return signed[a + ((1 << (bits - 1)) - 1)]


def project_layers(layers, *, bits: int = 8, k):
    """Project several layers, each with its own ``k`` ("adaptive bitwidth", a choice, docs/bitbalance.md).

    Parameters
    ----------
    layers : sequence of arrays, or mapping name -> array
        Integer weights of each layer.
    k : int, sequence of int, or mapping
        One budget for all layers, or one per layer: a sequence as long as ``layers`` (when ``layers`` is a
        sequence) or a mapping with exactly the keys of ``layers`` (when ``layers`` is a mapping).
    bits : int
        Weight width, shared by all layers.

    Returns
    -------
    list of ndarray, or dict with the keys of ``layers``.
    """
    bits = check_int("bits", bits, lo=2, hi=_MAX_BITS)
    if isinstance(layers, Mapping):
        keys = list(layers)
        if isinstance(k, Mapping):
            missing = [key for key in keys if key not in k]
            extra = [key for key in k if key not in layers]
            if missing or extra:
                raise ValueError(f"k must have exactly the keys of layers; missing {missing}, extra {extra}")
            ks = [k[key] for key in keys]
        elif (isinstance(k, Sequence) or (isinstance(k, np.ndarray) and k.ndim)) and not isinstance(k, str):
            raise TypeError("k must be an int or a mapping with the keys of layers when layers is a mapping, "
                            f"got {type(k).__name__}")
        else:
            ks = [k] * len(keys)
        return {key: _project_named(f"layers[{key!r}]", layers[key], bits, kk) for key, kk in zip(keys, ks)}
    if not (isinstance(layers, Sequence) or (isinstance(layers, np.ndarray) and layers.ndim)) or isinstance(layers, str):
        raise TypeError(f"layers must be a sequence or a mapping of integer arrays, got {type(layers).__name__}")
    layers = list(layers)
    if isinstance(k, Mapping):
        raise TypeError("k must be an int or a sequence when layers is a sequence, got a mapping")
    if (isinstance(k, Sequence) or (isinstance(k, np.ndarray) and k.ndim)) and not isinstance(k, str):
        ks = list(k)
        if len(ks) != len(layers):
            raise ValueError(f"k must have one entry per layer ({len(layers)}), got {len(ks)}")
    else:
        ks = [k] * len(layers)
    return [_project_named(f"layers[{i}]", layer, bits, kk) for i, (layer, kk) in enumerate(zip(layers, ks))]


def _project_named(name, q, bits, k):
    """:func:`project` with the weights' errors naming ``name`` (``layers[0]``)."""
    bits, k = _check_bits_k(bits, k)
    return project(check_sign_magnitude_array(name, q, bits), bits=bits, k=k)


def encode(q, *, bits: int = 8, k: int = 3) -> BitBalanceCode:
    """Encode weights with at most ``k`` one-bits as ``(sign, pos[k], valid[k])``, slots MSB-first.

    Refuses a magnitude with more than ``k`` one-bits (``ValueError``; run :func:`project` first) and
    ``-2**(bits-1)``. See the module docstring for the layout and the unused-slot convention.
    """
    return _encode(q, bits, k, "q")


def _encode(q, bits, k, name):
    bits, k = _check_bits_k(bits, k)
    a = check_sign_magnitude_array(name, q, bits)
    m = np.abs(a)
    pc = popcount(m)
    idx = first_index(pc > k)
    if idx is not None:
        raise ValueError(f"{name} holds {int(a[idx])} at index {idx}, whose magnitude has {int(pc[idx])} one-bits, "
                         f"more than k={k}; project it first")
    pos = np.zeros(a.shape + (k,), dtype=np.int64)
    valid = np.zeros(a.shape + (k,), dtype=np.uint8)
    r = m.copy()
    for j in range(k):
        top, found = leading_one(r, bits - 1)          # the hardware LOD's golden function
        used = found == 1
        pos[..., j] = np.where(used, top, 0)
        valid[..., j] = used
        r = np.where(used, r - (np.int64(1) << top), r)
    return BitBalanceCode((a < 0).astype(np.uint8), pos, valid, bits, k)


def _check_code(code) -> BitBalanceCode:
    """Validate a code: field ranges, shapes, canonical form. Returns int64/uint8 arrays in a new code."""
    if not isinstance(code, BitBalanceCode):
        raise TypeError(f"code must be a BitBalanceCode (from encode), got {type(code).__name__}")
    bits, k = _check_bits_k(code.bits, code.k)
    sign = check_int_array("sign", code.sign, lo=0, hi=1)
    pos = check_int_array("pos", code.pos, lo=0, hi=bits - 2)
    valid = check_int_array("valid", code.valid, lo=0, hi=1)
    if pos.shape != sign.shape + (k,) or valid.shape != pos.shape:
        raise ValueError(f"pos and valid must have shape sign.shape + (k,) = {sign.shape + (k,)}, "
                         f"got pos {pos.shape}, valid {valid.shape}")
    idx = first_index((valid[..., 1:] == 1) & ((valid[..., :-1] == 0) | (pos[..., 1:] >= pos[..., :-1])))
    if idx is not None:
        raise ValueError(f"code is not canonical at index {idx[:-1]}: used slots must come first with "
                         f"strictly decreasing positions (MSB first)")
    idx = first_index((valid == 0) & (pos != 0))
    if idx is not None:
        raise ValueError(f"code is not canonical at index {idx[:-1]}: an unused slot must have pos 0")
    check_no_negative_zero(sign, valid.sum(axis=-1) == 0)
    return BitBalanceCode(sign.astype(np.uint8), pos, valid.astype(np.uint8), bits, k)


def decode(code: BitBalanceCode) -> np.ndarray:
    """Inverse of :func:`encode`: ``(-1)**sign * sum_j valid_j * 2**pos_j`` (int64). Refuses non-canonical codes."""
    c = _check_code(code)
    mag = (c.valid.astype(np.int64) << c.pos).sum(axis=-1)
    return np.where(c.sign == 1, -mag, mag)


def pack(code: BitBalanceCode) -> np.ndarray:
    """Pack a code into one ``encoded_bits``-wide unsigned word per weight (layout in the module docstring)."""
    c = _check_code(code)
    pw = unsigned_width(c.bits - 2)
    word = c.sign.astype(np.int64) << (c.k * (pw + 1))
    for j in range(c.k):
        slot = (c.valid[..., j].astype(np.int64) << pw) | c.pos[..., j]
        word = word | (slot << (j * (pw + 1)))
    return word


def unpack(words, *, bits: int = 8, k: int = 3) -> BitBalanceCode:
    """Inverse of :func:`pack`; refuses words wider than ``encoded_bits`` and non-canonical codes."""
    cfg = BitBalanceConfig(bits=bits, k=k)
    pw = cfg.pos_width
    w = check_int_array("words", words, lo=0, hi=(1 << cfg.encoded_bits) - 1)
    sign = (w >> (k * (pw + 1))) & 1
    pos = np.stack([(w >> (j * (pw + 1))) & ((1 << pw) - 1) for j in range(k)], axis=-1)
    valid = np.stack([(w >> (j * (pw + 1) + pw)) & 1 for j in range(k)], axis=-1)
    idx = first_index(pos > bits - 2)
    if idx is not None:
        raise ValueError(f"words holds a position {int(pos[idx])} > bits-2 = {bits - 2} at index {idx[:-1]}")
    return _check_code(BitBalanceCode(sign.astype(np.uint8), pos, valid.astype(np.uint8), bits, k))


def _as_code(w, bits, k) -> BitBalanceCode:
    if isinstance(w, BitBalanceCode):
        c = _check_code(w)
        check_code_format(c, bits=bits, k=k)
        return c
    return _encode(w, 8 if bits is None else bits, 3 if k is None else k, "w")


def _slot_terms(w, x, bits, k, act_bits) -> np.ndarray:
    """Per-slot, per-lane terms ``valid ? ±(x << pos) : 0``, shape ``(k, *broadcast(S, x.shape))``."""
    c = _as_code(w, bits, k)
    act_bits = check_int("act_bits", act_bits, lo=2, hi=_MAX_ACT_BITS)
    lo, hi = twos_range(act_bits)
    xa = check_int_array("x", x, lo=lo, hi=hi)
    shape = check_lane_shapes(c.shape, xa.shape)
    terms = np.empty((c.k,) + shape, dtype=np.int64)
    neg = c.sign == 1
    for j in range(c.k):
        t = xa << c.pos[..., j]                      # shifter
        t = np.where(neg, -t, t)                     # sign
        terms[j] = np.where(c.valid[..., j] == 1, t, 0)  # valid gates the adder input
    return terms


def cycle_partial_sums(w, x, *, bits: int | None = None, k: int | None = None, act_bits: int = 8) -> np.ndarray:
    """Accumulator value after each PE cycle.

    Cycle ``c`` (``0..k-1``) adds, over all lanes (last axis), the slot-``c`` term
    ``valid ? (sign ? -(x << pos) : x << pos) : 0``; the accumulator starts at 0.

    Parameters
    ----------
    w : BitBalanceCode or array_like of int
        Encoded weights, or integer weights with at most ``k`` ones (encoded with :func:`encode`).
        For a code, ``bits``/``k`` come from it (and must match if given); otherwise they default to 8 and 3.
    x : array_like of int
        Signed ``act_bits``-bit activations; broadcast against the weights, lanes on the last axis.

    Returns
    -------
    ndarray of int64, shape ``(k, *out)`` with ``out`` the broadcast shape without the lane axis;
    entry ``[k-1]`` equals :func:`dot`.
    """
    terms = _slot_terms(w, x, bits, k, act_bits)
    return np.cumsum(terms.sum(axis=-1), axis=0)


def dot(w, x, *, bits: int | None = None, k: int | None = None, act_bits: int = 8) -> np.ndarray:
    """Exact Bit-balance dot product over the last (lane) axis, computed slot by slot as the PE does.

    ``sum_lanes sum_slots valid ? ±(x << pos) : 0``; equals ``decode(w) @ x`` for 1-D ``x``. Arguments as in
    :func:`cycle_partial_sums`. Returns int64 of the broadcast shape without the lane axis.
    """
    return cycle_partial_sums(w, x, bits=bits, k=k, act_bits=act_bits)[-1]
