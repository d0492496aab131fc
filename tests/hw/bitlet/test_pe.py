"""Tests of the Bitlet PE (hw/bitlet/pe.py) and its blocks (hw/bitlet/lane.py, hw/bitlet/fp32.py).

Everything expected comes from golden/bitlet.py: ``dot_fixed`` / ``dot_fp32(..., nonfinite="nan")`` for
results, ``lane_schedule`` / ``pass_cycles`` / ``pass_cycles_fp32`` for the lane model and
``pe_stream_timing`` for the stream timing built on it. Payloads go through the PE's own codec
(``pe.payloads`` / ``pe.pack`` / ``pe.unpack``); fp32 results are compared as binary32 bit patterns.
"""

from __future__ import annotations

import numpy as np
import pytest

from golden.bitlet import (
    BUBBLE, DONE, FP32_NAN, FP32_SCALE_OFFSET, BitletConfig, dot_fixed, dot_fp32, fp32_preprocess,
    lane_schedule, pass_cycles, pass_cycles_fp32, pe_stream_timing, precision_mask, repack_fp32,
)
from hw.bitlet.fp32 import Fp32Align, Fp32Decode, Fp32Repack
from hw.bitlet.lane import BitletLane
from hw.bitlet.pe import BitletPE
from hw.bitlet.psum import ShiftedSum, psum_value, psum_width
from sim.amaranth_sim import run_comb, run_pe_stream, run_sync
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb

FULL24 = (1 << 24) - 1


def f32(*values):
    return np.array(values, dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# pass generators (golden expectations attached)

def fixed_passes(cfg: BitletConfig, n: int, seed: int, precisions=(4, 8, 16, 24)):
    """``n`` random passes plus corners: list of (w, a, lane_mask)."""
    rng = np.random.default_rng(seed)
    nt, nch = cfg.n_total, cfg.n_channel
    alo, ahi = cfg.act_range
    wmax = cfg.weight_max
    precisions = [p for p in precisions if p <= nch] or [nch]
    out = [
        (np.full(nt, wmax), np.full(nt, alo), cfg.full_lane_mask),      # most negative accumulator
        (np.full(nt, -wmax), np.full(nt, alo), cfg.full_lane_mask),     # most positive
        (np.full(nt, -wmax), np.full(nt, ahi), cfg.full_lane_mask),
        (np.zeros(nt, int), rng.integers(alo, ahi + 1, nt), cfg.full_lane_mask),
        (rng.integers(-wmax, wmax + 1, nt), rng.integers(alo, ahi + 1, nt), 0),   # no lane: 1 step
    ]
    for k in range(n):
        p = precisions[k % len(precisions)]
        mag = rng.integers(0, 1 << p, nt)
        density = rng.choice([0.05, 0.3, 0.6, 1.0])
        mag = np.where(rng.random(nt) < density, mag, 0)
        w = np.where(rng.random(nt) < 0.5, -mag, mag)
        a = rng.integers(alo, ahi + 1, nt)
        mask = precision_mask(p, nch)
        if k % 7 == 3:                          # bits above the precision are ignored
            w = np.where(rng.random(nt) < 0.5, -1, 1) * rng.integers(0, wmax + 1, nt)
        if k % 11 == 5:                         # an arbitrary lane mask (LSB pruning etc.)
            mask = int(rng.integers(0, cfg.full_lane_mask + 1))
        out.append((w, a, mask))
    return out


def fixed_expect(cfg, passes):
    results = [int(dot_fixed(w, a, bits=cfg.n_channel, lane_mask=m)) for w, a, m in passes]
    cycles = [int(pass_cycles(np.abs(w), n_check=cfg.n_check, lane_mask=m, n_channel=cfg.n_channel))
              for w, a, m in passes]
    return results, cycles


def fp32_passes(cfg: BitletConfig, n: int, seed: int):
    """Random values, wide exponent spans, zeros, denormals, infinities, NaN, sign mixes, overflow,
    underflow; list of (w, a, lane_mask) with float32 arrays."""
    rng = np.random.default_rng(seed)
    nt = cfg.n_total

    def rnd(span):
        return (rng.standard_normal(nt) * np.exp2(rng.integers(-span, span + 1, nt))).astype(np.float32)

    def denormals(k):
        return (rng.integers(1, 1 << 23, k).astype(np.uint32) | (rng.integers(0, 2, k).astype(np.uint32) << 31)
                ).view(np.float32)

    out = []
    big = np.full(nt, 1.9 * 2.0**127, dtype=np.float32)
    out.append((big, np.full(nt, 2.0**10, np.float32), FULL24))                  # overflow to +inf
    out.append((-big, np.full(nt, 2.0**10, np.float32), FULL24))                 # overflow to -inf
    out.append((np.full(nt, 2.0**-70, np.float32), np.full(nt, 1.5 * 2.0**-70, np.float32), FULL24))  # denormal
    tiny = np.zeros(nt, np.float32)
    tiny[0] = -(2.0**-100)
    out.append((tiny, np.full(nt, 2.0**-60, np.float32), FULL24))               # underflows to -0.0
    out.append((np.zeros(nt, np.float32), rnd(20), FULL24))                      # all removed: +0.0
    out.append((np.full(nt, -0.0, np.float32), rnd(20), FULL24))
    w = rnd(10)
    out.append((w, -w, FULL24))                                                  # exact negative sum
    mx = np.full(nt, np.float32(np.nextafter(np.float32(2.0), np.float32(0))))
    out.append((mx, -mx, FULL24))                                                # every mantissa bit set
    for k in range(n):
        kind = k % 8
        span = [2, 20, 60, 126][k % 4]
        w, a = rnd(span), rnd(span)
        mask = FULL24
        if kind == 1:
            w[rng.random(nt) < 0.4] = 0.0
            a[rng.random(nt) < 0.2] = -0.0
        elif kind == 2:
            idx = rng.choice(nt, max(nt // 4, 1), replace=False)
            w[idx] = denormals(len(idx))
            a[rng.choice(nt, max(nt // 4, 1), replace=False)] = denormals(max(nt // 4, 1))
        elif kind == 3:
            w[rng.integers(nt)] = rng.choice([np.inf, -np.inf])
        elif kind == 4:
            a[rng.integers(nt)] = np.nan if k % 16 == 4 else -np.inf
        elif kind == 5:
            mask = int(rng.integers(0, FULL24 + 1)) if k % 3 else 0xFFF000      # mantissa pruning
        elif kind == 6:
            w = np.abs(w)
            a = -np.abs(a)
        elif kind == 7 and k % 16 == 7:                                           # small products
            w = (w * np.float32(2.0**-60)).astype(np.float32)
            a = (a * np.float32(2.0**-30)).astype(np.float32)
        elif kind == 7:                                           # results in the denormal range
            w = (rnd(3) * np.float32(2.0**-70)).astype(np.float32)
            a = (rnd(3) * np.float32(2.0**-(66 + k % 8))).astype(np.float32)
        out.append((w.astype(np.float32), a.astype(np.float32), mask))
    return out


def fp32_expect(cfg, passes):
    results = [int(dot_fp32(w, a, lane_mask=m, nonfinite="nan").view(np.uint32)) for w, a, m in passes]
    cycles = [int(pass_cycles_fp32(w, a, n_check=cfg.n_check, lane_mask=m, nonfinite="nan"))
              for w, a, m in passes]
    return results, cycles


def operands(passes):
    """``(weights, acts, lane masks)`` of a list of passes, as :meth:`BitletPE.payloads` takes them."""
    return np.stack([w for w, _, _ in passes]), np.stack([a for _, a, _ in passes]), [m for _, _, m in passes]


def result_bits(pe, word):
    """The result an output word stands for, through ``pe.unpack``: the integer (fixed point) or the
    binary32 bit pattern (fp32: NaN-safe, bit-exact comparisons)."""
    value = pe.unpack(word)
    return int(value.view(np.uint32)) if pe.fp32 else value


# ------------------------------------------------------------------------------------------------
# parameters

@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(n_total=65), ValueError, r"n_total must be an integer in \[1, 64\], got 65"),
    (dict(n_input=12), ValueError, r"n_input must divide n_total, got n_input=12, n_total=64"),
    (dict(n_channel=0), ValueError, r"n_channel must be an integer in \[1, 24\], got 0"),
    (dict(n_check=0), ValueError, r"n_check must be an integer in \[1, 64\], got 0"),
    (dict(mode="int8"), ValueError, r"mode must be one of 'fixed', 'fp32', got 'int8'"),
    (dict(mode="fp32", n_channel=8), ValueError, r"n_channel must be 24 in fp32 mode"),
    (dict(act_bits=26), ValueError, r"act_bits must be an integer in \[2, 25\], got 26"),
    (dict(mode="fp32", act_bits=8), ValueError, r"act_bits must be 25 in fp32 mode"),
    (dict(n_total=16.0), TypeError, r"n_total must be an integer"),
])
def test_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        BitletPE(BitletConfig(**kwargs))


def test_built_from_a_config_only():
    with pytest.raises(TypeError, match=r"config must be a golden.bitlet.BitletConfig, got 64 of type int"):
        BitletPE(64)


def test_bad_block_parameters():
    with pytest.raises(ValueError, match=r"n_total must be an integer in \[1, 64\], got 0"):
        BitletLane(0, 8)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 64\], got 65"):
        Fp32Decode(65)
    with pytest.raises(ValueError, match=r"acc_width must be an integer in \[2, 64\], got 65"):
        Fp32Repack(65)
    with pytest.raises(ValueError, match=r"extra_width must be an integer in \[0, 64\], got -1"):
        ShiftedSum(8, 9, extra_width=-1)



def test_bad_payloads():
    pe = BitletPE(BitletConfig(n_total=16, n_input=16, n_channel=8, act_bits=8))
    zeros = np.zeros((2, 16), int)
    with pytest.raises(ValueError, match=r"lane_mask must be an integer in \[0, 255\], got 256"):
        pe.payloads(zeros, zeros, lane_mask=256)
    with pytest.raises(ValueError, match=r"lane_mask\[1\] must be an integer in \[0, 255\], got -1"):
        pe.payloads(zeros, zeros, lane_mask=[3, -1])
    with pytest.raises(ValueError, match=r"lane_mask must be one integer or one per pass \(2 passes\), got 3 values"):
        pe.payloads(zeros, zeros, lane_mask=[1, 2, 3])
    with pytest.raises(ValueError, match=r"weights must hold integers in \[-255, 255\], got 256 at index \(1, 0\)"):
        pe.payloads(np.array([[0] * 16, [256] + [0] * 15]), zeros)
    with pytest.raises(ValueError, match=r"acts must hold integers in \[-128, 127\], got 128 at index \(0, 3\)"):
        pe.payloads(zeros, np.array([[0, 0, 0, 128] + [0] * 12, [0] * 16]))
    with pytest.raises(ValueError, match=r"acts must have n_total=16 values per pass \(last axis\), got shape \(2, 8\)"):
        pe.payloads(zeros, np.zeros((2, 8), int))
    with pytest.raises(ValueError, match=r"weights and acts must have the same shape, got \(2, 16\) and \(1, 16\)"):
        pe.payloads(zeros, np.zeros((1, 16), int))
    with pytest.raises(TypeError, match=r"weights must be an array of integers, got dtype float64"):
        pe.payloads(zeros * 1.0, zeros)
    fp = BitletPE(BitletConfig(n_total=8, n_input=4, mode="fp32"))
    with pytest.raises(TypeError, match=r"acts must be a float32 array or its binary32 bit patterns \(an unsigned "
                                        r"integer array\), got dtype float64 \(convert with .astype\(np.float32\)\)"):
        fp.payloads(np.zeros((1, 8), np.float32), np.zeros((1, 8)))
    with pytest.raises(TypeError, match=r"weights must be a float32 array .*, got dtype int64"):
        fp.payloads(np.zeros((1, 8), np.int64), np.zeros((1, 8), np.float32))
    with pytest.raises(ValueError, match=r"word must be an integer in \[0, 4294967295\], got 4294967296"):
        fp.unpack(1 << 32)


def test_widths_from_config():
    cfg = BitletConfig(n_total=16, n_input=16, n_channel=8, act_bits=8)
    pe = BitletPE(cfg)
    assert len(pe.o.payload) == cfg.acc_width == 20                 # 16 * 128 * 255 < 2**19
    assert cfg.act_width == 9
    assert len(BitletPE(BitletConfig(mode="fp32")).o.payload) == 32
    assert BitletPE.weights_layout(cfg).size == 16 * 9 + 8
    assert pe.max_steps == 16 and pe.input_lanes == 16 and pe.input_act_bits == 8
    assert pe.latency == 3 and BitletPE(BitletConfig(mode="fp32")).latency == 7


def test_payload_round_trip():
    """payloads -> pack -> the input layout's fields read back; unpack of the result words."""
    cfg = BitletConfig(n_total=4, n_input=2, n_channel=3, act_bits=5)
    pe = BitletPE(cfg)
    w, a = np.array([[-7, 7, 0, -1], [1, 2, 3, 4]]), np.array([[-16, 15, 3, -1], [0, 1, 2, 3]])
    words = pe.pack(w, a, lane_mask=[5, 2])
    assert len(words) == 4                                           # two beats per pass
    views = [pe.input_layout.from_bits(word) for word in words]
    assert [[(v.weights.w[j].mag, v.weights.w[j].sign) for j in range(2)] for v in views] == \
        [[(7, 1), (7, 0)], [(0, 0), (1, 1)], [(1, 0), (2, 0)], [(3, 0), (4, 0)]]
    assert [[v.acts[j] for j in range(2)] for v in views] == [[-16, 15], [3, -1], [0, 1], [2, 3]]
    assert [v.weights.lane_mask for v in views] == [0, 5, 0, 2]      # the last beat of each pass
    assert words[0] == (7 | 1 << 3 | 7 << 4) | (16 | 15 << 5) << (8 + 3)
    assert pe.pack(w, a) == pe.pack(w, a, lane_mask=7)               # default: every lane
    width = len(pe.o.payload)
    assert pe.unpack((1 << width) - 1) == -1 and pe.unpack(5) == 5
    # fp32: float32 arrays and their bit patterns give the same words; unpack gives np.float32
    fp = BitletPE(BitletConfig(n_total=2, n_input=2, mode="fp32"))
    wf, af = f32(1.5, -2.0)[None, :], f32(-0.0, np.nan)[None, :]
    (word,) = fp.pack(wf, af)
    assert word == fp.pack(wf.view(np.uint32), af.view(np.uint32))[0]
    view = fp.input_layout.from_bits(word)
    assert [view.weights.w[j] for j in range(2)] == wf.view(np.uint32)[0].tolist()
    assert [view.acts[j] & 0xFFFFFFFF for j in range(2)] == af.view(np.uint32)[0].tolist()
    assert view.weights.lane_mask == FULL24
    one = fp.unpack(0x3F800000)
    assert type(one) is np.float32 and one == 1.0
    assert int(fp.unpack(FP32_NAN).view(np.uint32)) == FP32_NAN


# ------------------------------------------------------------------------------------------------
# blocks in the Amaranth simulator

@pytest.mark.parametrize("n_total, n_check", [(64, 8), (16, 8), (13, 4), (8, 1), (4, 8), (16, 16), (64, 64), (1, 1)])
def test_lane_schedule_matches_golden(n_total, n_check):
    """Selections (one-hot ``sel``, as indices) and the selected pair's sign (``neg``) cycle by cycle."""
    rng = np.random.default_rng(n_total * 100 + n_check)
    cols = [np.zeros(n_total, int), np.ones(n_total, int)]
    cols += [(rng.random(n_total) < d).astype(int) for d in rng.choice([0.02, 0.1, 0.3, 0.7], 40)]
    signs = [rng.integers(0, 2, n_total) for _ in cols]
    want = lane_schedule(np.array(cols), n_check=n_check)
    lane = BitletLane(n_total, n_check)
    got, got_neg = [], []

    def word(bits):
        return int("".join(str(int(b)) for b in reversed(bits)), 2)

    async def bench(ctx):
        for c, sg in zip(cols, signs):
            ctx.set(lane.column, word(c))
            ctx.set(lane.signs, word(sg))
            ctx.set(lane.enable, 1)
            ctx.set(lane.load, 1)
            await ctx.tick()
            ctx.set(lane.load, 0)
            ctx.set(lane.step, 1)
            ctx.set(lane.signs, word(sg))       # the PE holds the signs in a register after the load
            seq, negs = [], []
            while ctx.get(lane.busy):
                sel = ctx.get(lane.sel)
                assert ctx.get(lane.valid) == (sel != 0)
                assert sel & (sel - 1) == 0     # one-hot or empty
                seq.append(sel.bit_length() - 1 if sel else BUBBLE)
                negs.append(ctx.get(lane.neg))
                done = ctx.get(lane.done)
                await ctx.tick()
                assert done == (not ctx.get(lane.busy))
            got.append(seq)
            got_neg.append(negs)
            ctx.set(lane.step, 0)
        # a disabled lane never runs
        ctx.set(lane.enable, 0)
        ctx.set(lane.load, 1)
        await ctx.tick()
        assert not ctx.get(lane.busy) and ctx.get(lane.done) and ctx.get(lane.sel) == 0

    run_sync(lane, bench)
    for g, negs, sg, w in zip(got, got_neg, signs, want.tolist()):
        sched = [x for x in w if x != DONE]
        assert g == sched
        assert negs == [int(sg[x]) if x != BUBBLE else 0 for x in sched]


@pytest.mark.parametrize("n_total, n_check", [(16, 16), (16, 8)])
def test_lane_clear_mid_pass_then_reload(n_total, n_check):
    """``clear`` drops a column half way; the next load decides from the new column (a lane that is not
    done steers its decision logic to its state, so clear must make it done)."""
    first = np.ones(n_total, int)
    second = np.zeros(n_total, int)
    second[[3, 9, n_total - 1]] = 1
    want = [x for x in lane_schedule(second[None, :], n_check=n_check)[0].tolist() if x != DONE]
    lane = BitletLane(n_total, n_check)
    seq = []

    async def bench(ctx):
        ctx.set(lane.enable, 1)
        ctx.set(lane.column, int("".join(str(b) for b in reversed(first)), 2))
        ctx.set(lane.load, 1)
        await ctx.tick()
        ctx.set(lane.load, 0)
        ctx.set(lane.step, 1)
        await ctx.tick().repeat(2)
        assert ctx.get(lane.busy) and not ctx.get(lane.done)
        ctx.set(lane.step, 0)
        ctx.set(lane.clear, 1)
        await ctx.tick()
        ctx.set(lane.clear, 0)
        assert not ctx.get(lane.busy) and ctx.get(lane.done) and ctx.get(lane.sel) == 0
        ctx.set(lane.column, int("".join(str(b) for b in reversed(second)), 2))
        ctx.set(lane.load, 1)
        await ctx.tick()
        ctx.set(lane.load, 0)
        ctx.set(lane.step, 1)
        while ctx.get(lane.busy):
            sel = ctx.get(lane.sel)
            seq.append(sel.bit_length() - 1 if sel else BUBBLE)
            await ctx.tick()

    run_sync(lane, bench)
    assert seq == want


@pytest.mark.parametrize("n, width, extra_width", [(8, 8, 8), (7, 9, 0), (24, 25, 24), (1, 3, 0), (5, 2, 5)])
def test_shifted_sum_exact_at_extremes(n, width, extra_width):
    rng = np.random.default_rng(n * width)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    emax = (1 << extra_width) - 1 if extra_width else 0
    cases = [([lo] * n, 0), ([hi] * n, emax), ([lo] * n, emax), ([hi, lo] * n, 0)]
    cases += [(rng.integers(lo, hi + 1, n).tolist(), int(rng.integers(0, emax + 1))) for _ in range(200)]
    cases = [(x[:n], e) for x, e in cases]
    ps = ShiftedSum(n, width, extra_width)
    got = run_comb(ps, [[(ps.x[g], int(v)) for g, v in enumerate(x)] + ([(ps.extra, e)] if extra_width else [])
                        for x, e in cases], lambda ctx: ctx.get(ps.sum))
    assert got == [psum_value(x, e) for x, e in cases]
    # the output width is exact: the extremes need every bit
    w = psum_width(n, width, extra_width)
    assert ps.out_width == w
    assert got[0] < -(1 << (w - 2)) or got[1] >= 1 << (w - 2)


def _fp32_bits(x):
    return [int(v) for v in np.asarray(x, np.float32).view(np.uint32)]


def test_fp32_decode_and_align_match_golden():
    rng = np.random.default_rng(11)
    n = 8
    rows = []
    for k in range(60):
        w = (rng.standard_normal(n) * np.exp2(rng.integers(-140, 128, n))).astype(np.float32)
        a = (rng.standard_normal(n) * np.exp2(rng.integers(-140, 128, n))).astype(np.float32)
        w[rng.random(n) < 0.2] = 0.0
        a[rng.random(n) < 0.1] = -0.0
        if k % 5 == 0:
            w[rng.integers(n)] = np.float32(rng.choice([1e-45, -3e-39, 5.9e-39]))
        rows.append((w, a))
    dec, al = Fp32Decode(n), Fp32Align(n)
    from amaranth.hdl import Module

    top = Module()
    top.submodules.dec, top.submodules.al = dec, al
    for i in range(n):
        top.d.comb += [al.wman[i].eq(dec.wman[i]), al.esum[i].eq(dec.esum[i])]
    top.d.comb += al.emax.eq(dec.emax)
    vectors = [[(dec.w[i], _fp32_bits(w)[i]) for i in range(n)] + [(dec.a[i], _fp32_bits(a)[i]) for i in range(n)]
               for w, a in rows]
    got = run_comb(top, vectors, lambda ctx: (
        [ctx.get(al.walign[i]) for i in range(n)], [ctx.get(dec.aman[i]) for i in range(n)],
        [ctx.get(dec.neg[i]) for i in range(n)],
        [ctx.get(dec.esum[i]) for i in range(n)], ctx.get(dec.emax), ctx.get(dec.nonfinite)))
    for (w, a), (walign, aman, neg, esum, emax, nf) in zip(rows, got):
        ops = fp32_preprocess(w, a)
        assert walign == ops.walign.tolist()
        assert esum == ops.esum.tolist() and emax == int(ops.emax)
        removed = (ops.walign == 0) & (ops.esum == 0)
        assert [-x if s else x for x, s, r in zip(aman, neg, removed) if not r] == \
            [int(x) for x, r in zip(ops.afix, removed) if not r]
        assert nf == 0
    # infinities and NaN: removed pair, flag raised
    w, a = f32(1.0, np.inf, 2.0, 0, 0, 0, 0, 0), f32(1.0, 1.0, np.nan, 0, 0, 0, 0, 0)
    (walign, _, _, esum, emax, nf), = run_comb(top, [[(dec.w[i], _fp32_bits(w)[i]) for i in range(n)]
                                                  + [(dec.a[i], _fp32_bits(a)[i]) for i in range(n)]],
                                            lambda ctx: ([ctx.get(al.walign[i]) for i in range(n)], None, None,
                                                         [ctx.get(dec.esum[i]) for i in range(n)],
                                                         ctx.get(dec.emax), ctx.get(dec.nonfinite)))
    assert nf == 1 and walign[:3] == [1 << 23, 0, 0] and esum[:3] == [254, 0, 0] and emax == 254

    # registered (as the PE uses it): emax and the flag of the last cycle with en, one cycle later
    rd = Fp32Decode(n, registered=True)
    seq = [(ww, aa, 1) for ww, aa in rows[:20]] + [(w, a, 1), (rows[0][0], rows[0][1], 0)]
    staged = []

    async def bench(ctx):
        for ww, aa, en in seq:
            for i in range(n):
                ctx.set(rd.w[i], _fp32_bits(ww)[i])
                ctx.set(rd.a[i], _fp32_bits(aa)[i])
            ctx.set(rd.en, en)
            await ctx.tick()
            staged.append((ctx.get(rd.emax), ctx.get(rd.nonfinite)))

    run_sync(rd, bench)
    want = [(int(fp32_preprocess(ww, aa).emax), 0) for ww, aa in rows[:20]] + [(254, 1), (254, 1)]
    assert staged == want                               # the last cycle has no en: the stage keeps
    with pytest.raises(TypeError, match=r"registered must be a bool \(True or False\), got 'yes'"):
        Fp32Decode(n, registered="yes")


@pytest.mark.parametrize("acc_width", [55, 49])
def test_fp32_repack_matches_golden(acc_width):
    rng = np.random.default_rng(acc_width)
    hi = (1 << (acc_width - 1)) - 1
    accs = [0, 1, -1, hi, -hi, 5, (1 << 25) - 1, 3, -(1 << 23)]
    emaxs = [0, 1, 150, 151, 173, 300, 427, 428, 508]
    cases = [(x, e) for x in accs for e in emaxs]
    mags = rng.integers(1, 1 << 62, 300) >> rng.integers(0, 62, 300)
    cases += [(int(min(m, hi)) * int(s), int(e)) for m, s, e in
              zip(mags, rng.choice([-1, 1], 300), rng.integers(0, 509, 300))]
    rp = Fp32Repack(acc_width)
    got = run_comb(rp, [[(rp.acc, x), (rp.emax, e), (rp.nonfinite, 0)] for x, e in cases],
                   lambda ctx: ctx.get(rp.bits))
    want = repack_fp32(np.array([x for x, _ in cases]), np.array([e - FP32_SCALE_OFFSET for _, e in cases]))
    assert got == want.view(np.uint32).tolist()
    nan = run_comb(rp, [[(rp.acc, 5), (rp.emax, 300), (rp.nonfinite, 1)]], lambda ctx: ctx.get(rp.bits))
    assert nan == [FP32_NAN]

    # with its stage register: the result of the inputs of the last cycle with ``en``, one cycle later
    rr = Fp32Repack(acc_width, registered=True)
    staged = []

    async def bench(ctx):
        for k, (x, e) in enumerate(cases + [(5, 300)]):
            nf = int(k == len(cases))
            ctx.set(rr.acc, x)
            ctx.set(rr.emax, e)
            ctx.set(rr.nonfinite, nf)
            ctx.set(rr.en, 1)
            await ctx.tick()
            ctx.set(rr.en, 0)                            # a cycle without en keeps the stage
            ctx.set(rr.acc, -x - 1)
            ctx.set(rr.nonfinite, 1 - nf)
            await ctx.tick()
            staged.append(ctx.get(rr.bits))

    run_sync(rr, bench)
    assert staged == want.view(np.uint32).tolist() + [FP32_NAN]
    with pytest.raises(TypeError, match=r"registered must be a bool \(True or False\), got 1"):
        Fp32Repack(acc_width, registered=1)


# ------------------------------------------------------------------------------------------------
# the PE in the Amaranth simulator: results, stream timing and the counter pass by pass

def run_pe_amaranth(cfg, passes):
    """Stream the passes back to back (producer and consumer testbenches); returns the results (through
    ``pe.unpack``), the cycle of every pass's last beat and result (cycle 0 = the first beat) and the
    ``cycles`` counter at every result."""
    pe = BitletPE(cfg)
    w, a, masks = operands(passes)
    run = run_pe_stream(pe, pe.payloads(w, a, lane_mask=masks), n_results=len(passes), sample=pe.cycles)
    t0, L = run.accepted[0], cfg.load_cycles
    return ([result_bits(pe, word & ((1 << len(pe.o.payload)) - 1)) for word in run.results],
            [t - t0 for t in run.accepted[L - 1::L]], [t - t0 for t in run.produced], run.samples, pe)


def check_timing(pe, tm, last_beat, out_t, counter):
    """The stream timing and counter equal the model pass by pass; the PE's ``latency`` is the model's."""
    assert last_beat == tm.last_beat.tolist()
    assert out_t == tm.out_valid.tolist()
    assert counter == tm.counter.tolist()
    gaps = (tm.out_valid - tm.last_beat - tm.steps).tolist()
    assert gaps[0] == pe.latency and min(gaps) == pe.latency       # nothing waits before the first pass
    if not pe.fp32:
        assert set(gaps) == {pe.latency}


@pytest.mark.parametrize("kwargs", [
    dict(n_total=16, n_input=4, n_channel=8, n_check=4, act_bits=8),
    dict(n_total=8, n_input=1, n_channel=5, n_check=2, act_bits=25),
])
def test_amaranth_fixed(kwargs):
    cfg = BitletConfig(**kwargs)
    passes = fixed_passes(cfg, 25, seed=cfg.n_total)
    results, cycles = fixed_expect(cfg, passes)
    got, last_beat, out_t, counter, pe = run_pe_amaranth(cfg, passes)
    tm = pe_stream_timing(cycles, load_cycles=cfg.load_cycles, mode=cfg.mode)
    assert got == results
    check_timing(pe, tm, last_beat, out_t, counter)


@pytest.mark.parametrize("n_input", [4, 8])        # L = 2, and L = 1 (the staging buffer is the whole pass)
def test_amaranth_fp32(n_input):
    cfg = BitletConfig(n_total=8, n_input=n_input, mode="fp32")
    passes = fp32_passes(cfg, 40, seed=4)
    results, cycles = fp32_expect(cfg, passes)
    got, last_beat, out_t, counter, pe = run_pe_amaranth(cfg, passes)
    tm = pe_stream_timing(cycles, load_cycles=cfg.load_cycles, mode=cfg.mode)
    assert got == results
    check_timing(pe, tm, last_beat, out_t, counter)


def test_accumulator_worst_case_exact():
    """The derived accumulator width holds the extreme pass exactly, and needs every bit."""
    for kwargs in (dict(n_total=16, n_input=16, n_channel=8, act_bits=8), dict(n_total=64, n_input=64)):
        cfg = BitletConfig(**kwargs)
        alo, _ = cfg.act_range
        passes = [(np.full(cfg.n_total, cfg.weight_max), np.full(cfg.n_total, alo), cfg.full_lane_mask),
                  (np.full(cfg.n_total, -cfg.weight_max), np.full(cfg.n_total, alo), cfg.full_lane_mask)]
        results, _ = fixed_expect(cfg, passes)
        extreme = cfg.n_total * cfg.act_max * cfg.weight_max
        assert results == [-extreme, extreme]
        assert extreme >= 1 << (cfg.acc_width - 2) and extreme < 1 << (cfg.acc_width - 1)
        got, *_ = run_pe_amaranth(cfg, passes)
        assert got == results


# ------------------------------------------------------------------------------------------------
# cocotb on the generated Verilog under Icarus

def run_config(build_dir, kwargs, n_passes, seed):
    cfg = BitletConfig(**kwargs)
    if cfg.mode == "fixed":
        passes = fixed_passes(cfg, n_passes, seed)
        results, cycles = fixed_expect(cfg, passes)
    else:
        passes = fp32_passes(cfg, n_passes, seed)
        results, cycles = fp32_expect(cfg, passes)
    pe = BitletPE(cfg)
    tm = pe_stream_timing(cycles, load_cycles=cfg.load_cycles, mode=cfg.mode)
    w, a, masks = operands(passes)
    vec = write_vectors(build_dir / "vectors.json", pe, pe.pack(w, a, lane_mask=masks), results, tm.steps,
                        last_beat=tm.last_beat.tolist(), out_valid=tm.out_valid.tolist(),
                        counter=tm.counter.tolist())
    name = f"bitlet_pe_{cfg.mode}_n{cfg.n_total}"
    return run_cocotb(pe, toplevel=name, tb_module="sim.tb_bitlet", build_dir=build_dir,
                      params={"vectors": str(vec), "seed": seed})


@pytest.mark.parametrize("kwargs, n_passes", [
    (dict(n_total=64, n_input=16, n_channel=24, n_check=8), 30),                 # the paper's PE
    (dict(n_total=16, n_input=4, n_channel=24, n_check=8), 150),                 # small, L = 4 > steps
    (dict(n_total=16, n_input=16, n_channel=8, n_check=8, act_bits=8), 200),     # INT8, paper window
    (dict(n_total=16, n_input=16, n_channel=8, n_check=16, act_bits=8), 200),    # INT8, whole-column lanes
], ids=["n64_fixed", "n16_fixed", "n16_int8", "n16_int8_whole"])
@pytest.mark.cocotb
def test_cocotb_fixed(kwargs, n_passes, build_dir):
    assert run_config(build_dir, kwargs, n_passes, seed=n_passes) == 6


@pytest.mark.cocotb
@pytest.mark.parametrize("kwargs, n_passes", [
    (dict(n_total=64, n_input=16, mode="fp32"), 30),
    (dict(n_total=16, n_input=8, mode="fp32"), 160),
], ids=["n64_fp32", "n16_fp32"])
def test_cocotb_fp32(kwargs, n_passes, build_dir):
    assert run_config(build_dir, kwargs, n_passes, seed=n_passes + 1) == 6
