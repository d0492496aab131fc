"""Baseline PEs of the BBS evaluation: Stripes, Pragmatic and a bit-parallel MAC (docs/baselines.md).

Each baseline has a frozen, validated configuration and a bit-exact golden dot product computed the
way its PE computes it, cycle by cycle. All of them compute the same number, ``sum_i w_i * x_i``; what
differs is the order of the partial sums and the number of cycles (see :mod:`golden.cycles`).

* **Stripes** (MICRO'16): bit-serial over the **two's-complement weight bits, MSB first**. Cycle ``j``
  takes weight column ``b = B-1-j`` and does ``acc <- 2*acc + (b == B-1 ? -colsum_b : colsum_b)`` where
  ``colsum_b = sum_i bit_b(w_i) * x_i``. Exactly B cycles per pass.
* **Pragmatic** (MICRO'17): processes only the **essential (one) bits**. **Here it runs on the weights,
  as in the BBS authors' model** (``BitSim/sim/sim/pragmatic.py``), not on the activations as in the
  original paper. Weights are sign-magnitude; each lane holds the offsets of the one bits of ``|w_i|``;
  per cycle every lane that still has an offset left adds ``+-(x_i << offset)`` (sign of ``w_i``).
  Lanes are synchronised: a pass lasts as long as its slowest lane. Choice: offsets are consumed
  **MSB-first** (highest offset first); the order does not change the result, only the partial sums.
  Choice: a pass whose weights are all zero still takes **one** cycle (the PE must still step to the next
  pass; DNNsim's Pragmatic counts a zero as one cycle too), see :func:`pragmatic_pass_cycles`.
* **Parallel**: an ordinary bit-parallel MAC, one cycle per pass.

Accumulator widths are derived from the exact worst case of one pass of ``pe_length`` lanes with
:func:`golden.bits.signed_width` (every intermediate partial sum of Stripes and Pragmatic lies inside
the range of the final sum, see the property docstrings), and :meth:`acc_width_for` gives the width
for ``passes`` accumulated passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bits import product_range, signed_width, twos_range
from .check import check_int, check_int_array

__all__ = [
    "DenseConfig", "PragmaticConfig",
    "stripes_cycle_sums", "stripes_dot",
    "pragmatic_cycle_sums", "pragmatic_pass_cycles", "pragmatic_dot",
    "parallel_cycle_sums", "parallel_dot",
]


class _BaseConfig:
    """Shared derived quantities; subclasses define ``weight_range``."""

    bits: int
    pe_length: int
    act_bits: int

    def _validate_common(self):
        check_int("bits", self.bits, lo=2, hi=16)
        check_int("pe_length", self.pe_length, lo=1, hi=4096)
        check_int("act_bits", self.act_bits, lo=2, hi=32)

    @property
    def weight_range(self) -> tuple[int, int]:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def act_range(self) -> tuple[int, int]:
        """Two's-complement range of one activation, ``act_bits`` wide."""
        return twos_range(self.act_bits)

    @property
    def product_range(self) -> tuple[int, int]:
        """Exact ``(min, max)`` of one product ``w * x`` over the weight and activation ranges."""
        return product_range(self.weight_range, self.act_range)

    def dot_range(self, passes: int = 1) -> tuple[int, int]:
        """Exact ``(min, max)`` of ``passes`` accumulated passes of ``pe_length`` products (attained)."""
        passes = check_int("passes", passes, lo=1)
        lo, hi = self.product_range
        n = passes * self.pe_length
        return n * lo, n * hi

    @property
    def acc_width(self) -> int:
        """Accumulator width for one pass (``pe_length`` lanes): ``signed_width`` of :meth:`dot_range`."""
        return signed_width(*self.dot_range(1))

    def acc_width_for(self, passes: int) -> int:
        """Accumulator width holding the sum of ``passes`` passes without overflow."""
        return signed_width(*self.dot_range(passes))


@dataclass(frozen=True)
class DenseConfig(_BaseConfig):
    """A dense PE (Stripes, the bit-parallel MAC): ``pe_length`` lanes of B-bit two's-complement weights
    and ``act_bits`` activations; every weight bit is processed, whatever its value.

    Stripes takes B cycles per pass, the bit-parallel MAC one (:mod:`golden.cycles`); both compute the
    same exact dot product. For Stripes every partial sum after cycle ``j`` is
    ``sum_i x_i * (w_i >> (B-1-j))`` (arithmetic shift), and ``w >> s`` lies in the B-bit range, so
    :attr:`acc_width` (the final-sum range) also holds every intermediate value, including ``2*acc``
    before the add.
    """

    bits: int = 8
    pe_length: int = 16
    act_bits: int = 8

    def __post_init__(self):
        self._validate_common()

    @property
    def weight_range(self) -> tuple[int, int]:
        """Full two's-complement range ``[-2**(B-1), 2**(B-1)-1]``."""
        return twos_range(self.bits)


@dataclass(frozen=True)
class PragmaticConfig(_BaseConfig):
    """Pragmatic PE on **weights** (as in the BBS model, not activations as in the original paper).

    ``sync_group`` lanes synchronise (a synchronised group lasts as long as its slowest lane); it must
    divide ``pe_length`` and defaults to ``pe_length`` (the whole PE). Weights are sign-magnitude,
    ``[-(2**(B-1)-1), 2**(B-1)-1]``; ``-2**(B-1)`` is refused. Every partial sum is
    ``sum_i s_i x_i m_i^(t)`` with ``0 <= m_i^(t) <= |w_i|``, hence inside the final-sum range.
    """

    bits: int = 8
    pe_length: int = 16
    act_bits: int = 8
    sync_group: int | None = field(default=None)

    def __post_init__(self):
        self._validate_common()
        if self.sync_group is None:
            object.__setattr__(self, "sync_group", self.pe_length)
        check_int("sync_group", self.sync_group, lo=1, hi=self.pe_length,
                  extra=f"and a divisor of pe_length={self.pe_length}")
        if self.pe_length % self.sync_group:
            raise ValueError(f"sync_group must be an integer in [1, {self.pe_length}] and a divisor of "
                             f"pe_length={self.pe_length}, got {self.sync_group}")

    @property
    def weight_range(self) -> tuple[int, int]:
        """Sign-magnitude range ``[-(2**(B-1)-1), 2**(B-1)-1]``."""
        m = (1 << (self.bits - 1)) - 1
        return -m, m

    @property
    def offset_width(self) -> int:
        """Bits of one essential-bit offset (0..B-2)."""
        return max(1, (self.bits - 2).bit_length())

    @property
    def max_cycles_per_pass(self) -> int:
        """B-1 (every magnitude bit set)."""
        return self.bits - 1


def _operands(w_group, x, config, cfg_type):
    if not isinstance(config, cfg_type):
        raise TypeError(f"config must be a {cfg_type.__name__}, got {type(config).__name__}")
    lo, hi = config.weight_range
    w = check_int_array("w_group", w_group, lo=lo, hi=hi)
    xa = check_int_array("x", x, lo=config.act_range[0], hi=config.act_range[1])
    if w.ndim < 1 or xa.ndim < 1:
        raise ValueError(f"w_group and x must have a lane axis (last), got shapes {w.shape} and {xa.shape}")
    if w.shape[-1] != xa.shape[-1]:
        raise ValueError(f"w_group and x must have the same lane count (last axis), "
                         f"got {w.shape[-1]} and {xa.shape[-1]}")
    if not 1 <= w.shape[-1] <= config.pe_length:
        raise ValueError(f"lane count (last axis of w_group) must be in [1, {config.pe_length}] "
                         f"(pe_length), got {w.shape[-1]}")
    try:
        w, xa = np.broadcast_arrays(w, xa)
    except ValueError:
        raise ValueError(f"w_group shape {w.shape} and x shape {xa.shape} do not broadcast") from None
    return w, xa


def stripes_cycle_sums(w_group, x, config: DenseConfig = DenseConfig()) -> np.ndarray:
    """Stripes accumulator value after each of the B cycles of one pass.

    Parameters
    ----------
    w_group : array_like of int, shape ``[..., L]``
        B-bit two's-complement weights, ``1 <= L <= pe_length`` lanes.
    x : array_like of int, broadcastable to ``w_group``
        ``act_bits`` two's-complement activations.
    config : DenseConfig

    Returns
    -------
    ndarray of int64, shape ``[..., B]``
        Entry ``j`` is the accumulator after cycle ``j``. Cycle ``j`` processes weight column
        ``b = B-1-j`` (MSB first): ``acc <- 2*acc + (b == B-1 ? -colsum_b : colsum_b)``, starting from
        ``acc = 0``. The last entry equals ``sum_i w_i x_i``.
    """
    w, xa = _operands(w_group, x, config, DenseConfig)
    bits = config.bits
    u = w & ((1 << bits) - 1)
    out = np.empty(w.shape[:-1] + (bits,), dtype=np.int64)
    acc = np.zeros(w.shape[:-1], dtype=np.int64)
    for j in range(bits):
        b = bits - 1 - j
        colsum = (((u >> b) & 1) * xa).sum(axis=-1)
        acc = 2 * acc + (-colsum if b == bits - 1 else colsum)
        out[..., j] = acc
    return out


def stripes_dot(w_group, x, config: DenseConfig = DenseConfig()) -> np.ndarray:
    """Final Stripes result (``[...]``), the last entry of :func:`stripes_cycle_sums`."""
    return stripes_cycle_sums(w_group, x, config)[..., -1]


def _popcount_small(m: np.ndarray, nbits: int) -> np.ndarray:
    cnt = np.zeros(m.shape, dtype=np.int64)
    for b in range(nbits):
        cnt += (m >> b) & 1
    return cnt


def pragmatic_pass_cycles(w_group, config: PragmaticConfig = PragmaticConfig()) -> np.ndarray:
    """Cycles of one Pragmatic pass: ``max(1, max over its lanes of popcount(|w_i|))``.

    ``w_group`` has shape ``[..., L]`` (``1 <= L <= pe_length``); result shape ``[...]``. The pass is
    over when every lane (all its synchronised groups) is done. Choice: an all-zero pass costs 1 cycle.
    """
    if not isinstance(config, PragmaticConfig):
        raise TypeError(f"config must be a PragmaticConfig, got {type(config).__name__}")
    lo, hi = config.weight_range
    w = check_int_array("w_group", w_group, lo=lo, hi=hi)
    if w.ndim < 1 or not 1 <= w.shape[-1] <= config.pe_length:
        raise ValueError(f"w_group must have a lane axis (last) of length in [1, {config.pe_length}], "
                         f"got shape {w.shape}")
    return np.maximum(1, _popcount_small(np.abs(w), config.bits - 1).max(axis=-1))


def pragmatic_cycle_sums(w_group, x, config: PragmaticConfig = PragmaticConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Pragmatic (on weights) accumulator after each cycle of one pass.

    Parameters
    ----------
    w_group : array_like of int, shape ``[..., L]``
        Sign-magnitude weights in ``[-(2**(B-1)-1), 2**(B-1)-1]``, ``1 <= L <= pe_length`` lanes.
    x : array_like of int, broadcastable to ``w_group``
        ``act_bits`` two's-complement activations.
    config : PragmaticConfig

    Returns
    -------
    sums : ndarray of int64, shape ``[..., T]``
        ``T`` is the largest pass length in the batch (``max`` of ``cycles``, at least 1). Entry ``t``
        is the accumulator after cycle ``t``: in cycle ``t`` every lane whose magnitude has more than
        ``t`` one bits adds ``+-(x_i << o)``, ``o`` its ``t``-th highest one-bit offset (MSB-first,
        a choice), sign of ``w_i``. Passes shorter than ``T`` hold their final value after their last cycle.
        The entry at ``cycles - 1`` (and the last one) equals ``sum_i w_i x_i``.
    cycles : ndarray of int64, shape ``[...]``
        :func:`pragmatic_pass_cycles` of each pass (at least 1).
    """
    w, xa = _operands(w_group, x, config, PragmaticConfig)
    nb = config.bits - 1
    mag = np.abs(w)
    sx = np.where(w < 0, -xa, xa)
    cycles = np.maximum(1, _popcount_small(mag, nb).max(axis=-1)) if w.size else np.ones(w.shape[:-1], np.int64)
    t_max = int(cycles.max()) if cycles.size else 1
    out = np.empty(w.shape[:-1] + (t_max,), dtype=np.int64)
    remaining = mag.copy()
    done = np.zeros(w.shape, dtype=np.int64)       # magnitude processed so far, m_i^(t)
    for t in range(t_max):
        top = np.zeros(w.shape, dtype=np.int64)    # highest remaining one bit of each lane (0 if none)
        for b in range(nb):
            top = np.where((remaining >> b) & 1, 1 << b, top)
        done += top
        remaining -= top
        out[..., t] = (sx * done).sum(axis=-1)
    return out, cycles


def pragmatic_dot(w_group, x, config: PragmaticConfig = PragmaticConfig()) -> np.ndarray:
    """Final Pragmatic result (``[...]``)."""
    return pragmatic_cycle_sums(w_group, x, config)[0][..., -1]


def parallel_cycle_sums(w_group, x, config: DenseConfig = DenseConfig()) -> np.ndarray:
    """Bit-parallel MAC: accumulator after its single cycle, shape ``[..., 1]`` (``sum_i w_i x_i``)."""
    w, xa = _operands(w_group, x, config, DenseConfig)
    return (w * xa).sum(axis=-1)[..., None]


def parallel_dot(w_group, x, config: DenseConfig = DenseConfig()) -> np.ndarray:
    """Final bit-parallel result (``[...]``)."""
    return parallel_cycle_sums(w_group, x, config)[..., 0]
