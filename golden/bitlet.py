"""Bitlet (Lu et al., MICRO 2021): bit interleaving, the check-window lane schedule and the fp32 path.

Golden model of one Bitlet PE pass (docs/bitlet.md), bit-exact and cycle-exact. It follows the
official PE RTL (``Zhu-Zixuan/Bitlet-PE``, read line by line) except where IEEE semantics are asked for;
every such place is listed below and, where useful, the RTL behaviour is available with ``rtl_quirks=True``.

Algorithm (docs/bitlet.md)
--------------------------
For the ``n`` (weight, activation) pairs of one pass, each weight's sign is folded into its activation,
``a'_i = sign(w_i) * a_i``, and the magnitudes ``m_i = |w_i|`` (fixed point) or the aligned mantissas
(fp32) are cut into bit columns: lane ``g`` holds bit ``g`` of all ``n`` magnitudes. Lane ``g`` adds the
``a'_i`` of its set bits, one per cycle, and the result is ``sum_g lane_sum_g << g``. The pass takes as
many cycles as its slowest *enabled* lane.

Check-window lane schedule (docs/bitlet.md, ``Bitlet_CheckWindow.v``)
---------------------------------------------------------------------
::

    ptr = 0
    while ptr <= n_valid - 1:                  # the RTL's N_calculate = n_valid - 1
        win = column[ptr : ptr + n_check]      # zeros past the end of the column
        if win == 0:  emit BUBBLE;  ptr += n_check
        else:
            emit sel = ptr + (lowest set bit of win)
            ptr += (second-lowest set bit of win) if it exists else n_check

One cycle per essential bit plus one per empty window visited. Consequences (all tested):

* every enabled lane takes at least one cycle (``ptr = 0 <= n_valid - 1`` on entry), so a pass with at
  least one enabled lane takes ``>= 1`` cycle; a pass with **no** enabled lane takes 0 cycles;
* a lane with no ones takes ``ceil(n_valid / n_check)`` bubble cycles (``ptr`` = 0, n_check, 2 n_check, ...
  while ``ptr <= n_valid - 1``);
* ``max(popcount, ceil(n_valid / n_check)) <= cycles <= min(n_valid, popcount + ceil(n_valid / n_check))``
  (``ptr`` advances by at least 1 and at most ``n_check`` per cycle; the empty windows visited are
  disjoint). So an empty lane already takes the minimum any lane can take;
* **disabled lanes** (bit clear in ``lane_mask``, the RTL's ``prune``) never start and do not count.
  Enabled lanes without ones do run (their bubbles), but by the bound above they never lengthen a pass
  that has a busy lane; what the mask changes is pruning lanes that do hold ones (LSB pruning, or
  ``precision_mask(p)`` for p-bit weights: the RTL's way of setting the precision).
* Choice: pairs at index ``>= n_valid`` must have zero weights (zero column bits): the RTL's window still
  reads them (a set bit there *would* be selected), so a real integration zero-pads them. We refuse
  non-zero bits there instead of modelling that hazard.
* ``n_check`` is a parameter here; the RTL hard-codes 8 (a 256-entry case table).

Fixed point (docs/bitlet.md)
-----------------------------
Weights are sign-magnitude with a ``bits``-bit magnitude, ``1 <= bits <= 24``, range
``[-(2**bits - 1), 2**bits - 1]``. Activations are 25-bit two's complement restricted to the symmetric
range ``[-(2**24 - 1), 2**24 - 1]`` (a choice): ``-2**24`` is refused because ``-a`` (sign folding) would not fit
25 bits -- the RTL would silently wrap it.

fp32 (docs/bitlet.md)
----------------------
Per pair ``Esum = Wexp + Aexp`` (biased fields, a denormal's field read as 1), ``Emax = max Esum`` over the
pass, ``Walign = Wman >> (Emax - Esum)`` (24-bit mantissas with hidden bit, **truncating**), sign
``Wsign xor Asign`` folded into the activation mantissa, the same lane sums, an exact integer
accumulator ``acc``. The block value is ``acc * 2**(Emax - 300)`` (``300 = 2*127 + 2*23``; see
:data:`FP32_SCALE_OFFSET`). Repacking: ``cnt`` = position of the leading one of ``|acc|``, biased exponent
``E = Emax - 127 - 46 + cnt`` (the RTL's formula, equal to ``cnt + scale + 127``), mantissa truncated
(round toward zero, as ``Bitlet_PackFloat.v`` does), ``E > 254 -> +-inf``, ``E <= 0 -> denormal`` (again
truncated, possibly to a signed zero).

Where we follow the RTL and where we differ (``rtl_quirks=False``, the default):

* **Denormal inputs**: IEEE, ``0.m * 2**-126``. The RTL substitutes exponent 1 and then takes the hidden
  bit from the substituted exponent, i.e. ``1.m * 2**-126``. ``rtl_quirks=True`` reproduces that.
* **Exact zeros** (a choice): a pair with an exact-zero operand is removed from the pass: its ``Esum`` does not
  take part in ``Emax`` and its aligned weight is 0 (no bits, no cycles). In the RTL a zero's exponent
  field 0 still enters ``Esum = Wexp + Aexp``, so e.g. ``0 * 2**100`` raises ``Emax`` and can wipe out
  every other term by truncation; ``rtl_quirks=True`` reproduces that (and aligns the weight of a
  zero activation as usual).
* **Result exponent 0**: IEEE denormal (``1.f * 2**-127`` is stored as ``(1.f >> 1) * 2**-126``). The RTL
  keeps the 23 fraction bits of the normalized value with exponent field 0, dropping the hidden bit;
  ``rtl_quirks=True`` reproduces that.
* **Rounding**: truncation (toward zero) in both the alignment and the repack, as in the RTL; **not**
  IEEE round-to-nearest-even, and the result is not a correctly rounded fp32 dot product
  (docs/bitlet.md, fp32); see :func:`dot_fp32_error_bound`.
* **Overflow** gives ``+-inf`` (as the RTL), although IEEE round-toward-zero would give the largest finite
  value.
* **Sign of zero**: an exact-zero accumulator gives ``+0.0`` (the RTL takes the sign from ``acc``), even for
  ``(-1) * 0`` where IEEE gives ``-0.0``. A non-zero ``acc`` that underflows to zero keeps its sign.
* **NaN and infinities** are refused (``ValueError``): the datapath has no special-value handling (the RTL
  would read an exponent field of 255 as a number). ``nonfinite="nan"`` (:func:`dot_fp32`,
  :func:`pass_cycles_fp32`) gives the hardware PE's documented behaviour instead: such a pair is removed
  like an exact zero and the pass's result is the quiet NaN :data:`FP32_NAN` (:func:`fp32_nonfinite`).
* ``lane_mask`` also applies in fp32 (:func:`dot_fp32_block`): disabled lanes prune aligned-mantissa bits.
* Inputs must be ``float32`` arrays (``TypeError`` otherwise): converting float64 would be a silent rounding.
* The accumulator cannot overflow: ``|acc| <= 64 * (2**24 - 1)**2 < 2**54``, 55 signed bits, held exactly
  in int64 (the RTL's is 64 bits, ``Wid_acc``).

Widths (:class:`BitletConfig`) are derived with :func:`golden.bits.signed_width`; the RTL uses
``Wid_sum = 52`` for the per-cycle adder-tree sum and ``Wid_acc = 64`` for the accumulator, both wider
than the exact worst case (49 and 55 bits for the default configuration).

Also given, for comparison only: the BBS authors' simplified Bitlet cycle model
(:func:`pass_cycles_bitsim`).

For the hardware PE (``hw/bitlet/pe.py``): :attr:`BitletConfig.act_bits` (narrow fixed-point activations,
e.g. INT8, from which every width is derived) and :func:`pe_stream_timing` (the PE's exact stream timing
on top of the lane model: load beats, ``max(1, cycles)`` steps per pass, result latency).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .bits import signed_width, twos_complement_planes, unsigned_width
from .check import as_array, check_bool, check_choice, check_float_array, check_int, check_int_array, check_int_values
from .chunks import blocks, require_memory

__all__ = [
    "BitletConfig", "A_MAX", "MAX_CHANNEL", "MAX_TOTAL", "BUBBLE", "DONE", "FP32_SCALE_OFFSET",
    "RTL_SUM_WIDTH", "RTL_ACC_WIDTH",
    "precision_mask", "fold_signs", "lanes", "lane_words", "lane_sums", "dot_fixed", "pack_fixed",
    "lane_schedule", "lane_cycles", "pass_cycles", "pass_cycles_bitsim",
    "Fp32Operands", "Fp32Block", "fp32_preprocess", "dot_fp32_block", "repack_fp32", "dot_fp32",
    "dot_fp32_error_bound", "pass_cycles_fp32", "fp32_nonfinite", "FP32_NAN",
    "PeTiming", "pe_stream_timing",
]

#: Largest activation magnitude: 25-bit two's complement, symmetric range (``-2**24`` is refused).
A_MAX = (1 << 24) - 1
#: Most significance lanes (24-bit magnitudes / mantissas with hidden bit).
MAX_CHANNEL = 24
#: Most pairs in one pass (the select index and the column word are at most 64 bits).
MAX_TOTAL = 64
#: ``lane_schedule`` entry for a cycle that looked at an empty window.
BUBBLE = -1
#: ``lane_schedule`` padding after a lane has finished (batched input only).
DONE = -2
#: ``scale = Emax - FP32_SCALE_OFFSET``: two exponent biases (2*127) and two 23-bit fractions (2*23).
FP32_SCALE_OFFSET = 2 * 127 + 2 * 23
#: The canonical quiet NaN: the hardware PE's result for a pass with a NaN or infinite operand.
FP32_NAN = 0x7FC00000
#: The official RTL's adder-tree (per-cycle psum) and accumulator widths (``Wid_sum``, ``Wid_acc``).
RTL_SUM_WIDTH = 52
RTL_ACC_WIDTH = 64

_MAX_DOT_LEN = (1 << 15) - 1      # n * (2**24 - 1)**2 < 2**63: the longest exact int64 fixed-point dot
_U64_ONE = np.uint64(1)


# ----------------------------------------------------------------------------------------------------
# configuration

@dataclass(frozen=True)
class BitletConfig:
    """Parameters of one Bitlet PE (docs/bitlet.md, ``Bitlet_Defs.vh`` / ``Bitlet_PE.v``).

    Parameters
    ----------
    n_total : int
        Pairs per pass, the interleaving window (RTL ``N_total`` = 64), ``1..64``.
    n_input : int
        Pairs loaded per cycle (RTL ``N_input`` = 16); must divide ``n_total``.
    n_channel : int
        Significance lanes (RTL ``N_channel`` = 24), ``1..24``; weight magnitudes have at most this many
        bits. Must be 24 in ``"fp32"`` mode (24-bit mantissas).
    n_check : int
        Window bits inspected per lane per cycle (RTL ``N_check`` = 8), ``1..64``.
    mode : str
        ``"fixed"`` or ``"fp32"``.
    act_bits : int
        Activation width of the fixed-point datapath, ``2..25`` (default 25, the RTL's ``Wid_fix``).
        ``act_bits <= 24``: full ``act_bits``-bit two's-complement range, sign-folded into
        ``act_bits + 1`` bits (``-(-2**(act_bits-1))`` must fit). ``act_bits = 25``: the symmetric range
        ``[-(2**24 - 1), 2**24 - 1]`` of the RTL, folded into 25 bits. Must be 25 in ``"fp32"`` mode (the
        folded activation is a signed 24-bit mantissa). Added for narrow FPGA configurations (INT8
        activations); every width below follows from it through :attr:`act_max`.
    """

    n_total: int = 64
    n_input: int = 16
    n_channel: int = 24
    n_check: int = 8
    mode: str = "fixed"
    act_bits: int = 25

    def __post_init__(self):
        n_total = check_int("n_total", self.n_total, lo=1, hi=MAX_TOTAL)
        n_input = check_int("n_input", self.n_input, lo=1, hi=n_total)
        if n_total % n_input:
            raise ValueError(f"n_input must divide n_total, got n_input={n_input}, n_total={n_total}")
        n_channel = check_int("n_channel", self.n_channel, lo=1, hi=MAX_CHANNEL)
        n_check = check_int("n_check", self.n_check, lo=1, hi=MAX_TOTAL)
        check_choice("mode", self.mode, ("fixed", "fp32"))
        if self.mode == "fp32" and n_channel != MAX_CHANNEL:
            raise ValueError(f"n_channel must be {MAX_CHANNEL} in fp32 mode (24-bit mantissas), "
                             f"got {n_channel}")
        act_bits = check_int("act_bits", self.act_bits, lo=2, hi=MAX_CHANNEL + 1)
        if self.mode == "fp32" and act_bits != MAX_CHANNEL + 1:
            raise ValueError(f"act_bits must be {MAX_CHANNEL + 1} in fp32 mode (signed 24-bit mantissas), "
                             f"got {act_bits}")
        for name, value in (("n_total", n_total), ("n_input", n_input), ("n_channel", n_channel),
                            ("n_check", n_check), ("act_bits", act_bits)):
            object.__setattr__(self, name, value)

    @property
    def weight_max(self) -> int:
        """Largest weight magnitude (or aligned mantissa): ``2**n_channel - 1``."""
        return (1 << self.n_channel) - 1

    @property
    def full_lane_mask(self) -> int:
        """Lane mask with every lane enabled."""
        return (1 << self.n_channel) - 1

    @property
    def pe_length(self) -> int:
        """Weights per pass, ``n_total``: the name the other PE configurations give it (the layer engine
        sizes its passes by it)."""
        return self.n_total

    @property
    def load_cycles(self) -> int:
        """Cycles to load one pass of activations, ``n_total / n_input``."""
        return self.n_total // self.n_input

    @property
    def act_range(self) -> tuple[int, int]:
        """``(lo, hi)`` of an input activation: ``act_bits``-bit two's complement, or for 25 bits the
        symmetric ``[-A_MAX, A_MAX]``."""
        if self.act_bits > MAX_CHANNEL:
            return -A_MAX, A_MAX
        return -(1 << (self.act_bits - 1)), (1 << (self.act_bits - 1)) - 1

    @property
    def act_max(self) -> int:
        """Largest magnitude of a sign-folded activation: ``A_MAX`` (25 bits) or ``2**(act_bits - 1)``."""
        return -self.act_range[0]

    @property
    def act_width(self) -> int:
        """Width of a (sign-folded) selected activation: 25-bit two's complement by default (RTL
        ``Wid_fix``), ``act_bits + 1`` for narrower activations."""
        return signed_width(-self.act_max, self.act_max)

    @property
    def select_width(self) -> int:
        """Width of a lane's select index into the ``n_total`` activations (``$clog2(N_total)``, >= 1)."""
        return unsigned_width(self.n_total - 1)

    @property
    def lane_sum_width(self) -> int:
        """Exact width of one lane's sum over a pass: ``|sum| <= n_total * act_max``."""
        hi = self.n_total * self.act_max
        return signed_width(-hi, hi)

    @property
    def psum_width(self) -> int:
        """Exact width of the per-cycle shifted sum ``sum_g Asel_g << g`` (RTL ``Wid_sum`` = 52 is wider)."""
        hi = self.act_max * self.weight_max
        return signed_width(-hi, hi)

    @property
    def acc_width(self) -> int:
        """Exact width of the accumulator over one pass, ``|acc| <= n_total * act_max * weight_max``.

        55 bits for the default configuration; the RTL uses ``Wid_acc`` = 64. Every partial sum of a
        pass is bounded by the same value (each adds ``|a'_i| 2**g`` for distinct ``(i, g)``).
        """
        hi = self.n_total * self.act_max * self.weight_max
        return signed_width(-hi, hi)


def precision_mask(p: int, n_channel: int = MAX_CHANNEL) -> int:
    """Lane mask (the RTL's ``prune``) for ``p``-bit weight magnitudes: lanes ``0..p-1`` enabled."""
    n_channel = check_int("n_channel", n_channel, lo=1, hi=MAX_CHANNEL)
    p = check_int("p", p, lo=0, hi=n_channel)
    return (1 << p) - 1


def _check_lane_mask(lane_mask, n_channel: int) -> int:
    if lane_mask is None:
        return (1 << n_channel) - 1
    return check_int("lane_mask", lane_mask, lo=0, hi=(1 << n_channel) - 1)


def _broadcast(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray):
    try:
        return np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(f"{name_a} shape {a.shape} and {name_b} shape {b.shape} do not broadcast") from None


def _check_pair_axis(name: str, arr: np.ndarray, hi: int) -> int:
    if arr.ndim < 1 or not 1 <= arr.shape[-1] <= hi:
        raise ValueError(f"{name} must have a last (pair) axis of length 1..{hi}, got shape {arr.shape}")
    return arr.shape[-1]


# ----------------------------------------------------------------------------------------------------
# bit twiddling on uint64 (vectorized)

def _popcount_u64(x: np.ndarray) -> np.ndarray:
    a = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):        # the multiply wraps by design (NumPy warns on 0-d arrays)
        a -= (a >> _U64_ONE) & np.uint64(0x5555555555555555)
        a = (a & np.uint64(0x3333333333333333)) + ((a >> np.uint64(2)) & np.uint64(0x3333333333333333))
        a = (a + (a >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        return ((a * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def _ctz_u64(x: np.ndarray) -> np.ndarray:
    """Trailing zeros of each uint64 (64 for 0)."""
    with np.errstate(over="ignore"):        # ~0 + 1 and 0 - 1 wrap by design
        return _popcount_u64((x & (~x + _U64_ONE)) - _U64_ONE)


def _bit_length(x: np.ndarray) -> np.ndarray:
    """``int.bit_length`` of each non-negative int64 (0 for 0)."""
    x = x.copy()
    n = np.zeros(x.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        big = x >= (1 << s)
        n += np.where(big, s, 0)
        x = np.where(big, x >> s, x)
    return n + (x > 0)


# ----------------------------------------------------------------------------------------------------
# fixed point

def fold_signs(w, a, *, bits: int = MAX_CHANNEL) -> tuple[np.ndarray, np.ndarray]:
    """Fold each weight's sign into its activation (docs/bitlet.md, ``Bitlet_Reassembler.v``).

    Parameters
    ----------
    w : int array
        Sign-magnitude weights, ``|w| <= 2**bits - 1``.
    a : int array
        Activations, 25-bit two's complement in ``[-(2**24 - 1), 2**24 - 1]``; broadcast against ``w``.
    bits : int
        Weight magnitude bits, ``1..24``.

    Returns
    -------
    (w_mag, a_fold) : int64 arrays of the broadcast shape
        ``w_mag = |w|`` and ``a_fold = -a if w < 0 else a``.
    """
    bits = check_int("bits", bits, lo=1, hi=MAX_CHANNEL)
    m = (1 << bits) - 1
    w = check_int_array("w", w, lo=-m, hi=m)
    a = check_int_array("a", a, lo=-A_MAX, hi=A_MAX)
    w, a = _broadcast("w", w, "a", a)
    return np.abs(w), np.where(w < 0, -a, a)


def lanes(w_mag, n_channel: int = MAX_CHANNEL) -> np.ndarray:
    """Transposed bit columns (RTL ``Wtrans``): ``out[..., g, i]`` = bit ``g`` of ``w_mag[..., i]``.

    ``w_mag`` holds magnitudes in ``[0, 2**n_channel - 1]`` with the pairs on the last axis; the result
    is uint8 of shape ``(*w_mag.shape[:-1], n_channel, n)``, lane ``g`` LSB first.
    """
    n_channel = check_int("n_channel", n_channel, lo=1, hi=MAX_CHANNEL)
    w = check_int_array("w_mag", w_mag, lo=0, hi=(1 << n_channel) - 1)
    if w.ndim < 1:
        raise ValueError(f"w_mag must have a last (pair) axis, got shape {w.shape}")
    g = np.arange(n_channel, dtype=np.int64)[:, None]
    return ((w[..., None, :] >> g) & 1).astype(np.uint8)


def lane_words(w_mag, n_channel: int = MAX_CHANNEL) -> np.ndarray:
    """Each lane's column as one word: ``out[..., g]`` has bit ``i`` = bit ``g`` of ``w_mag[..., i]``.

    uint64 of shape ``(*w_mag.shape[:-1], n_channel)`` (the RTL's ``Wtrans[g]``); at most 64 pairs on
    the last axis.
    """
    n_channel = check_int("n_channel", n_channel, lo=1, hi=MAX_CHANNEL)
    w = check_int_array("w_mag", w_mag, lo=0, hi=(1 << n_channel) - 1)
    _check_pair_axis("w_mag", w, MAX_TOTAL)
    out = np.empty(w.shape[:-1] + (n_channel,), dtype=np.uint64)
    for g in range(n_channel):
        out[..., g] = _pack_columns((w >> g) & 1)
    return out


def _pack_columns(bits01: np.ndarray) -> np.ndarray:
    """uint64 words from 0/1 columns on the last axis (at most 64), bit i = column[i]."""
    packed = np.packbits(bits01.astype(np.uint8), axis=-1, bitorder="little")
    pad = [(0, 0)] * (packed.ndim - 1) + [(0, 8 - packed.shape[-1])]
    packed = np.ascontiguousarray(np.pad(packed, pad))
    return packed.view("<u8")[..., 0].astype(np.uint64)


def lane_sums(w_mag, a_fold, *, n_channel: int = MAX_CHANNEL, lane_mask=None) -> np.ndarray:
    """Per-lane sums ``lane_sum_g = sum_{i: bit g of w_mag_i} a_fold_i`` (disabled lanes give 0).

    ``w_mag`` in ``[0, 2**n_channel - 1]``, ``a_fold`` in ``[-(2**24 - 1), 2**24 - 1]`` (the sign-folded
    activations), broadcast together on the pair axis. Returns int64 ``(..., n_channel)``.
    """
    n_channel = check_int("n_channel", n_channel, lo=1, hi=MAX_CHANNEL)
    mask = _check_lane_mask(lane_mask, n_channel)
    w = check_int_array("w_mag", w_mag, lo=0, hi=(1 << n_channel) - 1)
    a = check_int_array("a_fold", a_fold, lo=-A_MAX, hi=A_MAX)
    w, a = _broadcast("w_mag", w, "a_fold", a)
    _check_pair_axis("w_mag", w, _MAX_DOT_LEN)
    return _lane_sums(w, a, n_channel, mask)


def _lane_sums(w, a, n_channel, mask):
    """:func:`lane_sums` of checked, broadcast int64 magnitudes ``w`` and folded activations ``a``."""
    g = np.arange(n_channel, dtype=np.int64)[:, None]
    planes = ((w[..., None, :] >> g) & 1).astype(np.uint8)
    sums = (planes.astype(np.int64) * a[..., None, :]).sum(axis=-1)
    enabled = ((mask >> np.arange(n_channel)) & 1).astype(bool)
    return np.where(enabled, sums, 0)


def _combine_lanes(sums: np.ndarray) -> np.ndarray:
    g = np.arange(sums.shape[-1], dtype=np.int64)
    return (sums << g).sum(axis=-1)


def dot_fixed(w, a, *, bits: int, lane_mask=None) -> np.ndarray:
    """Exact fixed-point Bitlet dot product over the last axis: ``sum_g lane_sum_g << g``.

    Parameters
    ----------
    w : int array [..., n]
        Sign-magnitude weights with ``bits``-bit magnitudes, ``|w| <= 2**bits - 1``.
    a : int array [..., n]
        Activations in ``[-(2**24 - 1), 2**24 - 1]`` (25-bit two's complement without ``-2**24``),
        broadcast against ``w``.
    bits : int
        Weight magnitude bits (precision), ``1..24``.
    lane_mask : int, optional
        Enabled lanes, bit ``g`` for lane ``g`` (the RTL ``prune``), ``0..2**24 - 1``; default all.
        A disabled lane contributes nothing, so ``precision_mask(p)`` computes with the weights'
        magnitudes truncated to their ``p`` low bits.

    Returns
    -------
    int64 array [...]
        Equal to ``w @ a`` when every lane below ``bits`` is enabled. ``n <= 32767`` so it stays exact;
        one hardware pass is ``n <= n_total``, longer vectors are several passes accumulated.

    Memory: computed in blocks of the leading indices (:func:`golden.chunks.blocks`, a block of about
    :data:`golden.chunks.CHUNK_ELEMENTS` weight bits), so the ``[..., bits, n]`` bit planes are never built
    for the whole tensor and ``w`` and ``a`` are never converted whole: the peak above the inputs is the
    result (8 bytes per dot product) plus at most :data:`golden.chunks.WORK_BYTES`; an input needing more
    than the available memory raises :class:`golden.chunks.InsufficientMemoryError` before allocating.
    """
    bits = check_int("bits", bits, lo=1, hi=MAX_CHANNEL)
    mask = _check_lane_mask(lane_mask, MAX_CHANNEL) & ((1 << bits) - 1)
    m = (1 << bits) - 1
    w = check_int_values("w", w, lo=-m, hi=m)          # fold_signs' checks, without converting w and a
    a = check_int_values("a", a, lo=-A_MAX, hi=A_MAX)
    try:
        shape = np.broadcast_shapes(w.shape, a.shape)
    except ValueError:
        raise ValueError(f"w shape {w.shape} and a shape {a.shape} do not broadcast") from None
    if len(shape) < 1 or not 1 <= shape[-1] <= _MAX_DOT_LEN:
        raise ValueError(f"w must have a last (pair) axis of length 1..{_MAX_DOT_LEN}, got shape {shape}")
    n = shape[-1]
    out = np.empty(shape[:-1], dtype=np.int64)
    require_memory(f"dot_fixed of w with shape {w.shape} and a with shape {a.shape}", out.nbytes,
                   f"the {out.size:,} int64 dot products")
    wb, ab = np.broadcast_to(w, shape), np.broadcast_to(a, shape)
    for idx, _, _ in blocks(shape[:-1], cost=n * bits):       # a block: lead indices x n pairs x bits lanes
        wi = wb[idx].astype(np.int64)
        ai = ab[idx].astype(np.int64)
        out[idx] = _combine_lanes(_lane_sums(np.abs(wi), np.where(wi < 0, -ai, ai), bits, mask))
    return out[()] if out.ndim == 0 else out


def pack_fixed(acc, quant: int) -> np.ndarray:
    """Fixed-point postprocessor (docs/bitlet.md, ``Bitlet_PackFixed.v``).

    ``floor(acc / 2**quant)`` (arithmetic shift: bits below ``quant`` are dropped, rounding toward minus
    infinity), saturated to the 25-bit two's-complement range ``[-2**24, 2**24 - 1]``. ``quant`` in
    ``0..24``. The RTL detects overflow of the top accumulator bits with an XOR reduction (a quirk that
    misses some overflows when ``|acc| >= 2**48``); we saturate exactly.
    """
    quant = check_int("quant", quant, lo=0, hi=MAX_CHANNEL)
    acc = check_int_array("acc", acc)
    return np.clip(acc >> quant, -(1 << 24), (1 << 24) - 1)


# ----------------------------------------------------------------------------------------------------
# check-window lane schedule

def _run_schedule(words: np.ndarray, n_valid: int, n_check: int, record: bool):
    """Run the pointer algorithm on flat uint64 column words. Returns ``(cycles, sel or None)``."""
    m = words.shape[0]
    cycles = np.zeros(m, dtype=np.int64)
    ptr = np.zeros(m, dtype=np.int64)
    wmask = np.uint64(0xFFFFFFFFFFFFFFFF) if n_check >= 64 else np.uint64((1 << n_check) - 1)
    active = np.arange(m)
    rows = []
    while active.size:              # at most n_valid steps: ptr advances by >= 1 every cycle
        p = ptr[active]
        win = (words[active] >> p.astype(np.uint64)) & wmask
        nz = win != 0
        rest = win & (win - _U64_ONE)          # clear the lowest set bit (0 stays 0)
        step = np.where(rest != 0, _ctz_u64(rest), n_check)
        if record:
            row = np.full(m, DONE, dtype=np.int64)
            row[active] = np.where(nz, p + _ctz_u64(win), BUBBLE)
            rows.append(row)
        cycles[active] += 1
        p = p + step
        ptr[active] = p
        active = active[p < n_valid]
    sel = np.stack(rows, axis=-1) if record else None
    return cycles, sel


def _check_columns(column_bits, n_valid, n_check):
    c = check_int_array("column_bits", column_bits, lo=0, hi=1)
    length = _check_pair_axis("column_bits", c, MAX_TOTAL)
    n_valid = length if n_valid is None else check_int("n_valid", n_valid, lo=1, hi=length)
    n_check = check_int("n_check", n_check, lo=1, hi=MAX_TOTAL)
    _check_tail_zero("column_bits", c, n_valid)
    return c, n_valid, n_check


def _check_tail_zero(name, arr, n_valid):
    tail = arr[..., n_valid:]
    if tail.size and tail.any():
        idx = tuple(int(i) for i in np.argwhere(tail != 0)[0])
        idx = idx[:-1] + (idx[-1] + n_valid,)
        raise ValueError(f"{name} must be zero at pair index >= n_valid={n_valid} (the RTL's window "
                         f"would still select them; zero-pad invalid pairs), got {int(arr[idx])} at index {idx}")


def lane_schedule(column_bits, n_valid=None, n_check: int = 8) -> np.ndarray:
    """Per-cycle selections of one lane's check-window FSM (docs/bitlet.md, check-window lane).

    Parameters
    ----------
    column_bits : 0/1 int array [..., L], L <= 64
        The lane's column: ``column_bits[..., i]`` = the bit of pair ``i``. Leading axes are independent
        lanes (vectorized).
    n_valid : int, optional
        Valid pairs, ``1..L`` (the RTL's ``N_calculate + 1``); default ``L``. Bits at ``i >= n_valid`` must
        be 0 (``ValueError`` otherwise).
    n_check : int
        Window width (RTL ``N_check`` = 8), ``1..64``.

    Returns
    -------
    int64 array [..., T]
        Entry ``t`` is the pair index selected in cycle ``t``, :data:`BUBBLE` (-1) for an empty window,
        or :data:`DONE` (-2) after the lane finished (padding up to the slowest lane of the batch). The
        selected indices are exactly the set bits, in increasing order.
    """
    c, n_valid, n_check = _check_columns(column_bits, n_valid, n_check)
    words = _pack_columns(c).reshape(-1)
    _, sel = _run_schedule(words, n_valid, n_check, record=True)
    return sel.reshape(c.shape[:-1] + (sel.shape[-1],))


def lane_cycles(column_bits, n_valid=None, n_check: int = 8) -> np.ndarray:
    """Cycles one lane takes (the length of :func:`lane_schedule` without padding), int64 ``[...]``."""
    c, n_valid, n_check = _check_columns(column_bits, n_valid, n_check)
    cycles, _ = _run_schedule(_pack_columns(c).reshape(-1), n_valid, n_check, record=False)
    return cycles.reshape(c.shape[:-1])


def pass_cycles(w_mag, *, n_check: int = 8, lane_mask=None, n_valid=None,
                n_channel: int = MAX_CHANNEL) -> np.ndarray:
    """Compute cycles of a Bitlet PE pass: the maximum over enabled lanes of the lane cycles.

    Parameters
    ----------
    w_mag : int array [..., n_total], n_total <= 64
        Weight magnitudes (fixed) or aligned mantissas (fp32) in ``[0, 2**n_channel - 1]``; every leading
        index is an independent pass (vectorized).
    n_check : int
        Window width, ``1..64``.
    lane_mask : int, optional
        Enabled lanes (RTL ``prune``), ``0..2**n_channel - 1``; default **all** ``n_channel`` lanes.
        Enabled lanes without ones cost ``ceil(n_valid / n_check)`` cycles (the least any lane takes);
        disabled lanes cost nothing. ``lane_mask = 0`` gives 0 cycles.
    n_valid : int, optional
        Valid pairs per pass, ``1..n_total``; default ``n_total``. ``w_mag[..., n_valid:]`` must be 0.
    n_channel : int
        Lanes, ``1..24``.

    Returns
    -------
    int64 array [...]
        Cycles per pass; ``>= 1`` when any lane is enabled (load, alignment and pipeline latency are not
        included).
    """
    n_channel = check_int("n_channel", n_channel, lo=1, hi=MAX_CHANNEL)
    mask = _check_lane_mask(lane_mask, n_channel)
    n_check = check_int("n_check", n_check, lo=1, hi=MAX_TOTAL)
    w = check_int_array("w_mag", w_mag, lo=0, hi=(1 << n_channel) - 1)
    length = _check_pair_axis("w_mag", w, MAX_TOTAL)
    n_valid = length if n_valid is None else check_int("n_valid", n_valid, lo=1, hi=length)
    _check_tail_zero("w_mag", w, n_valid)
    enabled = [g for g in range(n_channel) if (mask >> g) & 1]
    batch = w.shape[:-1]
    if not enabled:
        return np.zeros(batch, dtype=np.int64)
    words = np.stack([_pack_columns((w >> g) & 1) for g in enabled], axis=-1)
    cycles, _ = _run_schedule(words.reshape(-1), n_valid, n_check, record=False)
    return cycles.reshape(batch + (len(enabled),)).max(axis=-1)


def pass_cycles_bitsim(w_twos, bits: int = 8) -> np.ndarray:
    """The BBS authors' simplified Bitlet cycle model (``yc2367/BitSim:sim/sim/bitlet.py``), for comparison.

    Theirs, not Bitlet's RTL: ``max`` over the ``bits`` **two's-complement** bit planes (sign plane
    included) of the column popcount over the group on the last axis; no check-window bubbles, no lane
    mask, an all-zero group takes 0 cycles. Their simulator uses groups of 32 and also takes the max
    across the PE-row tile (max the result over that axis yourself); see docs/bitlet.md, cycles.

    ``w_twos``: int array [..., G] of ``bits``-bit two's-complement weights. Returns int64 ``[...]``.
    """
    bits = check_int("bits", bits, lo=1, hi=63)
    w = check_int_array("w_twos", w_twos, lo=-(1 << (bits - 1)), hi=(1 << (bits - 1)) - 1)
    planes = twos_complement_planes(w, bits)         # (bits, ..., G)
    if w.ndim < 1:
        raise ValueError(f"w_twos must have a last (group) axis, got shape {w.shape}")
    return planes.sum(axis=-1, dtype=np.int64).max(axis=0)


# ----------------------------------------------------------------------------------------------------
# fp32

class Fp32Operands(NamedTuple):
    """Preprocessed fp32 pass (RTL Preprocessor output): all int64, pairs on the last axis."""
    walign: np.ndarray   #: aligned weight mantissas ``Wman >> (Emax - Esum)``, [..., n], < 2**24
    afix: np.ndarray     #: sign-folded activation mantissas ``+-Aman`` (hidden bit included), [..., n]
    esum: np.ndarray     #: ``Wexp + Aexp`` per pair (0 for a removed zero product unless rtl_quirks)
    emax: np.ndarray     #: ``max(esum)`` per pass, [...]


class Fp32Block(NamedTuple):
    """Block-floating-point result of a pass: value ``acc * 2**scale``, ``scale = Emax - 300``."""
    acc: np.ndarray      #: exact accumulator (the RTL's ``Aacc``), int64 [...]
    scale: np.ndarray    #: scale exponent, int64 [...]

    @property
    def emax(self) -> np.ndarray:
        """The RTL's ``Emax`` (a sum of two biased exponents): ``scale + 300``."""
        return self.scale + FP32_SCALE_OFFSET


def _decode_fp32(name: str, x, rtl_quirks: bool):
    arr = as_array(name, x)
    if arr.dtype != np.float32:
        raise TypeError(f"{name} must be a float32 array, got dtype {arr.dtype} "
                        "(convert explicitly with .astype(np.float32))")
    check_float_array(name, arr)                       # refuses NaN and +-inf with the index
    u = arr.view(np.uint32).astype(np.int64)
    sign = u >> 31
    field = (u >> 23) & 0xFF
    frac = u & 0x7FFFFF
    zero = (field == 0) & (frac == 0)
    exp = np.where(zero, 0, np.maximum(field, 1))      # a denormal's field reads as 1 (IEEE and RTL)
    hidden = (exp != 0) if rtl_quirks else (field != 0)
    man = frac | (hidden.astype(np.int64) << 23)
    return sign, exp, man, zero


def fp32_preprocess(w, a, *, rtl_quirks: bool = False) -> Fp32Operands:
    """Reassembler, FindMax and Aligner of one fp32 pass (docs/bitlet.md, fp32 steps 1-3).

    ``w``, ``a``: float32 arrays ``[..., n]``, ``1 <= n <= 64`` (one pass; ``Emax`` is per pass), broadcast
    together. ``Esum = Wexp + Aexp`` (biased, denormal field read as 1), ``Emax = max Esum``,
    ``Walign = Wman >> (Emax - Esum)`` (truncating), ``afix = (-1)**(Wsign ^ Asign) * Aman``. Pairs with an
    exact-zero operand are removed (Esum 0, Walign 0) unless ``rtl_quirks``; see the module docstring.
    """
    rtl_quirks = check_bool("rtl_quirks", rtl_quirks)
    ws, we, wm, wz = _decode_fp32("w", w, rtl_quirks)
    as_, ae, am, az = _decode_fp32("a", a, rtl_quirks)
    ws, as_ = _broadcast("w", ws, "a", as_)
    we, ae = np.broadcast_arrays(we, ae)
    wm, am = np.broadcast_arrays(wm, am)
    wz, az = np.broadcast_arrays(wz, az)
    _check_pair_axis("w", ws, MAX_TOTAL)
    esum = we + ae
    if not rtl_quirks:
        removed = wz | az
        esum = np.where(removed, 0, esum)
        wm = np.where(removed, 0, wm)
    emax = esum.max(axis=-1)
    shift = np.minimum(emax[..., None] - esum, 63)
    walign = wm >> shift
    afix = np.where((ws ^ as_) == 1, -am, am)
    return Fp32Operands(walign, afix, esum, emax)


def dot_fp32_block(w, a, *, rtl_quirks: bool = False, lane_mask=None) -> Fp32Block:
    """Exact block-floating-point accumulator of an fp32 pass (docs/bitlet.md, fp32 steps 1-5).

    ``acc = sum_g (sum_{i: bit g of Walign_i} afix_i) << g`` over the 24 lanes, ``scale = Emax - 300``;
    the pass's value before repacking is ``acc * 2**scale``. ``|acc| < 2**54``: no overflow.
    ``lane_mask`` (default all 24 lanes) disables lanes as in the fixed-point mode: a disabled lane
    contributes nothing (mantissa LSB pruning); ``Emax`` is unchanged.
    """
    mask = _check_lane_mask(lane_mask, MAX_CHANNEL)
    ops = fp32_preprocess(w, a, rtl_quirks=rtl_quirks)
    acc = _combine_lanes(lane_sums(ops.walign, ops.afix, lane_mask=mask))
    return Fp32Block(acc, ops.emax - FP32_SCALE_OFFSET)


def repack_fp32(acc, scale, *, rtl_quirks: bool = False) -> np.ndarray:
    """Postprocessor (``Bitlet_PackFloat.v``): ``acc * 2**scale`` to float32, truncating toward zero.

    ``cnt`` = leading-one position of ``|acc|``, biased exponent ``E = cnt + scale + 127``
    (``= Emax - 127 - 46 + cnt``); ``1 <= E <= 254``: normal with the 23 bits below the leading one
    (truncated); ``E > 254``: ``+-inf``; ``E <= 0``: denormal ``floor(|acc| * 2**(scale + 149))`` (may
    be a signed zero); ``acc == 0``: ``+0.0``. With ``rtl_quirks`` an ``E == 0`` result keeps the
    normalized fraction bits with exponent field 0 (the RTL's off-by-one). Returns float32 ``[...]``.
    """
    rtl_quirks = check_bool("rtl_quirks", rtl_quirks)
    acc = check_int_array("acc", acc, lo=-((1 << 63) - 1))
    scale = check_int_array("scale", scale, lo=-(1 << 20), hi=1 << 20)
    acc, scale = _broadcast("acc", acc, "scale", scale)
    mag = np.abs(acc)
    cnt = _bit_length(mag) - 1
    e = cnt + scale + 127
    sh = cnt - 23
    norm = np.where(sh >= 0, mag >> np.clip(sh, 0, 63), mag << np.clip(-sh, 0, 63))
    frac = norm & 0x7FFFFF
    k = scale + 149
    sub = np.where(k >= 0, mag << np.clip(k, 0, 23), mag >> np.clip(-k, 0, 63))
    if rtl_quirks:
        sub = np.where(e == 0, frac, sub)
    bits = np.where(e > 254, 0xFF << 23, np.where(e >= 1, (np.clip(e, 1, 254) << 23) | frac, sub))
    bits = np.where(mag == 0, 0, bits) | ((acc < 0).astype(np.int64) << 31)
    return bits.astype(np.uint32).view(np.float32)


def dot_fp32(w, a, *, rtl_quirks: bool = False, lane_mask=None, nonfinite: str = "refuse") -> np.ndarray:
    """fp32 Bitlet dot product of one pass (docs/bitlet.md, fp32): float32 ``[...]``.

    Truncating alignment of the weight mantissas to the block exponent, exact accumulation, truncating
    repack (see the module docstring for every difference to IEEE and to the RTL). Not a correctly
    rounded dot product; the error is bounded by :func:`dot_fp32_error_bound`. ``lane_mask``: see
    :func:`dot_fp32_block`.

    ``nonfinite``: ``"refuse"`` (default) raises ``ValueError`` for a NaN or infinite operand.
    ``"nan"`` is the hardware PE's documented behaviour (``hw/bitlet/pe.py``; a choice): a pair with a NaN or
    infinite operand (exponent field 255) is removed from the pass like an exact zero (no ``Emax``, no
    bits, no cycles) and the pass's result is the canonical quiet NaN :data:`FP32_NAN`
    (``0x7FC00000``); see :func:`fp32_nonfinite`.
    """
    w, a, invalid = _sanitize_nonfinite(w, a, nonfinite)
    blk = dot_fp32_block(w, a, rtl_quirks=rtl_quirks, lane_mask=lane_mask)
    out = repack_fp32(blk.acc, blk.scale, rtl_quirks=rtl_quirks)
    if invalid is None:
        return out
    nan = np.array(FP32_NAN, dtype=np.uint32).view(np.float32)
    return np.where(invalid, nan, out).astype(np.float32)


def fp32_nonfinite(w, a) -> np.ndarray:
    """Per pass (last axis), whether any pair has a NaN or infinite operand: bool ``[...]``.

    ``w``, ``a``: float32 arrays ``[..., n]`` broadcast together. These passes give :data:`FP32_NAN` with
    ``nonfinite="nan"``.
    """
    _, _, invalid = _sanitize_nonfinite(w, a, "nan")
    return invalid


def _sanitize_nonfinite(w, a, nonfinite):
    """``(w, a, None)`` unchanged for ``"refuse"``; for ``"nan"`` the pairs with a non-finite operand are
    replaced by ``(+0.0, +0.0)`` and the per-pass flag is returned."""
    check_choice("nonfinite", nonfinite, ("refuse", "nan"))
    if nonfinite == "refuse":
        return w, a, None
    ws, as_ = as_array("w", w), as_array("a", a)
    for name, arr in (("w", ws), ("a", as_)):
        if arr.dtype != np.float32:
            raise TypeError(f"{name} must be a float32 array, got dtype {arr.dtype} "
                            "(convert explicitly with .astype(np.float32))")
    ws, as_ = _broadcast("w", ws, "a", as_)
    _check_pair_axis("w", ws, MAX_TOTAL)
    bad = ~np.isfinite(ws) | ~np.isfinite(as_)
    zero = np.float32(0.0)
    return np.where(bad, zero, ws), np.where(bad, zero, as_), bad.any(axis=-1)


def dot_fp32_error_bound(w, a) -> np.ndarray:
    """Upper bound on ``|dot_fp32(w, a) - sum_i w_i a_i|`` (exact real sum), IEEE mode, float64 ``[...]``.

    Derivation. Pair ``i`` is exactly ``Wman_i * Aman_i * 2**(Esum_i - 300)``. With
    ``d_i = Emax - Esum_i`` the aligned weight is ``floor(Wman_i / 2**d_i)``, so the pair loses
    ``frac_i * Aman_i * 2**scale`` with ``0 <= frac_i < 1``, and ``frac_i = 0`` when ``d_i = 0``. Hence

    ``|block - exact| < 2**scale * sum_{i: d_i > 0, pair not removed} Aman_i``  (alignment)

    and the truncating repack loses less than one unit in the last place of the block value,
    ``2**(max(E, 1) - 150)`` with ``E`` the biased exponent of the block value (repack). The bound is the
    sum of the two (rounded up); ``inf`` where the result overflows to infinity.
    """
    ops = fp32_preprocess(w, a)
    _, _, am, _ = _decode_fp32("a", a, False)
    am = np.broadcast_to(am, ops.walign.shape)
    scale = ops.emax - FP32_SCALE_OFFSET
    lossy = (ops.emax[..., None] - ops.esum > 0) & (ops.esum > 0)
    align = np.where(lossy, am, 0).sum(axis=-1).astype(np.float64) * np.exp2(scale.astype(np.float64))
    acc = _combine_lanes(lane_sums(ops.walign, ops.afix))
    e = _bit_length(np.abs(acc)) - 1 + scale + 127
    repack = np.where(acc == 0, 0.0, np.exp2((np.maximum(e, 1) - 150).astype(np.float64)))
    bound = np.nextafter(align + repack, np.inf)
    return np.where(e > 254, np.inf, bound)


def pass_cycles_fp32(w, a, *, n_check: int = 8, lane_mask=None, n_valid=None,
                     rtl_quirks: bool = False, nonfinite: str = "refuse") -> np.ndarray:
    """Compute cycles of an fp32 pass: :func:`pass_cycles` on the aligned mantissas (24 lanes).

    Removed zero pairs have ``Walign = 0`` and cost nothing beyond what the empty windows cost; pairs
    past ``n_valid`` must be exact zeros (in IEEE mode). ``nonfinite="nan"`` removes pairs with a NaN or
    infinite operand the same way (see :func:`dot_fp32`).
    """
    w, a, _ = _sanitize_nonfinite(w, a, nonfinite)
    ops = fp32_preprocess(w, a, rtl_quirks=rtl_quirks)
    return pass_cycles(ops.walign, n_check=n_check, lane_mask=lane_mask, n_valid=n_valid)


# ----------------------------------------------------------------------------------------------------
# timing of the hardware PE (hw/bitlet/pe.py)

class PeTiming(NamedTuple):
    """Back-to-back stream timing of :class:`hw.bitlet.pe.BitletPE`, int64 arrays ``[P]``."""
    steps: np.ndarray      #: compute steps of each pass, ``max(1, cycles)`` (the PE's ``cycles`` delta)
    last_beat: np.ndarray  #: cycle in which the pass's last input beat is accepted
    out_valid: np.ndarray  #: first cycle in which the pass's result is on the output (``o.valid``)
    counter: np.ndarray    #: the PE's ``cycles`` counter in that cycle (the next pass may have begun)


def pe_stream_timing(cycles, *, load_cycles: int, mode: str = "fixed") -> PeTiming:
    """Timing of a stream of passes through the hardware PE, input always valid, output always ready.

    Parameters
    ----------
    cycles : int array [P]
        Lane-model cycles of each pass in stream order (:func:`pass_cycles` / :func:`pass_cycles_fp32`).
    load_cycles : int
        Input beats per pass, ``L = n_total / n_input`` (:attr:`BitletConfig.load_cycles`).
    mode : "fixed" or "fp32"
        The PE's mode: fp32 has more register stages: the decoder's (its exponent max tree takes the
        cycle after a beat), the align stage (a pass waits in its staging buffer after its last beat
        until its block exponent is registered, and moves, aligned, into the aligned registers), the
        aligned registers (from which it enters the compute registers) and the repack's stage register.

    Returns
    -------
    PeTiming
        Cycle 0 is the cycle the first beat of the first pass is accepted. A pass enters the PE's
        compute registers in cycle ``start_p`` (when its compute stage is idle or in its last step),
        computes in the ``steps`` cycles after it, each step is accumulated two cycles later (the MAC's
        register stages: selected values, lane sum, accumulator), and its result is valid ``R = 3``
        (fixed) or ``R = 4`` (fp32: the repack's stage) cycles after its last step::

            steps_p     = max(1, cycles_p)              # a pass without enabled lanes still takes a step
            start_p     = start_{p-1} + max(steps_{p-1}, L)          # fixed
            out_valid_p = start_p + steps_p + R
            counter_p   = sum_q min(steps_q, max(0, out_valid_p - 1 - start_q))

        Fixed point: the pass enters in the cycle of its last beat, which the PE accepts only then,
        ``last_beat_p = start_p``, ``start_0 = L - 1``.

        fp32: a pass's block exponent is registered two cycles after its last beat; from then it can
        move into the aligned registers (cycle ``move_p``) when they are empty, from the cycle after
        their pass entered the compute registers; the staging buffer takes the next pass's first beat
        in the cycle a pass moves; a pass enters the compute registers at the earliest the cycle after
        its move::

            last_beat_p = move_{p-1} + L - 1            # last_beat_0 = L - 1
            move_p      = max(last_beat_p + 2, start_{p-1} + 1)
            start_p     = max(move_p + 1, start_{p-1} + steps_{p-1})    # start_0 = L + 2

        So with ``L <= steps`` (fixed; always when ``n_input >= n_check`` and a lane is enabled) or ``L <
        steps`` (fp32; always when ``ceil(n_total / n_check) > L``, as in the paper's 64 pairs, 16 per
        beat, 8-bit window: 8 > 4) consecutive results are exactly ``steps_p`` cycles apart: the
        overhead over the lane model is zero (otherwise fp32 passes enter at most ``max(steps_{p-1}, L
        + 1)`` cycles apart); the latency of a pass from its first beat is ``L + steps + 2`` (fixed) or
        ``L + steps + 6`` (fp32).

        Time and memory are linear in ``P``. Every cycle number must fit int64: a stream whose last result
        would be valid after cycle ``2**63 - 1`` is refused with a ``ValueError``, never wrapped.
    """
    load_cycles = check_int("load_cycles", load_cycles, lo=1, hi=MAX_TOTAL)
    c = check_int_array("cycles", cycles, lo=0, ndim=1)
    fp = check_choice("mode", mode, ("fixed", "fp32")) == "fp32"
    steps = np.maximum(c, 1)
    L = load_cycles
    if fp:                           # Python ints: exact whatever the cycles
        start, last_beat = [], []
        move, done = 0, 0            # pass 0's first beat in cycle 0; no earlier pass computing
        for s in steps.tolist():
            last_beat.append(move + L - 1)
            move = max(last_beat[-1] + 2, start[-1] + 1 if start else 0)
            start.append(max(move + 1, done))
            done = start[-1] + s
        last = start[-1] + int(steps[-1]) + 4 if start else 0
    else:
        interval = np.maximum(steps, L)
        last = L - 1 + sum(interval[:-1].tolist()) + int(steps[-1]) + 3 if steps.size else 0
    # times increase with p, the last result's cycle is the largest number computed (counters included)
    if last > np.iinfo(np.int64).max:
        raise ValueError(f"cycles are too large for int64: the stream's last result would be valid in cycle {last} "
                         f"(> 2**63 - 1)")
    if fp:
        start, last_beat = np.array(start, dtype=np.int64), np.array(last_beat, dtype=np.int64)
    else:
        start = L - 1 + np.concatenate([[0], np.cumsum(interval)[:-1]]).astype(np.int64)
        last_beat = start
    out_valid = start + steps + (4 if fp else 3)
    # steps of pass q run in cycles start_q + 1 .. start_q + steps_q, all before start_{q+1} (a pass enters
    # once the previous one has its last step), so the counter seen in cycle t = out_valid_p - 1 (the steps of
    # the cycles before out_valid_p) is every step of the passes before the last pass j with start_j < t plus
    # min(steps_j, t - start_j) of pass j; later passes have none yet
    t = out_valid - 1
    j = np.searchsorted(start, t, side="left") - 1
    before = np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)[j]
    return PeTiming(steps, last_beat, out_valid, before + np.minimum(steps[j], t - start[j]))
