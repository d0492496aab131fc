"""hw/baselines/parallel_mac.py: the bit-parallel MAC (LUT and SB_MAC16 multipliers) against
golden.baselines, streamed in the Amaranth simulator and in Icarus on its Verilog (sim/tb_pe.py)."""

import numpy as np
import pytest

from golden.baselines import DenseConfig, parallel_dot
from golden.bits import twos_range
from golden.cycles import group_cycles_parallel
from hw.baselines.parallel_mac import ParallelMAC, sb_mac16_sim_model
from sim.amaranth_sim import run_pe_groups, run_pe_stream
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb


def groups(bits, lanes, act_bits, n, seed):
    rng = np.random.default_rng(seed)
    wlo, whi = twos_range(bits)
    alo, ahi = twos_range(act_bits)
    corners_w = [np.zeros(lanes, int), np.full(lanes, wlo), np.full(lanes, whi), np.full(lanes, wlo),
                 np.full(lanes, -1)]
    corners_a = [np.full(lanes, alo), np.full(lanes, alo), np.full(lanes, alo), np.full(lanes, ahi),
                 np.full(lanes, alo)]
    w = rng.integers(wlo, whi + 1, size=(n, lanes))
    a = rng.integers(alo, ahi + 1, size=(n, lanes))
    return np.concatenate([corners_w, w]), np.concatenate([corners_a, a])


def vectors(pe, n, seed, path):
    cfg = pe.config
    w, a = groups(cfg.bits, cfg.pe_length, cfg.act_bits, n, seed)
    return write_vectors(path, pe, pe.pack(w, a), parallel_dot(w, a, cfg), group_cycles_parallel(w, bits=cfg.bits))


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"pe_length must be an integer in \[1, 64\] \(the limit of ParallelMAC\), got 65"):
        ParallelMAC(DenseConfig(pe_length=65))
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 17"):
        DenseConfig(bits=17)
    with pytest.raises(ValueError, match=r"act_bits must be an integer in \[2, 16\] \(the limit of ParallelMAC\), got 17"):
        ParallelMAC(DenseConfig(act_bits=17))
    with pytest.raises(ValueError, match=r"multiplier must be one of 'lut', 'sb_mac16', got 'dsp'"):
        ParallelMAC(DenseConfig(), multiplier="dsp")


@pytest.mark.parametrize("bits, lanes, act_bits", [(4, 4, 4), (8, 16, 8), (3, 5, 6)])
def test_amaranth_back_to_back(bits, lanes, act_bits):
    """Input always valid, output always ready: one exact result per cycle, the first 2 cycles after
    the first acceptance, and the cycle counter counts one step per group."""
    cfg = DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    pe = ParallelMAC(cfg)
    w, a = groups(bits, lanes, act_bits, 30, seed=lanes)
    res = run_pe_stream(pe, pe.payloads(w, a), sample=pe.cycles)
    assert res.results == parallel_dot(w, a, cfg).tolist()
    assert res.accepted == list(range(1, len(w) + 1))                    # never stalls
    assert res.produced == [t + 1 + pe.latency for t in res.accepted]    # 1 step + latency, one per cycle
    assert res.samples[-1] == len(w) == sum(group_cycles_parallel(w, bits=bits))   # the counter


@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (2, 1, 2), (16, 64, 16)])
def test_accumulator_worst_case(bits, lanes, act_bits):
    """The result port is DenseConfig.acc_width wide and holds both extremes of dot_range exactly."""
    cfg = DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    pe = ParallelMAC(cfg)
    assert len(pe.o.payload) == cfg.acc_width
    wlo, whi = twos_range(bits)
    alo, ahi = twos_range(act_bits)
    w = np.array([np.full(lanes, wlo), np.full(lanes, wlo), np.full(lanes, whi)])
    a = np.array([np.full(lanes, alo), np.full(lanes, ahi), np.full(lanes, alo)])
    want = parallel_dot(w, a, cfg).tolist()
    lo, hi = cfg.dot_range()
    assert hi == want[0] and lo == min(want[1:])
    got = [r for r, _, _ in run_pe_groups(pe, pe.payloads(w, a))]
    assert got == want


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (8, 8, 8), (5, 3, 6)])
def test_cocotb_verilog(bits, lanes, act_bits, build_dir):
    pe = ParallelMAC(DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits))
    vec = vectors(pe, 300, bits * lanes, build_dir / "vectors.json")
    passed = run_cocotb(pe, toplevel="parallel_mac", tb_module="sim.tb_pe",
                        build_dir=build_dir, params={"vectors": str(vec), "seed": lanes})
    assert passed == 4


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (5, 3, 6), (16, 2, 16)])
def test_cocotb_sb_mac16(bits, lanes, act_bits, build_dir):
    """The SB_MAC16 variant, simulated with Yosys' iCE40 cell model (cells_sim.v) under Icarus."""
    pe = ParallelMAC(DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits), multiplier="sb_mac16")
    vec = vectors(pe, 300, bits * lanes + 1, build_dir / "vectors.json")
    model, defines = sb_mac16_sim_model()
    passed = run_cocotb(
        pe, toplevel="parallel_mac_dsp",
        tb_module="sim.tb_pe", build_dir=build_dir, params={"vectors": str(vec), "seed": lanes},
        extra_sources=[model], defines=defines)
    assert passed == 4
