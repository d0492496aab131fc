"""EBSP PE: bad parameters, payload layout == golden pack, Amaranth-simulator checks, cocotb on the Verilog.

Every expected value comes from :mod:`golden.ebsp` (dot, decode_plain, is_pattern, encode, project) and
:func:`golden.cycles.group_cycles_ebsp`.
"""

import json

import numpy as np
import pytest
from amaranth.hdl import Const, signed
from amaranth.lib import data

from golden import ebsp
from golden.bits import signed_width, twos_range
from golden.cycles import group_cycles_ebsp
from hw.ebsp.pe import EBSPPE
from sim.amaranth_sim import run_pe_groups
from sim.pe_vectors import pack_payloads, write_vectors
from sim.runner import run_cocotb


# ---------------------------------------------------------------- data, all derived from the golden model

def make_groups(cfg, n, seed, rows=1, pattern=True):
    """Weights ``(groups, rows, lanes)`` and activations ``(groups, lanes)``: corners first, then random.

    ``pattern=True`` projects the random weights onto the pattern (:func:`golden.ebsp.project`);
    ``pattern=False`` leaves them raw (plain-format violations).
    """
    rng = np.random.default_rng(seed)
    G, top = cfg.pe_length, (1 << (cfg.bits - 1)) - 1
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


def weight_dicts(w, cfg, fmt):
    """Per-weight field dicts of the PE's weight layout: sign-magnitude, or the golden code's fields."""
    if fmt == "plain":
        return [[[{"mag": int(abs(v)), "sign": int(v < 0)} for v in row] for row in grp] for grp in w]
    c = ebsp.encode(w, bits=cfg.bits, window=cfg.window)
    return [[[{"sign": int(s), "shift": int(p), "digits": int(d)} for s, p, d in zip(cs, cp, cd)]
             for cs, cp, cd in zip(gs, gp, gd)] for gs, gp, gd in zip(c.sign, c.shift, c.digits)]


def expected(w, x, cfg):
    """Golden results ``(groups, rows)`` (of the values the LOD path uses) and cycles per transaction."""
    used = ebsp.decode_plain(w, bits=cfg.bits, window=cfg.window)      # == w for pattern weights
    res = ebsp.dot(used, x[:, None, :], bits=cfg.bits, window=cfg.window, act_bits=cfg.act_bits)
    cyc = group_cycles_ebsp(used, bits=cfg.bits, window=cfg.window).max(axis=-1)   # rows in lock step
    errors = (~ebsp.is_pattern(w, bits=cfg.bits, window=cfg.window)).reshape(len(w), -1).any(axis=-1)
    return res, cyc, errors


def packed_results(res, cfg):
    """One integer per transaction as ``o.payload`` reads it: the row result, or for ``lut_sharing > 1`` the
    ``ArrayLayout(signed(width), R)`` word read as signed (equal iff every row is equal)."""
    if cfg.lut_sharing == 1:
        return [int(r[0]) for r in res]
    layout = data.ArrayLayout(signed(cfg.acc_width), cfg.lut_sharing)
    return [Const(layout.const([int(v) for v in r]).as_value().value, signed(layout.size)).value for r in res]


def payload_weights(wd, rows):
    return [g[0] if rows == 1 else g for g in wd]


# ---------------------------------------------------------------- parameters and layout

def values(top):
    """Every weight in ``[-top, top]`` for small widths; a seeded sample of 3000 (with both ends) beyond."""
    if top < 1500:
        return np.arange(-top, top + 1)
    return np.concatenate([[-top, 0, top], np.random.default_rng(top).integers(-top, top + 1, 3000)])


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(lanes=0), ValueError, r"lanes must be an integer in \[1, 64\], got 0"),
    (dict(bits=1), ValueError, r"bits must be an integer in \[2, 16\], got 1"),
    (dict(bits=8, window=8), ValueError, r"window must be an integer in \[1, 7\] .*got 8"),
    (dict(bits=12, window=9), ValueError,
     r"window must be an integer in \[1, 8\] .*LUT has 2\*\*window entries.*got 9"),
    (dict(act_bits=17), ValueError, r"act_bits must be an integer in \[2, 16\], got 17"),
    (dict(weight_format="csd"), ValueError, r"weight_format must be one of 'plain', 'encoded', got 'csd'"),
    (dict(lut_sharing=0), ValueError, r"lut_sharing must be an integer in \[1, 16\], got 0"),
    (dict(window=2.0), TypeError, r"window must be an integer"),
])
def test_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        EBSPPE(**kwargs)


@pytest.mark.parametrize("bits, window", [(8, 3), (8, 7), (5, 1), (2, 1), (16, 8)])
def test_encoded_layout_is_the_golden_packed_word(bits, window):
    top = (1 << (bits - 1)) - 1
    q = ebsp.project(values(top), bits=bits, window=window)
    code = ebsp.encode(q, bits=bits, window=window)
    layout = EBSPPE.weight_layout(bits, window, "encoded")
    assert layout.size == ebsp.EBSPConfig(bits=bits, window=window).encoded_bits
    got = [layout.const({"sign": int(s), "shift": int(p), "digits": int(d)}).as_value().value
           for s, p, d in zip(code.sign, code.shift, code.digits)]
    assert got == ebsp.pack(code).tolist()
    plain = EBSPPE.weight_layout(bits, window, "plain")
    assert plain.size == bits and plain.const({"mag": 3 % (top + 1), "sign": 1}).as_value().value \
        == (1 << (bits - 1)) | (3 % (top + 1))


# ---------------------------------------------------------------- Amaranth simulator

def simulate(pe, payloads):
    """One group at a time; returns per group (result(s), cycle-counter delta, weight_error)."""
    return [([r] if isinstance(r, int) else list(r), c, e)
            for r, c, e in run_pe_groups(pe, payloads, sample=lambda pe, ctx: ctx.get(pe.weight_error))]


@pytest.mark.parametrize("bits, window, lanes, act_bits, fmt, rows", [
    (8, 3, 4, 8, "encoded", 1), (8, 3, 4, 8, "plain", 1), (5, 1, 3, 4, "plain", 2),
    (6, 5, 3, 5, "plain", 1), (2, 1, 2, 3, "encoded", 1), (2, 1, 2, 3, "plain", 3), (7, 2, 5, 6, "encoded", 2),
])
def test_amaranth_results_and_steps(bits, window, lanes, act_bits, fmt, rows):
    cfg = ebsp.EBSPConfig(bits=bits, window=window, pe_length=lanes, act_bits=act_bits, lut_sharing=rows)
    w, x = make_groups(cfg, 30, seed=bits * 7 + window, rows=rows)
    res, cyc, errors = expected(w, x, cfg)
    assert not errors.any()
    pe = EBSPPE(bits, window, lanes, act_bits, fmt, rows)
    wd = payload_weights(weight_dicts(w, cfg, fmt), rows)
    out = simulate(pe, [{"weights": wv, "acts": [int(v) for v in a]} for wv, a in zip(wd, x)])
    assert [o[0] for o in out] == res.tolist()
    assert [o[1] for o in out] == cyc.tolist()
    assert not any(o[2] for o in out)


@pytest.mark.parametrize("bits, window, lanes, act_bits, fmt", [
    (8, 3, 16, 8, "plain"), (5, 1, 3, 4, "encoded"), (16, 8, 64, 16, "encoded")])
def test_amaranth_accumulator_worst_case(bits, window, lanes, act_bits, fmt):
    """All weights at the largest pattern magnitude, all activations most negative: the exact extreme."""
    cfg = ebsp.EBSPConfig(bits=bits, window=window, pe_length=lanes, act_bits=act_bits)
    amin, _ = twos_range(act_bits)
    w = np.array([[[cfg.max_magnitude] * lanes], [[-cfg.max_magnitude] * lanes]])
    x = np.full((2, lanes), amin)
    res, _, _ = expected(w, x, cfg)
    bound = lanes * cfg.max_magnitude * -amin
    assert res[:, 0].tolist() == [-bound, bound]
    assert signed_width(-bound, bound) == cfg.acc_width      # no spare bit, none missing
    pe = EBSPPE(bits, window, lanes, act_bits, fmt)
    out = simulate(pe, [{"weights": wv, "acts": [int(v) for v in a]}
                        for wv, a in zip(payload_weights(weight_dicts(w, cfg, fmt), 1), x)])
    assert [o[0] for o in out] == res.tolist()
    assert len(pe.o.payload) == cfg.acc_width


def test_amaranth_plain_violation_is_truncated_and_flagged():
    cfg = ebsp.EBSPConfig(bits=8, window=3, pe_length=4)
    w = np.array([[[0b101, 3, -5, 0]], [[0b1011, 0b110001, -0b1111, 7]], [[1, 2, 3, 4]]])   # group 1 bad
    x = np.array([[3, -4, 5, -128], [-1, 2, -3, 4], [1, 1, 1, 1]])
    res, cyc, errors = expected(w, x, cfg)
    assert errors.tolist() == [False, True, False]
    assert res[1, 0] == ebsp.decode_plain(w[1, 0], bits=8, window=3) @ x[1] != w[1, 0] @ x[1]
    pe = EBSPPE(8, 3, 4, 8, "plain")
    out = simulate(pe, [{"weights": wv, "acts": [int(v) for v in a]}
                        for wv, a in zip(payload_weights(weight_dicts(w, cfg, "plain"), 1), x)])
    assert [o[0] for o in out] == res.tolist()
    assert [o[2] for o in out] == [0, 1, 1]                             # sticky


def test_amaranth_encoded_shift_out_of_range_is_flagged():
    """B=8, L=3: the 3-bit shift field holds 5..7, which are not codes (max_shift = 4)."""
    pe = EBSPPE(8, 3, 2, 8, "encoded")
    good = {"weights": [{"sign": 0, "shift": 4, "digits": 7}, {"sign": 1, "shift": 0, "digits": 1}], "acts": [1, 2]}
    bad = {"weights": [{"sign": 0, "shift": 5, "digits": 4}, {"sign": 0, "shift": 0, "digits": 0}], "acts": [1, 2]}
    out = simulate(pe, [good, bad])
    assert out[0][0] == [112 - 2] and [o[2] for o in out] == [0, 1]


# ---------------------------------------------------------------- cocotb on the generated Verilog

def run_ebsp_cocotb(build_dir, bits, window, lanes, act_bits, fmt, rows, n, seed, pattern=True,
                    tb_modules=("sim.tb_pe",)):
    cfg = ebsp.EBSPConfig(bits=bits, window=window, pe_length=lanes, act_bits=act_bits, lut_sharing=rows)
    w, x = make_groups(cfg, n, seed=seed, rows=rows, pattern=pattern)
    res, cyc, errors = expected(w, x, cfg)
    payloads = pack_payloads(EBSPPE.weights_layout(bits, window, lanes, fmt, rows), lanes=lanes,
                             act_bits=act_bits, weights=payload_weights(weight_dicts(w, cfg, fmt), rows), acts=x)
    vec = write_vectors(build_dir / "vectors.json", payloads, packed_results(res, cfg), cyc)
    if "sim.tb_weight_error" in tb_modules:
        v = json.loads(vec.read_text())
        v["errors"] = [bool(e) for e in errors]
        vec.write_text(json.dumps(v))
    total = 0
    for tb in tb_modules:
        total += run_cocotb(EBSPPE(bits, window, lanes, act_bits, fmt, rows), toplevel="ebsp_pe", tb_module=tb,
                            build_dir=build_dir / tb.split(".")[-1], params={"vectors": str(vec), "seed": seed})
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
                                    tb_modules=("sim.tb_pe", "sim.tb_weight_error"))
    assert total == 5 and errors.any() and not errors.all()
