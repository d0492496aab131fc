"""EBSP PE: bad parameters, payload layout == golden pack, payload round trip, Amaranth-simulator streams,
cocotb on the Verilog. Payloads through the PE's own pack/payloads/unpack.

Every expected value comes from :mod:`golden.ebsp` (dot, decode_plain, is_pattern, encode, project) and
:func:`golden.cycles.group_cycles_ebsp`.
"""

import numpy as np
import pytest

from golden import ebsp
from golden.bits import signed_width, twos_range
from golden.cycles import group_cycles_ebsp
from golden.ebsp import EBSPConfig
from hw.ebsp.pe import EBSPPE
from tests.hw.weight_error import cocotb_flagged, stream_flagged, values


# ---------------------------------------------------------------- data, all derived from the golden model

def make_groups(cfg, n, seed, pattern=True):
    """Weights ``(groups, rows, lanes)`` and activations ``(groups, lanes)``: corners first, then random.

    ``pattern=True`` projects the random weights onto the pattern (:func:`golden.ebsp.project`);
    ``pattern=False`` leaves them raw (plain-format violations).
    """
    rng = np.random.default_rng(seed)
    G, rows, top = cfg.pe_length, cfg.lut_sharing, (1 << (cfg.bits - 1)) - 1
    amin, amax = twos_range(cfg.act_bits)
    big = cfg.max_magnitude
    full = lambda v: np.full((rows, G), v, dtype=np.int64)
    alt = np.where(np.arange(G) % 2 == 0, big, -big)
    corners_w = [full(0), full(big), full(-big), np.broadcast_to(alt, (rows, G)), full(1), full(-1)]
    corners_a = [np.full(G, amin), np.full(G, amin), np.full(G, amin), np.full(G, amax),
                 np.full(G, amin), np.full(G, amax)]
    q = rng.integers(-top, top + 1, size=(n, rows, G))
    w = ebsp.project(q, bits=cfg.bits, window=cfg.window) if pattern else q
    # a share of zeros and of the largest pattern values among the random weights
    pick = rng.random(w.shape)
    w = np.where(pick < 0.1, 0, np.where(pick > 0.95, np.sign(w) * big, w))
    x = rng.integers(amin, amax + 1, size=(n, G))
    x = np.where(rng.random(x.shape) < 0.1, amin, x)
    return (np.concatenate([np.stack(corners_w), w]).astype(np.int64),
            np.concatenate([np.stack(corners_a), x]).astype(np.int64))


def expected(w, x, cfg):
    """Golden results ``(groups, rows)`` (of the values the LOD path uses), cycles per transaction, and
    whether a group holds a weight outside the pattern."""
    used = ebsp.decode_plain(w, bits=cfg.bits, window=cfg.window)      # == w for pattern weights
    res = ebsp.dot(used, x[:, None, :], bits=cfg.bits, window=cfg.window, act_bits=cfg.act_bits)
    cyc = group_cycles_ebsp(used, bits=cfg.bits, window=cfg.window).max(axis=-1)   # rows in lock step
    errors = (~ebsp.is_pattern(w, bits=cfg.bits, window=cfg.window)).reshape(len(w), -1).any(axis=-1)
    return res, cyc, errors


def as_results(res, cfg):
    """One result per transaction as :meth:`EBSPPE.unpack` gives it: an int, or a list of the rows'."""
    return [int(r[0]) for r in res] if cfg.lut_sharing == 1 else res.tolist()


# ---------------------------------------------------------------- parameters and layout

@pytest.mark.parametrize("fields, options, exc, msg", [
    (dict(pe_length=0), {}, ValueError, r"pe_length must be an integer in \[1, 65536\], got 0"),
    (dict(pe_length=65), {}, ValueError,
     r"pe_length must be an integer in \[1, 64\] \(the limit of EBSPPE\), got 65"),
    (dict(bits=1), {}, ValueError, r"bits must be an integer in \[2, 16\], got 1"),
    (dict(bits=8, window=8), {}, ValueError, r"window must be an integer in \[1, 7\] .*got 8"),
    (dict(bits=12, window=9), {}, ValueError,
     r"window must be an integer in \[1, 8\] \(the limit of EBSPPE: its LUTs have 2\*\*window entries\), got 9"),
    (dict(act_bits=17), {}, ValueError,
     r"act_bits must be an integer in \[2, 16\] \(the limit of EBSPPE\), got 17"),
    (dict(), dict(weight_format="csd"), ValueError, r"weight_format must be one of 'plain', 'encoded', got 'csd'"),
    (dict(lut_sharing=0), {}, ValueError, r"lut_sharing must be an integer >= 1, got 0"),
    (dict(lut_sharing=17), {}, ValueError,
     r"lut_sharing must be an integer in \[1, 16\] \(the limit of EBSPPE\), got 17"),
    (dict(window=2.0), {}, TypeError, r"window must be an integer"),
])
def test_bad_parameters(fields, options, exc, msg):
    with pytest.raises(exc, match=msg):
        EBSPPE(EBSPConfig(**fields), **options)


def test_bad_config_type():
    with pytest.raises(TypeError, match=r"config must be a golden.ebsp.EBSPConfig, got 8 of type int"):
        EBSPPE(8)


@pytest.mark.parametrize("bits, window", [(8, 3), (8, 7), (5, 1), (2, 1), (16, 8)])
def test_encoded_layout_is_the_golden_packed_word(bits, window):
    cfg = EBSPConfig(bits=bits, window=window)
    top = (1 << (bits - 1)) - 1
    q = ebsp.project(values(top), bits=bits, window=window)
    code = ebsp.encode(q, bits=bits, window=window)
    layout = EBSPPE.weight_layout(cfg, "encoded")
    assert layout.size == cfg.encoded_bits
    got = [layout.const({"sign": int(s), "shift": int(p), "digits": int(d)}).as_value().value
           for s, p, d in zip(code.sign, code.shift, code.digits)]
    assert got == ebsp.pack(code).tolist()
    plain = EBSPPE.weight_layout(cfg, "plain")
    assert plain.size == bits and plain.const({"mag": 3 % (top + 1), "sign": 1}).as_value().value \
        == (1 << (bits - 1)) | (3 % (top + 1))


@pytest.mark.parametrize("fmt", ["encoded", "plain"])
def test_payload_round_trip(fmt):
    """pack -> the weight fields are the golden words (encoded: golden.ebsp.pack; plain: sign-magnitude),
    the activations come back; unpack of an R-row result is the rows' two's-complement results."""
    cfg = EBSPConfig(bits=8, window=3, pe_length=3, act_bits=5, lut_sharing=2)
    pe = EBSPPE(cfg, weight_format=fmt)
    w = np.array([[[112, -5, 0], [8, -96, 7]]])
    a = np.array([[-16, 15, 3]])
    (word,) = pe.pack(w, a)
    view = pe.input_layout.from_bits(word)
    fields = [[view.weights[r][i].as_value().value for i in range(3)] for r in range(2)]
    if fmt == "encoded":
        assert fields == ebsp.pack(ebsp.encode(w[0], bits=8, window=3)).tolist()
    else:
        assert fields == [[int(abs(v)) | (int(v < 0) << 7) for v in row] for row in w[0]]
    assert [view.acts[i] for i in range(3)] == [-16, 15, 3]
    width = cfg.acc_width
    assert pe.unpack(((1 << width) - 1) | (5 << width)) == [-1, 5]
    with pytest.raises(ValueError, match=rf"word must be an integer in \[0, {(1 << 2 * width) - 1}\], got -1"):
        pe.unpack(-1)
    with pytest.raises(ValueError, match=r"a group's weights must have shape \(2, 3\) \(lut_sharing rows of "
                                         r"pe_length lanes\), got \(3,\)"):
        pe.pack(w[:, 0], a)
    bad = ValueError, (r"q holds 9 at index \(0, 0\), which is outside the pattern" if fmt == "encoded"
                       else r"weights holds -128 at index \(0, 0\), which has no 8-bit sign-magnitude code")
    with pytest.raises(bad[0], match=bad[1]):
        pe.pack(np.full((1, 2, 3), 9 if fmt == "encoded" else -128), a)


# ---------------------------------------------------------------- Amaranth simulator

@pytest.mark.parametrize("bits, window, lanes, act_bits, fmt, rows", [
    (8, 3, 4, 8, "encoded", 1), (8, 3, 4, 8, "plain", 1), (5, 1, 3, 4, "plain", 2),
    (6, 5, 3, 5, "plain", 1), (2, 1, 2, 3, "encoded", 1), (2, 1, 2, 3, "plain", 3), (7, 2, 5, 6, "encoded", 2),
])
def test_amaranth_results_and_steps(bits, window, lanes, act_bits, fmt, rows):
    cfg = EBSPConfig(bits=bits, window=window, pe_length=lanes, act_bits=act_bits, lut_sharing=rows)
    w, x = make_groups(cfg, 30, seed=bits * 7 + window)
    res, cyc, errors = expected(w, x, cfg)
    assert not errors.any()
    pe = EBSPPE(cfg, weight_format=fmt)
    out = stream_flagged(pe, pe.payloads(w, x))
    assert out.results == as_results(res, cfg)
    assert out.steps == cyc.tolist()
    assert not any(out.errors)


@pytest.mark.parametrize("bits, window, lanes, act_bits, fmt", [
    (8, 3, 16, 8, "plain"), (5, 1, 3, 4, "encoded"), (16, 8, 64, 16, "encoded")])
def test_amaranth_accumulator_worst_case(bits, window, lanes, act_bits, fmt):
    """All weights at the largest pattern magnitude, all activations most negative: the exact extreme."""
    cfg = EBSPConfig(bits=bits, window=window, pe_length=lanes, act_bits=act_bits)
    amin, _ = twos_range(act_bits)
    w = np.array([[[cfg.max_magnitude] * lanes], [[-cfg.max_magnitude] * lanes]])
    x = np.full((2, lanes), amin)
    res, _, _ = expected(w, x, cfg)
    bound = lanes * cfg.max_magnitude * -amin
    assert res[:, 0].tolist() == [-bound, bound]
    assert signed_width(-bound, bound) == cfg.acc_width      # no spare bit, none missing
    pe = EBSPPE(cfg, weight_format=fmt)
    assert stream_flagged(pe, pe.payloads(w, x)).results == as_results(res, cfg)
    assert len(pe.o.payload) == cfg.acc_width


def test_amaranth_plain_violation_is_truncated_and_flagged():
    cfg = EBSPConfig(bits=8, window=3, pe_length=4)
    w = np.array([[[0b101, 3, -5, 0]], [[0b1011, 0b110001, -0b1111, 7]], [[1, 2, 3, 4]]])   # group 1 bad
    x = np.array([[3, -4, 5, -128], [-1, 2, -3, 4], [1, 1, 1, 1]])
    res, cyc, errors = expected(w, x, cfg)
    assert errors.tolist() == [False, True, False]
    assert res[1, 0] == ebsp.decode_plain(w[1, 0], bits=8, window=3) @ x[1] != w[1, 0] @ x[1]
    pe = EBSPPE(cfg, weight_format="plain")
    out = stream_flagged(pe, pe.payloads(w, x))
    assert out.results == as_results(res, cfg)
    assert out.errors == [0, 1, 1]                             # sticky


def test_amaranth_encoded_shift_out_of_range_is_flagged():
    """B=8, L=3: the 3-bit shift field holds 5..7, which are not codes (max_shift = 4); the payload API
    refuses them, so the bad group is written field by field."""
    pe = EBSPPE(EBSPConfig(bits=8, window=3, pe_length=2), weight_format="encoded")
    (good,) = pe.payloads([[112, -1]], [[1, 2]])
    assert good["weights"] == [{"digits": 7, "shift": 4, "sign": 0}, {"digits": 1, "shift": 0, "sign": 1}]
    bad = {"weights": [{"sign": 0, "shift": 5, "digits": 4}, {"sign": 0, "shift": 0, "digits": 0}], "acts": [1, 2]}
    out = stream_flagged(pe, [good, bad])
    assert out.results[0] == 112 - 2 and out.errors == [0, 1]


# ---------------------------------------------------------------- cocotb on the generated Verilog

def run_ebsp_cocotb(build_dir, bits, window, lanes, act_bits, fmt, rows, n, seed, pattern=True,
                    benches=("sim.tb_pe",)):
    cfg = EBSPConfig(bits=bits, window=window, pe_length=lanes, act_bits=act_bits, lut_sharing=rows)
    w, x = make_groups(cfg, n, seed=seed, pattern=pattern)
    res, cyc, errors = expected(w, x, cfg)
    pe = EBSPPE(cfg, weight_format=fmt)
    total = cocotb_flagged(pe, "ebsp_pe", build_dir, pe.pack(w, x), as_results(res, cfg), cyc, errors,
                           seed=seed, benches=benches)
    return total, errors


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, window, lanes, act_bits, fmt, rows", [
    (8, 3, 16, 8, "encoded", 1),      # default, pre-encoded
    (8, 3, 16, 8, "plain", 1),        # default, LOD path
    (5, 1, 3, 4, "plain", 1),         # L = 1
    (6, 5, 4, 5, "encoded", 1),       # L = B-1 (no shift field)
    (6, 2, 3, 5, "plain", 3),         # LUT shared by 3 rows
])
def test_cocotb_verilog(bits, window, lanes, act_bits, fmt, rows, build_dir):
    total, errors = run_ebsp_cocotb(build_dir, bits, window, lanes, act_bits, fmt, rows, n=150,
                                    seed=bits * 13 + window + rows)
    assert total == 4 and not errors.any()


@pytest.mark.cocotb
def test_cocotb_plain_pattern_violation(build_dir):
    """Raw (unprojected) plain weights: results are the LOD truncation (decode_plain), weight_error flags them."""
    total, errors = run_ebsp_cocotb(build_dir, 8, 3, 16, 8, "plain", 1, n=120, seed=5, pattern=False,
                                    benches=("sim.tb_pe", "sim.tb_weight_error"))
    assert total == 5 and errors.any() and not errors.all()
