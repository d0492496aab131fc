"""BitVert PE: bit-exact against golden.bbs (pass partial sums), cycle-exact against golden.cycles."""

import numpy as np
import pytest

from golden.bbs import BBSConfig
from golden.bits import signed_width, twos_range
from golden.bitvert import partial_weight_range, pe_acc_width
from hw.bitvert.pe import BitVertPE
from sim.amaranth_sim import run_sync
from sim.bitvert_vectors import (bitvert_passes, corner_groups, pruned_tensor, random_acts,
                                 write_bitvert_vectors)
from sim.runner import run_cocotb


@pytest.mark.parametrize("kwargs, exc, msg", [
    ({"subgroup": 5}, ValueError, r"subgroup must be an integer in \[2, 16\] and even, got 5"),
    ({"lanes": 20}, ValueError, r"lanes must be an integer in \[8, 64\] and a multiple of subgroup=8, got 20"),
    ({"lanes": 4}, ValueError, r"lanes must be an integer in \[8, 64\] and a multiple of subgroup=8, got 4"),
    ({"pruned": 7}, ValueError, r"pruned must be an integer in \[0, 6\]"),
    ({"pruned": -1}, ValueError, r"pruned must be an integer in \[0, 6\]"),
    ({"bits": 17}, ValueError, r"bits must be an integer in \[2, 16\], got 17"),
    ({"const_bits": 7}, ValueError, r"const_bits must be an integer in \[1, 6\]"),
    ({"pruned": 2.0}, TypeError, r"pruned must be an integer"),
])
def test_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        BitVertPE(**kwargs)


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


def passes_for(cfg, encs):
    ps = [bitvert_passes(e, a, pe_length=cfg.pe_length, subgroup=cfg.subgroup) for e, a in encs]
    total = ps[0]
    for p in ps[1:]:
        total = total + p
    return total


def run_amaranth(pe, passes):
    """One pass at a time (output always ready): results, accumulator after every cycle, cycles counter."""
    results, accs, counters = [], [], []

    async def bench(ctx):
        ctx.set(pe.o.ready, 1)
        for k in range(len(passes)):
            ctx.set(pe.i.valid, 1)
            ctx.set(pe.i.payload, {"weights": passes.weights[k], "acts": [int(v) for v in passes.acts[k]]})
            await ctx.tick().until(pe.i.ready)
            ctx.set(pe.i.valid, 0)
            row = []
            for _ in range(int(passes.cycles[k])):
                await ctx.tick()
                row.append(ctx.get(pe.acc))
            assert ctx.get(pe.o.valid), f"pass {k}: no result after {passes.cycles[k]} steps + 1"
            results.append(ctx.get(pe.o.payload))
            accs.append(row)
            counters.append(ctx.get(pe.cycles))

    run_sync(pe, bench)
    return results, accs, counters


def check_amaranth(pe, passes):
    results, accs, counters = run_amaranth(pe, passes)
    assert results == passes.results.tolist()
    for k, row in enumerate(accs):
        assert row == passes.cycle_sums[k, :len(row)].tolist(), f"pass {k}: accumulator {row}"
    assert counters == np.cumsum(passes.cycles).tolist()


@pytest.mark.parametrize("bits, pruned, lanes, subgroup", [(8, 2, 16, 8), (8, 4, 8, 4), (6, 3, 12, 4)])
def test_amaranth_cycle_by_cycle(bits, pruned, lanes, subgroup):
    cfg = BBSConfig(bits=bits, pruned=pruned, subgroup=subgroup, pe_length=lanes)
    passes = passes_for(cfg, make_stream(cfg, seed=bits + pruned + lanes, n_random=1))
    check_amaranth(BitVertPE(bits, pruned, lanes, subgroup), passes)


@pytest.mark.parametrize("bits, pruned, lanes, subgroup, const_bits", [
    (8, 2, 16, 8, 6), (8, 4, 16, 8, 6), (8, 0, 16, 8, 6), (8, 2, 16, 8, 3), (8, 6, 8, 8, 6),
    (12, 5, 32, 16, 6), (4, 2, 2, 2, 2)])
def test_worst_case_accumulator(bits, pruned, lanes, subgroup, const_bits):
    """Groups at the extremes of the format (weight_range x int8 and the sign-column overshoot) drive the
    result and the accumulator to their worst cases; every value comes out exact."""
    cfg = BBSConfig(bits=bits, pruned=pruned, subgroup=subgroup, pe_length=lanes, const_bits=const_bits)
    enc, a = corner_groups(np.random.default_rng(bits * lanes), cfg, kind="zps")
    passes = bitvert_passes(enc, a, pe_length=lanes, subgroup=subgroup)
    alo, ahi = twos_range(8)

    def extremes(xlo, xhi):
        prods = (xlo * alo, xlo * ahi, xhi * alo, xhi * ahi)
        return lanes * min(prods), lanes * max(prods)

    # the stream reaches the bounds the widths are derived from ...
    rlo, rhi = extremes(*cfg.weight_range)
    plo, phi = extremes(*partial_weight_range(cfg))
    assert (passes.results.min(), passes.results.max()) == (rlo, rhi)
    assert (passes.cycle_sums.min(), passes.cycle_sums.max()) == (plo, phi)
    # ... which need every bit of them
    assert signed_width(rlo, rhi) == cfg.acc_width
    assert signed_width(plo, phi) == pe_acc_width(cfg)
    pe = BitVertPE(bits, pruned, lanes, subgroup, const_bits)
    assert len(pe.o.payload) == cfg.acc_width and len(pe.acc) == pe.acc_width
    check_amaranth(pe, passes)


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
    passes = passes_for(cfg, make_stream(cfg, seed=1000 + bits * 64 + pruned * 8 + lanes))
    assert set(passes.cycles.tolist()) == ({bits, bits - pruned})      # sensitive and pruned passes mixed
    vec = write_bitvert_vectors(build_dir / "vectors.json", passes, bits=bits, lanes=lanes)
    run_cocotb(BitVertPE(bits, pruned, lanes, subgroup, const_bits),
               toplevel=f"bitvert_pe_b{bits}_n{pruned}_g{lanes}_s{subgroup}", tb_module="sim.tb_pe",
               build_dir=build_dir, params={"vectors": str(vec), "seed": lanes + pruned})
