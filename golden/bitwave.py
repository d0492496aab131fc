"""BitWave's bit flip: the bit-column sparsity baseline of the BBS paper (docs/bitwave.md).

BitWave (HPCA 2024) runs sign-magnitude weights bit-column-serially and skips the magnitude columns of
a group that are all zero; its post-training *bit flip* changes weights so that every group has at least
``N`` such columns. The BBS paper compares against the bit flip as the BBS authors re-implemented it
(their ``bitFlip_fc`` / ``bitFlip_conv``); :func:`bit_flip` computes the same result in closed form.

Per group of ``G`` consecutive input channels (:func:`golden.layout.group_weights`; ``G = C`` when
``C < G``), with weights as sign and magnitude (``-2**(B-1)`` first becomes ``-(2**(B-1) - 1)``, as in
the reference code; the magnitude has ``B - 1`` columns, column ``i = 1 .. B-1`` holding bit ``B-1-i``):

1. ``p`` starts at ``B - N``; for ``i = 1 .. B-1`` in order, if ``p > i`` and magnitude column ``i`` is
   all zero in the group, ``p += 1``: a zero column above the boundary counts toward the ``N`` and moves
   the boundary down by one.
2. ``t = 1 + i`` for the last zero column ``i < p`` (``t = 1`` when there is none): columns ``t .. B-1``
   may change without touching a zero column that is kept.
3. If ``p <= B - 1``, the low ``B - t`` magnitude bits of every weight, ``v``, become the multiple of
   ``2**(B-p)`` nearest to ``v`` among ``n * 2**(B-p)``, ``0 <= n < 2**(p-t)`` (ties to the smaller, so
   the result never carries into column ``t - 1``); groups with ``p > B - 1`` already hold ``N`` zero
   columns and are unchanged. The sign is kept (a magnitude that becomes 0 is the weight 0).

Every group of the result has at least ``N`` all-zero magnitude columns. There is no offset and no
metadata beyond which columns are zero: :func:`bits_per_weight` counts what a BitWave-style store holds,
the non-zero columns (sign column included) and a ``B``-bit column mask per group.
"""

from __future__ import annotations

import numpy as np

from .check import check_int, check_int_array
from .layout import group_weights, ungroup_weights

__all__ = ["bit_flip", "zero_columns", "bits_per_weight"]

_MAX_BITS = 16


def _grouped(w, bits, group):
    bits = check_int("bits", bits, lo=2, hi=_MAX_BITS)
    group = check_int("group", group, lo=1, hi=4096)
    a = check_int_array("w", w, lo=-(1 << (bits - 1)), hi=(1 << (bits - 1)) - 1, ndim=(2, 4))
    g, grouping = group_weights(a, group)
    return g.astype(np.int64, copy=False), grouping, bits


def _sign_magnitude(g, bits):
    g = np.maximum(g, -((1 << (bits - 1)) - 1))        # -2**(B-1) has no sign-magnitude code
    return g < 0, np.abs(g)


def _zero_column_mask(m, bits):
    """``[n_groups, B]`` bool: magnitude column ``i`` (1..B-1) of the group is all zero (column 0 unused)."""
    mask = np.zeros((m.shape[0], bits), dtype=bool)
    any_bits = np.bitwise_or.reduce(m, axis=1)
    for i in range(1, bits):
        mask[:, i] = (any_bits >> (bits - 1 - i)) & 1 == 0
    return mask


def bit_flip(w, *, bits: int = 8, group: int = 16, pruned: int = 4) -> np.ndarray:
    """BitWave's bit flip of two's-complement INT-``bits`` weights ``w`` (``[K, C]`` or ``[K, C, H, W]``):
    every group of ``group`` input channels gets at least ``pruned`` (``N``, ``0 .. bits-1``) all-zero
    magnitude columns (module docstring). Defaults are the reference code's (``G = 16``, ``N = 4``).

    Returns an int64 array of ``w``'s shape, in ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]``."""
    g, grouping, bits = _grouped(w, bits, group)
    pruned = check_int("pruned", pruned, lo=0, hi=bits - 1, extra="(the magnitude has bits-1 columns)")
    neg, m = _sign_magnitude(g, bits)
    zero = _zero_column_mask(m, bits)
    n = m.shape[0]
    p = np.full(n, bits - pruned, dtype=np.int64)
    for i in range(1, bits):
        p += (p > i) & zero[:, i]
    t = np.ones(n, dtype=np.int64)
    for i in range(1, bits):
        t = np.where((p > i) & zero[:, i], i + 1, t)
    change = p <= bits - 1
    low_bits = (bits - t)[:, None]                       # width of the bits that may change
    low = m & ((np.int64(1) << low_bits) - 1)
    step = (np.int64(1) << np.where(change, bits - p, 0))[:, None]
    q = (low + (step >> 1) - 1) // step                  # nearest multiple, ties to the smaller
    q = np.minimum(q, (np.int64(1) << np.maximum(p - t, 0))[:, None] - 1)
    m_new = np.where(change[:, None], m - low + q * step, m)
    out = np.where(neg, -m_new, m_new)
    return ungroup_weights(out, grouping)


def zero_columns(w, *, bits: int = 8, group: int = 16) -> np.ndarray:
    """All-zero magnitude columns (of ``bits - 1``) of every group of sign-magnitude-range weights ``w``:
    int64 ``[n_groups]`` in :func:`golden.layout.group_weights` order."""
    g, _, bits = _grouped(w, bits, group)
    _, m = _sign_magnitude(g, bits)
    return _zero_column_mask(m, bits)[:, 1:].sum(axis=1).astype(np.int64)


def bits_per_weight(w, *, bits: int = 8, group: int = 16) -> float:
    """Stored bits per weight of ``w`` in a BitWave-style column store: per group, its columns that are not
    all zero (the sign column and the magnitude columns, ``G`` bits each) and a ``bits``-bit mask of which
    columns are stored."""
    g, grouping, bits = _grouped(w, bits, group)
    neg, m = _sign_magnitude(g, bits)
    stored = (bits - 1) - _zero_column_mask(m, bits)[:, 1:].sum(axis=1) + neg.any(axis=1)
    total = int(stored.sum()) * grouping.group + bits * g.shape[0]
    return total / g.size
