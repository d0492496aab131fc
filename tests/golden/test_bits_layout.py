"""golden.check, golden.bits and golden.layout: conversions, widths, grouping, refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import bits
from golden.bits import (from_sign_magnitude_planes, from_twos_complement_planes, popcount, sign_magnitude_planes,
                         signed_width, twos_complement_planes, twos_range, unsigned_width)
from golden.check import check_float_array, check_int, check_int_array
from golden.layout import effective_group, group_weights, ungroup_weights


def test_widths():
    assert [unsigned_width(v) for v in (0, 1, 2, 3, 4, 255, 256)] == [1, 1, 2, 2, 3, 8, 9]
    assert signed_width(-128, 127) == 8 and signed_width(-129, 0) == 9 and signed_width(0, 128) == 9
    assert signed_width(-1, 0) == 1 and signed_width(0, 0) == 1 and signed_width(-2, 1) == 2
    assert twos_range(8) == (-128, 127)


def test_planes_examples():
    p = twos_complement_planes(np.array([-1, 5, -128]), 8)
    assert p.shape == (8, 3)
    assert p[:, 0].tolist() == [1] * 8
    assert p[:, 1].tolist() == [1, 0, 1, 0, 0, 0, 0, 0]          # LSB first
    assert p[:, 2].tolist() == [0] * 7 + [1]
    s, m = sign_magnitude_planes(np.array([-5, 0, 127]), 8)
    assert s.tolist() == [1, 0, 0] and m[:, 0].tolist() == [1, 0, 1, 0, 0, 0, 0]


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 16), st.data())
def test_planes_round_trip(bits, data):
    lo, hi = twos_range(bits)
    q = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=20)))
    assert (from_twos_complement_planes(twos_complement_planes(q, bits)) == q).all()
    qs = np.clip(q, lo + 1, hi)
    assert (from_sign_magnitude_planes(*sign_magnitude_planes(qs, bits)) == qs).all()
    assert (popcount(np.abs(qs)) == sign_magnitude_planes(qs, bits)[1].sum(axis=0)).all()


def test_refusals():
    with pytest.raises(ValueError, match=r"q must hold integers in \[-7, 7\], got -8 at index \(1,\)"):
        sign_magnitude_planes(np.array([1, -8]), 4)
    with pytest.raises(ValueError, match=r"q must hold integers in \[-8, 7\], got 8"):
        twos_complement_planes(np.array([8]), 4)
    with pytest.raises(TypeError, match=r"q must be an array of integers, got dtype float64 \(quantize it first\)"):
        twos_complement_planes(np.array([1.0]), 4)
    with pytest.raises(TypeError, match="x must be an array of integers, got dtype bool"):
        check_int_array("x", np.array([True]))
    with pytest.raises(ValueError, match=r"w must be finite, got nan at index \(1,\)"):
        check_float_array("w", np.array([0.0, np.nan]))
    with pytest.raises(TypeError, match="bits must be an integer >= 1, got True of type bool"):
        check_int("bits", True, lo=1)
    with pytest.raises(ValueError, match=r"lo must be <= hi, got lo=3, hi=2"):
        signed_width(3, 2)


def test_grouping_fc_and_conv():
    w = np.arange(4 * 64).reshape(4, 64)
    g, gr = group_weights(w, 32)
    assert g.shape == (8, 32) and gr.groups_per_channel == 2 and (g[1] == w[0, 32:]).all()
    assert (ungroup_weights(g, gr) == w).all()
    w = np.arange(2 * 8 * 3 * 3).reshape(2, 8, 3, 3)
    g, gr = group_weights(w, 4)
    # conv: [K, C, H, W] -> [K, H, W, C]: the first group is channels 0..3 at kernel position (0, 0)
    assert g[0].tolist() == w[0, 0:4, 0, 0].tolist() and g[1].tolist() == w[0, 4:8, 0, 0].tolist()
    assert (ungroup_weights(g, gr) == w).all()
    g, gr = group_weights(np.zeros((5, 3, 7, 7), dtype=np.int64), 32)    # C < G: G = C
    assert gr.group == 3 and g.shape == (5 * 49, 3)
    assert effective_group(64, 32) == 32 and effective_group(16, 32) == 16


def test_grouping_refusals():
    with pytest.raises(ValueError, match="input channels C=48 must be a multiple of group=32"):
        group_weights(np.zeros((2, 48)), 32)
    with pytest.raises(ValueError, match=r"weights must be \[K, C\] \(fully connected\) or \[K, C, H, W\]"):
        group_weights(np.zeros((2, 3, 4)), 32)


def test_nearest_magnitude_table():
    from golden.bits import nearest_magnitude_table
    t = nearest_magnitude_table(np.array([0, 1, 4]), 4)          # q in -7..7 at index q + 7
    # 2 is equidistant from 1 and 4? no: |2-1| = 1 < 2 -> 1; 3 is nearer 4; 5..7 go to the largest, 4
    assert t.tolist() == [-4, -4, -4, -4, -4, -1, -1, 0, 1, 1, 4, 4, 4, 4, 4]
    t = nearest_magnitude_table(np.array([0, 2]), 3)             # 1 is a tie between 0 and 2 -> 0
    assert t.tolist() == [-2, -2, 0, 0, 0, 2, 2]


def test_check_sign_magnitude_array():
    from golden.check import check_sign_magnitude_array
    assert check_sign_magnitude_array("w", np.array([-7, 7]), 4).tolist() == [-7, 7]
    with pytest.raises(ValueError, match=r"w holds -8 at index \(1,\), which has no 4-bit sign-magnitude code"):
        check_sign_magnitude_array("w", np.array([0, -8]), 4)
    with pytest.raises(ValueError, match=r"w must hold integers in \[-7, 7\], got 9"):
        check_sign_magnitude_array("w", np.array([9]), 4)


# -- found by the fuzz harness (tests/fuzz/) -----------------------------------------------------------

def test_popcount_of_a_0d_array_does_not_warn():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert int(bits.popcount(np.array(256))) == 1
        assert int(bits.popcount(7)) == 3


def test_planes_longer_than_int64_are_refused():
    with pytest.raises(ValueError, match="planes must have a leading bit axis of length 1..63"):
        bits.from_twos_complement_planes(np.zeros((64, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="magnitude_planes must have a leading bit axis"):
        bits.from_sign_magnitude_planes(np.zeros(2, dtype=np.int64), np.zeros((64, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="magnitude_planes must have a leading bit axis"):
        bits.from_sign_magnitude_planes(0, np.array(0))


def test_product_range_and_nearest_magnitude_table_check_their_arguments():
    with pytest.raises(TypeError, match="a must be a pair"):
        bits.product_range(None, (0, 1))
    with pytest.raises(ValueError, match="b must be a range"):
        bits.product_range((0, 1), (3, 2))
    with pytest.raises(TypeError, match=r"a\[0\] must be an integer"):
        bits.product_range((0.5, 1), (0, 1))
    with pytest.raises(ValueError, match="bits must be an integer"):
        bits.nearest_magnitude_table([0, 1], 200)
    with pytest.raises(ValueError, match="allowed must be the strictly increasing magnitudes"):
        bits.nearest_magnitude_table([1, 2], 4)


def test_ragged_lists_and_array_choices_are_refused_by_name():
    from golden.check import check_choice
    with pytest.raises(ValueError, match="x must be an array"):
        bits.popcount([[1, 2], [3]])
    with pytest.raises(ValueError, match="direction must be one of"):
        check_choice("direction", np.array([]), ("left", "right"))
    with pytest.raises(TypeError, match="grouping must be a Grouping"):
        ungroup_weights(np.zeros((1, 1)), None)
