"""BitWave's bit flip (golden/bitwave.py) against a per-group search written from the reference code's
loop structure, its invariant (at least N zero magnitude columns per group), and real weights."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import bitwave
from golden.layout import group_weights
from golden.pretrained import pretrained_layers


def _flip_group_by_search(group, bits, pruned):
    """One group, as the reference loops do it: bit planes of sign and magnitude, the prune and test
    pointers, then for every weight the candidate n * 2**(B-p), n < 2**(p-t), with the least squared
    error (the first one on a tie)."""
    q = [max(int(v), -(2 ** (bits - 1) - 1)) for v in group]
    sign = [v < 0 for v in q]
    mag = [abs(v) for v in q]
    col = lambda i, m: (m >> (bits - 1 - i)) & 1                       # magnitude column i = 1..B-1
    zero = [all(col(i, m) == 0 for m in mag) for i in range(bits)]
    p = bits - pruned
    for i in range(1, bits):
        if p > i and zero[i]:
            p += 1
    t = 1
    for i in range(1, bits):
        if p > i and zero[i]:
            t = i + 1
    if p > bits - 1:
        return q
    out = []
    for s, m in zip(sign, mag):
        low = m % 2 ** (bits - t)
        best, best_err = None, None
        for n in range(2 ** (p - t)):
            cand = n * 2 ** (bits - p)
            err = (cand - low) ** 2
            if best_err is None or err < best_err:
                best, best_err = cand, err
        m_new = m - low + best
        out.append(-m_new if s else m_new)
    return out


def _by_search(w, bits, group, pruned):
    g, _ = group_weights(w, group)
    return np.array([_flip_group_by_search(row, bits, pruned) for row in g])


def _zero_magnitude_columns(g, bits):
    m = np.abs(g)
    return np.array([sum(not ((row >> b) & 1).any() for b in range(bits - 1)) for row in m])


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 9), st.sampled_from([1, 2, 4, 8, 16]), st.data())
def test_bit_flip_equals_the_reference_search(bits, group, data):
    pruned = data.draw(st.integers(0, bits - 1))
    k = data.draw(st.integers(1, 3))
    c = group * data.draw(st.integers(1, 3))
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    # small magnitudes too, so that groups with interior and leading zero columns occur
    top = data.draw(st.sampled_from([hi, hi // 4, hi // 16, 3]))
    w = np.array(data.draw(st.lists(st.integers(max(lo, -top - 1), min(hi, top)), min_size=k * c,
                                    max_size=k * c))).reshape(k, c)
    out = bitwave.bit_flip(w, bits=bits, group=group, pruned=pruned)
    g_out, _ = group_weights(out, group)
    assert np.array_equal(g_out, _by_search(w, bits, group, pruned))
    assert (_zero_magnitude_columns(g_out, bits) >= pruned).all()
    assert np.array_equal(bitwave.zero_columns(out, bits=bits, group=group), _zero_magnitude_columns(g_out, bits))


def test_bit_flip_by_hand():
    # B = 8, N = 4, one group of 2: magnitudes 0b101_0111 (87) and 0b001_0000 (16); columns 2 (bit 5) and
    # 4 (bit 3) are zero, both above the boundary: p = 4 -> 5 -> 6, t = 5; the low 3 bits (7, 0) go to
    # the nearest of 0 and 4 (multiples of 2**(8-6) below 2**3): 87 - 7 + 4 = 84
    assert bitwave.bit_flip(np.array([[87, -16]]), group=2).tolist() == [[84, -16]]
    # -128 is -127 in sign-magnitude, as in the reference; no zero column, N = 3: multiples of 8 below 128,
    # 127 -> 120 (the largest), and the tie 12 -> 8 goes to the smaller
    assert bitwave.bit_flip(np.array([[-128, 12]]), group=2, pruned=3).tolist() == [[-120, 8]]


def test_bit_flip_on_real_weights_meets_the_column_target():
    layer = pretrained_layers()["_blocks.8._project_conv"]
    for pruned in (2, 3, 4):
        out = bitwave.bit_flip(layer.q, group=16, pruned=pruned)
        g, _ = group_weights(out, 16)
        assert (_zero_magnitude_columns(g, 8) >= pruned).all()
        assert np.abs(out - np.maximum(layer.q, -127)).max() <= 2 ** pruned
        bpw = bitwave.bits_per_weight(out, group=16)
        assert bpw <= 8 - pruned + 1 + 8 / 16


def test_bits_per_weight_counts_stored_columns_and_the_mask():
    # one group of 4 non-negative weights with magnitude columns for bits 0 and 2 only: no sign column,
    # 2 magnitude columns of 4 bits, an 8-bit mask -> (2 * 4 + 8) / 4
    assert bitwave.bits_per_weight(np.array([[1, 4, 5, 0]]), group=4) == 4.0
    assert bitwave.bits_per_weight(np.array([[-1, 4, 5, 0]]), group=4) == 5.0


@pytest.mark.parametrize("call, error, message", [
    (lambda: bitwave.bit_flip(np.array([[1.5]])), TypeError, "w must be an array of integers, got dtype float64"),
    (lambda: bitwave.bit_flip(np.array([[200]])), ValueError, "w must hold integers in [-128, 127], got 200"),
    (lambda: bitwave.bit_flip(np.zeros((2, 3), int), group=2), ValueError, "input channels C=3 must be a multiple"),
    (lambda: bitwave.bit_flip(np.zeros((2, 2), int), pruned=8), ValueError, "pruned must be an integer in [0, 7]"),
    (lambda: bitwave.bit_flip(np.zeros(4, int)), ValueError, "w must have"),
    (lambda: bitwave.zero_columns(np.zeros((1, 2), int), group=0), ValueError, "group must be an integer"),
])
def test_bad_input_is_refused_by_name(call, error, message):
    with pytest.raises(error) as e:
        call()
    assert message in str(e.value)
