"""Tests of golden/bitlet.py: Bitlet fixed point, the check-window lane schedule, fp32 (docs/bitlet.md)."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from golden.bitlet import (
    A_MAX, BUBBLE, DONE, FP32_SCALE_OFFSET, RTL_ACC_WIDTH, RTL_SUM_WIDTH, BitletConfig, dot_fixed,
    dot_fp32, dot_fp32_block, dot_fp32_error_bound, fold_signs, fp32_preprocess, lane_cycles,
    lane_schedule, lane_sums, lane_words, lanes, pack_fixed, pass_cycles, pass_cycles_bitsim,
    pass_cycles_fp32, precision_mask, repack_fp32, FP32_NAN, fp32_nonfinite, pe_stream_timing,
)

SETTINGS = settings(max_examples=150, deadline=None)


def f32(*values):
    return np.array(values, dtype=np.float32)


def bits_of(x) -> int:
    return int(np.asarray(x, dtype=np.float32).view(np.uint32))


def ref_schedule(column, n_valid, n_check):
    """The pointer algorithm of the check-window lane (docs/bitlet.md), written plainly (one lane, Python ints)."""
    ptr, out = 0, []
    while ptr <= n_valid - 1:
        win = [column[ptr + j] if ptr + j < len(column) else 0 for j in range(n_check)]
        ones = [j for j, b in enumerate(win) if b]
        if not ones:
            out.append(BUBBLE)
            ptr += n_check
        else:
            out.append(ptr + ones[0])
            ptr += ones[1] if len(ones) > 1 else n_check
    return out


# ------------------------------------------------------------------------------------------------
# configuration

def test_config_defaults_and_widths():
    cfg = BitletConfig()
    assert (cfg.n_total, cfg.n_input, cfg.n_channel, cfg.n_check, cfg.mode) == (64, 16, 24, 8, "fixed")
    assert cfg.act_width == 25
    assert cfg.select_width == 6
    assert cfg.lane_sum_width == 31
    assert cfg.psum_width == 49
    assert cfg.acc_width == 55
    assert cfg.load_cycles == 4
    assert cfg.weight_max == cfg.full_lane_mask == (1 << 24) - 1
    # the RTL's widths are wider than the exact worst case
    assert cfg.psum_width <= RTL_SUM_WIDTH and cfg.acc_width <= RTL_ACC_WIDTH


def test_config_small_widths():
    cfg = BitletConfig(n_total=16, n_input=4, n_channel=8, n_check=4)
    assert cfg.select_width == 4
    assert cfg.lane_sum_width == 29      # 16 * (2**24 - 1) < 2**28
    assert cfg.psum_width == 33          # (2**24 - 1) * 255 < 2**32
    assert cfg.acc_width == 37           # 16 * (2**24 - 1) * 255 < 2**36
    assert BitletConfig(n_total=1, n_input=1).select_width == 1


def test_acc_width_is_tight_at_the_extremes():
    cfg = BitletConfig()
    w = np.full(64, A_MAX)
    a = np.full(64, -A_MAX)
    v = int(dot_fixed(w, a, bits=24))
    assert v == -64 * A_MAX * A_MAX
    assert -(1 << (cfg.acc_width - 1)) <= v < -(1 << (cfg.acc_width - 2))   # fits, and needs every bit
    sums = lane_sums(w, a)
    assert int(sums.min()) == -64 * A_MAX
    assert -(1 << (cfg.lane_sum_width - 1)) <= -64 * A_MAX < -(1 << (cfg.lane_sum_width - 2))
    psum = A_MAX * ((1 << 24) - 1)
    assert psum < (1 << (cfg.psum_width - 1)) and psum >= (1 << (cfg.psum_width - 2))


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(n_total=65), ValueError, r"n_total must be an integer in \[1, 64\], got 65"),
    (dict(n_total=64.0), TypeError, r"n_total must be an integer"),
    (dict(n_input=12), ValueError, r"n_input must divide n_total, got n_input=12, n_total=64"),
    (dict(n_input=0), ValueError, r"n_input must be an integer in \[1, 64\], got 0"),
    (dict(n_channel=25), ValueError, r"n_channel must be an integer in \[1, 24\], got 25"),
    (dict(n_check=0), ValueError, r"n_check must be an integer in \[1, 64\], got 0"),
    (dict(mode="int8"), ValueError, r"mode must be one of 'fixed', 'fp32', got 'int8'"),
    (dict(mode="fp32", n_channel=8), ValueError, r"n_channel must be 24 in fp32 mode"),
])
def test_config_refuses_bad_fields(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        BitletConfig(**kwargs)


def test_config_is_frozen_and_normalizes_ints():
    cfg = BitletConfig(n_total=np.int64(32), n_input=8)
    assert type(cfg.n_total) is int and cfg.n_total == 32
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_total = 16


def test_precision_mask():
    assert precision_mask(8) == 0xFF
    assert precision_mask(0) == 0
    assert precision_mask(24) == (1 << 24) - 1
    with pytest.raises(ValueError, match=r"p must be an integer in \[0, 24\], got 25"):
        precision_mask(25)


# ------------------------------------------------------------------------------------------------
# fixed point

def test_fold_signs_and_lanes_by_hand():
    w_mag, a_fold = fold_signs([3, -2, 0], [5, 7, -4])
    assert w_mag.tolist() == [3, 2, 0]
    assert a_fold.tolist() == [5, -7, -4]
    planes = lanes([5, 2, 7], n_channel=3)
    assert planes.tolist() == [[1, 0, 1], [0, 1, 1], [1, 0, 1]]
    assert lane_words([5, 2, 7], n_channel=3).tolist() == [5, 6, 5]
    assert int(lane_words(np.ones(64, dtype=np.int64), n_channel=1)[0]) == (1 << 64) - 1


def test_dot_fixed_by_hand():
    # w = [3, -2], a = [5, 7]: lane 0 = {0} -> 5, lane 1 = {0, 1} -> 5 - 7 = -2; 5 + (-2 << 1) = 1
    w_mag, a_fold = fold_signs([3, -2], [5, 7])
    assert lane_sums(w_mag, a_fold, n_channel=2).tolist() == [5, -2]
    assert int(dot_fixed([3, -2], [5, 7], bits=2)) == 1
    assert int(dot_fixed([3, -2], [5, 7], bits=2, lane_mask=0b10)) == -4      # lane 0 disabled
    assert int(dot_fixed([3, -2], [5, 7], bits=2, lane_mask=0)) == 0


@SETTINGS
@given(st.integers(1, 24), st.integers(1, 64), st.integers(0, 2**32 - 1))
def test_dot_fixed_equals_exact_dot(bits, n, seed):
    rng = np.random.default_rng(seed)
    m = (1 << bits) - 1
    w = rng.integers(-m, m + 1, size=(3, n))
    a = rng.integers(-A_MAX, A_MAX + 1, size=(3, n))
    got = dot_fixed(w, a, bits=bits)
    want = [sum(int(x) * int(y) for x, y in zip(wr, ar)) for wr, ar in zip(w, a)]
    assert got.tolist() == want
    w_mag, a_fold = fold_signs(w, a, bits=bits)
    g = np.arange(bits)
    assert ((lane_sums(w_mag, a_fold, n_channel=bits) << g).sum(-1)).tolist() == want


@SETTINGS
@given(st.integers(0, 24), st.integers(1, 64), st.integers(0, 2**32 - 1))
def test_precision_mask_equals_truncated_weights(p, n, seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-A_MAX, A_MAX + 1, size=n)
    a = rng.integers(-A_MAX, A_MAX + 1, size=n)
    w_trunc = np.sign(w) * (np.abs(w) & ((1 << p) - 1))
    want = sum(int(x) * int(y) for x, y in zip(w_trunc, a))
    assert int(dot_fixed(w, a, bits=24, lane_mask=precision_mask(p))) == want


def test_dot_fixed_broadcasts_one_activation_vector():
    rng = np.random.default_rng(3)
    w = rng.integers(-255, 256, size=(5, 64))
    a = rng.integers(-1000, 1000, size=64)
    assert dot_fixed(w, a, bits=8).tolist() == (w @ a).tolist()


def test_pack_fixed():
    acc = np.array([1000, -1000, -1001, 1 << 40, -(1 << 40), (1 << 24) - 1, -(1 << 24)])
    assert pack_fixed(acc, 3).tolist() == [125, -125, -126, (1 << 24) - 1, -(1 << 24),
                                           (1 << 21) - 1, -(1 << 21)]
    assert pack_fixed(acc, 0).tolist()[-2:] == [(1 << 24) - 1, -(1 << 24)]
    assert pack_fixed([(1 << 24)], 0).tolist() == [(1 << 24) - 1]
    with pytest.raises(ValueError, match=r"quant must be an integer in \[0, 24\], got 25"):
        pack_fixed(acc, 25)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: dot_fixed(np.array([1.0, 2.0]), [1, 2], bits=8), TypeError,
     r"w must be an array of integers, got dtype float64 \(quantize it first\)"),
    (lambda: dot_fixed([1, 2], np.array([1.0, 2.0]), bits=8), TypeError, r"a must be an array of integers"),
    (lambda: dot_fixed([1 << 24], [1], bits=24), ValueError,
     r"w must hold integers in \[-16777215, 16777215\], got 16777216 at index \(0,\)"),
    (lambda: dot_fixed([256], [1], bits=8), ValueError, r"w must hold integers in \[-255, 255\], got 256"),
    (lambda: dot_fixed([1], [-(1 << 24)], bits=8), ValueError,
     r"a must hold integers in \[-16777215, 16777215\], got -16777216"),
    (lambda: dot_fixed([1], [1], bits=25), ValueError, r"bits must be an integer in \[1, 24\], got 25"),
    (lambda: dot_fixed([1], [1], bits=0), ValueError, r"bits must be an integer in \[1, 24\], got 0"),
    (lambda: dot_fixed([1], [1], bits=8, lane_mask=1 << 24), ValueError,
     r"lane_mask must be an integer in \[0, 16777215\], got 16777216"),
    (lambda: dot_fixed([1], [1], bits=8, lane_mask=-1), ValueError, r"lane_mask must be an integer in"),
    (lambda: dot_fixed([1], [1], bits=8, lane_mask=1.0), TypeError, r"lane_mask must be an integer"),
    (lambda: dot_fixed([1, 2, 3], [1, 2, 3, 4], bits=8), ValueError,
     r"w shape \(3,\) and a shape \(4,\) do not broadcast"),
    (lambda: dot_fixed(5, 3, bits=8), ValueError, r"w must have a last \(pair\) axis"),
    (lambda: lanes([-1]), ValueError, r"w_mag must hold integers in \[0, 16777215\], got -1"),
    (lambda: lane_words(np.zeros(65, dtype=np.int64)), ValueError,
     r"w_mag must have a last \(pair\) axis of length 1..64, got shape \(65,\)"),
])
def test_fixed_refuses_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ------------------------------------------------------------------------------------------------
# check-window lane schedule

def _col(ones, length):
    c = np.zeros(length, dtype=np.int64)
    c[list(ones)] = 1
    return c


@pytest.mark.parametrize("ones, length, n_valid, n_check, expected", [
    # bits 0,1,9 / 16 pairs: win@0 {0,1} -> sel 0, ptr 1; win@1 {1} -> sel 1, ptr 9; win@9 {9} -> sel 9, ptr 17
    ((0, 1, 9), 16, 16, 8, [0, 1, 9]),
    # same with a 4-bit window: win@5 and win@13 are empty
    ((0, 1, 9), 16, 16, 4, [0, 1, BUBBLE, 9, BUBBLE]),
    # one bit at 0: sel 0, ptr 8; win@8 empty -> bubble, ptr 16 > 15
    ((0,), 16, 16, 8, [0, BUBBLE]),
    ((7, 8), 16, 16, 8, [7, 8]),
    ((3, 15), 16, 16, 8, [3, 15]),
    ((0, 20), 24, 24, 8, [0, BUBBLE, 20]),
    # n_valid 4 of 8: win@0 {0,2} -> sel 0, ptr 2; win@2 {2} -> sel 2, ptr 10 > 3
    ((0, 2), 8, 4, 8, [0, 2]),
    ((), 64, 64, 8, [BUBBLE] * 8),
    ((), 64, 17, 8, [BUBBLE] * 3),
    ((), 16, 16, 1, [BUBBLE] * 16),
    (tuple(range(64)), 64, 64, 8, list(range(64))),
    # window wider than the column: zeros past the end
    ((5, 9), 10, 10, 64, [5, 9]),
    ((63,), 64, 64, 8, [BUBBLE] * 7 + [63]),
])
def test_lane_schedule_by_hand(ones, length, n_valid, n_check, expected):
    col = _col(ones, length)
    assert lane_schedule(col, n_valid, n_check).tolist() == expected
    assert int(lane_cycles(col, n_valid, n_check)) == len(expected)
    assert ref_schedule(col.tolist(), n_valid, n_check) == expected


def test_lane_schedule_batch_pads_with_done():
    cols = np.stack([_col((0, 1, 9), 16), _col((), 16)])
    assert lane_schedule(cols).tolist() == [[0, 1, 9], [BUBBLE, BUBBLE, DONE]]
    assert lane_cycles(cols).tolist() == [3, 2]


@pytest.mark.parametrize("n_valid, n_check", [(64, 8), (63, 8), (57, 8), (1, 8), (10, 3), (64, 64), (5, 1)])
def test_empty_lane_takes_ceil_bubbles(n_valid, n_check):
    assert int(lane_cycles(np.zeros(64, dtype=np.int64), n_valid, n_check)) == math.ceil(n_valid / n_check)


@SETTINGS
@given(st.integers(1, 64).flatmap(lambda n: st.tuples(
    arrays(np.int64, n, elements=st.integers(0, 1)), st.integers(1, n), st.integers(1, 16))))
def test_lane_schedule_matches_reference_and_bounds(args):
    col, n_valid, n_check = args
    col = col.copy()
    col[n_valid:] = 0
    sched = lane_schedule(col, n_valid, n_check).tolist()
    assert sched == ref_schedule(col.tolist(), n_valid, n_check)
    ones = np.flatnonzero(col).tolist()
    assert [s for s in sched if s != BUBBLE] == ones            # each essential bit once, in order
    cycles = int(lane_cycles(col, n_valid, n_check))
    assert cycles == len(ones) + sched.count(BUBBLE)            # popcount + empty windows visited
    assert max(len(ones), math.ceil(n_valid / n_check)) <= cycles <= len(ones) + math.ceil(n_valid / n_check)
    assert cycles <= n_valid


@SETTINGS
@given(st.integers(1, 64), st.integers(1, 24), st.integers(1, 12), st.integers(0, 2**24 - 1),
       st.integers(0, 2**32 - 1))
def test_pass_cycles_is_max_over_enabled_lanes(n, n_channel, n_check, mask, seed):
    rng = np.random.default_rng(seed)
    mask &= (1 << n_channel) - 1
    density = rng.uniform(0, 1)
    w = np.where(rng.uniform(size=(4, n, n_channel)) < density, 1, 0)
    w_mag = (w << np.arange(n_channel)).sum(-1)              # each bit set with probability `density`
    got = pass_cycles(w_mag, n_check=n_check, lane_mask=mask, n_channel=n_channel)
    planes = lanes(w_mag, n_channel)                          # [4, n_channel, n]
    for k in range(4):
        per_lane = [len(ref_schedule(planes[k, g].tolist(), n, n_check))
                    for g in range(n_channel) if (mask >> g) & 1]
        assert int(got[k]) == max(per_lane, default=0)


def test_pass_cycles_by_hand():
    zeros = np.zeros(64, dtype=np.int64)
    assert int(pass_cycles(zeros)) == 8                       # 24 enabled empty lanes, 8 bubbles each
    assert int(pass_cycles(zeros, lane_mask=0)) == 0          # no enabled lane: nothing to do
    assert int(pass_cycles(np.ones(64, dtype=np.int64), lane_mask=1)) == 64
    assert int(pass_cycles(np.ones(64, dtype=np.int64), lane_mask=0b10)) == 8   # lane 0 disabled
    w = np.zeros(64, dtype=np.int64)
    w[[0, 1, 9]] = 1                                           # lane 0 = the hand example, 16 valid
    assert int(pass_cycles(w, lane_mask=1, n_valid=16)) == 3
    assert int(pass_cycles(w, lane_mask=0b11, n_valid=16)) == 3   # lane 1 empty: 2 bubbles
    assert int(pass_cycles(w, lane_mask=0b11, n_valid=16, n_check=4)) == 5
    batch = np.zeros((2, 3, 64), dtype=np.int64)
    batch[1, 2, :] = 0xFF
    assert pass_cycles(batch, lane_mask=precision_mask(8)).tolist() == [[8, 8, 8], [8, 8, 64]]


def test_enabled_empty_lanes_never_lengthen_a_pass():
    # ptr advances by at most n_check per cycle, so every lane takes >= ceil(n_valid / n_check) cycles:
    # exactly what an empty lane takes. Enabling empty lanes changes nothing; pruning busy lanes does.
    rng = np.random.default_rng(11)
    w = rng.integers(0, 256, size=(300, 64)) * (rng.uniform(size=(300, 64)) < 0.3)
    full = pass_cycles(w)
    assert (full == pass_cycles(w, lane_mask=precision_mask(8))).all()
    assert (full >= 8).all()
    pruned = pass_cycles(w, lane_mask=0xF0)                   # 4 LSB lanes pruned
    assert (pruned <= full).all() and (pruned < full).any()


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: lane_schedule([0, 2, 1]), ValueError, r"column_bits must hold integers in \[0, 1\], got 2"),
    (lambda: lane_schedule([0.0, 1.0]), TypeError, r"column_bits must be an array of integers"),
    (lambda: lane_schedule([1, 0], n_check=0), ValueError, r"n_check must be an integer in \[1, 64\], got 0"),
    (lambda: lane_schedule([1, 0], n_valid=0), ValueError, r"n_valid must be an integer in \[1, 2\], got 0"),
    (lambda: lane_schedule([1, 0], n_valid=3), ValueError, r"n_valid must be an integer in \[1, 2\], got 3"),
    (lambda: lane_cycles(np.zeros(65, dtype=np.int64)), ValueError,
     r"column_bits must have a last \(pair\) axis of length 1..64"),
    (lambda: lane_cycles([1, 0, 0, 0, 0, 1], n_valid=4), ValueError,
     r"column_bits must be zero at pair index >= n_valid=4 .* got 1 at index \(5,\)"),
    (lambda: pass_cycles(np.array([1.0])), TypeError, r"w_mag must be an array of integers"),
    (lambda: pass_cycles([1 << 24]), ValueError, r"w_mag must hold integers in \[0, 16777215\]"),
    (lambda: pass_cycles([256], n_channel=8), ValueError, r"w_mag must hold integers in \[0, 255\]"),
    (lambda: pass_cycles([1], lane_mask=1 << 24), ValueError, r"lane_mask must be an integer in \[0, 16777215\]"),
    (lambda: pass_cycles([1], n_check=0), ValueError, r"n_check must be an integer in \[1, 64\], got 0"),
    (lambda: pass_cycles([[1, 0, 3]], n_valid=2), ValueError,
     r"w_mag must be zero at pair index >= n_valid=2 .* got 3 at index \(0, 2\)"),
    (lambda: pass_cycles(np.zeros(65, dtype=np.int64)), ValueError, r"w_mag must have a last \(pair\) axis"),
])
def test_schedule_refuses_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_pass_cycles_bitsim_by_hand():
    # 1 = 00000001, -1 = 11111111, 3 = 00000011: plane 0 has 3 ones, plane 1 two, planes 2..7 one
    assert int(pass_cycles_bitsim([1, -1, 3])) == 3
    assert int(pass_cycles_bitsim(np.full(32, -128))) == 32   # the sign plane is counted
    assert int(pass_cycles_bitsim(np.zeros(32, dtype=np.int64))) == 0
    assert pass_cycles_bitsim([[1, 2], [3, 3]], bits=4).tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"w_twos must hold integers in \[-128, 127\], got 128"):
        pass_cycles_bitsim([128])


# ------------------------------------------------------------------------------------------------
# fp32

def exact_dot(w, a) -> Fraction:
    return sum((Fraction(float(x)) * Fraction(float(y)) for x, y in zip(w, a)), Fraction(0))


@pytest.mark.parametrize("w, a, expected", [
    ((2.0, 0.5), (4.0, 8.0), 12.0),                           # powers of two
    ((1.5, 0.25), (3.0, 2.0), 5.0),                           # aligns exactly (shift 2, no bits lost)
    ((-2.0, 1.0), (3.0, 1.0), -5.0),                          # sign mix
    ((1.0, -1.0), (1.0, 1.0), 0.0),                           # cancels to +0
    ((-1.0,), (0.0,), 0.0),                                   # +0, not IEEE's -0
    ((0.0, 0.0), (-3.0, 5.0), 0.0),
    ((1.0, 1.0), (1.0, 2.0**-30), 1.0),                       # the small term vanishes entirely (shift 30)
    ((1.0, 1.5), (1.0, 2.0**-23), 1 + 2.0**-23),              # 3*2**22 >> 23 = 1; IEEE RNE gives 1 + 2**-22
    ((1.0, 1.0), (1.0, 1 - 2.0**-24), 2 - 2.0**-23),          # repack truncates; IEEE RNE gives 2.0
    ((2.0**100, -2.0**100, 1.0), (1.0, 1.0, 1.0), 0.0),       # the 1 is lost by alignment (shift 100)
    ((1.7e38,), (10.0,), np.inf),                             # overflow to inf
    ((1.7e38,), (-10.0,), -np.inf),
    ((2.0**127,), (2.0**127,), np.inf),                       # Esum = 508, the largest
    ((2.0**-100,), (2.0**-40,), 2.0**-140),                   # exact denormal result
    ((2.0**-100,), (2.0**-50,), 0.0),                         # 2**-150 truncates to +0
    ((1.5 * 2.0**-60,), (2.0**-67,), 1.5 * 2.0**-127),        # result exponent field 0 (denormal)
    ((2.0**100,), (2.0**-149,), 2.0**-49),                    # denormal input, IEEE 0.m * 2**-126
    ((0.0, 2.0**-30), (2.0**100, 2.0**-30), 2.0**-60),        # the zero pair does not raise Emax
])
def test_dot_fp32_by_hand(w, a, expected):
    got = dot_fp32(f32(*w), f32(*a))
    assert bits_of(got) == bits_of(np.float32(expected))      # bit patterns: signed zeros count


def test_dot_fp32_negative_underflow_keeps_sign():
    got = dot_fp32(f32(2.0**-100), f32(-(2.0**-50)))
    assert bits_of(got) == 0x80000000                         # -0.0


@pytest.mark.parametrize("w, a, ieee, rtl", [
    # denormal activation: the RTL reads 2**-149 as (1 + 2**-23) * 2**-126
    ((2.0**100,), (2.0**-149,), 2.0**-49, 2.0**-26 + 2.0**-49),
    # result exponent field 0: the RTL keeps the fraction 0.5 with field 0, i.e. 0.5 * 2**-126
    ((1.5 * 2.0**-60,), (2.0**-67,), 1.5 * 2.0**-127, 2.0**-127),
    # a zero weight's activation exponent raises Emax in the RTL: 2**-60 is shifted out (shift 33)
    ((0.0, 2.0**-30), (2.0**100, 2.0**-30), 2.0**-60, 0.0),
])
def test_dot_fp32_rtl_quirks(w, a, ieee, rtl):
    assert bits_of(dot_fp32(f32(*w), f32(*a))) == bits_of(np.float32(ieee))
    assert bits_of(dot_fp32(f32(*w), f32(*a), rtl_quirks=True)) == bits_of(np.float32(rtl))


def test_dot_fp32_block_by_hand():
    # Esum = 254 and 253, Emax = 254: acc = 2**23 * 2**23 + (2**23 >> 1) * (2**24 - 1) = 2**47 - 2**22
    blk = dot_fp32_block(f32(1.0, 1.0), f32(1.0, 1 - 2.0**-24))
    assert int(blk.acc) == 2**47 - 2**22
    assert int(blk.scale) == 254 - FP32_SCALE_OFFSET == -46
    assert int(blk.emax) == 254
    acc, scale = blk                                          # unpacks as (acc_int, scale_exponent)
    # biased exponent = Emax - 127 - 46 + cnt = 254 - 173 + 46 = 127 -> 1.xxx
    assert bits_of(repack_fp32(acc, scale)) >> 23 == 127
    ops = fp32_preprocess(f32(1.0, -1.0), f32(1.0, 1 - 2.0**-24))
    assert ops.walign.tolist() == [2**23, 2**22]
    assert ops.afix.tolist() == [2**23, -(2**24 - 1)]
    assert ops.esum.tolist() == [254, 253] and int(ops.emax) == 254


def test_repack_fp32_by_hand():
    cases = [
        (0, 0, 0x00000000),
        (-5, 0, bits_of(np.float32(-5.0))),
        ((1 << 25) - 1, -24, bits_of(np.float32(2 - 2.0**-23))),   # 25 ones: the last one is truncated
        (1, 127, 0x7F000000),                                       # 2**127, the largest binade
        (2, 127, 0x7F800000),                                       # 2**128 -> inf
        (1, -149, 0x00000001),
        (3, -150, 0x00000001),                                      # 1.5 * 2**-149 -> 2**-149
        (-1, -150, 0x80000000),                                     # -2**-150 -> -0.0
    ]
    got = [bits_of(repack_fp32(acc, s)) for acc, s, _ in cases]
    assert got == [b for _, _, b in cases]
    assert bits_of(np.float32(2.0**127)) == 0x7F000000


fp32_elems = st.floats(width=32, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(st.integers(1, 64).flatmap(lambda n: st.tuples(arrays(np.float32, n, elements=fp32_elems),
                                                      arrays(np.float32, n, elements=fp32_elems))))
def test_dot_fp32_truncation_bound_and_rounding(args):
    w, a = args
    exact = exact_dot(w, a)
    blk = dot_fp32_block(w, a)
    block = Fraction(int(blk.acc)) * Fraction(2) ** int(blk.scale)
    got = dot_fp32(w, a)
    bound = dot_fp32_error_bound(w, a)
    if np.isinf(got):
        assert abs(block) >= Fraction(2) ** 128 and (got > 0) == (block > 0)
        assert np.isinf(bound)
        return
    # repack is round-toward-zero of the exact block value
    r = Fraction(float(got))
    if block == 0:
        assert bits_of(got) == 0
    else:
        assert (block < 0) == (bits_of(got) >> 31 == 1)
        up = Fraction(float(np.nextafter(np.abs(got), np.float32(np.inf))))
        assert abs(r) <= abs(block) < up
    assert abs(r - exact) <= Fraction(float(bound))
    # the alignment part of the bound: strictly below sum of Aman over shifted pairs times 2**scale
    acc_exact = exact / Fraction(2) ** int(blk.scale)
    assert abs(Fraction(int(blk.acc)) - acc_exact) < 64 * 2**24


def test_dot_fp32_against_float64_reference():
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((200, 64)) * np.exp2(rng.integers(-20, 20, (200, 64)))).astype(np.float32)
    a = (rng.standard_normal((200, 64)) * np.exp2(rng.integers(-20, 20, (200, 64)))).astype(np.float32)
    got = dot_fp32(w, a).astype(np.float64)
    prod = w.astype(np.float64) * a.astype(np.float64)         # exact: 24 x 24 bits
    ref = prod.sum(-1)
    f64_err = 64 * 2.0**-52 * np.abs(prod).sum(-1)
    bound = dot_fp32_error_bound(w, a)
    assert (np.abs(got - ref) <= bound + f64_err).all()
    # the bound is meaningful: below 2**-15 of the largest product plus one result ulp
    assert (bound <= 2.0**-15 * np.abs(prod).max(-1) + 2.0**-22 * np.abs(got) + 2.0**-149).all()
    # batched evaluation equals one pass at a time
    assert [bits_of(dot_fp32(w[i], a[i])) for i in range(5)] == [bits_of(x) for x in got[:5].astype(np.float32)]


def test_dot_fp32_block_equals_aligned_integer_dot():
    rng = np.random.default_rng(5)
    w = (rng.standard_normal((50, 64)) * np.exp2(rng.integers(-30, 30, (50, 64)))).astype(np.float32)
    a = rng.standard_normal((50, 64)).astype(np.float32)
    ops = fp32_preprocess(w, a)
    blk = dot_fp32_block(w, a)
    assert blk.acc.tolist() == [sum(int(x) * int(y) for x, y in zip(wr, ar))
                                for wr, ar in zip(ops.walign, ops.afix)]
    assert (ops.walign < 2**24).all() and (ops.walign >= 0).all()
    assert (ops.emax == ops.esum.max(-1)).all()


def test_pass_cycles_fp32():
    ones = np.ones(64, dtype=np.float32)
    # every aligned mantissa is 2**23: lane 23 has 64 ones, the other 23 lanes 8 bubbles each
    assert int(pass_cycles_fp32(ones, ones)) == 64
    assert int(pass_cycles_fp32(f32(1.0, 0.5), f32(1.0, 1.0))) == 1   # lanes 23 and 22 hold one bit each
    assert int(pass_cycles_fp32(f32(1.0, 0.5), f32(1.0, 1.0), lane_mask=0)) == 0
    rng = np.random.default_rng(9)
    w = rng.standard_normal((20, 64)).astype(np.float32)
    a = rng.standard_normal((20, 64)).astype(np.float32)
    ops = fp32_preprocess(w, a)
    assert pass_cycles_fp32(w, a).tolist() == pass_cycles(ops.walign).tolist()
    assert pass_cycles_fp32(w, a, n_check=4, lane_mask=0xFFFF00).tolist() == \
        pass_cycles(ops.walign, n_check=4, lane_mask=0xFFFF00).tolist()


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: dot_fp32(f32(1.0, np.nan), f32(1.0, 1.0)), ValueError, r"w must be finite, got nan at index \(1,\)"),
    (lambda: dot_fp32(f32(1.0), f32(np.inf)), ValueError, r"a must be finite, got inf at index \(0,\)"),
    (lambda: dot_fp32(f32(1.0), f32(-np.inf)), ValueError, r"a must be finite, got -inf"),
    (lambda: dot_fp32(np.array([1.0]), f32(1.0)), TypeError,
     r"w must be a float32 array, got dtype float64 \(convert explicitly"),
    (lambda: dot_fp32(f32(1.0), np.array([1])), TypeError, r"a must be a float32 array, got dtype int64"),
    (lambda: dot_fp32(np.ones(65, np.float32), np.ones(65, np.float32)), ValueError,
     r"w must have a last \(pair\) axis of length 1..64, got shape \(65,\)"),
    (lambda: dot_fp32(f32(1.0, 2.0), f32(1.0, 2.0, 3.0)), ValueError,
     r"w shape \(2,\) and a shape \(3,\) do not broadcast"),
    (lambda: dot_fp32(f32(1.0), f32(1.0), rtl_quirks=1), TypeError, r"rtl_quirks must be a bool"),
    (lambda: dot_fp32_block(f32(np.nan), f32(1.0)), ValueError, r"w must be finite, got nan"),
    (lambda: repack_fp32(np.array([1.0]), 0), TypeError, r"acc must be an array of integers"),
    (lambda: pass_cycles_fp32(f32(1.0), f32(1.0), lane_mask=1 << 24), ValueError,
     r"lane_mask must be an integer in \[0, 16777215\]"),
])
def test_fp32_refuses_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ------------------------------------------------------------------------------------------------
# additions for the hardware PE (hw/bitlet/pe.py): activation width, fp32 lane mask and non-finite
# operands, stream timing

def test_config_act_bits_widths():
    cfg = BitletConfig(n_total=16, n_input=16, n_channel=8, act_bits=8)
    assert cfg.act_range == (-128, 127) and cfg.act_max == 128
    assert cfg.act_width == 9                 # -(-128) = 128 needs 9 bits
    assert cfg.lane_sum_width == signed_width_of(16 * 128)
    assert cfg.psum_width == signed_width_of(128 * 255)
    assert cfg.acc_width == 20                # 16 * 128 * 255 = 522240 < 2**19
    d = BitletConfig()
    assert d.act_bits == 25 and d.act_range == (-A_MAX, A_MAX) and d.act_max == A_MAX
    assert BitletConfig(act_bits=24).act_width == 25 and BitletConfig(act_bits=24).act_max == 1 << 23
    # the extreme INT8 pass needs every accumulator bit
    v = int(dot_fixed(np.full(16, -255), np.full(16, -128), bits=8))
    assert v == 16 * 128 * 255 and (1 << (cfg.acc_width - 2)) <= v < (1 << (cfg.acc_width - 1))


def signed_width_of(m):
    from golden.bits import signed_width
    return signed_width(-m, m)


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(act_bits=1), ValueError, r"act_bits must be an integer in \[2, 25\], got 1"),
    (dict(act_bits=26), ValueError, r"act_bits must be an integer in \[2, 25\], got 26"),
    (dict(act_bits=8.0), TypeError, r"act_bits must be an integer"),
    (dict(mode="fp32", act_bits=24), ValueError, r"act_bits must be 25 in fp32 mode"),
])
def test_config_refuses_bad_act_bits(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        BitletConfig(**kwargs)


def test_dot_fp32_lane_mask():
    rng = np.random.default_rng(21)
    w = (rng.standard_normal((30, 16)) * np.exp2(rng.integers(-10, 10, (30, 16)))).astype(np.float32)
    a = rng.standard_normal((30, 16)).astype(np.float32)
    full = (1 << 24) - 1
    assert bits_of_all(dot_fp32(w, a, lane_mask=full)) == bits_of_all(dot_fp32(w, a))
    assert bits_of_all(dot_fp32(w, a, lane_mask=0)) == [0] * 30
    ops = fp32_preprocess(w, a)
    for mask in (0xFFF000, 0x800000, 0x00FFFF):
        blk = dot_fp32_block(w, a, lane_mask=mask)
        assert blk.acc.tolist() == [sum((int(x) & mask) * int(y) for x, y in zip(wr, ar))
                                    for wr, ar in zip(ops.walign, ops.afix)]
        assert blk.scale.tolist() == (ops.emax - FP32_SCALE_OFFSET).tolist()      # Emax is not masked
        assert bits_of_all(dot_fp32(w, a, lane_mask=mask)) == bits_of_all(repack_fp32(blk.acc, blk.scale))
    with pytest.raises(ValueError, match=r"lane_mask must be an integer in \[0, 16777215\], got -1"):
        dot_fp32(w, a, lane_mask=-1)


def bits_of_all(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32).tolist()


def test_dot_fp32_nonfinite_nan():
    w = f32(1.0, 2.0, 3.0, 4.0)
    a = f32(1.0, 1.0, 1.0, 1.0)
    rows_w = np.stack([w, f32(1.0, np.inf, 3.0, 4.0), f32(1.0, 2.0, 3.0, 4.0), f32(-np.inf, 0, 0, 0)])
    rows_a = np.stack([a, a, f32(1.0, 1.0, np.nan, 1.0), a])
    got = bits_of_all(dot_fp32(rows_w, rows_a, nonfinite="nan"))
    assert got == [bits_of(10.0), FP32_NAN, FP32_NAN, FP32_NAN]
    assert fp32_nonfinite(rows_w, rows_a).tolist() == [False, True, True, True]
    # the non-finite pair is removed like an exact zero: the cycles are those of the zeroed pass
    zw, za = rows_w.copy(), rows_a.copy()
    zw[1, 1] = za[2, 2] = zw[3, 0] = 0.0
    assert pass_cycles_fp32(rows_w, rows_a, nonfinite="nan").tolist() == pass_cycles_fp32(zw, za).tolist()
    assert bits_of_all(dot_fp32(zw, za)) == [bits_of(10.0), bits_of(8.0), bits_of(7.0), 0]
    # finite passes are unchanged, and the default still refuses
    assert bits_of(dot_fp32(w, a, nonfinite="nan")) == bits_of(dot_fp32(w, a))
    with pytest.raises(ValueError, match=r"w must be finite, got inf"):
        dot_fp32(rows_w, rows_a)
    with pytest.raises(ValueError, match=r"nonfinite must be one of 'refuse', 'nan', got 'zero'"):
        dot_fp32(w, a, nonfinite="zero")
    with pytest.raises(TypeError, match=r"a must be a float32 array, got dtype float64"):
        fp32_nonfinite(w, np.ones(4))


def test_pe_stream_timing():
    tm = pe_stream_timing([3, 1, 5, 0], load_cycles=2)
    assert tm.steps.tolist() == [3, 1, 5, 1]
    assert tm.last_beat.tolist() == [1, 4, 6, 11]          # intervals max(steps, 2) = 3, 2, 5
    assert tm.out_valid.tolist() == [7, 8, 14, 15]         # last beat + steps + 3
    assert tm.counter.tolist() == [4, 5, 10, 10]           # later passes' steps run before a result
    tm = pe_stream_timing([8, 9, 12], load_cycles=1)
    assert tm.last_beat.tolist() == [0, 8, 17] and tm.out_valid.tolist() == [11, 20, 32]
    assert np.diff(tm.out_valid).tolist() == [9, 12]       # steps >= L: results exactly steps apart
    assert tm.counter.tolist() == [10, 19, 29]
    # fp32: the decoder's max tree takes the cycle after a beat, so a pass's block exponent is ready two
    # cycles after its last beat; it moves into the aligned registers then (move_p = 3, 6, 9, 12) or once
    # they are free, and enters the compute registers a cycle later at the earliest (start_p = 4, 7, 10,
    # 15: intervals max(steps, L + 1) = 3, 3, 5); the next pass's beats follow from the move; the
    # repack's stage adds one cycle to every result
    tm = pe_stream_timing([3, 1, 5, 0], load_cycles=2, mode="fp32")
    assert tm.last_beat.tolist() == [1, 4, 7, 10]
    assert tm.out_valid.tolist() == [11, 12, 19, 20]       # start + steps + 4
    assert tm.counter.tolist() == [4, 5, 10, 10]
    # L = 1: pass 2 is taken while pass 1 waits in the aligned registers (move_1 = 4), and moves the
    # cycle after pass 1 enters the compute registers (start_1 = 11 = start_0 + steps_0, move_2 = 12)
    tm = pe_stream_timing([8, 9, 12], load_cycles=1, mode="fp32")
    assert tm.last_beat.tolist() == [0, 2, 4] and tm.out_valid.tolist() == [15, 24, 36]
    assert np.diff(tm.out_valid).tolist() == [9, 12]       # steps > L: results exactly steps apart
    assert tm.counter.tolist() == [11, 20, 29]
    # ... which costs a cycle when the pass in the compute registers takes one step: pass 2 moves in
    # cycle 12 (not 11, when pass 1 enters the compute registers) and enters them in 13, not 12
    tm = pe_stream_timing([8, 1, 1], load_cycles=1, mode="fp32")
    assert tm.last_beat.tolist() == [0, 2, 4] and tm.out_valid.tolist() == [15, 16, 18]
    assert tm.counter.tolist() == [10, 10, 10]
    with pytest.raises(ValueError, match=r"mode must be one of 'fixed', 'fp32', got 'float'"):
        pe_stream_timing([1], load_cycles=1, mode="float")
    assert pe_stream_timing(np.array([], dtype=np.int64), load_cycles=4).steps.size == 0
    with pytest.raises(ValueError, match=r"load_cycles must be an integer in \[1, 64\], got 0"):
        pe_stream_timing([1], load_cycles=0)
    with pytest.raises(ValueError, match=r"cycles must hold integers >= 0, got -1"):
        pe_stream_timing([1, -1], load_cycles=1)
    with pytest.raises(ValueError, match=r"cycles must have 1 dimensions"):
        pe_stream_timing([[1]], load_cycles=1)


def _pe_stream_timing_quadratic(cycles, load_cycles, mode):
    """Oracle: pe_stream_timing as first written, with its P x P matrix for the counter (small inputs only)."""
    c = np.asarray(cycles, dtype=np.int64)
    fp = mode == "fp32"
    steps = np.maximum(c, 1)
    if fp:
        start = np.zeros(steps.size, dtype=np.int64)
        last_beat = np.zeros(steps.size, dtype=np.int64)
        move, done = 0, 0
        for p in range(steps.size):
            last_beat[p] = move + load_cycles - 1
            move = max(last_beat[p] + 2, start[p - 1] + 1 if p else 0)
            start[p] = max(move + 1, done)
            done = start[p] + steps[p]
    else:
        interval = np.maximum(steps, load_cycles)
        start = load_cycles - 1 + np.concatenate([[0], np.cumsum(interval)[:-1]]).astype(np.int64)
        last_beat = start
    out_valid = start + steps + (4 if fp else 3)
    ran = np.clip(out_valid[:, None] - 1 - start[None, :], 0, steps[None, :])
    return steps, last_beat, out_valid, ran.sum(axis=1).astype(np.int64)


@pytest.mark.parametrize("mode", ["fixed", "fp32"])
@settings(max_examples=200, deadline=None, derandomize=True)
@given(cycles=st.lists(st.integers(0, 20) | st.sampled_from([0, 1, 64, 1000]), max_size=40),
       load_cycles=st.integers(1, 8))
def test_pe_stream_timing_matches_quadratic_oracle(mode, cycles, load_cycles):
    cycles = np.array(cycles, dtype=np.int64)
    tm = pe_stream_timing(cycles, load_cycles=load_cycles, mode=mode)
    want = _pe_stream_timing_quadratic(cycles, load_cycles, mode)
    for got, exp in zip(tm, want):
        assert got.dtype == np.int64 and got.tolist() == exp.tolist()


@pytest.mark.parametrize("mode", ["fixed", "fp32"])
def test_pe_stream_timing_memory_is_linear(mode):
    """200,000 passes: the P x P counter matrix asked for 298 GiB; a few arrays of P int64 remain."""
    import tracemalloc
    p = 200_000
    cycles = np.tile(np.array([3, 0, 9, 1, 17, 2, 5, 8]), p // 8)
    tracemalloc.start()
    try:
        tm = pe_stream_timing(cycles, load_cycles=4, mode=mode)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 8 * p                                      # under 40 int64 values per pass (64 MB)
    # the oracle on the first 800 passes; a counter also sees the steps of the few passes that start before
    # its result, so the last ones of the 800 are left out
    small = _pe_stream_timing_quadratic(cycles[:800], 4, mode)
    assert [a[:700].tolist() for a in tm] == [a[:700].tolist() for a in small]


def test_pe_stream_timing_refuses_int64_overflow():
    top = (1 << 63) - 1
    # the last result's cycle is the largest number: one pass, fixed (L - 1) + steps + 3, fp32 (L + 2) + steps + 4
    tm = pe_stream_timing([top - 3], load_cycles=1)
    assert tm.out_valid.tolist() == [top] and tm.counter.tolist() == [top - 3]
    tm = pe_stream_timing([top - 10], load_cycles=4, mode="fp32")
    assert tm.last_beat.tolist() == [3] and tm.out_valid.tolist() == [top] and tm.counter.tolist() == [top - 10]
    with pytest.raises(ValueError, match=r"^cycles are too large for int64: the stream's last result would be valid in "
                                         rf"cycle {top + 1} \(> 2\*\*63 - 1\)$"):
        pe_stream_timing([top - 2], load_cycles=1)
    with pytest.raises(ValueError, match=rf"cycle {top + 1} \(> 2\*\*63 - 1\)$"):
        pe_stream_timing([top - 9], load_cycles=4, mode="fp32")
    # near 2**62 per pass the sums wrapped to negative cycles
    with pytest.raises(ValueError, match=rf"valid in cycle {2**63 + 3} \("):
        pe_stream_timing([2**62, 2**62], load_cycles=1)
    with pytest.raises(ValueError, match=rf"valid in cycle {2**63 + 7} \("):         # start_1 = 3 + 2**62
        pe_stream_timing([2**62, 2**62], load_cycles=1, mode="fp32")


# -- found by the fuzz harness (tests/fuzz/) -----------------------------------------------------------

def test_pass_cycles_bitsim_names_w_twos():
    from golden.bitlet import pass_cycles_bitsim
    with pytest.raises(TypeError, match="^w_twos must be an array of integers"):
        pass_cycles_bitsim(None)
