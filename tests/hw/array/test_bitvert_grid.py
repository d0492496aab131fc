"""The shared BitVert array (hw/array/bitvert_grid.py): one scheduler per row, one activation-sum unit and
activation register set per column and the datapaths' fused tile accumulators give what a PEGrid of whole
BitVertPEs gives, cycle by cycle on the grid's ports under the layer engine's protocol and word for word
and cycle for cycle on a layer engine; its interface is PEGrid's; bad PEs and arguments refused."""

import numpy as np
import pytest

from golden.array import ArrayConfig, fc_reference
from golden.bbs import BBSConfig, decode
from hw.array.archs import ARCHS, engine
from hw.array.bitvert_grid import BitVertGrid
from hw.array.grid import PEGrid
from hw.array.images import fc_layer
from hw.baselines.stripes import StripesPE
from hw.bitvert.datapath import BitVertDatapath
from hw.bitvert.pe import BitVertPE
from golden.baselines import DenseConfig
from sim.bitvert_vectors import bitvert_passes, pruned_tensor
from sim.amaranth_sim import run_sync
from sim.engine_sim import run_engine
from tests.hw.array.lockstep_bench import compare_with_pegrid


def laplace_int8(rng, shape, scale=20.0):
    return np.clip(np.round(rng.laplace(0, scale, shape)), -127, 127).astype(np.int64)


def test_engines_shared_and_unshared_agree():
    """The same fully connected layer (K = 5 on 2 rows: a tile of one pruned and one INT8 row, a pruned
    tile, a partial INT8 tile; T = 4 on 3 columns; two 32-weight groups) on the "bitvert" engine
    (BitVertGrid) and the "bitvert_unshared" one (PEGrid of BitVertPEs): the same load words, the same
    outputs (the plain integer layer) and the same cycle count (golden.array.engine_cycles), with load
    stalls and drain back-pressure."""
    cfg = ArrayConfig(rows=2, cols=3, weight_depth=32, act_depth=32, param_depth=8, out_depth=32)
    rng = np.random.default_rng(21)
    K, C, T = 5, 64, 4
    q = laplace_int8(rng, (K, C))
    w = ARCHS["bitvert"].prepare(q, np.array([False, True, False, False, True]))
    x = rng.integers(-128, 128, (T, C))
    bias = rng.integers(-3000, 3000, K)
    runs, images = {}, {}
    for arch in ("bitvert", "bitvert_unshared"):
        eng = engine(arch, cfg)
        images[arch] = img = fc_layer(eng, w, x, bias=bias)
        [runs[arch]] = run_engine(eng, [img], load_prob=0.7, drain_prob=0.6, seed=4)
    shared, unshared = images["bitvert"], images["bitvert_unshared"]
    assert shared.load == unshared.load and shared.desc == unshared.desc
    want = fc_reference(decode(w), x, bias).ravel().tolist()
    assert runs["bitvert"].outputs == runs["bitvert_unshared"].outputs == want
    assert runs["bitvert"].cycles == runs["bitvert_unshared"].cycles == shared.cycles.compute
    # 4 passes: an INT8 row makes tiles 0 and 2 cost 8 steps a pass, the pruned tile 1 six; 2 token tiles
    assert shared.cycles.compute_only == (4 * 8 + 4 * 6 + 4 * 8) * 2


@pytest.mark.parametrize("config,acc_width", [(BBSConfig(), 32), (BBSConfig(pruned=4, pe_length=32, subgroup=8), 14)],
                         ids=["n2_l16_acc32", "n4_l32_acc14"])
def test_grid_cycle_by_cycle_against_pegrid(config, acc_width):
    """BitVertGrid and a PEGrid of BitVertPEs side by side (3 rows, 2 columns), driven as the layer engine
    drives a grid: tiles of 1 to 4 passes (RA and ZPS groups, INT8 ones among them, so rows differ in
    steps) offered with random gaps, then idle cycles until tile_done, every accumulator read, clear,
    random idle cycles. issue.ready and tile_done equal in every cycle, acc in every cycle from
    tile_done to clear; with acc_width 14 the tile sums wrap, and still agree bit for bit."""
    rows, cols, tiles = 3, 2, 12
    rng = np.random.default_rng(config.pruned)
    shared = BitVertGrid(lambda: BitVertPE(config), rows, cols, acc_width)
    plain = PEGrid(lambda: BitVertPE(config), rows, cols, acc_width)
    pe = shared.pe
    views = []
    for method in ("ra", "zps"):
        e = pruned_tensor(rng, config, method=method, channels=4, sensitive_frac=0.5)
        words = pe.pack(e, rng.integers(-128, 128, (e.n_groups, e.group)))
        views += [pe.input_layout.from_bits(word) for word in words]
    seen = compare_with_pegrid(shared, plain, views, rng, tiles)
    # the comparison saw work: every pass issued, tiles completed, accumulators holding many values
    assert seen["done"] == tiles and seen["issued"] >= tiles
    assert seen["reads"] >= tiles * rows * cols and len(seen["values"]) > tiles * rows * cols // 2
    if acc_width == 14:     # the wrapped case: values spread over the whole 14-bit range
        lo, hi = -(1 << (acc_width - 1)), (1 << (acc_width - 1)) - 1
        assert min(seen["values"]) < lo // 2 and max(seen["values"]) > hi // 2


def test_array_datapath_accumulates_the_tile():
    """The fused accumulators of BitVertGrid against golden pass dot products: row r takes the passes of
    its own pruned tensor (RA, some INT8 channels), column c its own activations; after the tile's 8
    passes (back to back) each acc is the plain integer sum of its PE's 8 golden pass results, captured
    (with clear) in a cycle of tile_done and read from the result registers; the clear zeroed every
    accumulator."""
    config = BBSConfig()
    rows, cols = 2, 2
    rng = np.random.default_rng(5)
    grid = BitVertGrid(lambda: BitVertPE(config), rows, cols)
    pe = grid.pe
    encs = [pruned_tensor(rng, config, method="ra", channels=2, sensitive_frac=0.5) for _ in range(rows)]
    acts = [rng.integers(-128, 128, (encs[0].n_groups, encs[0].group)) for _ in range(cols)]
    passes = [[bitvert_passes(pe, encs[r], acts[c]) for c in range(cols)] for r in range(rows)]
    words = [[pe.pack(encs[r], acts[c]) for c in range(cols)] for r in range(rows)]
    n = len(passes[0][0].results)
    want = {(r, c): int(sum(passes[r][c].results)) for r in range(rows) for c in range(cols)}
    wl, al = grid.weights_layout.size, grid.acts_layout.size
    seen, after = {}, {}

    async def bench(ctx):
        ctx.set(grid.tile_passes, n)
        for i in range(n):
            word = 0
            for r in range(rows):
                view = pe.input_layout.from_bits(words[r][0][i])
                word |= int(view.weights.as_value().value) << (r * wl)
            for c in range(cols):
                view = pe.input_layout.from_bits(words[0][c][i])
                word |= int(view.acts.as_value().value) << (rows * wl + c * al)
            ctx.set(grid.issue.payload.as_value(), word)
            ctx.set(grid.issue.valid, 1)
            await ctx.tick()
            while not ctx.get(grid.issue.ready):
                await ctx.tick()
        ctx.set(grid.issue.valid, 0)
        while not ctx.get(grid.tile_done):
            await ctx.tick()
        ctx.set(grid.capture, 1), ctx.set(grid.clear, 1)
        await ctx.tick()
        ctx.set(grid.capture, 0), ctx.set(grid.clear, 0)
        for r in range(rows):
            for c in range(cols):
                ctx.set(grid.sel_row, r), ctx.set(grid.sel_col, c)
                seen[r, c] = ctx.get(grid.acc)
                after[r, c] = ctx.get(grid.tile_done)
                await ctx.tick()
        ctx.set(grid.capture, 1)                      # the cleared accumulators, captured again
        await ctx.tick()
        ctx.set(grid.capture, 0)
        for r in range(rows):
            for c in range(cols):
                ctx.set(grid.sel_row, r), ctx.set(grid.sel_col, c)
                after[r, c] = (ctx.get(grid.acc), after[r, c])

    run_sync(grid, bench)
    assert n == 8 and len(set(want.values())) == rows * cols
    assert seen == want
    assert after == {(r, c): (0, 0) for r in range(rows) for c in range(cols)}


def test_interface_is_pegrids():
    """Constructor attributes, payload layouts and ports equal to a PEGrid's of the same PEs; the
    prototype is a BitVertPE; the architectures table puts "bitvert" in it."""
    make = lambda: BitVertPE(BBSConfig())
    shared, plain = BitVertGrid(make, 3, 5, 24), PEGrid(make, 3, 5, 24)
    assert isinstance(shared.pe, BitVertPE)
    for name in ("rows", "cols", "acc_width", "weights_layout", "acts_layout", "issue_layout"):
        assert getattr(shared, name) == getattr(plain, name), name
    assert shared.signature == plain.signature
    cfg = ArrayConfig(rows=2, cols=2)
    assert type(engine("bitvert", cfg).grid) is BitVertGrid
    assert type(engine("bitvert_unshared", cfg).grid) is PEGrid
    assert ARCHS["bitvert"].config == ARCHS["bitvert_unshared"].config


def test_bad_arguments_refused():
    with pytest.raises(TypeError, match="make_pe must make a hw.bitvert.pe.BitVertPE for a BitVertGrid, "
                                        "got StripesPE"):
        BitVertGrid(lambda: StripesPE(DenseConfig()), 2, 2)
    with pytest.raises(ValueError, match=r"cols must be an integer in \[1, 64\], got 65"):
        BitVertGrid(lambda: BitVertPE(BBSConfig()), 2, 65)
    with pytest.raises(ValueError, match=r"tile_acc_width must be an integer in \[2, 64\], got 1"):
        BitVertDatapath(BBSConfig(), tile_acc_width=1)
    with pytest.raises(TypeError, match=r"acts_registered must be a bool \(True or False\), got 1"):
        BitVertDatapath(BBSConfig(), acts_registered=1)


def test_datapath_variants_ports():
    """The PE's datapath keeps its result port and activation registers; the array variant has clear, no
    result, and a tile_acc_width-bit accumulator."""
    pe_dp = BitVertDatapath(BBSConfig())
    arr_dp = BitVertDatapath(BBSConfig(), tile_acc_width=32, acts_registered=True)
    assert "result" in pe_dp.signature.members and "clear" not in pe_dp.signature.members
    assert "clear" in arr_dp.signature.members and "result" not in arr_dp.signature.members
    assert (len(pe_dp.acc), len(arr_dp.acc)) == (20, 32)
