"""hw/baselines/stripes.py: the Stripes PE against golden.baselines, in the Amaranth simulator and in
Icarus on its Verilog (sim/tb_pe.py); payloads through the PE's own pack/unpack."""

import numpy as np
import pytest

from golden.baselines import DenseConfig, stripes_cycle_sums, stripes_dot
from golden.bits import twos_range
from golden.cycles import group_cycles_stripes
from hw.baselines.stripes import StripesPE
from sim.amaranth_sim import run_pe_stream
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb


def groups(cfg, n, seed):
    rng = np.random.default_rng(seed)
    (wlo, whi), (alo, ahi), lanes = twos_range(cfg.bits), twos_range(cfg.act_bits), cfg.pe_length
    w = rng.integers(wlo, whi + 1, size=(n, lanes))
    a = rng.integers(alo, ahi + 1, size=(n, lanes))
    corners_w = [np.zeros(lanes, int), np.full(lanes, wlo), np.full(lanes, whi), np.full(lanes, -1)]
    corners_a = [np.full(lanes, alo), np.full(lanes, alo), np.full(lanes, ahi), np.full(lanes, alo)]
    return np.concatenate([corners_w, w]), np.concatenate([corners_a, a])


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"pe_length must be an integer in \[1, 64\] \(the limit of StripesPE\), got 65"):
        StripesPE(DenseConfig(pe_length=65))
    with pytest.raises(ValueError, match=r"act_bits must be an integer in \[2, 16\] \(the limit of StripesPE\), got 17"):
        StripesPE(DenseConfig(act_bits=17))
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 1"):
        DenseConfig(bits=1)
    with pytest.raises(TypeError, match=r"config must be a golden.baselines.DenseConfig, got 8 of type int"):
        StripesPE(8)


def test_payload_round_trip():
    """pack -> the input layout's fields -> the same integers; unpack is two's complement."""
    cfg = DenseConfig(bits=4, pe_length=3, act_bits=5)
    pe = StripesPE(cfg)
    w, a = np.array([[-8, 7, -1]]), np.array([[-16, 15, 3]])
    (word,) = pe.pack(w, a)
    view = pe.input_layout.from_bits(word)          # the layout reads the word back
    assert [view.weights[i] for i in range(3)] == [-8, 7, -1]
    assert [view.acts[i] for i in range(3)] == [-16, 15, 3]
    assert word == (8 | 7 << 4 | 15 << 8) | (16 | 15 << 5 | 3 << 10) << 12
    width = len(pe.o.payload)
    assert pe.unpack((1 << width) - 1) == -1 and pe.unpack(5) == 5
    with pytest.raises(ValueError, match=r"weights must hold integers in \[-8, 7\], got 8 at index \(1,\)"):
        pe.pack([[0, 8, 0]], a)
    with pytest.raises(ValueError, match=r"acts must have 3 lanes \(last axis\), got shape \(1, 2\)"):
        pe.pack(w, [[0, 0]])


def test_amaranth_stream():
    """Producer and consumer testbenches: back to back, one group every B cycles, exact results."""
    cfg = DenseConfig(bits=4, pe_length=4, act_bits=4)
    pe = StripesPE(cfg)
    w, a = groups(cfg, 12, seed=2)
    sums = stripes_cycle_sums(w, a, cfg)
    res = run_pe_stream(pe, pe.payloads(w, a))
    assert res.results == sums[:, -1].tolist()
    assert np.diff(res.accepted).tolist() == [cfg.bits] * (len(w) - 1)
    assert [o - i for o, i in zip(res.produced, res.accepted)] == [cfg.bits + pe.latency] * len(w)


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (8, 8, 8), (4, 3, 5)])
def test_cocotb_verilog(bits, lanes, act_bits, build_dir):
    cfg = DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    pe = StripesPE(cfg)
    w, a = groups(cfg, 60, seed=bits * lanes)
    vec = write_vectors(build_dir / "vectors.json", pe, pe.pack(w, a), stripes_dot(w, a, cfg),
                        group_cycles_stripes(w, bits=bits))          # the cycle model: B per group
    assert run_cocotb(pe, toplevel="stripes_pe", tb_module="sim.tb_pe", build_dir=build_dir,
                      params={"vectors": str(vec), "seed": lanes}) == 4
