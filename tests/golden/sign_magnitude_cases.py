"""Cases shared by tests/golden/test_bitbalance.py and tests/golden/test_ebsp.py.

Both methods restrict the magnitude of sign-magnitude weights (Bit-balance: at most ``k`` one-bits; EBSP:
the one-bits within an ``L``-bit window), so their tests draw the same cases and check each projection
against the same brute force over the allowed magnitudes.
"""

import numpy as np
from hypothesis import settings, strategies as st

from golden.bits import twos_range

__all__ = ["SETTINGS", "bits_and_limit", "case", "dot_case", "nearest_brute"]

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


@st.composite
def bits_and_limit(draw, max_bits=10):
    """``(bits, limit)``: a weight width in ``2..max_bits`` and a limit (``k`` or ``window``) in ``1..bits-1``."""
    bits = draw(st.integers(2, max_bits))
    return bits, draw(st.integers(1, bits - 1))


@st.composite
def case(draw, max_bits=10, max_len=24):
    """``(bits, limit, q)``: :func:`bits_and_limit` and 1..max_len weights in the symmetric ``bits``-bit range."""
    bits, limit = draw(bits_and_limit(max_bits))
    top = (1 << (bits - 1)) - 1
    q = draw(st.lists(st.integers(-top, top), min_size=1, max_size=max_len))
    return bits, limit, np.array(q, dtype=np.int64)


@st.composite
def dot_case(draw, max_bits=10, max_len=16):
    """``(bits, limit, q, act_bits, x)``: a :func:`case` and as many activations of a width in ``2..16``."""
    bits, limit, q = draw(case(max_bits, max_len))
    act_bits = draw(st.integers(2, 16))
    lo, hi = twos_range(act_bits)
    x = np.array(draw(st.lists(st.integers(lo, hi), min_size=q.size, max_size=q.size)), dtype=np.int64)
    return bits, limit, q, act_bits, x


def nearest_brute(q: int, allowed) -> int:
    """The value of ``±allowed`` nearest to ``q`` on the magnitude, ties to the smaller magnitude, sign kept."""
    m = abs(q)
    best = min(allowed, key=lambda v: (abs(v - m), v))
    return -best if q < 0 else best
