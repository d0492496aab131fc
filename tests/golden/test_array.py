"""golden.array's depthwise and pooling references: equal to the network engine's arithmetic, and the pool's
requantization exact for every window the engine can pool."""

import numpy as np
import pytest

from golden.array import (MULT_BITS, avg_pool_reference, conv_reference, depthwise_reference,
                          pool_requantization, requantize)


def test_depthwise_reference_is_a_grouped_convolution():
    """Output channel k of the depthwise reference equals a convolution of input channel k alone, and
    network.engine.conv2d with groups = C."""
    from network.engine import conv2d
    rng = np.random.default_rng(3)
    w, x = rng.integers(-9, 9, (6, 1, 3, 3)), rng.integers(-128, 128, (6, 5, 4))
    pad = ((1, 1), (0, 2))
    y = depthwise_reference(w, x, stride=2, padding=pad)
    for k in range(6):
        assert np.array_equal(y[k], conv_reference(w[k:k + 1], x[k:k + 1], stride=2, padding=pad)[0])
    assert np.array_equal(y, conv2d(x[None], w, stride=2, padding=pad, groups=6)[0])
    with pytest.raises(ValueError, match="w must be \\[C, 1, KH, KW\\]"):
        depthwise_reference(np.zeros((6, 2, 3, 3), dtype=int), x)


def test_avg_pool_reference_is_the_network_engines():
    from network.engine import global_avg_pool
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, (5, 7, 7))
    assert np.array_equal(avg_pool_reference(x), global_avg_pool(x[None])[0])
    with pytest.raises(ValueError, match="x must hold integers in \\[-128, 127\\]"):
        avg_pool_reference(x + 128)


@pytest.mark.parametrize("n", [1, 2, 8, 9, 49, 196, 225])
def test_pool_requantization_exact_for_every_window_sum(n):
    """Checked here independently of the search: every sum of n INT8 values, through the engine's output
    stage (golden.array.requantize), is the mean rounded half up."""
    weight, bias, mult, shift = pool_requantization(n)
    assert 1 <= weight <= 127 and 0 <= bias < weight and 0 < mult < 1 << MULT_BITS
    S = np.arange(-128 * n, 127 * n + 1)
    got = requantize((S * weight + bias)[None], np.array([mult]), shift)[0]
    assert np.array_equal(got, (2 * S + n) // (2 * n))


def test_pool_requantization_bad_n():
    with pytest.raises(ValueError, match="n must be an integer in \\[1, 4096\\], got 0"):
        pool_requantization(0)
