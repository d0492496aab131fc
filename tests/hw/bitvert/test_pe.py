"""BitVert PE: bit-exact against golden.bbs (pass partial sums), cycle-exact against golden.cycles, in the
Amaranth simulator and in Icarus on its Verilog (sim/tb_pe.py); payloads through the PE's own pack/unpack."""

from functools import reduce

import numpy as np
import pytest

from golden.bbs import BBSConfig, encode, round_average
from golden.bits import product_range, signed_width, twos_range
from golden.bitvert import ACT_BITS, partial_weight_range, pe_acc_width
from hw.bitvert.pe import BitVertPE
from sim.amaranth_sim import run_pe_stream, run_sync
from sim.bitvert_vectors import bitvert_passes, corner_groups, pruned_tensor, random_acts
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb


@pytest.mark.parametrize("kwargs, exc, msg", [
    ({"subgroup": 5}, ValueError, r"subgroup must be an integer in \[2, 64\] and even, got 5"),
    ({"pe_length": 20}, ValueError,
     r"pe_length must be an integer in \[8, 64\] and a multiple of subgroup=8, got 20"),
    ({"pe_length": 4}, ValueError,
     r"pe_length must be an integer in \[8, 64\] and a multiple of subgroup=8, got 4"),
    ({"subgroup": 32, "pe_length": 32}, ValueError,
     r"subgroup must be an integer in \[2, 16\] \(the limit of BitVertPE\), got 32"),
    ({"pruned": 7}, ValueError, r"pruned must be an integer in \[0, 6\]"),
    ({"pruned": -1}, ValueError, r"pruned must be an integer in \[0, 6\]"),
    ({"bits": 17}, ValueError, r"bits must be an integer in \[2, 16\], got 17"),
    ({"const_bits": 7}, ValueError, r"const_bits must be an integer in \[1, 6\]"),
    ({"pruned": 2.0}, TypeError, r"pruned must be an integer"),
])
def test_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        BitVertPE(BBSConfig(**kwargs))


def test_bad_config_type():
    with pytest.raises(TypeError, match=r"config must be a golden.bbs.BBSConfig, got 8 of type int"):
        BitVertPE(8)


def make_stream(cfg, seed, *, n_random=2):
    """Corners of both constant kinds, real (Laplace, quantized) RA N-pruned and ZPS-pruned tensors, uniform
    random ones, each with some sensitive INT-B channels mixed in: a list of (encoded, acts)."""
    rng = np.random.default_rng(seed)
    out = [corner_groups(rng, cfg, kind=k) for k in ("ra", "zps")]
    for method in ("ra", "zps"):
        for dist in ["laplace"] + ["uniform"] * n_random:
            e = pruned_tensor(rng, cfg, method=method, dist=dist, channels=4, sensitive_frac=0.25)
            out.append((e, random_acts(rng, e.n_groups, e.group)))
    return out


def passes_for(pe, encs):
    return reduce(lambda x, y: x + y, [bitvert_passes(pe, e, a) for e, a in encs])


def test_payload_round_trip():
    """A G = 32 group is two 16-weight passes sharing the metadata byte; pack -> the input layout's
    fields -> the column bits, metadata and activations of each pass; unpack is two's complement."""
    cfg = BBSConfig()                                   # B = 8, N = 2, G = 32, G_pe = 16
    pe = BitVertPE(cfg)
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, size=(1, 32))
    wp, meta = round_average(w, bits=8, group=32, pruned=2)
    enc = encode(wp, meta)
    a = rng.integers(-128, 128, size=(1, 32))
    words = pe.pack(enc, a)
    assert len(words) == 2
    for p, word in enumerate(words):
        view = pe.input_layout.from_bits(word)
        cols = [int(view.weights.columns[j]) for j in range(cfg.bits)]
        assert cols == [(int(enc.words[0, j]) >> (16 * p)) & 0xFFFF for j in range(cfg.bits)]
        assert cols[cfg.live_columns:] == [0] * cfg.pruned         # B - N live words, the rest 0
        assert (int(view.weights.meta), int(view.weights.sensitive), int(view.weights.signed_const)) == \
            (int(enc.meta[0]), 0, 0)
        assert [int(view.acts[i]) for i in range(16)] == a[0, 16 * p:16 * (p + 1)].tolist()
    width = len(pe.o.payload)
    assert pe.unpack((1 << width) - 1) == -1 and pe.unpack(5) == 5
    with pytest.raises(ValueError, match=r"acts must have shape \(1, 32\) \(n_groups, group\), "
                                         r"got \(1, 16\)"):
        pe.pack(enc, a[:, :16])
    with pytest.raises(ValueError, match=r"acts must hold integers in \[-128, 127\], got 128"):
        pe.pack(enc, np.full((1, 32), 128))
    with pytest.raises(ValueError, match=r"encoded.pruned must be 4 \(config.pruned of this PE\), got 2"):
        BitVertPE(BBSConfig(pruned=4)).pack(enc, a)
    with pytest.raises(TypeError, match=r"encoded must be a golden.bbs.BBSEncoded, got ndarray"):
        pe.pack(w, a)


def test_payload_weight_range():
    """The accumulator is sized for config.weight_range: weights of a wider constant are refused."""
    cfg = BBSConfig(const_bits=6)
    enc, a = corner_groups(np.random.default_rng(0), cfg, kind="zps")
    assert cfg.weight_range == (-160, 155) and BBSConfig(const_bits=3).weight_range == (-132, 127)
    with pytest.raises(ValueError, match=r"encoded weights must lie in config.weight_range \[-132, 127\] "
                                         r"\(const_bits=3\), got \[-160, 155\]"):
        BitVertPE(BBSConfig(const_bits=3)).pack(enc, a)


def run_one_at_a_time(pe, passes):
    """One pass at a time (output always ready): results, accumulator after every cycle, cycles counter."""
    results, accs, counters = [], [], []

    async def bench(ctx):
        ctx.set(pe.o.ready, 1)
        for k, payload in enumerate(passes.payloads):
            ctx.set(pe.i.valid, 1)
            ctx.set(pe.i.payload, payload)
            await ctx.tick().until(pe.i.ready)          # accepted in cycle t; now in cycle t + 1
            ctx.set(pe.i.valid, 0)
            row = []
            while not ctx.get(pe.o.valid):
                assert len(row) <= pe.max_steps + pe.latency, f"pass {k}: no result"
                await ctx.tick()
                row.append(ctx.get(pe.acc))
            n = int(passes.cycles[k])                   # valid in cycle t + n + latency
            assert len(row) == n + pe.latency - 1, f"pass {k}: result {len(row) + 1} cycles after acceptance"
            results.append(ctx.get(pe.o.payload))
            accs.append(row[:n])
            counters.append(ctx.get(pe.cycles))

    run_sync(pe, bench)
    return results, accs, counters


def check_cycle_by_cycle(pe, passes):
    results, accs, counters = run_one_at_a_time(pe, passes)
    assert results == passes.results.tolist()
    for k, row in enumerate(accs):
        assert row == passes.cycle_sums[k, :len(row)].tolist(), f"pass {k}: accumulator {row}"
    assert counters == np.cumsum(passes.cycles).tolist()


@pytest.mark.parametrize("bits, pruned, lanes, subgroup", [(8, 2, 16, 8), (8, 4, 8, 4), (6, 3, 12, 4)])
def test_amaranth_cycle_by_cycle(bits, pruned, lanes, subgroup):
    cfg = BBSConfig(bits=bits, pruned=pruned, subgroup=subgroup, pe_length=lanes)
    pe = BitVertPE(cfg)
    check_cycle_by_cycle(pe, passes_for(pe, make_stream(cfg, seed=bits + pruned + lanes, n_random=1)))


@pytest.mark.parametrize("bits, pruned, lanes, subgroup", [(8, 2, 16, 8), (6, 3, 12, 4)])
def test_amaranth_stream(bits, pruned, lanes, subgroup):
    """Producer and consumer testbenches: back to back, pass k + 1 accepted when pass k ends, each result
    n + latency cycles after acceptance; then random gaps and back-pressure; results exact and in order."""
    cfg = BBSConfig(bits=bits, pruned=pruned, subgroup=subgroup, pe_length=lanes)
    pe = BitVertPE(cfg)
    passes = passes_for(pe, make_stream(cfg, seed=7 * bits + lanes, n_random=1))
    assert set(passes.cycles.tolist()) == {bits, bits - pruned}
    res = run_pe_stream(pe, passes.payloads)
    assert res.results == passes.results.tolist()
    assert np.diff(res.accepted).tolist() == passes.cycles[:-1].tolist()
    assert [o - i for o, i in zip(res.produced, res.accepted)] == (passes.cycles + pe.latency).tolist()
    res = run_pe_stream(pe, passes.payloads, in_prob=0.6, out_prob=0.4, seed=bits)
    assert res.results == passes.results.tolist()


@pytest.mark.parametrize("bits, pruned, lanes, subgroup, const_bits", [
    (8, 2, 16, 8, 6), (8, 4, 16, 8, 6), (8, 0, 16, 8, 6), (8, 2, 16, 8, 3), (8, 6, 8, 8, 6),
    (12, 5, 32, 16, 6), (4, 2, 2, 2, 2)])
def test_worst_case_accumulator(bits, pruned, lanes, subgroup, const_bits):
    """Groups at the extremes of the format (weight_range x int8 and the sign-column overshoot) drive the
    result and the accumulator to their worst cases; every value comes out exact."""
    cfg = BBSConfig(bits=bits, pruned=pruned, subgroup=subgroup, pe_length=lanes, const_bits=const_bits)
    pe = BitVertPE(cfg)
    enc, a = corner_groups(np.random.default_rng(bits * lanes), cfg, kind="zps")
    passes = bitvert_passes(pe, enc, a)
    acts = twos_range(ACT_BITS)

    def extremes(xrange):
        lo, hi = product_range(xrange, acts)
        return lanes * lo, lanes * hi

    # the stream reaches the bounds the widths are derived from ...
    rlo, rhi = extremes(cfg.weight_range)
    plo, phi = extremes(partial_weight_range(cfg))
    assert (passes.results.min(), passes.results.max()) == (rlo, rhi)
    assert (passes.cycle_sums.min(), passes.cycle_sums.max()) == (plo, phi)
    # ... which need every bit of them
    assert signed_width(rlo, rhi) == cfg.acc_width
    assert signed_width(plo, phi) == pe_acc_width(cfg)
    assert len(pe.o.payload) == cfg.acc_width and len(pe.acc) == pe_acc_width(cfg)
    check_cycle_by_cycle(pe, passes)


# -- cocotb on the generated Verilog (sim/tb_pe.py: back-to-back cycle exactness, random back-pressure,
#    clear and reset in the middle of a pass) ------------------------------------------------------------

COCOTB_CONFIGS = [
    # bits, pruned, lanes, subgroup, const_bits
    (8, 2, 16, 8, 6),          # paper "cons" PE
    (8, 4, 16, 8, 6),          # paper "mod" PE
    (8, 4, 8, 8, 6),           # small: G_pe = 8, one sub-group
    (8, 2, 8, 4, 6),           # small: G_pe = 8, Gs = 4
    (8, 0, 16, 8, 6),          # N = 0: every group B columns
    (8, 6, 16, 8, 6),          # N = 6: 2 live columns, both carry a constant digit
    (6, 3, 12, 4, 4),          # three sub-groups, a padded last pass (G = 32 = 2*12 + 8), p = 4
]


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, pruned, lanes, subgroup, const_bits", COCOTB_CONFIGS)
def test_cocotb_verilog(bits, pruned, lanes, subgroup, const_bits, build_dir):
    cfg = BBSConfig(bits=bits, pruned=pruned, subgroup=subgroup, pe_length=lanes, const_bits=const_bits)
    pe = BitVertPE(cfg)
    encs = make_stream(cfg, seed=1000 + bits * 64 + pruned * 8 + lanes)
    passes = passes_for(pe, encs)
    assert set(passes.cycles.tolist()) == ({bits, bits - pruned})      # sensitive and pruned passes mixed
    words = [w for e, a in encs for w in pe.pack(e, a)]
    vec = write_vectors(build_dir / "vectors.json", pe, words, passes.results, passes.cycles)
    assert run_cocotb(pe, toplevel=f"bitvert_pe_b{bits}_n{pruned}_g{lanes}_s{subgroup}",
                      tb_module="sim.tb_pe", build_dir=build_dir,
                      params={"vectors": str(vec), "seed": lanes + pruned}) == 4
