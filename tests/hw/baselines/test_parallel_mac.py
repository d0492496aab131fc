
import numpy as np
import pytest

from golden.baselines import DenseConfig, parallel_dot
from golden.bits import twos_range
from golden.cycles import group_cycles_parallel
from hw.baselines.parallel_mac import ParallelMAC, sb_mac16_sim_model
from sim.amaranth_sim import run_pe_groups, run_sync
from sim.pe_vectors import pack_payloads, write_vectors
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


def vectors(bits, lanes, act_bits, n, seed, path):
    cfg = DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    w, a = groups(bits, lanes, act_bits, n, seed)
    payloads = pack_payloads(ParallelMAC.weights_layout(bits, lanes), lanes=lanes, act_bits=act_bits,
                             weights=[[int(v) for v in row] for row in w], acts=a)
    return write_vectors(path, payloads, parallel_dot(w, a, cfg), group_cycles_parallel(w, bits=bits))


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"lanes must be an integer in \[1, 64\], got 65"):
        ParallelMAC(lanes=65)
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 17"):
        ParallelMAC(bits=17)
    with pytest.raises(ValueError, match=r"act_bits must be an integer in \[2, 16\], got 1"):
        ParallelMAC(act_bits=1)
    with pytest.raises(ValueError, match=r"multiplier must be one of 'lut', 'sb_mac16', got 'dsp'"):
        ParallelMAC(multiplier="dsp")


@pytest.mark.parametrize("bits, lanes, act_bits", [(4, 4, 4), (8, 16, 8), (3, 5, 6)])
def test_amaranth_back_to_back(bits, lanes, act_bits):
    """Input always valid, output always ready: one exact result per cycle, the first 2 cycles after
    the first acceptance, and the cycle counter counts one step per group."""
    pe = ParallelMAC(bits, lanes, act_bits)
    cfg = DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    w, a = groups(bits, lanes, act_bits, 30, seed=lanes)
    want = parallel_dot(w, a, cfg).tolist()
    got, out_t, in_t = [], [], []

    async def bench(ctx):
        ctx.set(pe.o.ready, 1)
        t, g = 0, 0
        while len(got) < len(w):
            if g < len(w):
                ctx.set(pe.i.valid, 1)
                ctx.set(pe.i.payload, {"weights": [int(v) for v in w[g]], "acts": [int(v) for v in a[g]]})
            else:
                ctx.set(pe.i.valid, 0)
            _, _, accepted, produced, result = await ctx.tick().sample(
                pe.i.valid & pe.i.ready, pe.o.valid, pe.o.payload)
            if accepted:
                in_t.append(t)
                g += 1
            if produced:
                got.append(result)
                out_t.append(t)
            t += 1
            assert t < 10 * len(w)
        assert ctx.get(pe.cycles) == len(w) == sum(group_cycles_parallel(w, bits=bits))

    run_sync(pe, bench)
    assert got == want
    assert in_t == list(range(len(w)))                       # never stalls
    assert out_t == [t + 2 for t in in_t]                    # 1 step + 1: latency 2, one per cycle


@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (2, 1, 2), (16, 64, 16)])
def test_accumulator_worst_case(bits, lanes, act_bits):
    """The result port is DenseConfig.acc_width wide and holds both extremes of dot_range exactly."""
    pe = ParallelMAC(bits, lanes, act_bits)
    cfg = DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    assert len(pe.o.payload) == cfg.acc_width
    wlo, whi = twos_range(bits)
    alo, ahi = twos_range(act_bits)
    w = np.array([np.full(lanes, wlo), np.full(lanes, wlo), np.full(lanes, whi)])
    a = np.array([np.full(lanes, alo), np.full(lanes, ahi), np.full(lanes, alo)])
    want = parallel_dot(w, a, cfg).tolist()
    lo, hi = cfg.dot_range()
    assert hi == want[0] and lo == min(want[1:])
    got = [r for r, _, _ in run_pe_groups(
        pe, [{"weights": [int(v) for v in w[g]], "acts": [int(v) for v in a[g]]} for g in range(len(w))])]
    assert got == want


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (8, 8, 8), (5, 3, 6)])
def test_cocotb_verilog(bits, lanes, act_bits, build_dir):
    vec = vectors(bits, lanes, act_bits, 300, bits * lanes, build_dir / "vectors.json")
    passed = run_cocotb(ParallelMAC(bits, lanes, act_bits), toplevel="parallel_mac", tb_module="sim.tb_pe",
                        build_dir=build_dir, params={"vectors": str(vec), "seed": lanes})
    assert passed == 4


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (5, 3, 6), (16, 2, 16)])
def test_cocotb_sb_mac16(bits, lanes, act_bits, build_dir):
    """The SB_MAC16 variant, simulated with Yosys' iCE40 cell model (cells_sim.v) under Icarus."""
    vec = vectors(bits, lanes, act_bits, 300, bits * lanes + 1, build_dir / "vectors.json")
    model, defines = sb_mac16_sim_model()
    passed = run_cocotb(
        ParallelMAC(bits, lanes, act_bits, multiplier="sb_mac16"), toplevel="parallel_mac_dsp",
        tb_module="sim.tb_pe", build_dir=build_dir, params={"vectors": str(vec), "seed": lanes},
        extra_sources=[model], defines=defines)
    assert passed == 4
