"""Integer <-> bit-plane conversions and width arithmetic shared by golden model and generators.

Conventions (used everywhere in bitsparse):

* Bit planes are **LSB-first**: ``planes[k]`` holds the bit of significance ``2**k``. (The BBS authors'
  code indexes MSB-first; :mod:`golden.bbs` translates at its boundary, nowhere else.)
* Two's complement B-bit: ``q = -b[B-1]*2**(B-1) + sum_{k<B-1} b[k]*2**k``, range ``[-2**(B-1), 2**(B-1)-1]``.
* Sign-magnitude B-bit: one sign bit plus ``B-1`` magnitude planes, range ``[-(2**(B-1)-1), 2**(B-1)-1]``;
  ``-2**(B-1)`` has no sign-magnitude code and is refused (never clamped silently).
* Width helpers return the smallest width that holds a range, so a generator and the golden model that
  both call them can never disagree about an accumulator width.
"""

from __future__ import annotations

import numpy as np

from .check import as_array, check_int, check_int_array

__all__ = [
    "unsigned_width", "signed_width", "twos_range", "product_range", "popcount",
    "twos_complement_planes", "from_twos_complement_planes",
    "sign_magnitude_planes", "from_sign_magnitude_planes", "nearest_magnitude_table",
]


def unsigned_width(hi: int) -> int:
    """Bits of an unsigned number holding ``0..hi`` (at least 1)."""
    hi = check_int("hi", hi, lo=0)
    return max(1, hi.bit_length())


def signed_width(lo: int, hi: int) -> int:
    """Bits of a two's-complement number holding every value in ``[lo, hi]`` (at least 1)."""
    lo = check_int("lo", lo)
    hi = check_int("hi", hi)
    if lo > hi:
        raise ValueError(f"lo must be <= hi, got lo={lo}, hi={hi}")
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi <= (1 << (width - 1)) - 1):
        width += 1
    return width


def twos_range(bits: int) -> tuple[int, int]:
    """``(min, max)`` of a ``bits``-wide two's-complement integer."""
    bits = check_int("bits", bits, lo=1, hi=63)
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def product_range(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """Exact ``(min, max)`` of ``x * y`` for ``x`` in the range ``a = (lo, hi)`` and ``y`` in ``b`` (the
    extremes of a product of two intervals are among its four corners)."""
    a, b = _check_interval("a", a), _check_interval("b", b)
    corners = (a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1])
    return min(corners), max(corners)


def _check_interval(name: str, r) -> tuple[int, int]:
    """``(lo, hi)`` of ints with ``lo <= hi``, or ``TypeError``/``ValueError`` naming ``name``."""
    if not isinstance(r, (tuple, list)) or len(r) != 2:
        raise TypeError(f"{name} must be a pair (lo, hi) of integers, got {r!r}")
    lo, hi = check_int(f"{name}[0]", r[0]), check_int(f"{name}[1]", r[1])
    if lo > hi:
        raise ValueError(f"{name} must be a range (lo, hi) with lo <= hi, got {r!r}")
    return lo, hi


def popcount(x) -> np.ndarray:
    """Number of one bits of each non-negative integer in ``x`` (vectorized; int64, or uint64 for 64 bits)."""
    a = as_array("x", x)
    a = a if a.dtype == np.uint64 else check_int_array("x", a, lo=0).astype(np.uint64)
    with np.errstate(over="ignore"):        # the multiply wraps by design (NumPy warns on 0-d arrays)
        a = a - ((a >> np.uint64(1)) & np.uint64(0x5555555555555555))
        a = (a & np.uint64(0x3333333333333333)) + ((a >> np.uint64(2)) & np.uint64(0x3333333333333333))
        a = (a + (a >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        return ((a * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def twos_complement_planes(q, bits: int) -> np.ndarray:
    """Bit planes (uint8, shape ``(bits, *q.shape)``, LSB first) of ``bits``-bit two's-complement ``q``."""
    bits = check_int("bits", bits, lo=1, hi=63)
    lo, hi = twos_range(bits)
    a = check_int_array("q", q, lo=lo, hi=hi)
    u = a & ((1 << bits) - 1)
    shifts = np.arange(bits, dtype=np.int64).reshape((bits,) + (1,) * a.ndim)
    return ((u[None, ...] >> shifts) & 1).astype(np.uint8)


def from_twos_complement_planes(planes) -> np.ndarray:
    """Inverse of :func:`twos_complement_planes`."""
    p = check_int_array("planes", planes, lo=0, hi=1)
    if p.ndim < 1 or not 1 <= p.shape[0] <= 63:
        raise ValueError(f"planes must have a leading bit axis of length 1..63 (int64 results), got shape {p.shape}")
    bits = p.shape[0]
    weights = np.array([1 << k for k in range(bits - 1)] + [-(1 << (bits - 1))], dtype=np.int64)
    return np.tensordot(weights, p, axes=(0, 0)).astype(np.int64)


def sign_magnitude_planes(q, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sign, magnitude_planes)`` of ``bits``-bit sign-magnitude ``q``.

    ``sign`` is uint8 with ``q.shape`` (1 = negative); ``magnitude_planes`` is uint8 of shape
    ``(bits-1, *q.shape)``, LSB first. ``-2**(bits-1)`` is refused: it has no sign-magnitude code.
    """
    bits = check_int("bits", bits, lo=2, hi=63)
    m = (1 << (bits - 1)) - 1
    a = check_int_array("q", q, lo=-m, hi=m)
    mag = np.abs(a)
    shifts = np.arange(bits - 1, dtype=np.int64).reshape((bits - 1,) + (1,) * a.ndim)
    return (a < 0).astype(np.uint8), ((mag[None, ...] >> shifts) & 1).astype(np.uint8)


def from_sign_magnitude_planes(sign, magnitude_planes) -> np.ndarray:
    """Inverse of :func:`sign_magnitude_planes`."""
    s = check_int_array("sign", sign, lo=0, hi=1)
    p = check_int_array("magnitude_planes", magnitude_planes, lo=0, hi=1)
    if p.ndim < 1 or p.shape[0] > 62:
        raise ValueError(f"magnitude_planes must have a leading bit axis of length 0..62 (int64 results), "
                         f"got shape {p.shape}")
    if p.shape[1:] != s.shape:
        raise ValueError(f"magnitude_planes shape {p.shape} does not match sign shape {s.shape}")
    weights = np.array([1 << k for k in range(p.shape[0])], dtype=np.int64)
    mag = np.tensordot(weights, p, axes=(0, 0)).astype(np.int64)
    return np.where(s == 1, -mag, mag)


def nearest_magnitude_table(allowed, bits: int) -> np.ndarray:
    """Projection of every signed ``bits``-bit sign-magnitude value onto ``+/-allowed``, as a table.

    ``allowed`` is the sorted set of permitted magnitudes and contains 0. Entry ``q + 2**(bits-1) - 1``
    is the value nearest to ``q`` whose magnitude is in ``allowed``, **ties to the smaller magnitude**,
    sign kept; magnitudes above ``max(allowed)`` go to it. Read-only int64 array of ``2**bits - 1``
    entries (the quantizers of Bit-balance and EBSP look weights up in it).
    """
    bits = check_int("bits", bits, lo=2, hi=16)
    allowed = check_int_array("allowed", allowed, lo=0, hi=(1 << (bits - 1)) - 1, ndim=1)
    if allowed.size == 0 or allowed[0] != 0 or (np.diff(allowed) <= 0).any():
        raise ValueError(f"allowed must be the strictly increasing magnitudes, starting with 0, got {allowed.tolist()}")
    mags = np.arange(1 << (bits - 1), dtype=np.int64)
    hi_idx = np.minimum(np.searchsorted(allowed, mags, side="left"), allowed.size - 1)
    lo_idx = np.where(allowed[hi_idx] > mags, hi_idx - 1, hi_idx)      # allowed[0] == 0 <= every m
    lo, hi = allowed[lo_idx], allowed[hi_idx]
    proj = np.where(hi - mags < mags - lo, hi, lo)                     # equal distance -> lo
    signed = np.concatenate([-proj[:0:-1], proj])
    signed.setflags(write=False)
    return signed


class SignMagnitudeDotWidths:
    """Ranges and widths of a dot product of ``pe_length`` sign-magnitude weights ``|w| <= max_magnitude``
    with ``act_bits``-bit two's-complement activations: a mixin of the configurations of Bit-balance and
    EBSP (which define those three fields)."""

    @property
    def product_range(self) -> tuple[int, int]:
        """Exact ``(min, max)`` of one lane's product ``w * x``."""
        return product_range((-self.max_magnitude, self.max_magnitude), twos_range(self.act_bits))

    @property
    def product_width(self) -> int:
        """Signed width of one lane's product (worst case)."""
        return signed_width(*self.product_range)

    @property
    def acc_width(self) -> int:
        """Signed width of the sum of ``pe_length`` lane products (worst case, attained)."""
        lo, hi = self.product_range
        return signed_width(self.pe_length * lo, self.pe_length * hi)


__all__ += ["SignMagnitudeDotWidths"]
