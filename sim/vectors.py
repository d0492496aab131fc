"""Test vectors shared by the cocotb benches: corners and seeded random words."""

import numpy as np


def corner_words(width: int) -> np.ndarray:
    """All zeros, all ones, every single bit, every single zero, signed extremes and their neighbours."""
    full = (1 << width) - 1
    words = {0, full, 1, full - 1, 1 << (width - 1), (1 << (width - 1)) - 1, (1 << (width - 1)) + 1}
    for i in range(width):
        words.add(1 << i)
        words.add(full ^ (1 << i))
    return np.array(sorted(w for w in words if 0 <= w <= full), dtype=np.uint64 if width > 62 else np.int64)


def random_words(width: int, n: int, *, seed: int) -> np.ndarray:
    """``n`` uniform random unsigned ``width``-bit words, plus words with random leading-zero counts."""
    rng = np.random.default_rng(seed)
    lo_bits = (rng.integers(0, 64, size=n) % width + 1).astype(np.uint64)
    raw = rng.integers(0, 1 << 63, size=n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, size=n, dtype=np.uint64)
    mask = np.where(lo_bits >= 64, np.uint64(0xFFFFFFFFFFFFFFFF), (np.uint64(1) << (lo_bits % np.uint64(64))) - np.uint64(1))
    words = raw & mask
    return words if width > 62 else words.astype(np.int64)

