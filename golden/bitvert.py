"""BitVert PE cycle model: the time-multiplexed BBS constant and the accumulator after every cycle.

:mod:`golden.bbs` gives what one PE pass must produce (:attr:`~golden.bbs.BBSColumnSums.pass_psum`); this
module adds the two things that depend on *how* the PE of ``hw/bitvert/pe.py`` schedules the work
(docs/bbs.md, BitVert scheduler), so that the RTL can be checked cycle by cycle and its accumulator width derived:

* :func:`constant_digits`: the BBS constant is not multiplied in one go. The 6-bit constant field of the
  metadata byte is split into two 3-bit digits, ``C = 8*hi + lo`` (the paper: "3 constant bits per cycle
  plus a shifter, so a 6-bit constant takes 2 cycles"). ``lo`` = field bits 2..0, unsigned ``0..7``;
  ``hi`` = field bits 5..3, **signed** ``-4..3`` when the field is two's complement (ZPS) and unsigned
  ``0..7`` when it is unsigned (RA) -- so both digits fit a 4-bit signed operand (a choice: the
  authors' RTL declares a signed 3-bit digit, too narrow for 0..7). Sensitive groups have no constant: both digits 0.
* Choice, order: the PE adds ``(hi * sum(A)) << 3`` in the **first** live cycle (with the sign column) and
  ``lo * sum(A)`` in the **second**; both always exist because at least 2 live columns remain (N <= B-2).
  High digit first because then the constant added so far, ``c'``, is ``8*hi <= C`` and then ``C``: for RA
  (``0 <= 8*hi <= C``) and for every ZPS constant ``c' <= C`` holds, so the running per-lane weight
  ``q_trunc + c'`` (``q_trunc`` = ``q`` with the columns not processed yet zeroed, ``<= q``) never exceeds
  ``w'`` from above; low digit first would overshoot by up to 7 (e.g. ``q = 124, C = -1``).
* :func:`pe_cycle_sums`: the accumulator after every cycle of every pass,
  ``sum_{j<=t} col_weight_j * bbs_sum_j + c'_t * pass_asum`` with ``c'_0 = 8*hi``, ``c'_t = C`` after;
  built from :func:`golden.bbs.column_sums` quantities. The last live cycle equals ``pass_psum``.
* :func:`partial_weight_range` / :func:`pe_acc_width`: every partial sum above is
  ``sum_i a_i * x_i`` with per-lane ``x_i = q_trunc_i + c'``; its exact range over every group the format
  holds (``q`` in ``[-2**(B-1), 2**(B-1) - 2**N]``, ZPS ``C`` in ``[-2**(p-1), 2**(p-1)-1]``, RA ``C`` in
  ``[0, 2**N - 1]``) is ``[-2**(B-1) + 8*floor(-2**(p-1)/8), weight_range.max]``. It equals
  :attr:`~golden.bbs.BBSConfig.weight_range` for ``p >= 4`` and ``N > 0`` (the defaults), and is wider
  where the first-cycle digit ``8*hi`` can undershoot ``-2**(p-1)`` (``p < 4``) or where ``N = 0`` with a
  ZPS constant (``q_trunc = -2**(B-1)`` after the sign column, ``c' = -32``). The accumulator register is
  :func:`pe_acc_width` bits; the result port keeps ``BBSConfig.acc_width`` (the final
  value is always inside it).
"""

from __future__ import annotations

import numpy as np

from .bbs import _ACT_BITS, BBSConfig, BBSEncoded, column_sums
from .bits import product_range, signed_width, twos_range
from .check import as_array, check_int_array

__all__ = ["ACT_BITS", "DIGIT_BITS", "digit_range", "constant_digits", "partial_weight_range",
           "pe_acc_width", "pe_cycle_sums"]

DIGIT_BITS = 3          # constant bits multiplied per cycle (paper: 3, with a << 3 for the upper digit)
ACT_BITS = _ACT_BITS    # activations are int8 (golden.bbs)


def digit_range() -> tuple[int, int]:
    """``(min, max)`` of a constant digit: signed high digit ``>= -4``, unsigned digits ``<= 7``."""
    return -(1 << (DIGIT_BITS - 1)), (1 << DIGIT_BITS) - 1


def constant_digits(meta, *, signed) -> tuple[np.ndarray, np.ndarray]:
    """``(hi, lo)`` with ``C = 8*hi + lo`` for metadata bytes ``meta`` (module docstring).

    ``signed``: bool or bool array broadcastable to ``meta``: the constant field is two's complement (ZPS).
    """
    m = check_int_array("meta", meta, lo=0, hi=255)
    s = as_array("signed", signed)
    if s.dtype != np.bool_:
        raise TypeError(f"signed must be a bool or a bool array, got {signed!r} of dtype {s.dtype}")
    try:
        s = np.broadcast_to(s, m.shape)
    except ValueError:
        raise ValueError(f"signed of shape {s.shape} does not broadcast to meta of shape {m.shape}") from None
    lo = m & 7
    hi = (m >> DIGIT_BITS) & 7
    hi = np.where(s & (hi >= 4), hi - 8, hi)
    return hi.astype(np.int64), lo.astype(np.int64)


def partial_weight_range(cfg: BBSConfig) -> tuple[int, int]:
    """Range of the per-lane effective weight ``q_trunc + c'`` over every partial sum of a pass."""
    if not isinstance(cfg, BBSConfig):
        raise TypeError(f"cfg must be a BBSConfig, got {type(cfg).__name__}")
    qlo, _ = twos_range(cfg.bits)
    half = 1 << (cfg.const_bits - 1)
    first_digit_lo = (1 << DIGIT_BITS) * (-half // (1 << DIGIT_BITS))      # 8 * floor(-half / 8)
    wlo, whi = cfg.weight_range
    return min(wlo, qlo + first_digit_lo), whi


def pe_acc_width(cfg: BBSConfig) -> int:
    """Signed width of the BitVert PE accumulator: ``pe_length`` products over :func:`partial_weight_range`."""
    plo, phi = product_range(partial_weight_range(cfg), twos_range(ACT_BITS))
    return max(cfg.acc_width, signed_width(cfg.pe_length * plo, cfg.pe_length * phi))


def pe_cycle_sums(encoded: BBSEncoded, a, *, subgroup: int = 8, pe_length: int = 16) -> np.ndarray:
    """Accumulator of the BitVert PE after each cycle: ``[n_groups, P, B]`` int64.

    Entry ``[g, p, t]`` is the value after cycle ``t`` of pass ``p`` of group ``g``; cycles ``t >= live[g]``
    do not happen and repeat the final value, ``pass_psum[g, p]``.
    """
    cs = column_sums(encoded, a, subgroup=subgroup, pe_length=pe_length)
    hi, lo = constant_digits(encoded.meta, signed=encoded.kind == "zps")
    hi = np.where(encoded.sensitive, 0, hi)
    lo = np.where(encoded.sensitive, 0, lo)
    if not (8 * hi + lo == cs.constant).all():          # the decomposition must rebuild C exactly
        raise AssertionError("constant digits do not rebuild the BBS constant")
    col = cs.col_weight[:, :, None] * cs.bbs_sum.sum(axis=-1)            # [n, B, P]
    acc = np.cumsum(col, axis=1).transpose(0, 2, 1)                      # [n, P, B]
    B = acc.shape[2]
    cprime = np.where(np.arange(B)[None, :] == 0, ((1 << DIGIT_BITS) * hi)[:, None], cs.constant[:, None])
    acc = acc + cprime[:, None, :] * cs.pass_asum[:, :, None]
    if not (acc[np.arange(acc.shape[0]), :, cs.live - 1] == cs.pass_psum).all():
        raise AssertionError("the last live cycle does not reach pass_psum")
    return acc
