"""golden.quant: symmetric per-channel / per-tensor INT-B quantization."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from golden.quant import dequantize, qmax, quantize


def test_exact_tiny_example_round_half_even():
    # bits=3 -> q in [-3, 3]; scales are exact binary fractions so the ties are real ties
    w = np.array([[1.5, -3.0, 0.5],     # scale 1: 1.5 -> 2 (half to even), 0.5 -> 0
                  [0.0, 0.0, 0.0],      # all-zero channel -> scale 1.0, q 0
                  [1.0, 6.0, -3.0]])    # scale 2: 0.5 -> 0, 3, -1.5 -> -2
    q, s = quantize(w, bits=3)
    assert q.dtype == np.int64 and s.dtype == np.float64
    assert q.tolist() == [[2, -3, 0], [0, 0, 0], [0, 3, -2]]
    assert s.tolist() == [1.0, 1.0, 2.0]
    assert dequantize(q, s).tolist() == [[2.0, -3.0, 0.0], [0.0, 0.0, 0.0], [0.0, 6.0, -4.0]]


def test_per_tensor_exact():
    w = np.array([[1.5, -3.0], [0.5, 2.5]])
    q, s = quantize(w, bits=3, per_channel=False)
    assert s.shape == () and float(s) == 1.0
    assert q.tolist() == [[2, -3], [0, 2]]


def test_int8_max_maps_to_127_and_never_minus_128():
    rng = np.random.default_rng(1)
    w = rng.laplace(size=(8, 16, 3, 3))
    q, s = quantize(w)
    assert q.min() >= -127 and q.max() <= 127
    assert (np.abs(q).reshape(8, -1).max(axis=1) == 127).all()
    assert s.shape == (8,)


def test_per_channel_matters():
    rng = np.random.default_rng(2)
    small = rng.uniform(-0.35, 0.35, size=32)
    small[0] = 0.35
    # channel 1 is 300x larger: the per-tensor LSB (105/127 ~ 0.83) is > 2*max|small|, so all round to 0
    w = np.stack([small, 300.0 * small[::-1]])
    q_t, _ = quantize(w, per_channel=False)
    q_c, s_c = quantize(w, per_channel=True)
    assert (q_t[0] == 0).all()                # per-tensor: the small channel vanishes
    assert (q_t[1] == q_c[1]).all()           # the large channel is the same either way
    assert np.abs(q_c[0]).max() == 127        # per-channel: it keeps its full resolution
    err = np.abs(dequantize(q_c, s_c)[0] - small)
    assert err.max() <= s_c[0] / 2


def test_axis_other_than_zero():
    w = np.array([[1.0, 10.0], [-2.0, 5.0]])
    q, s = quantize(w, bits=4, axis=1)            # qmax 7, columns are channels
    assert s.tolist() == [2.0 / 7, 10.0 / 7]
    assert q.tolist() == [[4, 7], [-7, 4]]        # 3.5 -> 4 (even), 3.5 -> 4
    np.testing.assert_allclose(dequantize(q, s, axis=1), q * np.array([2.0 / 7, 10.0 / 7]))


def test_qmax():
    assert qmax(8) == 127 and qmax(2) == 1 and qmax(16) == 32767


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 16), st.booleans(), st.integers(0, 2**31 - 1))
def test_round_trip_error_at_most_half_scale(bits, per_channel, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, 6)) * rng.uniform(0.01, 100, size=(4, 1))
    q, s = quantize(w, bits=bits, per_channel=per_channel)
    m = 2 ** (bits - 1) - 1
    assert np.abs(q).max() <= m
    back = dequantize(q, s)
    sb = s.reshape(-1, 1) if per_channel else s
    assert (np.abs(back - w) <= sb / 2 * (1 + 1e-12)).all()


def test_integer_input_accepted():
    q, s = quantize(np.array([[3, -6]], dtype=np.int32), bits=3)
    assert q.tolist() == [[2, -3]] and s.tolist() == [2.0]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_refuses_nonfinite(bad):
    with pytest.raises(ValueError, match="w must be finite"):
        quantize(np.array([[1.0, bad]]))


def test_refuses_bad_dtypes_and_params():
    with pytest.raises(TypeError, match="w must be a numeric array, got dtype bool"):
        quantize(np.array([[True, False]]))
    with pytest.raises(TypeError, match="w must be a numeric array, got dtype complex128"):
        quantize(np.array([[1 + 1j]]))
    with pytest.raises(TypeError, match="w must be a numeric array, got dtype <U1"):
        quantize(np.array([["a"]]))
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 1"):
        quantize(np.ones((2, 2)), bits=1)
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 17"):
        quantize(np.ones((2, 2)), bits=17)
    with pytest.raises(TypeError, match="bits must be an integer"):
        quantize(np.ones((2, 2)), bits=8.0)
    with pytest.raises(TypeError, match="per_channel must be a bool"):
        quantize(np.ones((2, 2)), per_channel=1)
    with pytest.raises(ValueError, match=r"axis must be an integer in \[-2, 1\], got 2"):
        quantize(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match="w must not be empty"):
        quantize(np.ones((0, 2)))
    with pytest.raises(ValueError, match="w must have at least 1 dimension"):
        quantize(np.float64(1.0))


def test_dequantize_refusals():
    with pytest.raises(TypeError, match="q must be an array of integers, got dtype float64"):
        dequantize(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="scales has length 3, q has 2 channels along axis 0"):
        dequantize(np.ones((2, 2), dtype=np.int64), np.ones(3))
    with pytest.raises(ValueError, match=r"scales must be > 0, got 0.0 at index \(1,\)"):
        dequantize(np.ones((2, 2), dtype=np.int64), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="scales must be finite"):
        dequantize(np.ones((2, 2), dtype=np.int64), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="scales must have 0 or 1 dimensions"):
        dequantize(np.ones((2, 2), dtype=np.int64), np.ones((2, 1)))


def test_channel_below_the_normal_range_is_all_zero():
    # max|w| / 127 underflows (5e-324 is the smallest subnormal): the channel is quantized as all-zero
    # with scale 1.0, like an all-zero channel; no division by a zero scale, no wrapped integer
    w = np.array([[5e-324, 0.0, -5e-324], [1.0, -0.5, 0.25]])
    q, s = quantize(w)
    assert q.tolist() == [[0, 0, 0], [127, -64, 32]]          # -63.5 -> -64 (half to even), 31.75 -> 32
    assert s.tolist() == [1.0, 1 / 127]
    q, s = quantize(w[:1], per_channel=False)
    assert q.tolist() == [[0, 0, 0]] and float(s) == 1.0
    # the boundary: max|w| = 127 * 2**-1022 gives the smallest normal scale; one ulp less is all-zero
    edge = 127 * np.finfo(np.float64).tiny
    q, s = quantize(np.array([[edge, -edge / 2], [np.nextafter(edge, 0.0), 1e-310]]))
    assert q.tolist() == [[127, -64], [0, 0]]
    assert s.tolist() == [np.finfo(np.float64).tiny, 1.0]
    assert dequantize(q, s).tolist() == [[edge, -64 * np.finfo(np.float64).tiny], [0.0, 0.0]]
