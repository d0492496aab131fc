"""BBS / BitVert golden model: binary pruning, compressed format and the bi-directional dot product.

Paper: Y. Chen, J. Meng, J. Seo, M. S. Abdelfattah, "BBS: Bi-directional Bit-level Sparsity for Deep
Learning Acceleration", MICRO 2024 (docs/bbs.md). Authors' code: ``yc2367/BBS-MICRO``
(``binary_pruning.py``) and ``yc2367/BitSim`` (RTL, simulator).

What is here
------------
* :class:`BBSConfig`: the frozen parameter object shared with the hardware generators (``B``, ``G``, ``N``,
  constant width, ``Gs``, ``G_pe``) with the derived widths.
* :func:`round_average` (RA), :func:`zero_point_shift` (ZPS, paper and reference modes) and
  :func:`zps_apply` (one fixed shift): return ``(w_pruned, meta)`` with a :class:`BBSMeta`.
* :func:`select_sensitive` (Algorithm 2): per-layer masks of the INT8 ("sensitive") channels.
* :func:`encode` / :func:`decode` / :func:`bits_per_weight` and :meth:`BBSEncoded.to_bytes` /
  :func:`from_bytes`: the compressed format.
* :func:`column_sums` / :func:`dot`: the bi-directional identity computed column by column.

Conventions
-----------
Bit planes are LSB-first everywhere in bitsparse (:mod:`golden.bits`); the authors index MSB-first.
In this module "column ``j``" of a group always means the ``j``-th **live** column in processing
order, MSB first (``j = 0`` is the sign column), and "position ``p``" a significance ``2**p``.

Groups are those of :func:`golden.layout.group_weights` (``G`` consecutive input channels of one output,
conv ``[K,C,H,W]`` reordered to ``[K,H,W,C]``; ``G = C`` when ``C < G``). Group ``g`` is row ``g`` of that
``[n_groups, G]`` matrix; every per-group array in this module uses that order.

The datapath form
~~~~~~~~~~~~~~~~~
After either method every pruned group is ``w'_i = q_i + C`` where ``q`` is a two's-complement number whose
top ``r`` columns are sign extension (``q`` fits in ``B - r`` bits) and whose ``N - r`` lowest columns are
zero (``q % 2**(N-r) == 0``). The ``B - N`` live columns of ``q`` are positions ``B-1-r`` down to ``N-r``;
the first is the sign column, weight ``-2**(B-1-r)``. ``C`` is the *BBS constant*: RA's rounded average
(unsigned, ``0 <= C < 2**(N-r)``), ZPS's ``C = -k`` (signed, the value added back; ``k`` is the shift).

**Choice: redundant-column count.** ``r = min(#sign-extension columns of the group, 3, N)``. The cap 3 is the
2-bit metadata field (paper, code). The extra cap ``N`` is ours: a group with more than ``N`` redundant
columns needs no pruning at all (``N - r <= 0``, the weights are unchanged in every mode), and recording
``r = N`` instead keeps exactly ``B - N`` live columns in *every* pruned group, so the scheduler's
``col_idx = B-1-r`` never runs below 0 in its ``B - N`` lock-step cycles. The pruned weights are identical
to the uncapped rule.

Rounded averaging (RA) -- :func:`round_average`
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``L = N - r``; ``low_i = w_i mod 2**L``; ``c = round(mean(low))`` **round half to even** (the code's
``torch.round``), computed exactly in integers; ``w'_i = w_i - low_i + c``. ``w'`` stays in the INT-B range
and keeps ``r`` redundant columns. RA is idempotent (a second pass returns the same weights and
metadata; tested).

Zero-point shifting (ZPS) -- :func:`zero_point_shift`, :func:`zps_apply`
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``mode="paper"`` (alias ``"tc"``), the paper's Algorithm 1 in two's complement, per group and shift ``k``:

1. ``t = clip(w + k, -2**(B-1), 2**(B-1)-1)`` (the INT-B range; a choice: the paper's reading, not the
   code's symmetric clip);
2. ``r`` = redundant columns of ``t`` (rule above), counted **after** the shift;
3. GenSparseCol: ``s = N - r``; each ``t_i`` goes to the nearest multiple of ``2**s``, **ties to the smaller
   magnitude** (as the code), then clipped to the largest/smallest multiple of ``2**s`` that still fits in
   ``B - r`` bits, ``[-2**(B-1-r), 2**(B-1-r) - 2**s]`` (so rounding up never destroys a redundant column
   or overflows INT-B; this is the "clip to the INT-B range" of the narrowed representation);
4. ``w' = q - k``; ``err = sum((w' - w)**2)``.

The search keeps the smallest error, **ties to the first ``k`` in ascending order** (the most negative
shift), as Algorithm 1's strict ``<`` and the code's ascending loop do. (With ``N = 0`` nothing is pruned; the search
then returns the first shift whose clip loses nothing, not necessarily ``k = 0``: the weights are unchanged.)

**Choice: shift range** (the paper leaves it open): the stored constant is ``C = -k`` in a ``const_bits``-bit
two's-complement field, so we search the ``2**const_bits`` shifts whose constant is storable:
``C in [-2**(p-1), 2**(p-1)-1]``, i.e. ``k in [-(2**(p-1)-1), 2**(p-1)]`` (``k in [-31, 32]`` for ``p = 6``).
``k = -32`` is **not** searched (its constant ``+32`` has no 6-bit code); ``k = +32`` (``C = -32``) is. The
encoded field is always 6 bits; ``const_bits < 6`` only narrows the search.

``w'`` is **not** clipped back to INT-B: ``w' = q + C`` can lie up to ``2**(p-1)`` outside it (e.g. 127 with
``k = -22``, ``N = 4`` gives 134). The hardware never forms ``w'``; :attr:`BBSConfig.weight_range` and
:attr:`BBSConfig.acc_width` cover it. Consequently ZPS is idempotent only where ``w'`` is still in
range (then a second pass returns the same weights; the stored shift may differ; tested with that filter).

``mode="reference"`` (alias ``"sm_ref"``): the authors' ``zeroPointShifting_*`` in closed form,
sign-magnitude: ``v = clip(w + o, +-(2**(B-1)-1))``; ``z`` = leading all-zero magnitude columns of
the group (up to ``B-1``); if ``z < N``: ``step = 2**(N-z)``, ``n = min(round_half_down(|v|/step),
2**(B-N-1)-1)``, ``m' = n*step``, else ``m' = |v|``; ``w' = sign(v)*m' - o``. Offsets ``o`` run over
``[-2**(CB-1), 2**(CB-1)-1]`` ascending, ties keep the first (most negative) ``o``. ``CB = const_bits``; the
authors' default is 5 but our keyword default stays 6 (pass ``const_bits=5`` to reproduce their default).
In meta, ``redundant = min(z, N)`` (can exceed 3) and ``constant = -o``. With ``N <= 3`` and ``CB <= 5`` every
reference result is representable in the compressed format (``q = sign(v) m'`` fits ``B - r`` bits with ``N - r``
zero LSBs for ``r = min(z, N)``; tested). Beyond that not every one is, and neither the projection (it is the
authors' result) nor :func:`encode` (the format has no code for the group) is at fault: with ``N >= 4`` a group with
``z >= 4`` is left with ``min(z, N) >= 4`` redundant columns, which the 2-bit count cannot hold, and with ``r <= 3``
it would need ``N - 3`` zero LSBs, which it need not have (EfficientNet-Lite0's ``_blocks.4._expand_conv`` at ``G = 8``,
``N = 4`` has one: ``{0 x6, -3, 0}``, ``o = -4``); ``CB = 6`` can give ``C = +32``. :func:`encode` refuses such
groups with a ``ValueError`` that says which.

Compressed format -- :func:`encode`, :func:`decode`, :meth:`BBSEncoded.to_bytes`
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
* **Column word:** ``G`` bits; **bit ``i`` (LSB = bit 0) is the bit of weight ``i`` of the group** (weight 0 =
  the lowest input channel of the group).
* **Pruned group:** ``B - N`` column words of ``q = w' - C``, **MSB first**: word ``j`` holds position
  ``B-1-r-j`` (word 0 is the sign column), plus one **metadata byte**: bits 7..6 = ``r`` (unsigned 0..3),
  bits 5..0 = the constant field: ``C`` in 6-bit **two's complement** for ZPS (``kind="zps"``, ``-32..31``),
  ``C`` **unsigned** for RA (``kind="ra"``, ``0..63``). The ``kind`` is stored once per tensor
  (:attr:`BBSEncoded.kind`), not per group.
* **Sensitive group** (INT8 channel): ``B`` column words of ``w`` itself (positions ``B-1..0``), **no
  metadata byte** (``r = 0``, ``C = 0``; :attr:`BBSEncoded.meta` holds 0 for it).
* **Byte stream** (:meth:`BBSEncoded.to_bytes`): groups in row order; per pruned group the metadata byte
  first, then its live words; per sensitive group only its ``B`` words. A word is ``ceil(G/8)`` bytes,
  **little-endian**: byte ``b`` holds weights ``8b..8b+7``, weight ``8b+j`` at bit ``j``; unused top bits 0.
  Which output channels are sensitive is side information (the channel-index buffer), passed to
  :func:`from_bytes`.
* :func:`bits_per_weight`: the bits of that byte stream per weight, ``8 * len(to_bytes()) / weights``
  exactly: ``8 + 8*ceil(G/8) * (B - N)`` bits per pruned group (also with ``N = 0``: its metadata byte
  stays, ZPS may have shifted it), ``8*ceil(G/8) * B`` per sensitive group, over the ``G`` weights of a
  group. When 8 divides ``G`` that is ``(B - N) + 8/G`` and ``B`` (6.25 for N = 2 and 4.25 for N = 4 at
  G = 32); otherwise the unused top bits of every word count too (G = 1, N = 2: 56, not 14).

Bi-directional identity -- :func:`column_sums`, :func:`dot`
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A group is processed in ``P = ceil(G / G_pe)`` PE passes of ``G_pe`` lanes, each split into ``S = G_pe/Gs``
sub-columns of ``Gs`` bits. A group shorter than ``P*G_pe`` (e.g. ``G = C = 3``) is padded with weight bits 0
and activations 0, as idle PE lanes would be (a choice). Per live column, pass and sub-column: ``invert =
popcount > Gs/2`` (strictly, the RTL rule); the adder tree sums the activations at the ones (not inverted)
or at the zeros (inverted) -- ``selected_sum`` -- and the column's BBS sum is ``selected_sum`` or
``sub_asum - selected_sum``. The constant term ``C * sum(A)`` is applied **per PE pass with that pass's own
activation sum** (a choice, docs/bbs.md). See :class:`BBSColumnSums` for every returned quantity.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .bits import product_range, signed_width, twos_range
from .check import (as_array, check_choice, check_float_array, check_int, check_int_array, check_int_values,
                    first_index)
from .chunks import blocks, require_memory
from .layout import Grouping, effective_group, grouped_view, ungroup_weights

__all__ = [
    "BBSConfig", "BBSMeta", "BBSEncoded", "BBSColumnSums",
    "round_average", "zero_point_shift", "zps_apply", "zps_shifts", "select_sensitive",
    "encode", "decode", "from_bytes", "bits_per_weight", "column_sums", "dot",
]

_MAX_BITS = 16
_MAX_GROUP = 64            # a column word is one uint64
_MAX_PRUNED = 6            # compressed format: at most 6 pruned columns
_RMAX = 3                  # 2-bit redundant-count field
_FIELD_BITS = 6            # constant field of the metadata byte
_ACT_BITS = 8              # activations are signed 8-bit (BitVert RTL)
_MODES = ("paper", "reference", "tc", "sm_ref")
_MODE_ALIAS = {"tc": "paper", "sm_ref": "reference", "paper": "paper", "reference": "reference"}


# ------------------------------------------------------------------------------------------------
# configuration


def _check_bgn(bits, group, pruned):
    bits = check_int("bits", bits, lo=2, hi=_MAX_BITS)
    group = check_int("group", group, lo=1, hi=_MAX_GROUP)
    pruned = check_int("pruned", pruned, lo=0, hi=min(_MAX_PRUNED, bits - 2),
                       extra=f"(N <= 6 and N <= bits-2 = {bits - 2}: at least 2 columns remain)")
    return bits, group, pruned


def _check_const_bits(const_bits):
    return check_int("const_bits", const_bits, lo=1, hi=_FIELD_BITS,
                     extra="(the metadata byte has a 6-bit constant field)")


@dataclass(frozen=True)
class BBSConfig:
    """Parameters of BBS pruning and of a BitVert PE, shared by the golden model and the generators.

    Parameters
    ----------
    bits : int
        ``B``, weight width (two's complement), 2..16, default 8.
    group : int
        ``G``, pruning group (weights sharing one metadata byte), 1..64, default 32.
    pruned : int
        ``N``, pruned columns per group, ``0..min(6, bits-2)``, default 2 ("cons"; "mod" is 4).
        ``N = 0`` describes unpruned (sensitive) INT-B groups: ``B`` columns, no metadata.
    const_bits : int
        ``p``, width of the searched ZPS constant, 1..6, default 6 (paper). Stored in the 6-bit field.
    subgroup : int
        ``Gs``, invert granularity (sub-column length), even, 2..64, default 8.
    pe_length : int
        ``G_pe``, PE dot-product length, a multiple of ``subgroup``, ``subgroup..64``, default 16.
    """

    bits: int = 8
    group: int = 32
    pruned: int = 2
    const_bits: int = 6
    subgroup: int = 8
    pe_length: int = 16

    def __post_init__(self):
        _check_bgn(self.bits, self.group, self.pruned)
        _check_const_bits(self.const_bits)
        _check_gs_pe(self.subgroup, self.pe_length)

    @property
    def live_columns(self) -> int:
        """Columns processed per pruned group, ``B - N`` (also the cycles per group)."""
        return self.bits - self.pruned

    @property
    def redundant_field_bits(self) -> int:
        """Width of the redundant-count field (2)."""
        return 2

    @property
    def constant_field_bits(self) -> int:
        """Width of the constant field (6)."""
        return _FIELD_BITS

    @property
    def metadata_bits(self) -> int:
        """Metadata per pruned group: 2 (redundant count) + 6 (constant) = 8; 0 when ``N = 0``."""
        return 0 if self.pruned == 0 else self.redundant_field_bits + self.constant_field_bits

    @property
    def bits_per_weight(self) -> float:
        """Stored bits per weight of a group, as the byte stream stores it (:func:`bits_per_weight`).

        ``(8 + 8*ceil(G/8) * (B - N)) / G``, which is ``(B - N) + 8/G`` when 8 divides ``G``; with ``N = 0``
        (sensitive INT-B groups, no metadata) ``8*ceil(G/8) * B / G``, i.e. ``B``.
        """
        return (self.metadata_bits + 8 * -(-self.group // 8) * self.live_columns) / self.group

    @property
    def weight_range(self) -> tuple[int, int]:
        """Exact ``(min, max)`` of ``w' = q + C`` over every group the format can hold.

        ``q``: ``B - r`` bit two's complement with ``N - r`` zero LSBs (widest at ``r = 0``: ``[-2**(B-1),
        2**(B-1) - 2**N]``); ``C``: ZPS ``[-2**(p-1), 2**(p-1)-1]`` or RA ``[0, 2**N - 1]`` (RA keeps ``w'``
        in INT-B). With ``N = 0``: the INT-B range.
        """
        lo, hi = twos_range(self.bits)
        if self.pruned == 0:
            return lo, hi
        half = 1 << (self.const_bits - 1)
        qhi = (1 << (self.bits - 1)) - (1 << self.pruned)
        return lo - half, max(hi, qhi + half - 1)

    @property
    def acc_width(self) -> int:
        """Signed width holding ``sum`` of ``pe_length`` products ``w' * a`` (``a`` int8), exact worst case."""
        return self.dot_width(self.pe_length)

    def dot_width(self, terms: int) -> int:
        """Signed width of a sum of ``terms`` products ``w' * a`` over :attr:`weight_range` x int8."""
        terms = check_int("terms", terms, lo=1)
        lo, hi = product_range(self.weight_range, twos_range(_ACT_BITS))
        return signed_width(terms * lo, terms * hi)

    @property
    def subgroup_sum_width(self) -> int:
        """Signed width of one sub-column activation sum (``Gs`` int8 values): 11 for Gs = 8."""
        alo, ahi = twos_range(_ACT_BITS)
        return signed_width(self.subgroup * alo, self.subgroup * ahi)

    @property
    def pass_sum_width(self) -> int:
        """Signed width of one PE pass's activation sum (``G_pe`` int8 values): 12 for G_pe = 16."""
        alo, ahi = twos_range(_ACT_BITS)
        return signed_width(self.pe_length * alo, self.pe_length * ahi)


def _check_gs_pe(subgroup, pe_length):
    subgroup = check_int("subgroup", subgroup, lo=2, hi=_MAX_GROUP, extra="and even")
    if subgroup % 2:
        raise ValueError(f"subgroup must be an integer in [2, {_MAX_GROUP}] and even, got {subgroup}")
    pe_length = check_int("pe_length", pe_length, lo=subgroup, hi=_MAX_GROUP,
                          extra=f"and a multiple of subgroup={subgroup}")
    if pe_length % subgroup:
        raise ValueError(f"pe_length must be an integer in [{subgroup}, {_MAX_GROUP}] and a multiple of "
                         f"subgroup={subgroup}, got {pe_length}")
    return subgroup, pe_length


# ------------------------------------------------------------------------------------------------
# metadata


@dataclass(frozen=True, eq=False)
class BBSMeta:
    """Per-group metadata of a pruned tensor (everything :func:`encode` needs).

    Attributes
    ----------
    kind : str
        ``"ra"`` (constant unsigned) or ``"zps"`` (constant signed).
    mode : str
        ``"round_average"``, ``"paper"`` or ``"reference"``.
    bits, pruned, const_bits : int
        ``B``, ``N`` and the constant width used (``const_bits`` is 6 for RA).
    grouping : Grouping
        From :func:`golden.layout.group_weights`; ``grouping.group`` is the effective ``G``.
    redundant : ndarray of int64, ``[n_groups]``
        ``r``: dropped sign-extension columns (0..3 for RA and paper ZPS; ``min(z, N)`` in reference mode).
    constant : ndarray of int64, ``[n_groups]``
        ``C`` with ``w' = q + C`` (RA: the average; ZPS: ``-shift``).
    error : ndarray of int64, ``[n_groups]``
        ``sum((w' - w)**2)`` over the group.
    original : ndarray of int64, ``[n_groups, G]``, or None
        The INT-B weights ``w`` that were pruned, grouped (read-only): what :func:`encode` requires in the
        sensitive channels. ``None`` in a BBSMeta built by hand, which :func:`encode` can then only check for
        INT-B values there.
    """

    kind: str
    mode: str
    bits: int
    pruned: int
    const_bits: int
    grouping: Grouping
    redundant: np.ndarray
    constant: np.ndarray
    error: np.ndarray
    original: np.ndarray | None = field(default=None, repr=False)

    @property
    def group(self) -> int:
        return self.grouping.group

    @property
    def n_groups(self) -> int:
        return int(self.redundant.shape[0])

    @property
    def shift(self) -> np.ndarray:
        """ZPS shift ``k = -C`` per group (RA: ``-C`` too, for symmetry)."""
        return -self.constant


def _readonly(*arrays):
    for a in arrays:
        a.setflags(write=False)


# ------------------------------------------------------------------------------------------------
# shared helpers


def _check_weights(w, bits, *, symmetric=False, name="w"):
    """int64 array in the INT-B range (min/max fast path, check_int_array for the message)."""
    lo, hi = twos_range(bits)
    a = as_array(name, w)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        check_int_array(name, a)                       # raises TypeError with the dtype
    if a.ndim not in (2, 4):
        raise ValueError(f"{name} must be [K, C] (fully connected) or [K, C, H, W] (convolution), "
                         f"got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    if a.dtype == np.uint64 or int(a.min()) < lo or int(a.max()) > hi:
        check_int_array(name, a, lo=lo, hi=hi)
    return a


def _prune_blocks(w, bits, group, what, prune):
    """Run ``prune(rows, r0, r1) -> (w'_rows, r, c, err)`` over the groups of ``w`` block by block.

    The validated weights are copied group by group into the ``[n_groups, G]`` int64 matrix that
    becomes :attr:`BBSMeta.original`; each block's ``w'`` goes straight into the output in ``w``'s layout.
    So the peak memory is those two int64 tensors, the per-group ``r``, ``C`` and error, and one block's
    temporaries (:mod:`golden.chunks`). Returns ``(w_pruned, grouping, g, r, c, err)``.
    """
    a = _check_weights(w, bits)
    G = effective_group(a.shape[1], group)
    grouping = Grouping(tuple(a.shape), G, "fc" if a.ndim == 2 else "conv")
    n = a.size // G
    require_memory(f"{what} of w with shape {a.shape}", 16 * a.size + 24 * n,
                   f"w_pruned and meta.original, {a.size:,} int64 each, and 3 x {n:,} per-group int64")
    g = np.empty((n, G), dtype=np.int64)
    out = np.empty(a.shape, dtype=np.int64)
    r, c, err = (np.empty(n, dtype=np.int64) for _ in range(3))
    src, dst = grouped_view(a, G), grouped_view(out, G)
    for idx, r0, r1 in blocks(src.shape[:3], cost=G):
        block = src[idx]
        rows = g[r0:r1]
        np.copyto(rows.reshape(block.shape), block, casting="unsafe")
        q, r[r0:r1], c[r0:r1], err[r0:r1] = prune(rows, r0, r1)
        dst[idx] = q.reshape(block.shape)
    return out, grouping, g, r, c, err


def _sign_ext_count(gmin, gmax, bits, cap):
    """Redundant (sign-extension) columns of groups with the given min/max, capped at ``cap``."""
    u = np.maximum(gmax, -1 - gmin)           # largest magnitude code; >= 0
    r = np.zeros(np.shape(u), dtype=np.int64)
    for k in range(1, cap + 1):
        r += u < (1 << (bits - 1 - k))
    return r


# ------------------------------------------------------------------------------------------------
# rounded averaging


def round_average(w, *, bits: int = 8, group: int = 32, pruned: int = 2):
    """Rounded column averaging (docs/bbs.md, rounded averaging; paper Fig. 4, code ``roundAvg_*``).

    Per group: ``r`` redundant columns (capped at ``min(3, N)``, see the module docstring), ``L = N - r``,
    the ``L`` LSBs of every weight replaced by their rounded average ``c`` (**round half to even**, exact
    integer arithmetic), ``w' = w - (w mod 2**L) + c``.

    Parameters
    ----------
    w : int array, ``[K, C]`` or ``[K, C, H, W]``
        Weights in ``[-2**(bits-1), 2**(bits-1)-1]``.
    bits, group, pruned : int
        ``B``, ``G`` (1..64; ``G = C`` when ``C < G``), ``N`` (``0..min(6, B-2)``).

    Returns
    -------
    w_pruned : ndarray of int64, same shape as ``w``
    meta : BBSMeta
        ``kind="ra"``, ``constant = c`` (unsigned, ``< 2**(N-r)``).

    Memory: the weights are processed in blocks of about :data:`golden.chunks.CHUNK_ELEMENTS` (whole groups),
    never converted or copied whole, so the peak above the input is the outputs -- ``w_pruned`` and
    :attr:`BBSMeta.original` (8 bytes per weight each) and ``r``, ``C`` and the error (8 bytes per group each) --
    plus at most :data:`golden.chunks.WORK_BYTES` (64 MiB). When that exceeds the available memory,
    :class:`golden.chunks.InsufficientMemoryError` (a ``MemoryError``) is raised before anything is allocated,
    saying how much is needed.
    """
    bits, group, pruned = _check_bgn(bits, group, pruned)
    out, grouping, g, r, c, err = _prune_blocks(w, bits, group, "round_average",
                                                lambda rows, r0, r1: _ra_groups(rows, bits, pruned))
    _readonly(r, c, err, g)
    meta = BBSMeta("ra", "round_average", bits, pruned, _FIELD_BITS, grouping, r, c, err, g)
    return out, meta


def _ra_groups(g, bits, pruned):
    """Rounded averaging of the groups ``g`` ([n, G] int64): ``(w', r, c, err)``."""
    G = g.shape[1]
    r = _sign_ext_count(g.min(axis=1), g.max(axis=1), bits, min(_RMAX, pruned))
    L = pruned - r
    low = g & ((np.int64(1) << L) - 1)[:, None]
    s = low.sum(axis=1)
    c = s // G
    rem = s - c * G
    c += (2 * rem > G) | ((2 * rem == G) & (c % 2 == 1))      # round half to even
    out = g - low
    out += c[:, None]
    d = c[:, None] - low
    err = np.einsum("ij,ij->i", d, d)
    return out, r, c, err


# ------------------------------------------------------------------------------------------------
# zero-point shifting


def zps_shifts(const_bits: int = 6, mode: str = "paper") -> np.ndarray:
    """The candidate shifts of :func:`zero_point_shift`, in search order (ascending).

    ``mode="paper"``: ``k in [-(2**(p-1)-1), 2**(p-1)]`` (stored ``C = -k`` fits ``p``-bit two's complement);
    ``mode="reference"``: ``o in [-2**(p-1), 2**(p-1)-1]`` (the authors' loop).
    """
    const_bits = _check_const_bits(const_bits)
    mode = _MODE_ALIAS[check_choice("mode", mode, _MODES)]
    half = 1 << (const_bits - 1)
    if mode == "paper":
        return np.arange(-(half - 1), half + 1, dtype=np.int64)
    return np.arange(-half, half, dtype=np.int64)


def _zps_params(tmin, tmax, bits, pruned, mode):
    """Per-group (r, s, hn, thr, qlo, qhi) from the min/max of the clipped shifted values ``t``.

    ``q = clip(((t + hn - (t > thr)) >> s) << s, qlo, qhi)`` is the nearest multiple of ``2**s`` with ties to
    the smaller magnitude (``thr = 0`` subtracts 1 from positive values when ``s > 0``; ``thr`` = huge
    disables it when ``s = 0``).
    """
    if mode == "paper":
        r = _sign_ext_count(tmin, tmax, bits, min(_RMAX, pruned))
        s = pruned - r
        qlo = -(np.int64(1) << (bits - 1 - r))
        qhi = (np.int64(1) << (bits - 1 - r)) - (np.int64(1) << s)
    else:
        mmax = np.maximum(tmax, -tmin)          # largest magnitude of the group
        z = np.zeros(np.shape(mmax), dtype=np.int64)
        for k in range(1, pruned + 1):          # leading zero magnitude columns, only min(z, N) matters
            z += mmax < (1 << (bits - 1 - k))
        r = z
        s = pruned - r
        nmax = (1 << (bits - pruned - 1)) - 1
        big = np.int64(1) << (bits - 1)
        qhi = np.where(s > 0, np.int64(nmax) << s, big)
        qlo = -qhi
    hn = (np.int64(1) << s) >> 1
    thr = np.where(s > 0, 0, np.int64(1) << (bits - 1))   # t <= 2**(bits-1)-1 never exceeds it
    return r, s, hn, thr, qlo, qhi


def _clip_bounds(bits, mode):
    lo, hi = twos_range(bits)
    return (lo, hi) if mode == "paper" else (-hi, hi)


def _zps_round(t, s, hn, thr, qlo, qhi, out=None):
    """The GenSparseCol kernel on ``t`` ([n, G]) with per-group columns ``[n, 1]``; writes ``out``."""
    x = np.add(t, hn, out=out)
    x -= t > thr
    x >>= s
    x <<= s
    np.maximum(x, qlo, out=x)
    np.minimum(x, qhi, out=x)
    return x


#: weights per block of the ZPS search: its 64 candidate passes over a block stay in the CPU caches
_SEARCH_BLOCK = 32768


def _zps_search(g, bits, pruned, mode, shifts):
    """Best shift per group (first minimum over ``shifts``) and its error, chunked over groups."""
    n, G = g.shape
    dt = np.int16 if bits <= 14 else np.int32         # |w + k| < 2**13 + 64; error terms < 2**14
    lo, hi = _clip_bounds(bits, mode)
    best_err = np.empty(n, dtype=np.int64)
    best_k = np.empty(n, dtype=np.int64)
    ks = shifts.astype(np.int64)
    for _, start, stop in blocks((n,), cost=G, limit=_SEARCH_BLOCK):
        gc = g[start:stop].astype(dt)
        m = gc.shape[0]
        gmin = gc.min(axis=1).astype(np.int64)
        gmax = gc.max(axis=1).astype(np.int64)
        tmin = np.clip(gmin[None, :] + ks[:, None], lo, hi)
        tmax = np.clip(gmax[None, :] + ks[:, None], lo, hi)
        _, s, hn, thr, qlo, qhi = (a.astype(dt)[:, :, None] for a in _zps_params(tmin, tmax, bits, pruned, mode))
        be = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
        bk = np.zeros(m, dtype=np.int64)
        t0 = np.empty_like(gc)
        t = np.empty_like(gc)
        x = np.empty_like(gc)
        for i, k in enumerate(ks.tolist()):
            np.add(gc, dt(k), out=t0)
            np.clip(t0, lo, hi, out=t)
            _zps_round(t, s[i], hn[i], thr[i], qlo[i], qhi[i], out=x)
            x -= t0
            x *= x
            e = x.sum(axis=1, dtype=np.int32)
            better = e < be
            be[better] = e[better]
            bk[better] = k
        best_err[start:start + m] = be
        best_k[start:start + m] = bk
    return best_k, best_err


def _zps_apply_groups(g, k, bits, pruned, mode):
    """Apply per-group shifts ``k`` ([n]) to groups ``g`` ([n, G], int64): ``(w', r, err)``."""
    lo, hi = _clip_bounds(bits, mode)
    kk = k[:, None]
    t = np.clip(g + kk, lo, hi)
    r, s, hn, thr, qlo, qhi = _zps_params(t.min(axis=1), t.max(axis=1), bits, pruned, mode)
    q = _zps_round(t, s[:, None], hn[:, None], thr[:, None], qlo[:, None], qhi[:, None])
    q -= kk
    d = q - g
    return q, r, np.einsum("ij,ij->i", d, d)


def _zps_common(bits, group, pruned, const_bits, mode):
    bits, group, pruned = _check_bgn(bits, group, pruned)
    const_bits = _check_const_bits(const_bits)
    mode = _MODE_ALIAS[check_choice("mode", mode, _MODES)]
    return bits, group, pruned, const_bits, mode


def _zps_result(w, what, shift_of, bits, group, pruned, const_bits, mode):
    """ZPS of ``w`` block by block (:func:`_prune_blocks`); ``shift_of(rows, r0, r1)`` gives each block's shifts."""
    def prune(rows, r0, r1):
        k = shift_of(rows, r0, r1)
        q, r, err = _zps_apply_groups(rows, k, bits, pruned, mode)
        return q, r, -k, err
    out, grouping, g, r, c, err = _prune_blocks(w, bits, group, what, prune)
    _readonly(r, c, err, g)
    meta = BBSMeta("zps", mode, bits, pruned, const_bits, grouping, r, c, err, g)
    return out, meta


def zero_point_shift(w, *, bits: int = 8, group: int = 32, pruned: int = 4, const_bits: int = 6,
                     mode: str = "paper"):
    """Zero-point shifting (docs/bbs.md, ZPS; paper Algorithm 1 and Fig. 5; code ``zeroPointShifting_*``).

    Searches every shift of :func:`zps_shifts` per group and keeps the one with the smallest squared error
    ``sum((w' - w)**2)``, **ties to the first (most negative) shift**. The per-shift rule, the shift range
    (paper: ``k in [-31, 32]``, constant ``C = -k``) and the reference mode are described in the module
    docstring. Vectorized over groups (in blocks of 32K weights, int16 arithmetic for ``B <= 14``);
    the loop runs over the ``2**const_bits`` candidates only.

    Parameters
    ----------
    w : int array, ``[K, C]`` or ``[K, C, H, W]``, INT-B values
    bits, group, pruned : int
        ``B``, ``G``, ``N`` as in :class:`BBSConfig` (default ``N = 4``, "mod").
    const_bits : int
        ``p`` (paper) or ``CB`` (reference), 1..6, default 6. The authors' code defaults to 5.
    mode : {"paper", "reference"}
        ``"tc"`` and ``"sm_ref"`` (earlier names of the two modes) are accepted as aliases.

    Returns
    -------
    w_pruned : ndarray of int64, same shape (may leave the INT-B range by up to ``2**(p-1)``)
    meta : BBSMeta
        ``kind="zps"``, ``constant = -shift``.

    Memory: the weights are processed in blocks of about :data:`golden.chunks.CHUNK_ELEMENTS` (whole groups),
    never converted or copied whole, so the peak above the input is the outputs -- ``w_pruned`` and
    :attr:`BBSMeta.original` (8 bytes per weight each) and ``r``, ``C`` and the error (8 bytes per group each) --
    plus at most :data:`golden.chunks.WORK_BYTES` (64 MiB). When that exceeds the available memory,
    :class:`golden.chunks.InsufficientMemoryError` (a ``MemoryError``) is raised before anything is allocated,
    saying how much is needed.
    """
    bits, group, pruned, const_bits, mode = _zps_common(bits, group, pruned, const_bits, mode)
    shifts = zps_shifts(const_bits, mode)
    return _zps_result(w, "zero_point_shift", lambda rows, r0, r1: _zps_search(rows, bits, pruned, mode, shifts)[0],
                       bits, group, pruned, const_bits, mode)


def zps_apply(w, shift, *, bits: int = 8, group: int = 32, pruned: int = 4, const_bits: int = 6,
              mode: str = "paper"):
    """ZPS with a **given** shift (no search): ``shift`` is an int or one int per group (``[n_groups]``).

    The shift must be one of :func:`zps_shifts` ``(const_bits, mode)``. Paper Fig. 5: ``shift=-14`` on
    ``{81, -20, 1, -7}`` (``N = 4``) gives ``{78, -18, -2, -2}`` with constant 14.

    Memory: as :func:`zero_point_shift`.
    """
    bits, group, pruned, const_bits, mode = _zps_common(bits, group, pruned, const_bits, mode)
    a = _check_weights(w, bits)
    n = a.size // effective_group(a.shape[1], group)
    allowed = zps_shifts(const_bits, mode)
    lo, hi = int(allowed[0]), int(allowed[-1])
    if isinstance(shift, (numbers.Integral, np.integer)) and not isinstance(shift, bool):
        shift = check_int("shift", shift, lo=lo, hi=hi)
        k = np.full(n, shift, dtype=np.int64)
    else:
        k = check_int_array("shift", shift, lo=lo, hi=hi, ndim=1)
        if k.shape[0] != n:
            raise ValueError(f"shift must be an int or have one entry per group ({n}), "
                             f"got shape {k.shape}")
    return _zps_result(a, "zps_apply", lambda rows, r0, r1: k[r0:r1], bits, group, pruned, const_bits, mode)


# ------------------------------------------------------------------------------------------------
# sensitive channels


def select_sensitive(scales, *, beta, channels_per_tile: int = 32):
    """Hardware-aware global selection of sensitive (INT8) output channels: Algorithm 2 (docs/bbs.md).

    1. All output channels of all layers are ranked together by their per-channel quantization scale
       (step size), largest first. **Choice, ties:** earlier layer (container order) first, then lower channel
       index (a stable sort).
    2. The top ``n = ceil(beta * total)`` are sensitive (a choice), with ``beta`` read as the closest fraction of
       denominator <= 10**6 (``Fraction.limit_denominator``): ``0.1`` is exactly 1/10, so 10 % of 30 channels
       is 3, not the 4 that float ``ceil(0.1 * 30)`` gives.
    3. Each layer's count ``c > 0`` is rounded **up** to a multiple of ``channels_per_tile`` and capped at
       the layer's channel count (a layer with fewer channels than the tile takes all of them); ``c = 0``
       stays 0 (a choice: the paper's "takes CH" read as "only if it has any sensitive channel").
    4. A layer's sensitive channels are its highest-scale ones (ties to the lower index), a superset of the
       ones picked in step 2.

    Parameters
    ----------
    scales : list, tuple or mapping of 1-D float arrays
        Per-layer per-channel scales, finite and ``>= 0``.
    beta : float in [0, 1]
    channels_per_tile : int >= 1

    Returns
    -------
    Same container type (list, tuple, or dict with the same keys in the same order) of bool arrays.
    """
    if isinstance(scales, Mapping):
        keys = list(scales.keys())
        arrays = [scales[k] for k in keys]
        names = [f"scales[{k!r}]" for k in keys]
    elif isinstance(scales, Sequence) and not isinstance(scales, (str, bytes)):
        keys = None
        arrays = list(scales)
        names = [f"scales[{i}]" for i in range(len(arrays))]
    else:
        raise TypeError(f"scales must be a list, tuple or mapping of 1-D arrays (one per layer), "
                        f"got {type(scales).__name__}")
    if not arrays:
        raise ValueError("scales must hold at least one layer")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta must be a real number in [0, 1], got {beta!r} of type {type(beta).__name__}")
    if not (math.isfinite(beta) and 0 <= beta <= 1):
        raise ValueError(f"beta must be a real number in [0, 1], got {beta!r}")
    tile = check_int("channels_per_tile", channels_per_tile, lo=1)
    layers = []
    for name, arr in zip(names, arrays):
        a = check_float_array(name, arr, ndim=1)
        if a.size == 0:
            raise ValueError(f"{name} must not be empty")
        if (a < 0).any():
            idx = int(np.argmax(a < 0))
            raise ValueError(f"{name} must hold scales >= 0, got {a[idx]} at index {idx}")
        layers.append(a)
    sizes = np.array([a.size for a in layers])
    total = int(sizes.sum())
    n = math.ceil(Fraction(float(beta)).limit_denominator(10**6) * total)
    allscales = np.concatenate(layers)
    layer_of = np.repeat(np.arange(len(layers)), sizes)
    order = np.argsort(-allscales, kind="stable")
    counts = np.bincount(layer_of[order[:n]], minlength=len(layers))
    masks = []
    for a, c in zip(layers, counts.tolist()):
        if c:
            c = min(-(-c // tile) * tile, a.size)
        m = np.zeros(a.size, dtype=bool)
        m[np.argsort(-a, kind="stable")[:c]] = True
        masks.append(m)
    if keys is not None:
        return dict(zip(keys, masks))
    return tuple(masks) if isinstance(scales, tuple) else masks


# ------------------------------------------------------------------------------------------------
# compressed format


@dataclass(frozen=True, eq=False)
class BBSEncoded:
    """A tensor in the BBS compressed format (layout in the module docstring).

    Attributes
    ----------
    words : ndarray of uint64, ``[n_groups, bits]``
        Column words, MSB first; row ``g`` holds :attr:`live` ``[g]`` valid words, the rest are 0.
    meta : ndarray of uint8, ``[n_groups]``
        Metadata byte (``r << 6 | constant field``); 0 for sensitive groups.
    sensitive : ndarray of bool, ``[n_groups]``
    kind : str
        ``"ra"`` or ``"zps"``: how the constant field is read.
    bits, pruned : int
    grouping : Grouping
    """

    words: np.ndarray
    meta: np.ndarray
    sensitive: np.ndarray
    kind: str
    bits: int
    pruned: int
    grouping: Grouping

    @property
    def group(self) -> int:
        return self.grouping.group

    @property
    def n_groups(self) -> int:
        return int(self.meta.shape[0])

    @property
    def redundant(self) -> np.ndarray:
        """``r`` per group (metadata bits 7..6)."""
        return (self.meta >> 6).astype(np.int64)

    @property
    def constant(self) -> np.ndarray:
        """``C`` per group: the 6-bit field, two's complement for ZPS, unsigned for RA."""
        f = (self.meta & 0x3F).astype(np.int64)
        if self.kind == "zps":
            f = np.where(f >= 32, f - 64, f)
        return f

    @property
    def live(self) -> np.ndarray:
        """Live columns per group: ``B - N`` (pruned) or ``B`` (sensitive)."""
        return np.where(self.sensitive, self.bits, self.bits - self.pruned).astype(np.int64)

    def to_bytes(self) -> bytes:
        """The byte stream of the module docstring."""
        nb = -(-self.group // 8)
        wb = self.words.astype("<u8").view(np.uint8).reshape(self.n_groups, self.bits, 8)[:, :, :nb]
        lens, offs = _stream_layout(self.sensitive, self.bits, self.pruned, nb)
        out = np.zeros(int(lens.sum()), dtype=np.uint8)
        for sens in (False, True):
            sel = self.sensitive == sens
            if not sel.any():
                continue
            live = self.bits if sens else self.bits - self.pruned
            body = wb[sel, :live, :].reshape(int(sel.sum()), live * nb)
            if not sens:
                body = np.concatenate([self.meta[sel][:, None], body], axis=1)
            out[offs[sel][:, None] + np.arange(body.shape[1])[None, :]] = body
        return out.tobytes()


def _stream_layout(sens, bits, pruned, nb):
    """Bytes per group and start offset of each group in the byte stream."""
    lens = np.where(sens, bits * nb, 1 + (bits - pruned) * nb).astype(np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return lens, offs


def _sensitive_groups(sensitive, grouping):
    k = grouping.shape[0]
    if sensitive is None:
        return np.zeros(int(np.prod(grouping.shape)) // grouping.group, dtype=bool)
    s = as_array("sensitive", sensitive)
    if s.dtype != np.bool_:
        raise TypeError(f"sensitive must be a bool array with one entry per output channel, got dtype {s.dtype}")
    if s.shape != (k,):
        raise ValueError(f"sensitive must have shape ({k},) (one entry per output channel), got {s.shape}")
    return np.repeat(s, grouping.groups_per_channel)


def encode(w_pruned, meta: BBSMeta, *, sensitive=None) -> BBSEncoded:
    """Compress pruned weights with their metadata (docs/bbs.md, format; layout in the module docstring).

    Parameters
    ----------
    w_pruned : int array, the shape of ``meta.grouping.shape``
        Output of :func:`round_average` / :func:`zero_point_shift`; in sensitive channels the unpruned INT-B
        weights instead, the ones the pruning was given (``np.where(sensitive, w, w_pruned)``).
    meta : BBSMeta
    sensitive : bool array ``[K]``, optional
        Output channels kept at INT-B (``B`` columns, no metadata). ``None``: none.

    Raises
    ------
    ValueError
        When a sensitive channel does not hold the INT-B weights ``meta`` was pruned from
        (:attr:`BBSMeta.original`; naming the first differing weight and how many differ). A hand-built
        ``BBSMeta`` without them (``original=None``) only gets its sensitive channels checked for INT-B values.
    ValueError
        When a group does not have the datapath form (module docstring) with ``r <= 3`` (``q = w' - C`` must fit in
        ``B - r`` bits with ``N - r`` zero LSBs) or its constant does not fit the 6-bit field, naming the
        group. Only reference-mode ZPS results can hit this (see the module docstring).
    InsufficientMemoryError
        (:mod:`golden.chunks`, a ``MemoryError``) before allocating, when the outputs plus
        :data:`golden.chunks.WORK_BYTES` exceed the available memory.

    Memory: ``w_pruned`` is read group block by group block (:func:`golden.chunks.blocks`), never converted or
    copied whole, so the peak above the inputs is the output -- the column words (``8 * B`` bytes per group)
    and the metadata bytes -- plus at most :data:`golden.chunks.WORK_BYTES` (64 MiB).
    """
    if not isinstance(meta, BBSMeta):
        raise TypeError(f"meta must be a BBSMeta (from round_average or zero_point_shift), got {type(meta).__name__}")
    a = check_int_values("w_pruned", w_pruned)
    if a.shape != meta.grouping.shape:
        raise ValueError(f"w_pruned has shape {a.shape}, meta describes {meta.grouping.shape}")
    bits, N, G = meta.bits, meta.pruned, meta.grouping.group
    n = a.size // G
    sens = _sensitive_groups(sensitive, meta.grouping)
    require_memory(f"encode of w_pruned with shape {a.shape}", 8 * bits * n + n,
                   f"{n:,} x {bits} uint64 column words and {n:,} metadata bytes")
    src = grouped_view(a, G)
    if meta.original is not None and sens.any():
        _check_sensitive_original(a, src, meta, sens)

    def fields(r0, r1):
        se = sens[r0:r1]
        r = np.where(se, 0, np.minimum(meta.redundant[r0:r1], _RMAX))
        return se, r, np.where(se, 0, meta.constant[r0:r1]), np.where(se, 0, N - r)

    group_blocks = list(blocks((n,)))
    for _, r0, r1 in group_blocks:
        s = fields(r0, r1)[3]
        if (s < 0).any():
            raise ValueError(f"meta.redundant exceeds pruned={N} at group {r0 + int(np.argmax(s < 0))}")
    clo, chi = (-32, 31) if meta.kind == "zps" else (0, 63)
    for _, r0, r1 in group_blocks:
        c = fields(r0, r1)[2]
        bad = (c < clo) | (c > chi)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"group {r0 + i}: constant {int(c[i])} does not fit the 6-bit "
                             f"{'two' + chr(39) + 's-complement' if meta.kind == 'zps' else 'unsigned'} field "
                             f"[{clo}, {chi}]")
    lane = np.arange(G, dtype=np.uint64)
    words = np.empty((n, bits), dtype=np.uint64)
    metab = np.empty(n, dtype=np.uint8)
    for idx, r0, r1 in blocks(src.shape[:3], cost=G):
        g = np.empty((r1 - r0, G), dtype=np.int64)
        np.copyto(g.reshape(src[idx].shape), src[idx], casting="unsafe")
        se, r, c, s = fields(r0, r1)
        q = g - c[:, None]
        live_cols = np.where(se, bits, bits - N)
        top = np.int64(1) << (bits - 1 - r)
        bad = ((q < -top[:, None]) | (q >= top[:, None]) | ((q & ((np.int64(1) << s) - 1)[:, None]) != 0)).any(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            why = ""
            if se[i]:
                why = " (sensitive group: INT-B values required)"
            elif meta.redundant[r0 + i] > _RMAX:
                why = (f"; it has {int(meta.redundant[r0 + i])} redundant columns (meta.redundant), more than the "
                       f"2-bit count holds" + (f": reference-mode ZPS leaves a group with z >= pruned = {N} leading "
                                              f"zero magnitude columns unpruned, which the format holds for every "
                                              f"group only when pruned <= 3" if meta.mode == "reference" else ""))
            raise ValueError(f"group {r0 + i} does not fit the format ({int(live_cols[i])} live columns, r <= 3): "
                             f"w' - C = {q[i].tolist()} must fit in {bits - int(r[i])} bits with {int(s[i])} zero "
                             f"LSB(s)" + why)
        live = live_cols
        for j in range(bits):
            pos = np.maximum(bits - 1 - r - j, 0)[:, None]
            b = ((q >> pos) & 1).astype(np.uint64)
            wj = np.bitwise_or.reduce(b << lane[None, :], axis=1)
            words[r0:r1, j] = np.where(j < live, wj, np.uint64(0))
        metab[r0:r1] = np.where(se, 0, (r << 6) | (c & 0x3F)).astype(np.uint8)
    _readonly(words, metab, sens)
    return BBSEncoded(words, metab, sens, meta.kind, bits, N, meta.grouping)


def _check_sensitive_original(a, src, meta, sens):
    """``ValueError`` unless the sensitive groups of ``a`` (grouped view ``src``) hold ``meta.original`` (the INT-B
    weights pruned); block by block, the message from the first differing weight in ``a``'s row-major order."""
    G = meta.grouping.group
    n = a.size // G
    if meta.original.shape != (n, G):
        raise ValueError(f"meta.original has shape {meta.original.shape}, the groups of w_pruned {(n, G)}")
    count, first_row = 0, None
    for idx, r0, r1 in blocks(src.shape[:3], cost=G):
        se = sens[r0:r1]
        if not se.any():
            continue
        diff = (src[idx].reshape(-1, G) != meta.original[r0:r1]) & se[:, None]
        rows = np.flatnonzero(diff.any(axis=1))
        if rows.size:
            count += int(diff.sum())
            if first_row is None:
                first_row = r0 + int(rows[0])
    if not count:
        return
    gpc = meta.grouping.groups_per_channel
    ch = first_row // gpc                    # the first differing channel; then the first weight inside it
    one = Grouping((1,) + tuple(a.shape[1:]), G, meta.grouping.kind)
    want_ch = ungroup_weights(meta.original[ch * gpc:(ch + 1) * gpc], one)[0]
    idx = (ch,) + first_index(a[ch] != want_ch)
    got, want = a[idx], want_ch[idx[1:]]
    k = int(sens.sum()) // gpc
    raise ValueError(f"sensitive channel {idx[0]} must hold its INT{meta.bits} weights (the ones meta was pruned "
                     f"from): w_pruned[{', '.join(map(str, idx))}] is {int(got)}, the INT{meta.bits} weight is "
                     f"{int(want)} ({count} weight{'s' * (count != 1)} of the {k} sensitive channel{'s' * (k != 1)} "
                     f"differ{'s' * (count == 1)}; pass np.where(sensitive, w, w_pruned))")


def _check_encoded(encoded):
    if not isinstance(encoded, BBSEncoded):
        raise TypeError(f"encoded must be a BBSEncoded (from encode), got {type(encoded).__name__}")
    return encoded


def _planes(enc):
    """``(bits [n, B, G] uint8 of the live words, colweight [n, B] int64, constant [n])``."""
    G, B = enc.group, enc.bits
    r = np.where(enc.sensitive, 0, enc.redundant)
    live = enc.live
    lane = np.arange(G, dtype=np.uint64)
    planes = ((enc.words[:, :, None] >> lane[None, None, :]) & np.uint64(1)).astype(np.uint8)
    j = np.arange(B)
    pos = (B - 1 - r)[:, None] - j[None, :]
    cw = np.where(j[None, :] < live[:, None], np.int64(1) << np.maximum(pos, 0), 0)
    cw[:, 0] = -cw[:, 0]
    c = np.where(enc.sensitive, 0, enc.constant)
    return planes, cw, c


def decode(encoded: BBSEncoded) -> np.ndarray:
    """Inverse of :func:`encode`: the weights ``w'`` in the original shape (int64)."""
    enc = _check_encoded(encoded)
    planes, cw, c = _planes(enc)
    g = np.einsum("nj,nji->ni", cw, planes.astype(np.int64)) + c[:, None]
    return ungroup_weights(g, enc.grouping)


def from_bytes(data: bytes, *, bits: int, pruned: int, kind: str, grouping: Grouping, sensitive=None) -> BBSEncoded:
    """Parse :meth:`BBSEncoded.to_bytes` output (the side information is passed explicitly).

    ``data`` must be ``bytes``, ``bytearray`` or ``memoryview`` (anything else, e.g. an int, which ``bytes()``
    would turn into that many zero bytes, is a ``TypeError``) of exactly the length the side information
    gives (``ValueError`` when it is truncated or too long). Also refused: a column word with bits set above
    weight ``G - 1`` and a redundant count above ``pruned``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, bytearray or memoryview (the output of BBSEncoded.to_bytes), "
                        f"got {reprlib.repr(data)} of type {type(data).__name__}")
    bits = check_int("bits", bits, lo=2, hi=_MAX_BITS)
    pruned = check_int("pruned", pruned, lo=0, hi=min(_MAX_PRUNED, bits - 2))
    kind = check_choice("kind", kind, ("ra", "zps"))
    if not isinstance(grouping, Grouping):
        raise TypeError(f"grouping must be a Grouping, got {type(grouping).__name__}")
    sens = _sensitive_groups(sensitive, grouping)
    G = grouping.group
    nb = -(-G // 8)
    n = sens.shape[0]
    lens, offs = _stream_layout(sens, bits, pruned, nb)
    buf = np.frombuffer(bytes(data), dtype=np.uint8)
    want = int(lens.sum())
    if buf.size != want:
        d = abs(want - buf.size)
        what = f"{d} byte{'s' * (d != 1)} " + ("missing (truncated)" if buf.size < want else "too many")
        raise ValueError(f"data has {buf.size} bytes, the format expects {want} ({int((~sens).sum())} pruned and "
                         f"{int(sens.sum())} sensitive groups of G = {G}): {what}")
    words = np.zeros((n, bits), dtype=np.uint64)
    metab = np.zeros(n, dtype=np.uint8)
    for flag in (False, True):
        sel = sens == flag
        if not sel.any():
            continue
        live = bits if flag else bits - pruned
        start = offs[sel]
        if not flag:
            metab[sel] = buf[start]
            start = start + 1
        raw = np.zeros((int(sel.sum()), live, 8), dtype=np.uint8)
        raw[:, :, :nb] = buf[start[:, None] + np.arange(live * nb)[None, :]].reshape(-1, live, nb)
        words[np.flatnonzero(sel)[:, None], np.arange(live)[None, :]] = raw.view("<u8")[..., 0]
    over = (words >> np.uint64(G)).any(axis=1) if G < 64 else np.zeros(n, dtype=bool)
    if over.any():
        raise ValueError(f"group {int(np.argmax(over))}: a column word has bits set above weight {G - 1} "
                         f"(unused top bits must be 0)")
    bad_r = ~sens & ((metab >> 6) > pruned)
    if bad_r.any():
        i = int(np.argmax(bad_r))
        raise ValueError(f"group {i}: redundant count {int(metab[i] >> 6)} exceeds pruned={pruned}")
    _readonly(words, metab, sens)
    return BBSEncoded(words, metab, sens, kind, bits, pruned, grouping)


def bits_per_weight(x, *, sensitive=None) -> float:
    """Stored bits per weight: the length of :meth:`BBSEncoded.to_bytes` in bits over the number of weights.

    A pruned group stores its metadata byte and ``B - N`` words, a sensitive group ``B`` words, a word being
    ``ceil(G/8)`` bytes: ``(8 + 8*ceil(G/8) * (B - N)) / G`` and ``8*ceil(G/8) * B / G`` per weight, which
    are the paper's ``(B - N) + 8/G`` and ``B`` when 8 divides ``G`` (a group that is not sensitive keeps
    its metadata byte also with ``N = 0``). ``x`` is a :class:`BBSEncoded` (its own sensitive mask) or a
    :class:`BBSMeta` (with the optional per-output-channel ``sensitive`` mask).
    """
    if isinstance(x, BBSEncoded):
        if sensitive is not None:
            raise ValueError("sensitive is taken from the BBSEncoded; pass it only with a BBSMeta")
        sens, bits, N, G = x.sensitive, x.bits, x.pruned, x.group
    elif isinstance(x, BBSMeta):
        sens, bits, N, G = _sensitive_groups(sensitive, x.grouping), x.bits, x.pruned, x.group
    else:
        raise TypeError(f"x must be a BBSEncoded or a BBSMeta, got {type(x).__name__}")
    lens, _ = _stream_layout(sens, bits, N, -(-G // 8))
    return 8 * int(lens.sum()) / (sens.size * G)


# ------------------------------------------------------------------------------------------------
# bi-directional dot product


@dataclass(frozen=True, eq=False)
class BBSColumnSums:
    """Per-column, per-pass, per-sub-column quantities of the BitVert datapath (all int64 unless noted).

    Shapes use ``n`` groups, ``B`` column slots (slot ``j`` = ``j``-th live column, MSB first; slots
    ``j >= live`` are idle: weight 0, no ones), ``P = ceil(G/G_pe)`` PE passes, ``S = G_pe/Gs`` sub-columns.

    Attributes
    ----------
    live : ``[n]``              live columns (= cycles per pass)
    col_weight : ``[n, B]``      signed column weight: ``-2**(B-1-r)`` for slot 0, ``2**(B-1-r-j)`` after, 0 idle
    ones : ``[n, B, P, S]``     popcount of the ``Gs``-bit sub-column
    invert : ``[n, B, P, S]``   bool, ``ones > Gs/2`` (strictly)
    selected_count : ``[n, B, P, S]``  bits the adder tree adds (``Gs - ones`` if inverted, else ``ones``) <= Gs/2
    selected_sum : ``[n, B, P, S]``    adder-tree output: sum of activations at the ones (or at the zeros)
    sub_asum : ``[n, P, S]``    activation sum of each sub-column
    bbs_sum : ``[n, B, P, S]``  ``sum_i bit_i * a_i``: ``selected_sum`` or ``sub_asum - selected_sum``
    column_sum : ``[n, B]``     ``bbs_sum`` summed over passes and sub-columns
    pass_asum : ``[n, P]``      activation sum of each PE pass
    group_asum : ``[n]``
    constant : ``[n]``          ``C`` (0 for sensitive groups)
    const_term : ``[n, P]``     ``C * pass_asum`` (applied per pass, a choice)
    pass_psum : ``[n, P]``      ``sum_j col_weight_j * sum_S bbs_sum + const_term``: one PE pass's result
    """

    live: np.ndarray
    col_weight: np.ndarray
    ones: np.ndarray
    invert: np.ndarray
    selected_count: np.ndarray
    selected_sum: np.ndarray
    sub_asum: np.ndarray
    bbs_sum: np.ndarray
    column_sum: np.ndarray
    pass_asum: np.ndarray
    group_asum: np.ndarray
    constant: np.ndarray
    const_term: np.ndarray
    pass_psum: np.ndarray


def column_sums(encoded: BBSEncoded, a, *, subgroup: int = 8, pe_length: int = 16) -> BBSColumnSums:
    """The bi-directional identity (docs/bbs.md) column by column, as BitVert computes it.

    Parameters
    ----------
    encoded : BBSEncoded
    a : int array, ``[n_groups, G]`` or ``[G]`` (the same vector for every group)
        Signed 8-bit activations, lane ``i`` meets weight ``i`` of the group.
    subgroup, pe_length : int
        ``Gs`` (even) and ``G_pe`` (a multiple of ``Gs``).

    Materializes the bit planes: meant for verification-size tensors, not whole networks.
    """
    enc = _check_encoded(encoded)
    gs, pe = _check_gs_pe(subgroup, pe_length)
    G, B, n = enc.group, enc.bits, enc.n_groups
    alo, ahi = twos_range(_ACT_BITS)
    act = check_int_array("a", a, lo=alo, hi=ahi, ndim=(1, 2))
    if act.shape[-1] != G or (act.ndim == 2 and act.shape[0] != n):
        raise ValueError(f"a must have shape ({n}, {G}) or ({G},), got {act.shape}")
    act = np.broadcast_to(act, (n, G))
    planes, cw, c = _planes(enc)
    P = -(-G // pe)
    S = pe // gs
    pad = P * pe - G
    planes = np.pad(planes, ((0, 0), (0, 0), (0, pad))).astype(np.int64).reshape(n, B, P, S, gs)
    act = np.pad(act, ((0, 0), (0, pad))).reshape(n, P, S, gs)
    ones = planes.sum(axis=-1)
    invert = ones > gs // 2
    at_ones = np.einsum("nbpsi,npsi->nbps", planes, act)
    at_zeros = np.einsum("nbpsi,npsi->nbps", 1 - planes, act)
    selected = np.where(invert, at_zeros, at_ones)
    sub_asum = act.sum(axis=-1)
    bbs = np.where(invert, sub_asum[:, None] - selected, selected)
    pass_asum = sub_asum.sum(axis=-1)
    const_term = c[:, None] * pass_asum
    pass_psum = np.einsum("nb,nbp->np", cw, bbs.sum(axis=-1)) + const_term
    out = BBSColumnSums(
        live=enc.live, col_weight=cw, ones=ones, invert=invert,
        selected_count=np.where(invert, gs - ones, ones), selected_sum=selected, sub_asum=sub_asum,
        bbs_sum=bbs, column_sum=bbs.sum(axis=(2, 3)), pass_asum=pass_asum, group_asum=pass_asum.sum(axis=1),
        constant=c, const_term=const_term, pass_psum=pass_psum)
    return out


def dot(encoded: BBSEncoded, a, *, subgroup: int = 8, pe_length: int = 16) -> np.ndarray:
    """Per-group dot products ``sum_i w'_i a_i`` ([n_groups] int64) through the identity of 2.8.

    ``sum_j col_weight_j * column_sum_j + C * sum(A)``, where each ``column_sum`` is assembled from
    inverted / non-inverted sub-column sums by :func:`column_sums`; never from ``w' @ a``.
    """
    cs = column_sums(encoded, a, subgroup=subgroup, pe_length=pe_length)
    return (cs.col_weight * cs.column_sum).sum(axis=1) + cs.constant * cs.group_asum
