"""BBS scheduler alone: per-cycle controls against golden.bbs.column_sums, golden.primitives and golden.bitvert."""

import json

import numpy as np
import pytest

from golden.bbs import BBSConfig, column_sums
from golden.bitvert import DIGIT_BITS, constant_digits
from golden.primitives import bbs_column_decode
from hw.bitvert.pe import BitVertPE
from hw.bitvert.scheduler import BBSScheduler
from sim.amaranth_sim import run_sync
from sim.bitvert_vectors import corner_groups, pruned_tensor, random_acts
from sim.runner import run_cocotb


@pytest.mark.parametrize("kwargs, exc, msg", [
    ({"subgroup": 7}, ValueError, r"subgroup must be an integer in \[2, 64\] and even, got 7"),
    ({"subgroup": 32, "pe_length": 32}, ValueError,
     r"subgroup must be an integer in \[2, 16\] \(the limit of BBSScheduler\), got 32"),
    ({"pe_length": 12}, ValueError,
     r"pe_length must be an integer in \[8, 64\] and a multiple of subgroup=8, got 12"),
    ({"pe_length": 72}, ValueError,
     r"pe_length must be an integer in \[8, 64\] and a multiple of subgroup=8, got 72"),
    ({"pruned": 7}, ValueError, r"pruned must be an integer in \[0, 6\]"),
    ({"bits": 4, "pruned": 3}, ValueError, r"pruned must be an integer in \[0, 2\]"),
    ({"bits": 1}, ValueError, r"bits must be an integer in \[2, 16\], got 1"),
    ({"pe_length": 16.0}, TypeError, r"pe_length must be an integer"),
])
def test_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        BBSScheduler(BBSConfig(**kwargs))


def test_bad_config_type():
    with pytest.raises(TypeError, match=r"config must be a golden.bbs.BBSConfig, got 8 of type int"):
        BBSScheduler(8)


def stream(cfg, seed):
    """Corners of both kinds plus pruned tensors (RA and ZPS, uniform and Laplace, some sensitive)."""
    rng = np.random.default_rng(seed)
    encs = [corner_groups(rng, cfg, kind=k) for k in ("ra", "zps")]
    for method, dist in (("ra", "laplace"), ("zps", "uniform")):
        e = pruned_tensor(rng, cfg, method=method, dist=dist, channels=4, sensitive_frac=0.3)
        encs.append((e, random_acts(rng, e.n_groups, e.group)))
    return encs


def expected_controls(enc, a, cfg):
    """Per pass, per live cycle: the controls the scheduler must give, all from the golden model."""
    gs, pe = cfg.subgroup, cfg.pe_length
    cs = column_sums(enc, a, subgroup=gs, pe_length=pe)
    hi, lo = constant_digits(enc.meta, signed=enc.kind == "zps")
    hi, lo = np.where(enc.sensitive, 0, hi), np.where(enc.sensitive, 0, lo)
    assert (hi * (1 << DIGIT_BITS) + lo == cs.constant).all()
    P, S = cs.pass_asum.shape[1], pe // gs
    out = []
    for g in range(enc.n_groups):
        for p in range(P):
            steps = []
            for t in range(int(cs.live[g])):
                word = int(enc.words[g, t]) >> (p * pe)
                subs = np.array([(word >> (s * gs)) & ((1 << gs) - 1) for s in range(S)])
                inv, sel, val = bbs_column_decode(subs, subgroup=gs)
                assert inv.tolist() == cs.invert[g, t, p].astype(int).tolist()
                assert val.sum(axis=-1).tolist() == cs.selected_count[g, t, p].tolist()
                cw = int(cs.col_weight[g, t])
                digit = [int(hi[g]), 1] if t == 0 else [int(lo[g]), 0] if t == 1 else [0, 0]
                steps.append({"invert": inv.tolist(), "sel": sel.tolist(), "valid": val.tolist(),
                              "col_idx": abs(cw).bit_length() - 1, "is_msb": int(cw < 0),
                              "digit": digit})
            out.append((int(cs.live[g]), steps))
    return out


def vectors(cfg):
    """The ``weights`` field of every pass (BitVertPE.payloads: the scheduler's ``group``) and its controls."""
    pe = BitVertPE(cfg)
    passes, want = [], []
    for enc, a in stream(cfg, seed=cfg.bits * 100 + cfg.pruned * 10 + cfg.pe_length):
        passes += [p["weights"] for p in pe.payloads(enc, a)]
        want += expected_controls(enc, a, cfg)
    return passes, want


CONFIGS = [(8, 2, 16, 8), (8, 4, 16, 8), (8, 4, 8, 4), (8, 0, 16, 8), (8, 6, 16, 16), (5, 3, 6, 2)]


def config(bits, pruned, lanes, subgroup):
    return BBSConfig(bits=bits, pruned=pruned, subgroup=subgroup, pe_length=lanes)


@pytest.mark.parametrize("bits, pruned, lanes, subgroup", CONFIGS)
def test_amaranth_controls_match_golden(bits, pruned, lanes, subgroup):
    S, half = lanes // subgroup, subgroup // 2
    cfg = config(bits, pruned, lanes, subgroup)
    passes, want = vectors(cfg)
    dut = BBSScheduler(cfg)
    got = []

    def read(ctx):
        for s in range(S):                              # the PE's one-hot selects = valid << sel
            for j in range(half):
                assert ctx.get(dut.sel_onehot[s][j]) == ctx.get(dut.valid[s][j]) << ctx.get(dut.sel[s][j])
        return {"invert": [ctx.get(dut.invert[s]) for s in range(S)],
                "sel": [[ctx.get(dut.sel[s][j]) for j in range(half)] for s in range(S)],
                "valid": [[ctx.get(dut.valid[s][j]) for j in range(half)] for s in range(S)],
                "col_idx": ctx.get(dut.col_idx), "is_msb": ctx.get(dut.is_msb),
                "digit": [ctx.get(dut.const_digit), ctx.get(dut.const_shift)]}

    async def bench(ctx):
        for k, w in enumerate(passes):
            ctx.set(dut.group, w)
            n_steps = ctx.get(dut.n_steps)
            ctx.set(dut.load, 1)
            ctx.set(dut.advance, k % 3 == 0)           # load wins over advance
            await ctx.tick()
            ctx.set(dut.load, 0)
            ctx.set(dut.group, passes[k - 1])           # the input may change once loaded
            steps = []
            for t in range(n_steps):
                ctx.set(dut.advance, 0)                 # outputs hold while neither is set
                await ctx.tick()
                steps.append(read(ctx))
                ctx.set(dut.advance, 1)
                await ctx.tick()
            ctx.set(dut.advance, 0)
            got.append((n_steps, steps))

    run_sync(dut, bench)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"pass {k}: scheduler {g}, golden {w}"


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, pruned, lanes, subgroup", [CONFIGS[0], CONFIGS[2], CONFIGS[5]])
def test_cocotb_verilog(bits, pruned, lanes, subgroup, build_dir):
    cfg = config(bits, pruned, lanes, subgroup)
    passes, want = vectors(cfg)
    layout = BBSScheduler.weights_layout(cfg)
    vec = build_dir / "vectors.json"
    vec.write_text(json.dumps([{"group": int(layout.const(w).as_value().value), "n_steps": n, "steps": steps}
                               for w, (n, steps) in zip(passes, want)]))
    assert run_cocotb(BBSScheduler(cfg), toplevel=f"bbs_scheduler_b{bits}_n{pruned}_g{lanes}_s{subgroup}",
                      tb_module="sim.tb_bbs_scheduler", build_dir=build_dir,
                      params={"vectors": str(vec), "subcolumns": lanes // subgroup, "subgroup": subgroup}) == 1
