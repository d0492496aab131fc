"""The row-shared grid (hw/array/shared_grid.py) of Pragmatic, Bit-balance and EBSP PEs: one weight-side
row unit and sequencer per row, activation registers (EBSP: a LUT unit) per column and the datapaths'
tile accumulators give
what a PEGrid of the whole PEs gives, cycle by cycle on the grid's ports under the layer engine's
protocol and word for word and cycle for cycle on a layer engine; its interface is PEGrid's; the
architectures table builds it; bad PEs refused."""

import numpy as np
import pytest

from golden import bitbalance, ebsp
from golden.array import ArrayConfig, fc_reference
from golden.baselines import DenseConfig, PragmaticConfig
from golden.bitbalance import BitBalanceConfig
from golden.ebsp import EBSPConfig
from hw.array.archs import ARCHS, engine
from hw.array.grid import PEGrid
from hw.array.images import fc_layer
from hw.array.layer import LayerEngine
from hw.array.shared_grid import RowSharedGrid
from hw.baselines.pragmatic import PragmaticPE
from hw.baselines.stripes import StripesPE
from hw.bitbalance.pe import BitBalancePE
from hw.blocks.shift_add_datapath import ShiftAddDatapath
from hw.ebsp.pe import EBSPPE
from sim.engine_sim import run_engine
from tests.hw.array.lockstep_bench import compare_with_pegrid


def laplace_int8(rng, shape, scale=20.0):
    return np.clip(np.round(rng.laplace(0, scale, shape)), -127, 127).astype(np.int64)


def _views(pe, rng, groups=24):
    """Input views of ``groups`` passes of real-shaped weights: Laplace INT8 (Pragmatic: the rows' step
    counts differ from 1, an all-zero group, to 7), Bit-balance projected with k = 3 and run-time budgets
    of 1 to 3 per group (so the rows' steps differ too; a budget below a weight's one bits truncates it
    in both grids alike), EBSP projected onto its pattern (one step per group)."""
    cfg = pe.config
    top = (1 << (cfg.bits - 1)) - 1
    w = np.clip(laplace_int8(rng, (groups, cfg.pe_length)) >> (8 - cfg.bits), -top, top)
    w[0] = 0
    x = rng.integers(-128, 128, (groups, cfg.pe_length))
    if isinstance(pe, BitBalancePE):
        words = pe.pack(bitbalance.project(w, bits=cfg.bits, k=cfg.k), x, k=rng.integers(1, cfg.k + 1, groups))
    elif isinstance(pe, EBSPPE):
        words = pe.pack(ebsp.project(w, bits=cfg.bits, window=cfg.window), x)
    else:
        words = pe.pack(w, x)
    return [pe.input_layout.from_bits(word) for word in words]


CASES = [(lambda: PragmaticPE(PragmaticConfig(bits=8, pe_length=16, act_bits=8)), 32),
         (lambda: PragmaticPE(PragmaticConfig(bits=5, pe_length=4, act_bits=8)), 12),
         (lambda: BitBalancePE(BitBalanceConfig(bits=8, k=3, pe_length=16, act_bits=8)), 32),
         (lambda: BitBalancePE(BitBalanceConfig(bits=6, k=2, pe_length=4, act_bits=8)), 12),
         (lambda: EBSPPE(EBSPConfig(bits=8, window=3, pe_length=16, act_bits=8)), 32),
         (lambda: EBSPPE(EBSPConfig(bits=6, window=2, pe_length=4, act_bits=8), weight_format="plain"), 12),
         (lambda: EBSPPE(EBSPConfig(bits=4, window=3, pe_length=4, act_bits=8)), 10)]


@pytest.mark.parametrize("make_pe,acc_width", CASES,
                         ids=["pragmatic_l16_acc32", "pragmatic_b5_l4_acc12", "bitbalance_l16_acc32",
                              "bitbalance_b6_k2_l4_acc12", "ebsp_l16_acc32", "ebsp_plain_b6_w2_l4_acc12",
                              "ebsp_b4_w3_noshift_l4_acc10"])
def test_grid_cycle_by_cycle_against_pegrid(make_pe, acc_width):
    """RowSharedGrid and a PEGrid of the same PEs side by side (3 rows, 2 columns): issue.ready and
    tile_done equal in every cycle, acc in every read; with acc_width 12 (and 10) the tile sums wrap, and
    still agree bit for bit."""
    rows, cols, tiles = 3, 2, 12
    rng = np.random.default_rng(acc_width)
    shared, plain = RowSharedGrid(make_pe, rows, cols, acc_width), PEGrid(make_pe, rows, cols, acc_width)
    seen = compare_with_pegrid(shared, plain, _views(shared.pe, rng), rng, tiles)
    assert seen["done"] == tiles and seen["issued"] >= tiles
    assert seen["reads"] >= tiles * rows * cols and len(seen["values"]) > tiles * rows * cols // 2
    if acc_width == 12:     # the wrapped case: values spread over the whole 12-bit range
        assert min(seen["values"]) < -(1 << 10) and max(seen["values"]) > 1 << 10


@pytest.mark.parametrize("arch", ["pragmatic", "bitbalance", "ebsp"])
def test_engines_shared_and_unshared_agree(arch):
    """A fully connected layer (K = 5 on 2 rows, a partial tile; T = 4 on 3 columns; two 16-weight
    passes) on the architecture's engine (RowSharedGrid) and on the same engine with a PEGrid: the same
    load words, the same outputs (the plain integer layer) and the same cycles (golden.array.engine_cycles),
    with load stalls and drain back-pressure."""
    cfg = ArrayConfig(rows=2, cols=3, weight_depth=32, act_depth=32, param_depth=8, out_depth=32)
    rng = np.random.default_rng(5)
    K, C, T = 5, 32, 4
    a = ARCHS[arch]
    w = a.prepare(laplace_int8(rng, (K, C)))
    x = rng.integers(-128, 128, (T, C))
    bias = rng.integers(-3000, 3000, K)
    engines = {"shared": engine(arch, cfg), "plain": LayerEngine(a.make_pe, cfg, grid_class=PEGrid)}
    assert type(engines["shared"].grid) is RowSharedGrid
    images = {k: fc_layer(e, w, x, bias=bias) for k, e in engines.items()}
    runs = {k: run_engine(e, [images[k]], load_prob=0.7, drain_prob=0.6, seed=4)[0] for k, e in engines.items()}
    assert images["shared"].load == images["plain"].load and images["shared"].desc == images["plain"].desc
    want = fc_reference(w, x, bias).ravel().tolist()
    assert runs["shared"].outputs == runs["plain"].outputs == want
    assert runs["shared"].cycles == runs["plain"].cycles == images["shared"].cycles.compute


def test_interface_is_pegrids():
    make = lambda: PragmaticPE(PragmaticConfig())
    shared, plain = RowSharedGrid(make, 3, 5, 24), PEGrid(make, 3, 5, 24)
    for name in ("rows", "cols", "acc_width", "weights_layout", "acts_layout", "issue_layout"):
        assert getattr(shared, name) == getattr(plain, name), name
    assert shared.signature == plain.signature
    assert all(ARCHS[a].grid_class is RowSharedGrid for a in ("pragmatic", "bitbalance", "ebsp"))


def test_bad_arguments_refused():
    with pytest.raises(TypeError, match=r"make_pe must make a PE with row_unit\(\) and datapath\(\) for a "
                                        r"RowSharedGrid \(PragmaticPE, BitBalancePE, EBSPPE\), "
                                        r"got StripesPE"):
        RowSharedGrid(lambda: StripesPE(DenseConfig()), 2, 2)
    with pytest.raises(ValueError, match=r"lut_sharing must be 1 for a RowSharedGrid \(one result per PE and "
                                         r"pass\), got 2"):
        RowSharedGrid(lambda: EBSPPE(EBSPConfig(lut_sharing=2)), 2, 2)
    with pytest.raises(ValueError, match=r"tile_acc_width must be an integer in \[2, 64\], got 1"):
        EBSPPE(EBSPConfig()).datapath(1)
    with pytest.raises(ValueError, match=r"read_ports must be an integer in \[1, 64\], got 0"):
        EBSPPE(EBSPConfig()).column_unit(0)
    with pytest.raises(ValueError, match=r"tile_acc_width must be an integer in \[2, 64\], got 1"):
        ShiftAddDatapath(16, 8, 6, 20, tile_acc_width=1)
    with pytest.raises(ValueError, match=r"max_pos must be an integer in \[0, 30\], got -1"):
        ShiftAddDatapath(16, 8, -1, 20)
