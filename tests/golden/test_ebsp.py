"""Golden model of EBSP (golden/ebsp.py): pattern, projection, LOD encoding, LUT dot product, ADMM."""

import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from golden import bitbalance as bb
from golden import ebsp as eb
from golden.bits import twos_range
from tests.golden.sign_magnitude_cases import SETTINGS, bits_and_limit, case, dot_case, nearest_brute


def _span_ok(v, window):
    """Independent pattern test: all one-bits of v within `window` consecutive positions."""
    if v == 0:
        return True
    lsb = (v & -v).bit_length() - 1
    return v.bit_length() - lsb <= window


def _pattern_brute(bits, window):
    return [v for v in range(1 << (bits - 1)) if _span_ok(v, window)]


# ---------------------------------------------------------------------------------------------- config

def test_config_defaults_hand_worked():
    c = eb.EBSPConfig()
    assert (c.bits, c.window, c.pe_length, c.act_bits, c.lut_sharing) == (8, 3, 16, 8, 1)
    assert c.max_shift == 4 and c.shift_width == 3 and c.digit_width == 3
    assert c.encoded_bits == 7                  # sign + 3-bit shift + 3 digits (docs/ebsp.md: 6-7 bits)
    assert c.max_magnitude == 112
    assert c.lut_entries == 8 and c.lut_entry_width == 11   # 7 * -128 = -896 needs 11 bits
    assert c.lut_adders == 3                    # 3x, 5x, 7x
    assert c.product_width == 15 and c.acc_width == 19
    assert c.cycles_per_group == 1
    assert eb.EBSPConfig(lut_sharing=4).lut_adders_per_pe == 0.75


@pytest.mark.parametrize("window,shift_width,encoded,lut_w,adders,maxmag", [
    (1, 3, 5, 8, 0, 64),      # L=1: {0, x}: act_bits wide; shifts 0..6
    (2, 3, 6, 10, 1, 96),
    (4, 2, 7, 12, 7, 120),
    (7, 0, 8, 15, 63, 127),   # L=B-1: plain sign-magnitude, no shift field
])
def test_config_corners(window, shift_width, encoded, lut_w, adders, maxmag):
    c = eb.EBSPConfig(window=window)
    assert (c.shift_width, c.encoded_bits, c.lut_entry_width, c.lut_adders, c.max_magnitude) == \
        (shift_width, encoded, lut_w, adders, maxmag)


@pytest.mark.parametrize("bits,window,g,a", [(8, 3, 16, 8), (8, 1, 1, 2), (16, 15, 64, 16), (2, 1, 16, 8)])
def test_accumulator_and_lut_widths_are_tight(bits, window, g, a):
    c = eb.EBSPConfig(bits=bits, window=window, pe_length=g, act_bits=a)
    amin, amax = twos_range(a)
    w = np.full(g, c.max_magnitude)
    top = eb.dot(-w, np.full(g, amin), bits=bits, window=window, act_bits=a)
    bot = eb.dot(w, np.full(g, amin), bits=bits, window=window, act_bits=a)
    assert top == g * c.max_magnitude * -amin and bot == -top
    lo, hi = twos_range(c.acc_width)
    lo1, hi1 = twos_range(c.acc_width - 1)
    assert lo <= bot and top <= hi and (top > hi1 or bot < lo1)
    t = eb.lut(np.array([amin, amax]), window, act_bits=a)
    lo, hi = twos_range(c.lut_entry_width)
    lo1, hi1 = twos_range(c.lut_entry_width - 1)
    assert lo <= t.min() and t.max() <= hi and (t.min() < lo1 or t.max() > hi1)


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(window=0), ValueError, r"window must be an integer in \[1, 7\]"),
    (dict(window=8), ValueError, r"window must be an integer in \[1, 7\].*got 8"),
    (dict(bits=4, window=4), ValueError, r"window must be an integer in \[1, 3\]"),
    (dict(bits=1), ValueError, r"bits must be an integer in \[2, 16\], got 1"),
    (dict(bits=17), ValueError, r"bits must be an integer in \[2, 16\]"),
    (dict(lut_sharing=0), ValueError, r"lut_sharing must be an integer >= 1, got 0"),
    (dict(window=3.0), TypeError, r"window must be an integer.*float"),
    (dict(pe_length=0), ValueError, r"pe_length must be an integer"),
    (dict(act_bits=33), ValueError, r"act_bits must be an integer in \[2, 32\]"),
])
def test_config_refuses(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        eb.EBSPConfig(**kwargs)


# ---------------------------------------------------------------------------------------------- pattern

def test_pattern_values_literal_from_spec():
    # docs/ebsp.md, pattern: {0..7} u {8,10,12,14} u {16,20,24,28} u {32,40,48,56} u {64,80,96,112}
    expected = list(range(8)) + [8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112]
    assert eb.pattern_values(8, 3).tolist() == expected
    assert len(expected) == 24 and eb.EBSPConfig().pattern_values().tolist() == expected


def test_pattern_corners():
    assert eb.pattern_values(8, 1).tolist() == [0, 1, 2, 4, 8, 16, 32, 64]
    assert eb.pattern_values(8, 1).tolist() == bb.allowed_magnitudes(8, 1).tolist()   # L=1 == k=1
    assert eb.pattern_values(8, 7).tolist() == list(range(128))
    assert eb.pattern_values(2, 1).tolist() == [0, 1]


@given(bits_and_limit(12))
@SETTINGS
def test_pattern_values_match_span_definition(bw):
    bits, window = bw
    assert eb.pattern_values(bits, window).tolist() == _pattern_brute(bits, window)


# ---------------------------------------------------------------------------------------------- projection

def test_project_hand_worked():
    q = [9, 11, 13, 15, 17, 18, 19, 22, 30, 36, 37, 60, 61, 88, 89, 115, 127, -9, 0, -127, 7, -5]
    # ties (9: 8|10, 11: 10|12, 13, 15: 14|16, 18: 16|20, 22, 36: 32|40, 60: 56|64, 88: 80|96) -> smaller
    assert eb.project(q).tolist() == [8, 10, 12, 14, 16, 16, 20, 20, 28, 32, 40, 56, 64, 80, 96, 112, 112,
                                      -8, 0, -112, 7, -5]
    assert eb.project(np.int64(100)).tolist() == 96


def test_project_corners():
    q = np.arange(-127, 128)
    assert np.array_equal(eb.project(q, window=7), q)                         # L = B-1: identity
    assert np.array_equal(eb.project(q, window=1), bb.project(q, k=1))        # L = 1: powers of two
    assert eb.project([32767, -32767], bits=16, window=15).tolist() == [32767, -32767]
    assert eb.project([32767], bits=16, window=3).tolist() == [7 << 12]
    assert eb.project(np.zeros((2, 0), dtype=np.int16)).shape == (2, 0)


@given(case())
@SETTINGS
def test_project_properties(c):
    bits, window, q = c
    out = eb.project(q, bits=bits, window=window)
    assert all(_span_ok(abs(int(v)), window) for v in out)                    # fits its window
    assert np.all(out * q >= 0)                                               # sign kept
    assert np.array_equal(eb.project(out, bits=bits, window=window), out)     # idempotent
    allowed = _pattern_brute(bits, window)
    assert out.tolist() == [nearest_brute(int(v), allowed) for v in q]        # nearest, ties smaller
    assert eb.is_pattern(out, bits=bits, window=window).all()


@pytest.mark.parametrize("q,exc,msg", [
    ([-128], ValueError, r"q holds -128 at index \(0,\), which has no 8-bit sign-magnitude code"),
    ([0, 128], ValueError, r"q must hold integers in \[-127, 127\], got 128 at index \(1,\)"),
    (np.array([0.5]), TypeError, r"q must be an array of integers, got dtype float64 \(quantize it first\)"),
    (np.array([np.nan]), TypeError, r"q must be an array of integers"),
    (np.array([-np.inf]), TypeError, r"q must be an array of integers"),
])
def test_project_refuses(q, exc, msg):
    with pytest.raises(exc, match=msg):
        eb.project(q)


def test_project_refuses_parameters():
    with pytest.raises(ValueError, match=r"window must be an integer in \[1, 7\]"):
        eb.project([1], window=8)
    with pytest.raises(ValueError, match=r"window must be an integer in \[1, 7\]"):
        eb.project([1], window=0)


# ---------------------------------------------------------------------------------------------- LOD, plain decode

def test_lod_hand_worked():
    assert eb.lod([0, 1, 2, 3, 8, 127, 128, 1 << 40, (1 << 62) + 5]).tolist() == [-1, 0, 1, 1, 3, 6, 7, 40, 62]
    with pytest.raises(ValueError, match=r"m must hold integers >= 0, got -1"):
        eb.lod([-1])
    with pytest.raises(TypeError, match=r"m must be an array of integers"):
        eb.lod([1.0])


@given(st.lists(st.integers(0, (1 << 62) - 1), min_size=1, max_size=20))
@SETTINGS
def test_lod_matches_bit_length(ms):
    assert eb.lod(np.array(ms, dtype=np.int64)).tolist() == [m.bit_length() - 1 for m in ms]


def test_decode_plain_drops_bits_below_shift():
    # 9 = 0b1001: e=3, p=1, d=0b100 -> 8; 127 -> 0b111 << 4 = 112; 15 -> 14; 7 fits (p=0); 85 = 0b1010101 -> 80
    assert eb.decode_plain([9, -127, 15, 7, 85, 0]).tolist() == [8, -112, 14, 7, 80, 0]
    assert eb.is_pattern([9, -127, 14, 7, 85, 0, -112]).tolist() == [False, False, True, True, False, True, True]
    assert eb.decode_plain([127], window=7).tolist() == [127]
    with pytest.raises(ValueError, match=r"no 8-bit sign-magnitude code"):
        eb.decode_plain([-128])


@given(case())
@SETTINGS
def test_decode_plain_truncates_toward_zero(c):
    bits, window, q = c
    v = eb.decode_plain(q, bits=bits, window=window)
    m, vm = np.abs(q), np.abs(v)
    assert np.all(vm <= m) and np.all(v * q >= 0)
    assert all(_span_ok(int(x), window) for x in vm)
    p = np.maximum(eb.lod(m) - (window - 1), 0)
    assert np.array_equal(vm, (m >> p) << p) and np.all(m - vm < (1 << p))
    assert np.array_equal(eb.is_pattern(q, bits=bits, window=window), v == q)


# ---------------------------------------------------------------------------------------------- encoding

def test_encode_hand_worked():
    c = eb.encode(np.array([5, -112, 0, 8, 96, -3]))
    assert c.sign.tolist() == [0, 1, 0, 0, 0, 1]
    assert c.shift.tolist() == [0, 4, 0, 1, 4, 0]
    assert c.digits.tolist() == [5, 7, 0, 4, 6, 3]
    # packed: digits bits 0..2, shift bits 3..5, sign bit 6
    assert eb.pack(c).tolist() == [5, 64 | 4 << 3 | 7, 0, 1 << 3 | 4, 4 << 3 | 6, 64 | 3]


@given(case())
@SETTINGS
def test_encode_decode_pack_round_trip(c):
    bits, window, q = c
    p = eb.project(q, bits=bits, window=window)
    code = eb.encode(p, bits=bits, window=window)
    assert np.array_equal(eb.decode(code), p)
    assert np.all((code.shift == 0) | (code.digits >> (window - 1) == 1))   # canonical LOD form
    words = eb.pack(code)
    assert words.max() < (1 << eb.EBSPConfig(bits=bits, window=window).encoded_bits)
    back = eb.unpack(words, bits=bits, window=window)
    assert np.array_equal(back.shift, code.shift) and np.array_equal(back.digits, code.digits)
    assert np.array_equal(eb.decode(back), p)


def test_encode_refuses_non_pattern():
    with pytest.raises(ValueError, match=r"q holds -9 at index \(1,\), which is outside the pattern P\(8, 3\)"):
        eb.encode([8, -9])
    with pytest.raises(ValueError, match=r"no 8-bit sign-magnitude code"):
        eb.encode([-128])


def _code(sign, shift, digits, bits=8, window=3):
    return eb.EBSPCode(np.array(sign), np.array(shift), np.array(digits), bits, window)


@pytest.mark.parametrize("code,exc,msg", [
    (_code([0], [1], [3]), ValueError, r"not canonical at index \(0,\): shift 1 > 0 needs the top digit bit"),
    (_code([1], [0], [0]), ValueError, r"no negative zero"),
    (_code([0], [5], [4]), ValueError, r"shift must hold integers in \[0, 4\], got 5"),
    (_code([0], [0], [8]), ValueError, r"digits must hold integers in \[0, 7\], got 8"),
    (_code([0, 0], [0], [1]), ValueError, r"sign, shift and digits must have one shape"),
    (_code([0], [0.0], [1]), TypeError, r"shift must be an array of integers"),
    ([1, 2], TypeError, r"code must be an EBSPCode"),
])
def test_decode_refuses(code, exc, msg):
    with pytest.raises(exc, match=msg):
        eb.decode(code)


def test_unpack_refuses():
    with pytest.raises(ValueError, match=r"words must hold integers in \[0, 127\], got 128"):
        eb.unpack([128])
    with pytest.raises(ValueError, match=r"shift must hold integers in \[0, 4\], got 5"):
        eb.unpack([5 << 3 | 4])
    with pytest.raises(ValueError, match=r"not canonical"):
        eb.unpack([1 << 3 | 3])


# ---------------------------------------------------------------------------------------------- LUT and dot

def test_lut_hand_worked():
    t = eb.lut(np.array([1, -128, 3]), 3)
    assert t.shape == (3, 8)
    assert t[0].tolist() == list(range(8))
    assert t[1].tolist() == [0, -128, -256, -384, -512, -640, -768, -896]
    assert t[2].tolist() == [0, 3, 6, 9, 12, 15, 18, 21]
    assert eb.lut([5], 1).tolist() == [[0, 5]]


@given(st.integers(1, 10), st.lists(st.integers(-(1 << 15), (1 << 15) - 1), min_size=1, max_size=8))
@SETTINGS
def test_lut_entries_are_multiples(window, xs):
    x = np.array(xs, dtype=np.int64)
    assert np.array_equal(eb.lut(x, window, act_bits=16), x[:, None] * np.arange(1 << window))


def test_lut_refuses():
    with pytest.raises(ValueError, match=r"x must hold integers in \[-128, 127\], got 128"):
        eb.lut([128], 3)
    with pytest.raises(TypeError, match=r"x must be an array of integers"):
        eb.lut([np.nan], 3)
    with pytest.raises(ValueError, match=r"window must be an integer in \[1, 15\]"):
        eb.lut([1], 0)


def test_dot_hand_worked():
    q = np.array([[5, -112, 0], [8, 96, -3]])
    x = np.array([3, -128, 127])
    # row 0: 5*3 + 112*128 = 14351; row 1: (4*3)<<1 + ((6*-128)<<4) - 3*127 = 24 - 12288 - 381
    assert eb.dot(q, x).tolist() == [14351, -12645] == (q @ x).tolist()
    assert eb.dot(eb.encode(q), x).tolist() == [14351, -12645]


def test_dot_broadcasts_rows_and_batches():
    rng = np.random.default_rng(2)
    q = eb.project(rng.integers(-127, 128, (5, 16)))
    xb = rng.integers(-128, 128, (3, 1, 16))
    assert np.array_equal(eb.dot(q, xb), np.einsum("ng,bqg->bn", q, xb))


@given(dot_case())
@SETTINGS
def test_dot_equals_matmul(c):
    bits, window, q, a, x = c
    p = eb.project(q, bits=bits, window=window)
    out = eb.dot(p, x, bits=bits, window=window, act_bits=a)
    assert int(out) == int(p @ x)
    assert int(eb.dot(eb.encode(p, bits=bits, window=window), x, act_bits=a)) == int(p @ x)
    # a plain integer that violates the pattern computes with decode_plain's value
    plain = eb.decode_plain(q, bits=bits, window=window)
    assert int(eb.dot(plain, x, bits=bits, window=window, act_bits=a)) == int(plain @ x)
    cfg = eb.EBSPConfig(bits=bits, window=window, pe_length=q.size, act_bits=a)
    wlo, whi = twos_range(cfg.acc_width)
    assert wlo <= out <= whi


def test_dot_most_negative_activations():
    x = np.full(16, -128)
    assert eb.dot(np.full(16, -112), x).tolist() == 16 * 112 * 128
    assert eb.dot(np.full(16, 112), x).tolist() == -16 * 112 * 128
    assert eb.dot(np.zeros(16, dtype=np.int64), x).tolist() == 0
    assert eb.dot(np.full(4, 127), np.full(4, -128), window=7).tolist() == -4 * 127 * 128


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: eb.dot([1, 2], [1, 2, 3]), ValueError, r"weights have 2 lanes but x has 3"),
    (lambda: eb.dot([1, 2], [1, -129]), ValueError, r"x must hold integers in \[-128, 127\], got -129"),
    (lambda: eb.dot([1, 2], [np.inf, 2]), TypeError, r"x must be an array of integers"),
    (lambda: eb.dot([9, 2], [1, 2]), ValueError, r"outside the pattern P\(8, 3\)"),
    (lambda: eb.dot(3, 1), ValueError, r"need a lane \(last\) axis"),
    (lambda: eb.dot(eb.encode([1, 2]), [1, 2], window=2), ValueError, r"window=2 does not match the code's window=3"),
    (lambda: eb.dot(eb.encode([1, 2]), [1, 2], bits=9), ValueError, r"bits=9 does not match the code's bits=8"),
    (lambda: eb.dot(np.ones((3, 4), int), np.ones((2, 4), int)), ValueError, r"do not broadcast"),
])
def test_dot_refuses(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ---------------------------------------------------------------------------------------------- ADMM

def test_project_float_hand_worked():
    s = 1 / 64
    # 0.14/s = 8.96 -> 9 -> 8; -0.3/s = -19.2 -> -19 -> -20; 2.5 -> 2 (half to even); 10/s = 640 -> clip 127 -> 112
    out = eb.project_float([0.14, -0.3, 2.5 * s, 10.0, -10.0], scale=s)
    assert out.tolist() == [8 * s, -20 * s, 2 * s, 112 * s, -112 * s]
    # per-channel scale broadcasts
    assert eb.project_float([[9.0], [9.0]], scale=[[1.0], [0.75]]).tolist() == [[8.0], [9.0]]   # 9 -> 8; 12 -> 12


def test_project_float_scale_per_output_channel_needs_w_dimensions():
    # an FC weight [K, C]: quantize's per-channel scales have shape (K,); as they are, NumPy would
    # broadcast them along the input channels (C), so they are refused; reshaped to (K, 1) they apply
    w = np.array([[9.0, 3.0], [9.0, 3.0]])                     # K == C == 2
    s = np.array([1.0, 0.75])                                   # row 0: 9 -> 8, 3; row 1: 12 -> 12, 4
    assert eb.project_float(w, scale=s[:, None]).tolist() == [[8.0, 3.0], [9.0, 3.0]]
    with pytest.raises(ValueError, match=re.escape(
            "scale of shape (2,) does not match w of shape (2, 2): give a scalar or an array with w's 2 "
            "dimensions that broadcasts to it, e.g. one scale per output channel as shape (2, 1) "
            "(quantize's scales.reshape(2, 1))")):
        eb.project_float(w, scale=s)
    wide = np.array([[9.0, 3.0, 1.0], [9.0, 3.0, 1.0]])        # K = 2 != C = 3
    assert eb.project_float(wide, scale=s.reshape(2, 1)).tolist() == [[8.0, 3.0, 1.0], [9.0, 3.0, 0.75]]
    with pytest.raises(ValueError, match=re.escape("scale of shape (2,) does not match w of shape (2, 3)")):
        eb.project_float(wide, scale=s)
    with pytest.raises(ValueError, match=re.escape("scale of shape (2,) does not match w of shape (2, 3)")):
        eb.admm_step(wide, wide, np.zeros_like(wide), scale=s)
    # a scale that would enlarge w is refused too
    with pytest.raises(ValueError, match=re.escape("scale of shape (3, 2) does not broadcast to w of shape (1, 2)")):
        eb.project_float([[9.0, 3.0]], scale=np.ones((3, 2)))
    with pytest.raises(ValueError, match=re.escape(
            "scale of shape (3, 2) does not match w of shape (2,): give a scalar or an array with w's 1 "
            "dimension that broadcasts to it")):
        eb.project_float([9.0, 3.0], scale=np.ones((3, 2)))
    with pytest.raises(ValueError, match=re.escape("scale of shape (2, 3) does not broadcast to w of shape (2, 1)")):
        eb.project_float([[9.0], [3.0]], scale=np.ones((2, 3)))


def test_admm_step_hand_worked():
    w = np.array([0.14, -0.3])
    u = np.array([0.01, 0.0])
    z, u2 = eb.admm_step(w, np.zeros(2), u, scale=1 / 64)
    # (0.15)*64 = 9.6 -> 10 -> 10; -19.2 -> -19 -> -20
    assert z.tolist() == [10 / 64, -20 / 64]
    assert np.allclose(u2, u + w - z, rtol=0, atol=0)


def test_admm_converges_on_toy_quadratic():
    rng = np.random.default_rng(7)
    target = rng.normal(0.0, 0.5, (8, 16))
    scale, rho = 1 / 64, 1.0
    w = target.copy()
    z = eb.project_float(w, scale=scale)
    u = np.zeros_like(w)
    res = []
    for _ in range(40):
        w = (2 * target + rho * (z - u)) / (2 + rho)   # closed-form argmin ||W-T||^2 + rho/2 ||W-Z+U||^2
        z, u = eb.admm_step(w, z, u, scale=scale)
        res.append(float(np.linalg.norm(w - z)))
        rho *= 1.3                                      # growing rho ("evolving" schedule)
    res = np.array(res)
    assert res[-1] < 1e-4 * res[0]
    assert np.all(np.diff(res[10:]) <= 0)               # primal residual decreases once settled
    w_final = eb.project_float(w, scale=scale)
    assert np.array_equal(w_final, z)
    q = np.rint(w_final / scale).astype(np.int64)
    assert np.array_equal(q * scale, w_final) and eb.is_pattern(q).all()


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: eb.admm_step([np.nan], [0.0], [0.0], scale=1.0), ValueError, r"w must be finite, got nan"),
    (lambda: eb.admm_step([0.0], [np.inf], [0.0], scale=1.0), ValueError, r"z must be finite"),
    (lambda: eb.admm_step([0.0], [0.0], [-np.inf], scale=1.0), ValueError, r"u must be finite"),
    (lambda: eb.admm_step([0.0], [0.0], [0.0], scale=0.0), ValueError, r"scale must be > 0, got 0.0"),
    (lambda: eb.admm_step([0.0], [0.0], [0.0], scale=np.nan), ValueError, r"scale must be finite"),
    (lambda: eb.admm_step([0.0], [0.0, 1.0], [0.0], scale=1.0), ValueError, r"w, z and u must have one shape"),
    (lambda: eb.admm_step([0.0, 1.0], [0.0, 1.0], [0.0, 1.0], scale=[1.0, 1.0, 1.0]), ValueError,
     r"scale of shape \(3,\) does not broadcast to w of shape \(2,\)"),
    (lambda: eb.admm_step(["a"], [0.0], [0.0], scale=1.0), TypeError, r"w must be a numeric array"),
    (lambda: eb.admm_step([0.0], [0.0], [0.0], scale=1.0, window=8), ValueError, r"window must be an integer"),
])
def test_admm_refuses(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# -- found by the fuzz harness (tests/fuzz/) -----------------------------------------------------------

def test_dot_names_w_for_bad_weights():
    with pytest.raises(TypeError, match="^w must be an array of integers"):
        eb.dot(np.array([0.5]), np.array([1]))
    with pytest.raises(ValueError, match="^w holds 9 at index"):
        eb.dot(np.array([9]), np.array([1]), window=2)
