"""hw/baselines/pragmatic.py: the Pragmatic PE against golden.baselines, step by step in the Amaranth
simulator, streamed back to back, and in Icarus on its Verilog (sim/tb_pe.py)."""

import numpy as np
import pytest

from golden.baselines import PragmaticConfig, pragmatic_cycle_sums, pragmatic_dot
from golden.bits import twos_range
from golden.cycles import group_cycles_pragmatic
from hw.baselines.pragmatic import PragmaticPE
from sim.amaranth_sim import run_pe_groups, run_pe_stream, run_sync
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb


def groups(bits, lanes, act_bits, n, seed):
    """Corner groups, then random groups with every density of essential bits (varied step counts)."""
    rng = np.random.default_rng(seed)
    m = (1 << (bits - 1)) - 1
    alo, ahi = twos_range(act_bits)
    z, full = np.zeros(lanes, int), np.full(lanes, m)
    one_lane = z.copy()
    one_lane[lanes // 2] = -m                       # one slow lane sets the pace of the whole group
    corners = [
        (z, np.full(lanes, alo)),                   # all-zero group: 1 cycle
        (full, np.full(lanes, alo)),                # max magnitude, B-1 cycles; accumulator minimum
        (-full, np.full(lanes, alo)),               # accumulator maximum
        (-full, np.full(lanes, ahi)),
        (one_lane, np.full(lanes, alo)),
        (np.full(lanes, 1 << (bits - 2)), np.full(lanes, alo)),   # one bit at the top offset
        (np.full(lanes, -1), np.full(lanes, alo)),  # one bit at offset 0, negative
    ]
    w = [c[0] for c in corners]
    a = [c[1] for c in corners]
    for g in range(n):
        mag = rng.integers(0, m + 1, size=lanes)
        for _ in range(g % 5):                      # AND of random words: fewer ones per lane
            mag &= rng.integers(0, m + 1, size=lanes)
        sign = rng.integers(0, 2, size=lanes)
        w.append(np.where(sign == 1, -mag, mag))
        acts = rng.integers(alo, ahi + 1, size=lanes)
        if g % 7 == 3:
            acts = np.where(rng.integers(0, 2, size=lanes) == 1, alo, acts)   # most negative activations
        a.append(acts)
    return np.array(w), np.array(a)


def make(bits, lanes, act_bits):
    cfg = PragmaticConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    return cfg, PragmaticPE(cfg)


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"pe_length must be an integer in \[1, 64\] \(the limit of PragmaticPE\), got 65"):
        PragmaticPE(PragmaticConfig(pe_length=65))
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 1"):
        PragmaticConfig(bits=1)
    with pytest.raises(ValueError, match=r"act_bits must be an integer in \[2, 16\] \(the limit of PragmaticPE\), got 17"):
        PragmaticPE(PragmaticConfig(act_bits=17))
    with pytest.raises(TypeError, match=r"bits must be an integer"):
        PragmaticConfig(bits=8.0)
    with pytest.raises(ValueError, match=r"weights holds -128 at index \(1,\), which has no 8-bit sign-magnitude code"):
        PragmaticPE(PragmaticConfig()).encode_weights([1, -128])     # no sign-magnitude code


def test_weights_layout():
    # lane i = bits [B*i, B*i+B): magnitude in the low B-1 bits, sign on top
    _, pe = make(8, 3, 8)
    layout = PragmaticPE.weights_layout(pe.config)
    assert layout.size == 24
    v = layout.const(pe.encode_weights([5, -127, 0])).as_value().value
    assert v == 0x05 | (0xFF << 8) | (0x00 << 16)
    (word,) = pe.pack([[5, -127, 0]], [[1, -128, 127]])          # the whole input word: weights, then acts
    assert word == v | (0x01 | 0x80 << 8 | 0x7F << 16) << 24


def test_amaranth_stream():
    """Producer and consumer testbenches: groups back to back, each the cycle model's steps long."""
    cfg, pe = make(6, 5, 7)
    w, a = groups(6, 5, 7, 30, seed=5)
    model = group_cycles_pragmatic(w, bits=6)
    res = run_pe_stream(pe, pe.payloads(w, a))
    assert res.results == pragmatic_dot(w, a, cfg).tolist()
    assert np.diff(res.accepted).tolist() == model[:-1].tolist()
    assert [o - i for o, i in zip(res.produced, res.accepted)] == (model + pe.latency).tolist()


@pytest.mark.parametrize("bits, lanes, act_bits", [(4, 4, 4), (2, 3, 2), (8, 16, 8), (6, 5, 7)])
def test_amaranth_partial_sums_cycles_and_result(bits, lanes, act_bits):
    """Every step's accumulator equals the golden MSB-first partial sum; the group runs exactly the
    cycle model's steps, the result appears one cycle after the last step."""
    cfg, pe = make(bits, lanes, act_bits)
    w, a = groups(bits, lanes, act_bits, 16, seed=bits + lanes)
    sums, _ = pragmatic_cycle_sums(w, a, cfg)
    model = group_cycles_pragmatic(w, bits=bits)
    payloads = pe.payloads(w, a)
    log = []

    async def bench(ctx):
        ctx.set(pe.o.ready, 1)
        for g in range(len(w)):
            ctx.set(pe.i.valid, 1)
            ctx.set(pe.i.payload, payloads[g])
            await ctx.tick().until(pe.i.ready)
            ctx.set(pe.i.valid, 0)
            c0 = ctx.get(pe.cycles)
            partial = []
            while True:
                assert not ctx.get(pe.o.valid)
                await ctx.tick()
                partial.append(ctx.get(pe.acc))
                if ctx.get(pe.o.valid):
                    break
                assert len(partial) <= bits, "no result"
            log.append((partial, ctx.get(pe.cycles) - c0, ctx.get(pe.o.payload)))
            await ctx.tick()                          # the result is consumed

    run_sync(pe, bench)
    for g, (partial, steps, result) in enumerate(log):
        assert steps == len(partial) == model[g], f"group {g}: {steps} steps, model {model[g]}"
        assert partial == sums[g, :model[g]].tolist(), f"group {g}"
        assert result == sums[g, -1]


@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (3, 7, 2), (16, 64, 16)])
def test_accumulator_worst_case(bits, lanes, act_bits):
    """The result port is PragmaticConfig.acc_width wide and holds both extremes of dot_range exactly."""
    cfg, pe = make(bits, lanes, act_bits)
    assert len(pe.o.payload) == len(pe.acc) == cfg.acc_width
    m = (1 << (bits - 1)) - 1
    alo = twos_range(act_bits)[0]
    w = np.array([np.full(lanes, m), np.full(lanes, -m)])
    a = np.full((2, lanes), alo)
    want = pragmatic_dot(w, a, cfg).tolist()
    assert want == [cfg.dot_range()[0], cfg.dot_range()[1]]
    got = [r for r, _, _ in run_pe_groups(pe, pe.payloads(w, a))]
    assert got == want


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (8, 8, 8), (5, 3, 6), (2, 1, 2)])
def test_cocotb_verilog(bits, lanes, act_bits, build_dir):
    cfg, pe = make(bits, lanes, act_bits)
    w, a = groups(bits, lanes, act_bits, 300, seed=bits * lanes + act_bits)
    results = pragmatic_dot(w, a, cfg)
    cycles = group_cycles_pragmatic(w, bits=bits)           # the cycle model
    assert cycles.min() == 1 and cycles.max() == bits - 1   # the data covers both extremes
    vec = write_vectors(build_dir / "vectors.json", pe, pe.pack(w, a), results, cycles)
    passed = run_cocotb(pe, toplevel="pragmatic_pe", tb_module="sim.tb_pe",
                        build_dir=build_dir, params={"vectors": str(vec), "seed": lanes})
    assert passed == 4
