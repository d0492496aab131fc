"""Bit-balance PE: bad parameters, payload layout == golden pack, payload round trip, Amaranth-simulator
streams, cocotb on the Verilog with the run-time ``k`` changing between groups. Payloads through the PE's
own pack/payloads/unpack.

Every expected value comes from :mod:`golden.bitbalance` (project, encode, decode, dot, cycle_partial_sums)
and :func:`golden.cycles.group_cycles_bitbalance`.
"""

import numpy as np
import pytest

from golden import bitbalance as bb
from golden.bitbalance import BitBalanceConfig
from golden.bits import signed_width, twos_range
from golden.cycles import group_cycles_bitbalance
from hw.bitbalance.pe import BitBalancePE
from tests.hw.weight_error import cocotb_flagged, stream_flagged, values


# ---------------------------------------------------------------- data, all derived from the golden model

def layer_groups(lbits, lk, lanes, act_bits, n, rng):
    """``n`` random groups of a layer with weight width ``lbits`` and budget ``lk``, after corners."""
    amin, amax = twos_range(act_bits)
    top = (1 << (lbits - 1)) - 1
    big = BitBalanceConfig(bits=lbits, k=lk).max_magnitude
    alt = np.where(np.arange(lanes) % 2 == 0, big, -big)
    w = [np.zeros(lanes), np.full(lanes, big), np.full(lanes, -big), alt]
    a = [np.full(lanes, amin), np.full(lanes, amin), np.full(lanes, amin), np.full(lanes, amax)]
    q = bb.project(rng.integers(-top, top + 1, size=(n, lanes)), bits=lbits, k=lk)
    q = np.where(rng.random(q.shape) < 0.1, 0, q)
    x = rng.integers(amin, amax + 1, size=(n, lanes))
    x = np.where(rng.random(x.shape) < 0.1, amin, x)
    return np.concatenate([np.stack(w), q]).astype(np.int64), np.concatenate([np.stack(a), x]).astype(np.int64)


def make_stream(cfg, layers, seed, per_group_k=0):
    """Groups of several layers ``[(bits', k', n), ...]`` (layer boundaries change k), then ``per_group_k``
    groups whose ``(bits', k')`` is drawn per group. Returns weights, acts, per-group bits' and k'."""
    rng = np.random.default_rng(seed)
    ws, xs, lb, lk = [], [], [], []
    for b_, k_, n in layers:
        w, x = layer_groups(b_, k_, cfg.pe_length, cfg.act_bits, n, rng)
        ws.append(w)
        xs.append(x)
        lb.append(np.full(len(w), b_))
        lk.append(np.full(len(w), k_))
    for _ in range(per_group_k):
        k_ = int(rng.integers(1, cfg.k + 1))
        b_ = int(rng.integers(k_ + 1, cfg.bits + 1))      # a layer may also use narrower weights
        w, x = layer_groups(b_, k_, cfg.pe_length, cfg.act_bits, 1, rng)
        ws.append(w[-1:])                                  # the random group, not the corners
        xs.append(x[-1:])
        lb.append([b_])
        lk.append([k_])
    return np.concatenate(ws), np.concatenate(xs), np.concatenate(lb), np.concatenate(lk)


def expected(w, x, gbits, gk, act_bits):
    """Golden result and cycles of every group with its own layer format (bits', k')."""
    res = [int(bb.dot(wg, xg, bits=int(b_), k=int(k_), act_bits=act_bits)) for wg, xg, b_, k_ in zip(w, x, gbits, gk)]
    cyc = [int(group_cycles_bitbalance(wg, bits=int(b_), k=int(k_))) for wg, b_, k_ in zip(w, gbits, gk)]
    return res, cyc


def cfg_of(bits, k_max, lanes, act_bits):
    return BitBalanceConfig(bits=bits, k=k_max, pe_length=lanes, act_bits=act_bits)


# ---------------------------------------------------------------- parameters and layout

@pytest.mark.parametrize("fields, exc, msg", [
    (dict(pe_length=0), ValueError, r"pe_length must be an integer in \[1, 65536\], got 0"),
    (dict(pe_length=65), ValueError,
     r"pe_length must be an integer in \[1, 64\] \(the limit of BitBalancePE\), got 65"),
    (dict(bits=17), ValueError, r"bits must be an integer in \[2, 16\], got 17"),
    (dict(bits=8, k=8), ValueError,
     r"k must be an integer in \[1, 7\] \(at most bits-1 one-bits in a magnitude\), got 8"),
    (dict(k=0), ValueError, r"k must be an integer in \[1, 7\]"),
    (dict(act_bits=1), ValueError, r"act_bits must be an integer in \[2, 32\], got 1"),
    (dict(act_bits=17), ValueError,
     r"act_bits must be an integer in \[2, 16\] \(the limit of BitBalancePE\), got 17"),
    (dict(k="3"), TypeError, r"k must be an integer"),
])
def test_bad_parameters(fields, exc, msg):
    with pytest.raises(exc, match=msg):
        BitBalancePE(BitBalanceConfig(**fields))


def test_bad_config_type():
    with pytest.raises(TypeError, match=r"config must be a golden.bitbalance.BitBalanceConfig, got 8 of type int"):
        BitBalancePE(8)


@pytest.mark.parametrize("bits, k", [(8, 3), (8, 7), (2, 1), (5, 1), (16, 4)])
def test_code_layout_is_the_golden_packed_word(bits, k):
    cfg = BitBalanceConfig(bits=bits, k=k)
    top = (1 << (bits - 1)) - 1
    q = bb.project(values(top), bits=bits, k=k)
    code = bb.encode(q, bits=bits, k=k)
    layout = BitBalancePE.code_layout(cfg)
    assert layout.size == cfg.encoded_bits
    got = [layout.const({"sign": int(s), "slots": [{"pos": int(p), "valid": int(v)} for p, v in zip(ps, vs)]})
           .as_value().value for s, ps, vs in zip(code.sign, code.pos, code.valid)]
    assert got == bb.pack(code).tolist()


def test_payload_round_trip():
    """pack -> the codes are the golden.bitbalance.pack words, k and the activations come back; k is
    checked; unpack is two's complement."""
    cfg = cfg_of(8, 3, 3, 5)
    pe = BitBalancePE(cfg)
    w, a = np.array([[112, -5, 0], [1, 2, -3]]), np.array([[-16, 15, 3], [0, 1, 2]])
    for k, ks in [(None, [3, 3]), (2, [2, 2]), ([1, 3], [1, 3])]:
        words = pe.pack(w, a, k=k)
        views = [pe.input_layout.from_bits(word) for word in words]
        assert [[v.weights.codes[i].as_value().value for i in range(3)] for v in views] == \
            bb.pack(bb.encode(w, bits=8, k=3)).tolist()
        assert [v.weights.k for v in views] == ks
        assert [[v.acts[i] for i in range(3)] for v in views] == a.tolist()
    width = len(pe.o.payload)
    assert pe.unpack((1 << width) - 1) == -1 and pe.unpack(5) == 5
    with pytest.raises(ValueError, match=r"k must hold integers in \[1, 3\], got 0 at index \(1,\)"):
        pe.pack(w, a, k=[1, 0])
    with pytest.raises(ValueError, match=r"k must be one integer or one per group \(2\), got 3"):
        pe.pack(w, a, k=[1, 2, 3])
    with pytest.raises(ValueError, match=r"q holds 7 at index \(0,\), whose magnitude has 3 one-bits, "
                                         r"more than k=2"):
        BitBalancePE(cfg_of(8, 2, 3, 5)).pack([[7, 0, 0]], [[0, 0, 0]])
    with pytest.raises(ValueError, match=r"a group's weights must have shape \(3,\) \(pe_length lanes\), "
                                         r"got \(2,\)"):
        pe.pack([[1, 2]], [[0, 0, 0]])


# ---------------------------------------------------------------- Amaranth simulator

@pytest.mark.parametrize("bits, k_max, lanes, act_bits, layers", [
    (8, 3, 4, 8, [(8, 3, 10), (8, 1, 6), (6, 2, 6)]),
    (4, 3, 3, 5, [(4, 3, 8), (4, 1, 5), (3, 2, 5)]),
    (2, 1, 2, 3, [(2, 1, 8)]),
    (8, 4, 3, 6, [(8, 4, 8), (7, 2, 5)]),
])
def test_amaranth_results_and_steps(bits, k_max, lanes, act_bits, layers):
    cfg = cfg_of(bits, k_max, lanes, act_bits)
    w, x, gb, gk = make_stream(cfg, layers, seed=bits + k_max, per_group_k=10)
    res, cyc = expected(w, x, gb, gk, act_bits)
    pe = BitBalancePE(cfg)
    out = stream_flagged(pe, pe.payloads(w, x, k=gk))
    assert out.results == res
    assert out.steps == cyc
    assert not any(out.errors)


@pytest.mark.parametrize("bits, k_max, lanes, act_bits", [(8, 3, 16, 8), (4, 3, 3, 5), (16, 15, 64, 16), (8, 7, 5, 2)])
def test_amaranth_accumulator_worst_case(bits, k_max, lanes, act_bits):
    """All weights at the largest allowed magnitude, all activations most negative: the exact extreme."""
    cfg = cfg_of(bits, k_max, lanes, act_bits)
    amin, _ = twos_range(act_bits)
    w = np.array([[cfg.max_magnitude] * lanes, [-cfg.max_magnitude] * lanes])
    x = np.full((2, lanes), amin)
    res, cyc = expected(w, x, [bits, bits], [k_max, k_max], act_bits)
    bound = lanes * cfg.max_magnitude * -amin
    assert res == [-bound, bound]
    assert signed_width(-bound, bound) == cfg.acc_width
    pe = BitBalancePE(cfg)
    out = stream_flagged(pe, pe.payloads(w, x))
    assert out.results == res and out.steps == cyc
    assert len(pe.o.payload) == cfg.acc_width


def test_amaranth_runtime_k_out_of_range():
    """k_max = 4 has a 3-bit k field: 5..7 run k_max steps (exact), 0 runs one step (drops slots: flagged).
    The payload API refuses such k, so the field is overwritten in its payloads."""
    cfg = cfg_of(8, 4, 3, 8)
    w = bb.project(np.array([[0b1111, -0b1011, 0b110000], [0b1111, -0b1011, 0b110000], [0b1000, 0, -1],
                             [0b11, 1, 1]]), bits=8, k=4)
    x = np.array([[5, -7, 3], [5, -7, 3], [100, 4, -128], [9, 9, 9]])
    gk = [7, 5, 0, 0]
    res_kmax, cyc_kmax = expected(w, x, [8] * 4, [4] * 4, 8)
    partial = bb.cycle_partial_sums(w, x, bits=8, k=4)          # accumulator after each step
    pe = BitBalancePE(cfg)
    payloads = pe.payloads(w, x)
    for p, k in zip(payloads, gk):
        p["weights"]["k"] = k
    out = stream_flagged(pe, payloads)
    assert out.results[:2] == res_kmax[:2] and out.steps[:2] == cyc_kmax[:2]
    assert out.results[2:] == partial[0, 2:].tolist() and out.steps[2:] == [1, 1]
    assert out.errors == [0, 0, 0, 1]      # group 2 has one one per weight: nothing dropped


def test_amaranth_position_out_of_range_is_flagged():
    """B=8: the 3-bit position field holds 7 > B-2 = 6, which is not a code (the payload API cannot make
    it, so the bad group is written field by field)."""
    pe = BitBalancePE(cfg_of(8, 2, 2, 8))
    slot = lambda p, v: {"pos": p, "valid": v}
    (good,) = pe.payloads([[-65, 0]], [[3, 4]])
    assert good["weights"] == {"codes": [{"sign": 1, "slots": [slot(6, 1), slot(0, 1)]},
                                         {"sign": 0, "slots": [slot(0, 0), slot(0, 0)]}], "k": 2}
    bad = {"weights": {"codes": [{"sign": 0, "slots": [slot(0, 0), slot(0, 0)]},
                                 {"sign": 0, "slots": [slot(7, 1), slot(0, 0)]}], "k": 2}, "acts": [3, 4]}
    out = stream_flagged(pe, [good, bad, good])
    assert out.results[0] == -65 * 3 and out.errors == [0, 1, 1]


# ---------------------------------------------------------------- cocotb on the generated Verilog

@pytest.mark.cocotb
@pytest.mark.parametrize("bits, k_max, lanes, act_bits, layers, per_group_k", [
    # default: k = 3 (max), 1, 2 and a narrower layer; then k drawn per group
    (8, 3, 16, 8, [(8, 3, 40), (8, 1, 25), (5, 2, 25), (8, 3, 10)], 60),
    # small: k_max = B-1, k = 1 and k = max
    (4, 3, 3, 5, [(4, 1, 30), (4, 3, 30), (3, 2, 20)], 80),
    # k_max = 1 (k cannot change; the weight width does)
    (6, 1, 5, 4, [(6, 1, 50), (3, 1, 30)], 0),
])
def test_cocotb_verilog(bits, k_max, lanes, act_bits, layers, per_group_k, build_dir):
    cfg = cfg_of(bits, k_max, lanes, act_bits)
    w, x, gb, gk = make_stream(cfg, layers, seed=bits * lanes, per_group_k=per_group_k)
    assert len(set(gk.tolist())) == k_max and (k_max == 1 or (np.diff(gk) != 0).any())   # every k, k changes
    res, cyc = expected(w, x, gb, gk, act_bits)
    pe = BitBalancePE(cfg)
    assert cocotb_flagged(pe, "bitbalance_pe", build_dir, pe.pack(w, x, k=gk), res, cyc, [False] * len(w),
                          seed=lanes) == 4


@pytest.mark.cocotb
def test_cocotb_weight_error(build_dir):
    """Run-time k below some weights' one count: the PE computes the first k slots and flags the group.

    The expected result is the golden accumulator after k steps, ``cycle_partial_sums(...)[k-1]``; the
    expected cycles are those of the weights the PE actually used (the first k slots of each code).
    """
    bits, k_max, lanes, act_bits = 8, 3, 16, 8
    rng = np.random.default_rng(11)
    w, x = layer_groups(bits, k_max, lanes, act_bits, 80, rng)
    gk = rng.integers(1, k_max + 1, size=len(w))
    gk[:4] = k_max                                                    # corners: nothing dropped
    partial = bb.cycle_partial_sums(w, x, bits=bits, k=k_max, act_bits=act_bits)
    res = partial[gk - 1, np.arange(len(w))]
    code = bb.encode(w, bits=bits, k=k_max)
    keep = np.arange(k_max) < gk[:, None, None]
    valid = code.valid * keep
    used = bb.decode(bb.BitBalanceCode(np.where(valid.any(-1), code.sign, 0).astype(np.uint8), code.pos * keep,
                                       valid.astype(np.uint8), bits, k_max))
    errors = (code.valid * ~keep).reshape(len(w), -1).any(axis=-1)
    assert errors.any() and not errors.all()
    assert res.tolist() == expected(used, x, [bits] * len(w), gk, act_bits)[0]
    cyc = expected(used, x, [bits] * len(w), gk, act_bits)[1]
    pe = BitBalancePE(cfg_of(bits, k_max, lanes, act_bits))
    assert cocotb_flagged(pe, "bitbalance_pe", build_dir, pe.pack(w, x, k=gk), res.tolist(), cyc, errors, seed=2,
                          benches=("sim.tb_pe", "sim.tb_weight_error")) == 5
