"""The Bitlet array (hw/array/bitlet_grid.py): one set of lane schedulers per row, activation registers
per column and the MACs' tile accumulators give what a PEGrid of whole BitletPEs gives, cycle by cycle on
the grid's ports under the layer engine's protocol and word for word and cycle for cycle on a layer
engine; its interface is PEGrid's; the architectures table builds it; bad PEs refused."""

import numpy as np
import pytest

from golden.array import ArrayConfig, fc_reference
from golden.baselines import DenseConfig
from golden.bitlet import BitletConfig
from hw.array.archs import ARCHS, engine
from hw.array.bitlet_grid import BitletGrid
from hw.array.grid import PEGrid
from hw.array.images import fc_layer
from hw.array.layer import LayerEngine
from hw.baselines.stripes import StripesPE
from hw.bitlet.mac import BitletMAC
from hw.bitlet.pe import BitletPE
from sim.engine_sim import run_engine
from tests.hw.array.lockstep_bench import compare_with_pegrid


def laplace_int8(rng, shape, scale=20.0):
    return np.clip(np.round(rng.laplace(0, scale, shape)), -127, 127).astype(np.int64)


def _views(pe, rng, groups=24):
    """Input views of ``groups`` passes: Laplace weights (the rows' step counts differ), an all-zero pass
    (one step), a pass of one dense column, and random lane masks on a quarter of them."""
    cfg = pe.config
    w = np.clip(laplace_int8(rng, (groups, cfg.n_total)), -cfg.weight_max, cfg.weight_max)
    w[0] = 0
    w[1] = cfg.weight_max
    x = rng.integers(*cfg.act_range, (groups, cfg.n_total), endpoint=True)
    masks = [int(rng.integers(0, cfg.full_lane_mask + 1)) if rng.random() < 0.25 else cfg.full_lane_mask
             for _ in range(groups)]
    return [pe.input_layout.from_bits(word) for word in pe.pack(w, x, lane_mask=masks)]


CASES = [(BitletConfig(n_total=16, n_input=16, n_channel=7, n_check=8, mode="fixed", act_bits=8), 32),
         (BitletConfig(n_total=8, n_input=8, n_channel=5, n_check=3, mode="fixed", act_bits=6), 12),
         (BitletConfig(n_total=4, n_input=4, n_channel=3, n_check=8, mode="fixed", act_bits=8), 10)]


@pytest.mark.parametrize("config,acc_width", CASES, ids=["n16_c7_w8_acc32", "n8_c5_w3_acc12", "n4_c3_whole_acc10"])
def test_grid_cycle_by_cycle_against_pegrid(config, acc_width):
    """BitletGrid and a PEGrid of BitletPEs side by side (3 rows, 2 columns): issue.ready and tile_done
    equal in every cycle, acc in every read; with acc_width 12 (and 10) the tile sums wrap and still agree
    bit for bit; the window form and the whole-column form of the lanes."""
    rows, cols, tiles = 3, 2, 12
    rng = np.random.default_rng(acc_width)
    make = lambda: BitletPE(config)
    shared, plain = BitletGrid(make, rows, cols, acc_width), PEGrid(make, rows, cols, acc_width)
    seen = compare_with_pegrid(shared, plain, _views(shared.pe, rng), rng, tiles)
    assert seen["done"] == tiles and seen["issued"] >= tiles
    assert seen["reads"] >= tiles * rows * cols and len(seen["values"]) > tiles * rows * cols // 2
    if acc_width == 12:     # the wrapped case: values spread over the whole 12-bit range
        assert min(seen["values"]) < -(1 << 10) and max(seen["values"]) > 1 << 10


def test_engines_shared_and_unshared_agree():
    """A fully connected layer (K = 5 on 2 rows, a partial tile; T = 4 on 3 columns; three 16-pair
    passes) on the "bitlet" engine (BitletGrid) and on the same engine with a PEGrid: the same load
    words, the same outputs (the plain integer layer) and the same cycles (golden.array.engine_cycles),
    with load stalls and drain back-pressure."""
    cfg = ArrayConfig(rows=2, cols=3, weight_depth=32, act_depth=32, param_depth=8, out_depth=32)
    rng = np.random.default_rng(7)
    K, C, T = 5, 48, 4
    a = ARCHS["bitlet"]
    w = a.prepare(laplace_int8(rng, (K, C)))
    x = rng.integers(-128, 128, (T, C))
    bias = rng.integers(-3000, 3000, K)
    engines = {"shared": engine("bitlet", cfg), "plain": LayerEngine(a.make_pe, cfg, grid_class=PEGrid)}
    assert type(engines["shared"].grid) is BitletGrid
    images = {k: fc_layer(e, w, x, bias=bias) for k, e in engines.items()}
    runs = {k: run_engine(e, [images[k]], load_prob=0.7, drain_prob=0.6, seed=4)[0] for k, e in engines.items()}
    assert images["shared"].load == images["plain"].load and images["shared"].desc == images["plain"].desc
    want = fc_reference(w, x, bias).ravel().tolist()
    assert runs["shared"].outputs == runs["plain"].outputs == want
    assert runs["shared"].cycles == runs["plain"].cycles == images["shared"].cycles.compute


def test_interface_is_pegrids():
    make = ARCHS["bitlet"].make_pe
    shared, plain = BitletGrid(make, 3, 5, 24), PEGrid(make, 3, 5, 24)
    for name in ("rows", "cols", "acc_width", "weights_layout", "acts_layout", "issue_layout"):
        assert getattr(shared, name) == getattr(plain, name), name
    assert shared.signature == plain.signature
    assert ARCHS["bitlet"].grid_class is BitletGrid


def test_bad_arguments_refused():
    with pytest.raises(TypeError, match=r"make_pe must make a hw.bitlet.pe.BitletPE for a BitletGrid, "
                                        r"got StripesPE"):
        BitletGrid(lambda: StripesPE(DenseConfig()), 2, 2)
    with pytest.raises(ValueError, match=r"this BitletPE takes 2 beats per pass \(Bitlet: set n_input = n_total\)"):
        BitletGrid(lambda: BitletPE(BitletConfig(n_total=16, n_input=8)), 2, 2)
    with pytest.raises(ValueError, match=r"this BitletPE is in fp32 mode"):
        BitletGrid(lambda: BitletPE(BitletConfig(n_total=16, n_input=16, mode="fp32")), 2, 2)
    with pytest.raises(TypeError, match=r"clear_acc must be a bool"):
        BitletMAC(16, 7, 8, True, 32, clear_acc=1)
