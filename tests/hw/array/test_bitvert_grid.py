"""The shared BitVert array (hw/array/bitvert_grid.py): one scheduler per row and one activation-sum unit
per column give what a PEGrid of whole BitVertPEs gives, cycle by cycle on the grid's ports and
word for word and cycle for cycle on a layer engine; its interface is PEGrid's; bad PEs refused."""

import numpy as np
import pytest
from amaranth.hdl import Module

from golden.array import ArrayConfig, fc_reference
from golden.bbs import BBSConfig, decode
from hw.array.archs import ARCHS, engine
from hw.array.bitvert_grid import BitVertGrid
from hw.array.grid import PEGrid
from hw.array.images import fc_layer
from hw.baselines.stripes import StripesPE
from hw.bitvert.pe import BitVertPE
from golden.baselines import DenseConfig
from sim.amaranth_sim import run_sync
from sim.bitvert_vectors import pruned_tensor
from sim.engine_sim import run_engine


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


@pytest.mark.parametrize("config", [BBSConfig(), BBSConfig(pruned=4, pe_length=32, subgroup=8)],
                         ids=["n2_l16", "n4_l32"])
def test_grid_cycle_by_cycle_against_pegrid(config):
    """BitVertGrid and a PEGrid of BitVertPEs side by side (3 rows, 2 columns), the same random stream of
    passes (RA and ZPS groups, INT8 ones among them, so rows differ in steps), random issue gaps, clears,
    tile_passes and read selects: issue.ready, tile_done and acc equal in every cycle."""
    rows, cols, n = 3, 2, 400
    rng = np.random.default_rng(config.pruned)
    shared = BitVertGrid(lambda: BitVertPE(config), rows, cols)
    plain = PEGrid(lambda: BitVertPE(config), rows, cols)
    pe = shared.pe
    views = []
    for method in ("ra", "zps"):
        e = pruned_tensor(rng, config, method=method, channels=4, sensitive_frac=0.5)
        words = pe.pack(e, rng.integers(-128, 128, (e.n_groups, e.group)))
        views += [pe.input_layout.from_bits(word) for word in words]
    wl, al = shared.weights_layout.size, shared.acts_layout.size
    m = Module()
    m.submodules.shared, m.submodules.plain = shared, plain
    seen = {"issued": 0, "done": 0, "nonzero": 0, "mismatch": []}

    async def bench(ctx):
        for t in range(n):
            ws = [int(views[rng.integers(len(views))].weights.as_value().value) for _ in range(rows)]
            xs = [int(views[rng.integers(len(views))].acts.as_value().value) for _ in range(cols)]
            word = sum(v << (i * wl) for i, v in enumerate(ws)) | \
                sum(v << (rows * wl + i * al) for i, v in enumerate(xs))
            valid, clear = int(rng.random() < 0.8), int(rng.random() < 0.02)
            sel = (int(rng.integers(rows)), int(rng.integers(cols)), int(rng.integers(1, 5)))
            for g in (shared, plain):
                ctx.set(g.issue.payload.as_value(), word)
                ctx.set(g.issue.valid, valid)
                ctx.set(g.clear, clear)
                ctx.set(g.sel_row, sel[0]), ctx.set(g.sel_col, sel[1]), ctx.set(g.tile_passes, sel[2])
            got = [(ctx.get(g.issue.ready), ctx.get(g.tile_done), ctx.get(g.acc)) for g in (shared, plain)]
            if got[0] != got[1]:
                seen["mismatch"].append((t, got))
            seen["issued"] += got[0][0] and valid
            seen["done"] += got[0][1]
            seen["nonzero"] += got[0][2] != 0
            await ctx.tick()

    run_sync(m, bench)
    assert seen["mismatch"] == []
    # the comparison saw work: passes issued, tiles completed, accumulators holding values
    assert seen["issued"] > n // 10 and seen["done"] > 10 and seen["nonzero"] > n // 2


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
