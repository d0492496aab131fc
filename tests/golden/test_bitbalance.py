"""Golden model of Bit-balance (golden/bitbalance.py): projection, encoding, PE dot product."""

import numpy as np
import pytest
from hypothesis import given

from golden import bitbalance as bb
from golden.bits import twos_range
from tests.golden.sign_magnitude_cases import SETTINGS, bits_and_limit, case, dot_case, nearest_brute


def _allowed_brute(bits, k):
    return [v for v in range(1 << (bits - 1)) if bin(v).count("1") <= k]


# ---------------------------------------------------------------------------------------------- config

def test_config_defaults_hand_worked():
    c = bb.BitBalanceConfig()
    assert (c.bits, c.k, c.pe_length, c.act_bits) == (8, 3, 16, 8)
    assert c.pos_width == 3                   # positions 0..6
    assert c.encoded_bits == 1 + 3 * (3 + 1)  # sign + 3 x (valid + pos) = 13
    assert c.max_magnitude == 112             # 0b1110000
    assert c.product_width == 15              # 112 * 128 = 14336 < 2**14
    assert c.acc_width == 19          # 16 * 14336 = 229376 in [2**17, 2**18)
    assert c.cycles_per_group == 3
    assert c.allowed_magnitudes().size == 1 + 7 + 21 + 35


@pytest.mark.parametrize("bits,k,pos_width,enc,maxmag", [
    (2, 1, 1, 3, 1), (8, 1, 3, 5, 64), (8, 7, 3, 29, 127), (16, 15, 4, 76, 32767), (4, 2, 2, 7, 6),
])
def test_config_corners(bits, k, pos_width, enc, maxmag):
    c = bb.BitBalanceConfig(bits=bits, k=k)
    assert (c.pos_width, c.encoded_bits, c.max_magnitude) == (pos_width, enc, maxmag)


@pytest.mark.parametrize("bits,k,g,a", [(8, 3, 16, 8), (8, 1, 1, 2), (16, 15, 64, 16), (2, 1, 16, 8)])
def test_accumulator_width_is_tight_and_holds_every_cycle(bits, k, g, a):
    c = bb.BitBalanceConfig(bits=bits, k=k, pe_length=g, act_bits=a)
    amin, amax = twos_range(a)
    lo, hi = twos_range(c.acc_width)
    w = np.full(g, c.max_magnitude)
    # worst positive: -M * amin per lane; worst negative: M * amin
    pos = bb.cycle_partial_sums(-w, np.full(g, amin), bits=bits, k=k, act_bits=a)
    neg = bb.cycle_partial_sums(w, np.full(g, amin), bits=bits, k=k, act_bits=a)
    assert pos[-1] == g * c.max_magnitude * -amin and neg[-1] == -pos[-1]
    assert lo <= neg.min() and pos.max() <= hi
    lo1, hi1 = twos_range(c.acc_width - 1)
    assert pos[-1] > hi1 or neg[-1] < lo1


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(bits=1), ValueError, r"bits must be an integer in \[2, 16\], got 1"),
    (dict(bits=17), ValueError, r"bits must be an integer in \[2, 16\], got 17"),
    (dict(k=0), ValueError, r"k must be an integer in \[1, 7\]"),
    (dict(k=8), ValueError, r"k must be an integer in \[1, 7\].*got 8"),
    (dict(bits=4, k=4), ValueError, r"k must be an integer in \[1, 3\]"),
    (dict(k=2.0), TypeError, r"k must be an integer.*float"),
    (dict(pe_length=0), ValueError, r"pe_length must be an integer"),
    (dict(act_bits=1), ValueError, r"act_bits must be an integer in \[2, 32\]"),
    (dict(bits=True), TypeError, r"bits must be an integer"),
])
def test_config_refuses(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        bb.BitBalanceConfig(**kwargs)


def test_config_is_frozen():
    c = bb.BitBalanceConfig()
    with pytest.raises(AttributeError):
        c.k = 4


# ---------------------------------------------------------------------------------------------- projection

def test_allowed_magnitudes_hand():
    assert bb.allowed_magnitudes(8, 1).tolist() == [0, 1, 2, 4, 8, 16, 32, 64]
    assert bb.allowed_magnitudes(4, 2).tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert bb.allowed_magnitudes(4, 3).tolist() == list(range(8))
    with pytest.raises(ValueError):          # read-only cache
        bb.allowed_magnitudes(8, 3)[0] = 5


def test_project_hand_worked():
    # k=1: 3 -> 2|4 tie -> 2; 6 -> 4|8 tie -> 4; 7 -> 8 (1 vs 3); 96 -> 64 (128 is out of range); 127 -> 64
    q = [3, 6, 7, 12, 96, 127, -7, 0, -3, -127, 1]
    assert bb.project(q, k=1).tolist() == [2, 4, 8, 8, 64, 64, -8, 0, -2, -64, 1]
    # k=2: 7 -> 6|8 tie -> 6; 11 -> 10|12 tie -> 10; 13 = 0b1101 -> 12; 127 -> 96; 100 -> 96
    assert bb.project([7, 11, 13, 127, -127, 100, 5], k=2).tolist() == [6, 10, 12, 96, -96, 96, 5]
    # k=3: 15 -> 14|16 tie -> 14; 127 -> 112 (the largest allowed); 75 = 0b1001011 -> 74|76 tie -> 74;
    # 79 = 0b1001111 -> 76|80 -> 80 (3 vs 1); -23 = -0b10111 -> -22|-24 tie -> -22
    assert bb.project([15, 127, 75, 79, -23], k=3).tolist() == [14, 112, 74, 80, -22]
    assert bb.project(5, k=1).tolist() == 4 and bb.project(5, k=1).shape == ()


def test_project_k_max_is_identity_and_shape_kept():
    q = np.arange(-127, 128).reshape(5, 51)
    out = bb.project(q, bits=8, k=7)
    assert out.shape == q.shape and np.array_equal(out, q) and out.dtype == np.int64
    assert bb.project(np.zeros((0, 3), dtype=np.int8)).shape == (0, 3)


def test_project_accepts_small_integer_dtypes():
    q = np.array([-127, -100, 0, 77, 127], dtype=np.int8)
    assert bb.project(q).tolist() == bb.project(q.astype(np.int64)).tolist() == [-112, -100, 0, 76, 112]


def test_project_large_bits():
    # 12288 = 8192 + 4096 is a tie -> 8192; 12289 -> 16384
    assert bb.project([32767, -32767, 12288, 12289], bits=16, k=1).tolist() == [16384, -16384, 8192, 16384]
    assert bb.project([32767], bits=16, k=15).tolist() == [32767]


@given(case())
@SETTINGS
def test_project_properties(c):
    bits, k, q = c
    out = bb.project(q, bits=bits, k=k)
    assert all(bin(abs(int(v))).count("1") <= k for v in out)                # at most k ones
    assert np.array_equal(np.sign(out) * np.sign(q) >= 0, np.ones(q.shape, bool))  # sign kept (or zero)
    assert np.array_equal(bb.project(out, bits=bits, k=k), out)               # idempotent
    allowed = _allowed_brute(bits, k)
    assert out.tolist() == [nearest_brute(int(v), allowed) for v in q]       # nearest, ties smaller


@given(bits_and_limit(12))
@SETTINGS
def test_allowed_magnitudes_match_brute_force(bk):
    bits, k = bk
    assert bb.allowed_magnitudes(bits, k).tolist() == _allowed_brute(bits, k)


@pytest.mark.parametrize("q,exc,msg", [
    ([-128], ValueError, r"q holds -128 at index \(0,\), which has no 8-bit sign-magnitude code"),
    ([1, 128], ValueError, r"q must hold integers in \[-127, 127\], got 128 at index \(1,\)"),
    ([-200], ValueError, r"q must hold integers in \[-127, 127\], got -200"),
    (np.array([1.0, 2.0]), TypeError, r"q must be an array of integers, got dtype float64 \(quantize it first\)"),
    (np.array([np.nan]), TypeError, r"q must be an array of integers, got dtype float64"),
    (np.array([np.inf]), TypeError, r"q must be an array of integers"),
    (np.array([True]), TypeError, r"q must be an array of integers, got dtype bool"),
])
def test_project_refuses(q, exc, msg):
    with pytest.raises(exc, match=msg):
        bb.project(q)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(k=0), r"k must be an integer in \[1, 7\]"),
    (dict(k=8), r"k must be an integer in \[1, 7\]"),
    (dict(bits=17), r"bits must be an integer in \[2, 16\]"),
])
def test_project_refuses_parameters(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        bb.project([1], **kwargs)


# ---------------------------------------------------------------------------------------------- per layer

def test_project_layers_sequence_and_dict():
    layers = [np.array([7, 127]), np.array([[7, -127]])]
    out = bb.project_layers(layers, k=[1, 2])
    assert isinstance(out, list)
    assert out[0].tolist() == [8, 64] and out[1].tolist() == [[6, -96]]
    assert [o.tolist() for o in bb.project_layers(layers, k=3)] == [[7, 112], [[7, -112]]]
    d = bb.project_layers({"conv1": layers[0], "fc": layers[1]}, k={"fc": 1, "conv1": 2})
    assert list(d) == ["conv1", "fc"] and d["conv1"].tolist() == [6, 96] and d["fc"].tolist() == [[8, -64]]
    assert bb.project_layers({"a": [3]}, bits=4, k=1)["a"].tolist() == [2]


@pytest.mark.parametrize("layers,k,exc,msg", [
    ([[1], [2]], [1], ValueError, r"k must have one entry per layer \(2\), got 1"),
    ([[1]], {"a": 1}, TypeError, r"k must be an int or a sequence when layers is a sequence"),
    ({"a": [1]}, {"b": 1}, ValueError, r"k must have exactly the keys of layers; missing \['a'\], extra \['b'\]"),
    ({"a": [1]}, [1], TypeError, r"k must be an int or a mapping"),
    ([[1]], [0], ValueError, r"k must be an integer in \[1, 7\]"),
    ("abc", 1, TypeError, r"layers must be a sequence or a mapping"),
])
def test_project_layers_refuses(layers, k, exc, msg):
    with pytest.raises(exc, match=msg):
        bb.project_layers(layers, k=k)


# ---------------------------------------------------------------------------------------------- encoding

def test_encode_hand_worked():
    c = bb.encode(np.array([5, -112, 0, 1]))
    assert c.sign.tolist() == [0, 1, 0, 0]
    assert c.pos.tolist() == [[2, 0, 0], [6, 5, 4], [0, 0, 0], [0, 0, 0]]     # MSB first
    assert c.valid.tolist() == [[1, 1, 0], [1, 1, 1], [0, 0, 0], [1, 0, 0]]
    assert (c.bits, c.k, c.shape) == (8, 3, (4,))
    # packed: slot j in bits [4j, 4j+4) as (valid<<3 | pos), sign at bit 12
    assert bb.pack(c).tolist() == [(8 | 2) | (8 | 0) << 4, 4096 | (8 | 6) | (8 | 5) << 4 | (8 | 4) << 8, 0, 8]
    assert bb.pack(c).tolist() == [138, 7390, 0, 8]


@given(case())
@SETTINGS
def test_encode_decode_pack_round_trip(c):
    bits, k, q = c
    p = bb.project(q, bits=bits, k=k)
    code = bb.encode(p, bits=bits, k=k)
    assert np.array_equal(bb.decode(code), p)
    words = bb.pack(code)
    assert words.max() < (1 << bb.BitBalanceConfig(bits=bits, k=k).encoded_bits)
    back = bb.unpack(words, bits=bits, k=k)
    assert np.array_equal(back.sign, code.sign) and np.array_equal(back.pos, code.pos)
    assert np.array_equal(back.valid, code.valid) and np.array_equal(bb.decode(back), p)


def test_encode_refuses_too_many_ones():
    with pytest.raises(ValueError, match=r"q holds -7 at index \(1,\), whose magnitude has 3 one-bits, more than k=2"):
        bb.encode([6, -7], k=2)
    with pytest.raises(ValueError, match=r"no 8-bit sign-magnitude code"):
        bb.encode([-128])


def _code(sign, pos, valid, bits=8, k=3):
    return bb.BitBalanceCode(np.array(sign), np.array(pos), np.array(valid), bits, k)


@pytest.mark.parametrize("code,exc,msg", [
    (_code([0], [[3, 3, 0]], [[1, 1, 0]]), ValueError, r"not canonical at index \(0,\).*strictly decreasing"),
    (_code([0], [[1, 3, 0]], [[1, 1, 0]]), ValueError, r"strictly decreasing"),
    (_code([0], [[0, 3, 0]], [[0, 1, 0]]), ValueError, r"used slots must come first"),
    (_code([0], [[3, 0, 2]], [[1, 0, 0]]), ValueError, r"an unused slot must have pos 0"),
    (_code([1], [[0, 0, 0]], [[0, 0, 0]]), ValueError, r"no negative zero"),
    (_code([0], [[7, 0, 0]], [[1, 0, 0]]), ValueError, r"pos must hold integers in \[0, 6\], got 7"),
    (_code([2], [[0, 0, 0]], [[0, 0, 0]]), ValueError, r"sign must hold integers in \[0, 1\]"),
    (_code([0], [[0, 0]], [[0, 0]]), ValueError, r"pos and valid must have shape sign.shape \+ \(k,\)"),
    (_code([0], [[0.0, 0, 0]], [[0, 0, 0]]), TypeError, r"pos must be an array of integers"),
    (np.array([1]), TypeError, r"code must be a BitBalanceCode"),
])
def test_decode_refuses(code, exc, msg):
    with pytest.raises(exc, match=msg):
        bb.decode(code)


def test_unpack_refuses():
    with pytest.raises(ValueError, match=r"words must hold integers in \[0, 8191\], got 8192"):
        bb.unpack([8192])
    with pytest.raises(ValueError, match=r"words holds a position 7 > bits-2 = 6"):
        bb.unpack([8 | 7])
    with pytest.raises(ValueError, match=r"no negative zero"):
        bb.unpack([4096])


# ---------------------------------------------------------------------------------------------- dot

def test_cycle_partial_sums_hand_worked():
    w = np.array([5, -112, 0])
    x = np.array([3, -128, 127])
    # cycle 0: 3<<2 + -(-128<<6) = 12 + 8192; cycle 1: + 3<<0 + 4096; cycle 2: + 2048
    ps = bb.cycle_partial_sums(w, x)
    assert ps.tolist() == [8204, 12303, 14351]
    assert bb.dot(w, x).tolist() == 14351 == int(w @ x)
    assert bb.dot(bb.encode(w), x).tolist() == 14351


def test_dot_broadcasts_rows_and_batches():
    rng = np.random.default_rng(1)
    q = bb.project(rng.integers(-127, 128, (6, 16)))
    x = rng.integers(-128, 128, 16)
    assert np.array_equal(bb.dot(q, x), q @ x)
    xb = rng.integers(-128, 128, (4, 1, 16))
    assert np.array_equal(bb.dot(q, xb), np.einsum("ng,bqg->bn", q, xb))
    assert bb.cycle_partial_sums(q, xb).shape == (3, 4, 6)


@given(dot_case())
@SETTINGS
def test_dot_equals_matmul(c):
    bits, k, q, a, x = c
    p = bb.project(q, bits=bits, k=k)
    ps = bb.cycle_partial_sums(p, x, bits=bits, k=k, act_bits=a)
    assert ps.shape == (k,)
    assert int(ps[-1]) == int(p @ x) == int(bb.dot(bb.encode(p, bits=bits, k=k), x, act_bits=a))
    cfg = bb.BitBalanceConfig(bits=bits, k=k, pe_length=q.size, act_bits=a)
    wlo, whi = twos_range(cfg.acc_width)
    assert wlo <= ps.min() and ps.max() <= whi


def test_dot_most_negative_activations_and_extremes():
    x = np.full(16, -128)
    w = np.full(16, -112)
    assert bb.dot(w, x).tolist() == 16 * 112 * 128
    assert bb.dot(-w, x).tolist() == -16 * 112 * 128
    assert bb.dot(np.zeros(16, dtype=np.int64), x).tolist() == 0
    assert bb.cycle_partial_sums(np.full(4, 64), np.full(4, -128), k=1).tolist() == [-4 * 64 * 128]


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: bb.dot([1, 2], [1, 2, 3]), ValueError, r"weights have 2 lanes but x has 3"),
    (lambda: bb.dot([1, 2], [1, 128]), ValueError, r"x must hold integers in \[-128, 127\], got 128"),
    (lambda: bb.dot([1, 2], [1, -129]), ValueError, r"x must hold integers in \[-128, 127\], got -129"),
    (lambda: bb.dot([1, 2], [1.5, 2]), TypeError, r"x must be an array of integers"),
    (lambda: bb.dot([1, 2], [np.nan, 2]), TypeError, r"x must be an array of integers"),
    (lambda: bb.dot([7, 2], [1, 2], k=2), ValueError, r"more than k=2"),
    (lambda: bb.dot(3, 1), ValueError, r"need a lane \(last\) axis"),
    (lambda: bb.dot(bb.encode([1, 2]), [1, 2], k=2), ValueError, r"k=2 does not match the code's k=3"),
    (lambda: bb.dot(bb.encode([1, 2]), [1, 2], bits=9), ValueError, r"bits=9 does not match the code's bits=8"),
    (lambda: bb.dot([1, 2], [1, 2], act_bits=1), ValueError, r"act_bits must be an integer in \[2, 32\]"),
    (lambda: bb.dot(np.ones((2, 4)), [1, 2, 3, 4]), TypeError, r"w must be an array of integers"),
    (lambda: bb.dot(np.ones((3, 4), int), np.ones((2, 4), int)), ValueError, r"do not broadcast"),
])
def test_dot_refuses(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# -- found by the fuzz harness (tests/fuzz/) -----------------------------------------------------------

def test_dot_names_w_for_bad_weights():
    with pytest.raises(TypeError, match="^w must be an array of integers"):
        bb.dot(np.array([0.5]), np.array([1]))
    with pytest.raises(ValueError, match="^w holds 7 at index"):
        bb.dot(np.array([7]), np.array([1]), k=2)


def test_project_layers_takes_a_0d_k_as_one_budget():
    with pytest.raises(TypeError, match="k must be an integer"):
        bb.project_layers([np.array([3])], k=np.array(2))
