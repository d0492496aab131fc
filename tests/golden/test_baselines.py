"""golden.baselines: Stripes, Pragmatic (on weights) and bit-parallel golden dot products and widths."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden.baselines import (
    DenseConfig, PragmaticConfig,
    parallel_cycle_sums, parallel_dot, pragmatic_cycle_sums, pragmatic_dot, pragmatic_pass_cycles,
    stripes_cycle_sums, stripes_dot,
)


def test_stripes_hand_example():
    # B=4: 3 = 0011, -2 = 1110; MSB first: b3 colsum 7 -> -7; b2: 2*-7+7 = -7; b1: 2*-7+12 = -2; b0: -4+5 = 1
    cfg = DenseConfig(bits=4, pe_length=2)
    assert stripes_cycle_sums([3, -2], [5, 7], cfg).tolist() == [-7, -7, -2, 1]
    assert int(stripes_dot([3, -2], [5, 7], cfg)) == 3 * 5 - 2 * 7


def test_pragmatic_hand_example():
    # B=4: |5| = 101 (offsets 2, 0), |-3| = 011 (offsets 1, 0), MSB-first offsets
    # cycle 0: +(2<<2) - (10<<1) = -12; cycle 1: +(2<<0) - (10<<0) = -8 -> -20
    cfg = PragmaticConfig(bits=4, pe_length=2)
    sums, cycles = pragmatic_cycle_sums([[5, -3], [0, 0], [4, 0]], [[2, 10], [3, 3], [1, 1]], cfg)
    assert sums.tolist() == [[-12, -20], [0, 0], [4, 4]]
    assert cycles.tolist() == [2, 1, 1]            # an all-zero pass still costs 1 cycle
    assert pragmatic_pass_cycles([[5, -3], [0, 0], [7, 1]], cfg).tolist() == [2, 1, 3]
    assert int(pragmatic_dot([5, -3], [2, 10], cfg)) == -20


def test_parallel_one_cycle():
    cfg = DenseConfig(bits=4, pe_length=3)
    assert parallel_cycle_sums([-8, 7, 1], [1, 2, -3], cfg).tolist() == [3]
    assert int(parallel_dot([-8, 7, 1], [1, 2, -3], cfg)) == 3


@settings(max_examples=150, deadline=None)
@given(bits=st.integers(2, 12), act_bits=st.integers(2, 12), lanes=st.integers(1, 32),
       batch=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_all_equal_matmul(bits, act_bits, lanes, batch, seed):
    rng = np.random.default_rng(seed)
    m = 2 ** (bits - 1) - 1
    w_tc = rng.integers(-m - 1, m + 1, size=(batch, lanes))
    w_sm = rng.integers(-m, m + 1, size=(batch, lanes))
    x = rng.integers(-2 ** (act_bits - 1), 2 ** (act_bits - 1), size=(batch, lanes))
    kw = dict(bits=bits, pe_length=lanes, act_bits=act_bits)
    s_cfg, p_cfg, b_cfg = DenseConfig(**kw), PragmaticConfig(**kw), DenseConfig(**kw)
    st_sums = stripes_cycle_sums(w_tc, x, s_cfg)
    assert st_sums.shape == (batch, bits)
    assert (st_sums[:, -1] == (w_tc * x).sum(axis=1)).all()
    # Stripes partial sum after cycle j is sum x * (w >> (B-1-j)) (arithmetic shift)
    for j in range(bits):
        assert (st_sums[:, j] == (x * (w_tc >> (bits - 1 - j))).sum(axis=1)).all()
    pr_sums, cycles = pragmatic_cycle_sums(w_sm, x, p_cfg)
    ref = (w_sm * x).sum(axis=1)
    assert (pr_sums[:, -1] == ref).all()
    assert (pr_sums[np.arange(batch), cycles - 1] == ref).all()
    pop = np.array([[bin(abs(int(v))).count("1") for v in row] for row in w_sm])
    assert (cycles == np.maximum(1, pop.max(axis=1))).all()
    assert (parallel_dot(w_tc, x, b_cfg) == (w_tc * x).sum(axis=1)).all()
    # every intermediate value fits the derived accumulator width
    for cfg, sums in ((s_cfg, st_sums), (p_cfg, pr_sums)):
        lim = 2 ** (cfg.acc_width - 1)
        assert sums.min() >= -lim and sums.max() < lim


def test_widths_exact_at_extremes():
    s, p, b = DenseConfig(), PragmaticConfig(), DenseConfig()
    assert s.product_range == (-128 * 127, 128 * 128)
    assert p.product_range == (-127 * 128, 127 * 128)
    assert s.dot_range() == (-16 * 128 * 127, 16 * 16384)
    assert (s.acc_width, p.acc_width, b.acc_width) == (20, 19, 20)
    assert s.acc_width_for(64) == 26 and p.acc_width_for(2) == 20
    # the worst case is reached: 16 x (-128 * -128) = 2**18 needs 20 bits, one less would overflow
    top = int(stripes_dot([-128] * 16, [-128] * 16, s))
    assert top == s.dot_range()[1] == 2 ** 18
    assert top > 2 ** (s.acc_width - 2) - 1
    low = int(pragmatic_dot([127] * 16, [-128] * 16, p))
    assert low == p.dot_range()[0] == -260096 and low < -(2 ** 17)
    assert p.offset_width == 3 and p.max_cycles_per_pass == 7 and p.sync_group == 16
    assert PragmaticConfig(sync_group=4).sync_group == 4


def test_config_validation():
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 1"):
        DenseConfig(bits=1)
    with pytest.raises(TypeError, match="pe_length must be an integer"):
        DenseConfig(pe_length=16.0)
    with pytest.raises(ValueError, match=r"act_bits must be an integer in \[2, 32\], got 0"):
        PragmaticConfig(act_bits=0)
    with pytest.raises(ValueError, match=r"sync_group must be an integer in \[1, 16\] and a divisor of pe_length=16, got 5"):
        PragmaticConfig(sync_group=5)
    with pytest.raises(ValueError, match=r"sync_group must be an integer in \[1, 16\] and a divisor of pe_length=16, got 32"):
        PragmaticConfig(sync_group=32)
    with pytest.raises(ValueError, match=r"passes must be an integer >= 1, got 0"):
        DenseConfig().acc_width_for(0)
    with pytest.raises(AttributeError):
        DenseConfig().bits = 4  # frozen


def test_operand_refusals():
    with pytest.raises(ValueError, match=r"w_group must hold integers in \[-127, 127\], got -128"):
        pragmatic_cycle_sums([-128, 1], [1, 1])
    with pytest.raises(ValueError, match=r"w_group must hold integers in \[-8, 7\], got 8"):
        stripes_cycle_sums([8], [1], DenseConfig(bits=4))
    with pytest.raises(TypeError, match="w_group must be an array of integers, got dtype float64"):
        stripes_cycle_sums([1.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match=r"x must hold integers in \[-128, 127\], got 128"):
        parallel_cycle_sums([1], [128])
    with pytest.raises(ValueError, match="same lane count"):
        stripes_cycle_sums([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match=r"lane count \(last axis of w_group\) must be in \[1, 2\]"):
        stripes_cycle_sums([1, 2, 3], [1, 2, 3], DenseConfig(pe_length=2))
    with pytest.raises(ValueError, match="do not broadcast"):
        parallel_cycle_sums(np.ones((2, 3), dtype=int), np.ones((3, 3), dtype=int))
    with pytest.raises(TypeError, match="config must be a DenseConfig, got PragmaticConfig"):
        stripes_cycle_sums([1], [1], PragmaticConfig())
    with pytest.raises(TypeError, match="config must be a PragmaticConfig"):
        pragmatic_pass_cycles([1], DenseConfig())
    with pytest.raises(ValueError, match="w_group must have a lane axis"):
        pragmatic_pass_cycles(np.int64(3))
