"""golden.cycles: per-group and per-layer cycle models; golden.bench smoke test."""

import importlib
import json
import re

import numpy as np
import pytest

from golden import bbs, cycles as C
from golden.bench import METHODS, RESNET50_LAYERS, main as bench_main


def _bitlet():
    try:
        return importlib.import_module("golden.bitlet")
    except ImportError as exc:  # written by another developer in parallel
        pytest.skip(f"golden.bitlet is not importable yet ({exc}); Bitlet cycle tests need it")


# ----------------------------------------------------------------------------------------- groups

def test_group_cycles_fixed_archs():
    w = np.array([[1, -2, 3, 0], [0, 0, 0, 0], [-128, 127, 5, 6]])
    assert C.group_cycles_stripes(w).tolist() == [8, 8, 8]
    assert C.group_cycles_parallel(w).tolist() == [1, 1, 1]
    assert C.group_cycles_bitvert(w, pruned=0).tolist() == [8, 8, 8]
    assert C.group_cycles_bitvert(w, pruned=4, sensitive=np.array(True)).tolist() == [8, 8, 8]
    bbs4 = np.array([[16, -32, 48, 0],       # N = 4: r = 1, C = 0 (multiples of 8 in [-64, 56])
                     [17, -31, 49, 1],       # the same with C = 1
                     [-128, 112, 16, 96]])   # r = 0, C = 0 (multiples of 16 in [-128, 112])
    assert C.group_cycles_bitvert(bbs4, pruned=4).tolist() == [4, 4, 4]
    assert C.group_cycles_bitvert(bbs4, pruned=2).tolist() == [6, 6, 6]      # N = 4 groups are N = 2 groups
    assert C.group_cycles_bitvert(np.array([bbs4[0], w[2], bbs4[2]]), pruned=4,
                                  sensitive=np.array([False, True, False])).tolist() == [4, 8, 4]
    assert C.group_cycles_bitvert(np.array([[1, -2]]), bits=4, pruned=2).tolist() == [2]


def test_bitvert_refuses_weights_not_bbs_pruned():
    # 7 significant bits down to position 2: 5 columns, more than the B - N = 4 live ones of pruned=4
    bad = np.array([[16, -32, 48, 0], [16, -32, 48, 4]])
    with pytest.raises(ValueError, match=re.escape(
            "w_groups[1] = [16, -32, 48, 4] is not BBS-pruned for pruned=4: no r in 0..3 and constant C in "
            "[-32, 63] make every w - C an (8 - r)-bit two's-complement number with 4 - r zero LSBs (4 live "
            "columns); prune the weights with golden.bbs.round_average or golden.bbs.zero_point_shift "
            "(pruned=4), or mark the group sensitive")):
        C.group_cycles_bitvert(bad, pruned=4)
    assert C.group_cycles_bitvert(bad, pruned=4, sensitive=np.array([False, True])).tolist() == [4, 8]
    assert C.group_cycles_bitvert(bad, pruned=2).tolist() == [6, 6]     # r = 1, C = 0: 7 bits, 1 zero LSB
    # a sensitive group is INT-B (B columns, no constant)
    with pytest.raises(ValueError, match=re.escape(
            "w_groups[0] = [130, 0] is sensitive (INT-8, 8 columns) but holds 130, outside [-128, 127]")):
        C.group_cycles_bitvert(np.array([[130, 0]]), pruned=4, sensitive=np.array([True]))
    # layers: INT8 weights as they come from quantize are refused; pruned with golden.bbs they are taken
    q = np.random.default_rng(3).integers(-127, 128, size=(4, 32))       # fc: 2 passes of 16, one tile
    with pytest.raises(ValueError, match=r"is not BBS-pruned for pruned=4: .* prune the weights with "
                                         r"golden\.bbs\.round_average or golden\.bbs\.zero_point_shift"):
        C.layer_cycles("bitvert", q, tokens=1, pruned=4)
    with pytest.raises(ValueError, match="is not BBS-pruned for pruned=2"):
        C.layer_cycles("bitvert", q, tokens=1, pruned=2)
    assert C.layer_cycles("bitvert", q, tokens=1, pruned=4, sensitive=np.ones(4, dtype=bool)) == 2 * 8
    ra, _ = bbs.round_average(q, bits=8, group=32, pruned=2)
    zps, _ = bbs.zero_point_shift(q, bits=8, group=32, pruned=4)
    assert C.layer_cycles("bitvert", ra, tokens=1, pruned=2) == 2 * 6
    assert C.layer_cycles("bitvert", zps, tokens=1, pruned=4) == 2 * 4
    assert C.layer_cycles("bitvert", zps, tokens=1, pruned=2) == 2 * 6


def test_group_cycles_pragmatic_and_zero_group():
    w = np.array([[1, -3, 7, 0],        # popcounts 1, 2, 3, 0 -> 3
                  [0, 0, 0, 0],         # all zero -> 1 (documented minimum: the pass still takes a cycle)
                  [-127, 64, 0, 0],     # 7 -> 7
                  [16, -32, 64, 0]])    # 1 -> 1
    assert C.group_cycles_pragmatic(w).tolist() == [3, 1, 7, 1]


def test_group_cycles_bitbalance_and_ebsp():
    w = np.array([[7, -11, 0, 64], [-1, 2, 3, 96]])      # at most 3 ones each
    assert C.group_cycles_bitbalance(w, k=3).tolist() == [3, 3]
    with pytest.raises(ValueError, match=r"at most k=2 one bits in the magnitude, got 7 \(3 ones\) at index \(0, 0\)"):
        C.group_cycles_bitbalance(w, k=2)
    ok = np.array([[7, -14, 0, 112], [-56, 96, 1, 40]])   # all inside a 3-bit window
    assert C.group_cycles_ebsp(ok, window=3).tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"window=3 bit pattern, got -11 at index \(0, 1\)"):
        C.group_cycles_ebsp(np.array([[7, -11]]), window=3)      # 1011b spans 4 positions
    with pytest.raises(ValueError, match=r"window=3 bit pattern, got 9 at index \(0, 0\)"):
        C.group_cycles_ebsp(np.array([[9]]), window=3)


def test_group_refusals():
    with pytest.raises(ValueError, match=r"w_groups must hold integers in \[-127, 127\], got -128"):
        C.group_cycles_pragmatic(np.array([[-128, 0]]))
    with pytest.raises(ValueError, match=r"w_groups must hold integers in \[-127, 127\], got -128"):
        C.group_cycles_bitbalance(np.array([[-128]]), k=3)
    with pytest.raises(TypeError, match="w_groups must be an array of integers, got dtype float64"):
        C.group_cycles_stripes(np.array([[1.0]]))
    with pytest.raises(ValueError, match=r"w_groups must hold integers in \[-8, 7\], got 9"):
        C.group_cycles_stripes(np.array([[9]]), bits=4)
    with pytest.raises(ValueError, match=r"pruned must be an integer in \[0, 6\], got 7"):
        C.group_cycles_bitvert(np.array([[1]]), pruned=7)
    with pytest.raises(TypeError, match="sensitive must be a bool array, got dtype int64"):
        C.group_cycles_bitvert(np.array([[1], [2]]), pruned=2, sensitive=np.array([0, 1]))
    with pytest.raises(ValueError, match="sensitive shape"):
        C.group_cycles_bitvert(np.array([[1], [2]]), pruned=2, sensitive=np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 7\], got 0"):
        C.group_cycles_bitbalance(np.array([[1]]), k=0)
    with pytest.raises(ValueError, match=r"window must be an integer in \[1, 7\], got 8"):
        C.group_cycles_ebsp(np.array([[1]]), window=8)
    with pytest.raises(ValueError, match="w_groups must have a group axis"):
        C.group_cycles_parallel(np.int64(1))


# ----------------------------------------------------------------------------------------- layers

def test_layer_stripes_and_parallel_exact():
    w = np.zeros((3, 8), dtype=np.int64)
    # pe_length 4 -> 2 passes per channel; rows 2 -> 2 tiles (one partial); ceil(20/16) = 2 window tiles
    assert C.layer_cycles("stripes", w, tokens=20, pe_length=4, array_rows=2) == 2 * 2 * 8 * 2
    assert C.layer_cycles("parallel", np.ones((64, 32), dtype=np.int64), tokens=1) == 2 * 2 * 1
    # conv: K=2, C=32, 1x1 -> 2 passes, one tile; out 7x7 -> 7 * ceil(7/16) = 7
    assert C.layer_cycles("stripes", np.ones((2, 32, 1, 1), dtype=np.int64), out_size=(7, 7)) == 2 * 8 * 7
    assert C.layer_cycles("stripes", np.ones((2, 32, 1, 1), dtype=np.int64), out_size=(7, 33), batch=3) \
        == 2 * 8 * 7 * 3 * 3


def test_layer_pragmatic_lock_step_and_sync_groups():
    w = np.arange(-8, 8).reshape(2, 8)
    # row0 passes: [-8,-7,-6,-5] pop 1,3,2,2 -> 3 ; [-4..-1] -> 2.  row1: [0..3] -> 2 ; [4..7] -> 3
    # lock step: max(3,2) + max(2,3) = 6 per tile, x ceil(20/16) = 2
    assert C.layer_cycles("pragmatic", w, tokens=20, pe_length=4, array_rows=2) == 12
    # one row per tile: (3 + 2) + (2 + 3) = 10, x 2
    assert C.layer_cycles("pragmatic", w, tokens=20, pe_length=4, array_rows=1) == 20
    # sync groups of 2 lanes: chunk0 max-rows per pass (3, 2) -> 5, chunk1 (2, 3) -> 5; max 5, x 2
    assert C.layer_cycles("pragmatic", w, tokens=20, pe_length=4, array_rows=2, sync_group=2) == 10
    # sync_group = 1: lane streams; lane 0: max(1,0)+max(1,1)=2, lane 1: max(3,1)+max(2,2)=5,
    # lane 2: max(2,1)+max(1,2)=4, lane 3: max(2,2)+max(1,3)=5 -> 5, x 2
    assert C.layer_cycles("pragmatic", w, tokens=20, pe_length=4, array_rows=2, sync_group=1) == 10
    # all-zero layer still costs 1 cycle per pass
    assert C.layer_cycles("pragmatic", np.zeros((5, 32), dtype=np.int64), tokens=1) == 2


def test_layer_bitvert_sensitive_and_reorder():
    w = np.ones((4, 4, 3, 3), dtype=np.int64)       # G = C = 4 < 16: 9 passes per channel
    sens = np.array([False, True, False, True])
    kw = dict(out_size=(5, 20), array_rows=2, pruned=2)   # window tiles: 5 * ceil(20/16) = 10
    # reordered: tiles (T, T) -> 8 and (F, F) -> 6 per pass
    assert C.layer_cycles("bitvert", w, sensitive=sens, **kw) == (9 * 8 + 9 * 6) * 10
    # in place: tiles (F, T), (F, T) -> both 8 per pass
    assert C.layer_cycles("bitvert", w, sensitive=sens, reorder=False, **kw) == (9 * 8 * 2) * 10
    assert C.layer_cycles("bitvert", w, **kw) == 9 * 6 * 2 * 10
    assert C.layer_cycles("bitvert", w, out_size=(5, 20), array_rows=2, pruned=4) == 9 * 4 * 2 * 10


def test_layer_bitbalance_ebsp_exact():
    w = np.array([[7, -11], [0, 1], [64, -3]])      # fc, C = 2 < 16 -> G = 2, one pass, one tile
    assert C.layer_cycles("bitbalance", w, tokens=33, k=3) == 3 * 3
    assert C.layer_cycles("ebsp", np.array([[7, -14], [0, 96]]), tokens=16, window=3) == 1


def test_layer_refusals():
    fc = np.ones((2, 16), dtype=np.int64)
    conv = np.ones((2, 16, 3, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="tokens is required for a fully connected layer"):
        C.layer_cycles("stripes", fc)
    with pytest.raises(ValueError, match="out_size is for convolution layers"):
        C.layer_cycles("stripes", fc, out_size=(1, 1))
    with pytest.raises(ValueError, match=r"out_size=\(OH, OW\) is required for a convolution layer"):
        C.layer_cycles("stripes", conv)
    with pytest.raises(ValueError, match="tokens is for fully connected layers"):
        C.layer_cycles("stripes", conv, tokens=3, out_size=(1, 1))
    with pytest.raises(ValueError, match=r"out_size must be a pair \(OH, OW\), got 5"):
        C.layer_cycles("stripes", conv, out_size=5)
    with pytest.raises(ValueError, match=r"out_size\[1\] must be an integer >= 1, got 0"):
        C.layer_cycles("stripes", conv, out_size=(1, 0))
    with pytest.raises(ValueError, match="arch must be one of 'bitvert', 'stripes'"):
        C.layer_cycles("eyeriss", fc, tokens=1)
    with pytest.raises(ValueError, match="pruned does not apply to arch='stripes': pruned is for arch='bitvert' only"):
        C.layer_cycles("stripes", fc, tokens=1, pruned=2)
    with pytest.raises(ValueError, match="sync_group does not apply to arch='stripes': sync_group is for arch='pragmatic' only"):
        C.layer_cycles("stripes", fc, tokens=1, sync_group=4)
    with pytest.raises(ValueError, match="k is required for arch='bitbalance'"):
        C.layer_cycles("bitbalance", fc, tokens=1)
    with pytest.raises(ValueError, match="window is required for arch='ebsp'"):
        C.layer_cycles("ebsp", fc, tokens=1)
    with pytest.raises(ValueError, match=r"sensitive must have shape \(2,\)"):
        C.layer_cycles("bitvert", fc, tokens=1, pruned=2, sensitive=np.array([True]))
    with pytest.raises(TypeError, match="sensitive must be a bool array"):
        C.layer_cycles("bitvert", fc, tokens=1, pruned=2, sensitive=np.array([1, 0]))
    with pytest.raises(ValueError, match=r"sync_group must be an integer in \[1, 16\] and a divisor of pe_length=16, got 3"):
        C.layer_cycles("pragmatic", fc, tokens=1, sync_group=3)
    with pytest.raises(ValueError, match=r"sync_group=2 must divide the layer's group size 3"):
        C.layer_cycles("pragmatic", np.ones((2, 3), dtype=np.int64), tokens=1, sync_group=2)
    with pytest.raises(ValueError, match=re.escape("w has C=24 input channels, which must be a multiple of "
                                                   "pe_length=16 (or smaller than it)")):
        C.layer_cycles("stripes", np.ones((2, 24), dtype=np.int64), tokens=1)
    with pytest.raises(ValueError, match="w must have 2 or 4 dimensions"):
        C.layer_cycles("stripes", np.ones((2, 4, 4), dtype=np.int64), tokens=1)
    with pytest.raises(TypeError, match="w must be an array of integers, got dtype float64"):
        C.layer_cycles("stripes", np.ones((2, 16)), tokens=1)
    with pytest.raises(ValueError, match=r"array_rows must be an integer >= 1, got 0"):
        C.layer_cycles("stripes", fc, tokens=1, array_rows=0)


def test_layer_huge_array_allocates_nothing():
    # more rows than output channels is one tile of the K channels: no padding to array_rows rows (an
    # array_rows of 10**15 would otherwise ask for 8 PB)
    w = np.ones((3, 32), dtype=np.int64)
    assert C.layer_cycles("stripes", w, tokens=1, array_rows=10**15) == 2 * 8
    assert C.layer_cycles("stripes", w, tokens=10**15, array_rows=10**15, array_cols=10**15) == 2 * 8
    assert C.layer_cycles("stripes", w, tokens=1, array_rows=2) == 2 * (2 * 8)
    # Bitlet pads a short group to n_total pairs: n_total is bounded by the PE's 64 pairs
    with pytest.raises(ValueError, match=re.escape("n_total must be an integer in [1, 64], got 1000000000000000")):
        C.layer_cycles("bitlet", w, tokens=1, n_total=10**15)
    with pytest.raises(ValueError, match=re.escape("n_total must be an integer in [1, 64], got 65")):
        C.group_cycles_bitlet(np.zeros((1, 8), dtype=np.int64), n_total=65)


def test_layer_messages_name_the_callers_arguments():
    # a group length that does not divide C: the message names pe_length / n_total, not group_weights' group
    with pytest.raises(ValueError, match=re.escape(
            "w has C=24 input channels, which must be a multiple of pe_length=16 (or smaller than it): a PE "
            "pass takes pe_length input channels; pad C or pick another pe_length")):
        C.layer_cycles("pragmatic", np.ones((2, 24, 3, 3), dtype=np.int64), out_size=(1, 1))
    with pytest.raises(ValueError, match=re.escape(
            "w has C=96 input channels, which must be a multiple of n_total=64 (or smaller than it): a PE "
            "pass takes n_total input channels; pad C or pick another n_total")):
        C.layer_cycles("bitlet", np.ones((2, 96), dtype=np.int64), tokens=1)
    # weight values are checked on w itself (w's index); ZPS weights without pruned= get a hint
    zps, _ = bbs.zero_point_shift(np.array([[127, 113] * 16]), bits=8, group=32, pruned=4)
    assert zps.max() == 128
    with pytest.raises(ValueError, match=re.escape(
            "w must hold integers in [-128, 127], got 128 at index (0, 0); zero-point-shifted weights "
            "(golden.bbs.zero_point_shift) can leave INT-8: pass the pruned=N they were pruned with")):
        C.layer_cycles("bitvert", zps, tokens=1)
    assert C.layer_cycles("bitvert", zps, tokens=1, pruned=4) == 2 * 4
    with pytest.raises(ValueError, match=re.escape("w_groups must hold integers in [-128, 127], got 128 at index "
                                                   "(0, 0); zero-point-shifted weights")):
        C.group_cycles_bitvert(zps.reshape(2, 16))
    with pytest.raises(ValueError, match=re.escape("w must hold integers in [-127, 127], got -128 at index (1, 3)")):
        C.layer_cycles("pragmatic", np.array([[0] * 16, [0, 0, 0, -128] + [0] * 12]), tokens=1)
    # an argument the architecture does not take is refused, whatever its value
    fc = np.ones((2, 16), dtype=np.int64)
    for arch, kw, msg in [
            ("stripes", {"k": 3}, "k does not apply to arch='stripes': k is for arch='bitbalance' only"),
            ("bitvert", {"window": 3}, "window does not apply to arch='bitvert': window is for arch='ebsp' only"),
            ("stripes", {"pruned": 0}, "pruned does not apply to arch='stripes': pruned is for arch='bitvert' only"),
            ("parallel", {"reorder": False}, "reorder does not apply to arch='parallel': reorder is for "
                                             "arch='bitvert' only"),
            ("stripes", {"n_total": 64}, "n_total does not apply to arch='stripes': n_total is for arch='bitlet' only"),
            ("ebsp", {"window": 3, "lane_mask": 1}, "lane_mask does not apply to arch='ebsp': lane_mask is for "
                                                    "arch='bitlet' only"),
            ("bitlet", {"pe_length": 16}, "pe_length does not apply to arch='bitlet': pe_length is for "
                                          "arch='bitvert', 'stripes', 'pragmatic', 'bitbalance', 'ebsp', "
                                          "'parallel' only"),
            ("bitlet", {"sensitive": np.array([True, False])}, "sensitive does not apply to arch='bitlet': "
                                                               "sensitive is for arch='bitvert' only")]:
        with pytest.raises(ValueError, match=re.escape(msg)):
            C.layer_cycles(arch, fc, tokens=1, **kw)
    # every one of them still works where it applies, and the per-arch defaults are unchanged
    assert C.layer_cycles("bitvert", fc, tokens=1, pruned=0, reorder=False) == 8
    assert C.layer_cycles("stripes", fc, tokens=1, pe_length=16) == 8
    assert C.layer_cycles("bitlet", np.zeros((2, 64), dtype=np.int64), tokens=1, n_total=64, n_check=8) == 8
    assert C.speedup_vs_stripes("bitlet", {"w": np.zeros((2, 64), dtype=np.int64), "tokens": 1},
                                n_total=64) == 4 * 8 / 8


def test_layer_group_refusals_index_channel_pass_lane():
    # a method's group check names w_groups[k, p, i]: output channel k (of w, before any reordering), pass p
    w = np.zeros((2, 32), dtype=np.int64)
    w[1, 16 + 3] = 14                                            # channel 1, pass 1, lane 3
    with pytest.raises(ValueError, match=re.escape("got 14 (3 ones) at index (1, 1, 3)")):
        C.layer_cycles("bitbalance", w, tokens=1, k=2)
    w[0, :4] = [16, -32, 48, 4]                                  # channel 0, pass 0: not BBS-pruned for N = 4
    with pytest.raises(ValueError, match=re.escape("w_groups[0, 0] = [16, -32, 48, 4, 0,")):
        C.layer_cycles("bitvert", w, tokens=1, pruned=4, sensitive=np.array([False, True]))   # reordered: 1, 0
    assert C.layer_cycles("bitvert", w, tokens=1, pruned=4, sensitive=np.array([True, False])) == 2 * 8
    assert C.layer_cycles("bitvert", w, tokens=1, pruned=4, sensitive=np.array([True, False]),
                          array_rows=1) == 2 * 8 + 2 * 4


# ----------------------------------------------------------------------------------------- bitlet

def test_bitlet_group_and_layer_cycles():
    bitlet = _bitlet()
    rng = np.random.default_rng(7)
    w = rng.integers(-127, 128, size=(5, 128))          # fc, 2 passes of 64 pairs per channel
    mag = np.abs(w).reshape(5, 2, 64)
    direct = np.asarray(bitlet.pass_cycles(mag))
    assert C.group_cycles_bitlet(w.reshape(10, 64)).tolist() == direct.reshape(-1).tolist()
    # rows 2: tiles {0,1}, {2,3}, {4}; per tile sum over passes of max over rows; x ceil(3/16) = 1
    expect = sum(int(direct[r0:r0 + 2].max(axis=0).sum()) for r0 in (0, 2, 4))
    assert C.layer_cycles("bitlet", w, tokens=3, array_rows=2) == expect
    # the check-window pointer algorithm (docs/bitlet.md), by hand: every weight = 1 -> lane 0 has 64
    # essential bits, one per cycle; the other lanes are empty (8 windows -> 8 bubbles); max over lanes = 64
    assert C.group_cycles_bitlet(np.ones((1, 64), dtype=np.int64)).tolist() == [64]
    assert C.group_cycles_bitlet(np.zeros((1, 64), dtype=np.int64)).tolist() == [8]
    # a short group (C = 8 < 64) is padded and its windows stop at the 8 valid pairs: one empty window
    assert C.group_cycles_bitlet(np.zeros((1, 8), dtype=np.int64)).tolist() == [1]
    with pytest.raises(ValueError, match="group length .* must be <= n_total=64, got 65"):
        C.group_cycles_bitlet(np.zeros((1, 65), dtype=np.int64))


# ----------------------------------------------------------------------------------------- speedup

def test_speedup_vs_stripes_exact():
    layers = [{"w": np.ones((64, 32), dtype=np.int64), "tokens": 40},
              {"w": np.ones((32, 16, 3, 3), dtype=np.int64), "out_size": (14, 14)}]
    assert C.speedup_vs_stripes("bitvert", layers, pruned=4) == 2.0
    assert C.speedup_vs_stripes("parallel", layers) == 8.0
    assert C.speedup_vs_stripes("bitbalance", layers, k=2) == 4.0
    # pragmatic on weights = 3 (popcount 2) -> 8/2
    l3 = [{**layer, "w": 3 * layer["w"]} for layer in layers]
    assert C.speedup_vs_stripes("pragmatic", l3) == 4.0
    # mixed sensitivity on one layer: half the channels (one full tile of 32) at 8 cycles, half at 6
    sens = np.arange(64) < 32
    one = {"w": np.ones((64, 32), dtype=np.int64), "tokens": 16, "sensitive": sens}
    assert C.speedup_vs_stripes("bitvert", one, pruned=2) == 16 / 14
    assert C.network_cycles("stripes", layers) == 2 * 2 * 8 * 3 + 9 * 1 * 8 * 14
    with pytest.raises(TypeError, match="layers must be a mapping or a non-empty sequence"):
        C.speedup_vs_stripes("parallel", [])
    with pytest.raises(TypeError, match=r"layers\[0\] must be a mapping with a 'w' entry"):
        C.network_cycles("parallel", [np.ones((2, 2), dtype=np.int64)])


# ----------------------------------------------------------------------------------------- bench

def test_resnet50_shapes():
    shapes = {name: shape for name, shape, _ in RESNET50_LAYERS}
    assert len(RESNET50_LAYERS) == 54                       # 53 convolutions + fc
    assert shapes["conv1"] == (64, 3, 7, 7) and shapes["fc"] == (1000, 2048)
    assert shapes["layer1.0.downsample"] == (256, 64, 1, 1)
    assert shapes["layer4.2.conv2"] == (512, 512, 3, 3)
    total = sum(int(np.prod(s)) for s in shapes.values())
    assert total == 25_502_912 and 25.5e6 <= total <= 25.6e6


def test_bench_smoke(tmp_path):
    out = tmp_path / "bench.json"
    assert bench_main(["--scale", "0.002", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    names = [d["name"] for d in data]
    assert {"quantize", "stripes_cycles", "pragmatic_cycles", "parallel_cycles"} <= set(names)
    assert set(names) <= set(METHODS)
    for d in data:
        assert set(d) == {"name", "weights", "seconds", "weights_per_s", "peak_rss_mb"}
        assert isinstance(d["weights"], int) and d["weights"] > 0
        assert all(isinstance(d[k], float) and d[k] > 0 for k in ("seconds", "weights_per_s", "peak_rss_mb"))
    # every layer keeps max(1, round(0.002 K)) output channels
    assert data[names.index("quantize")]["weights"] == sum(
        max(1, round(s[0] * 0.002)) * int(np.prod(s[1:])) for _, s, _ in RESNET50_LAYERS)
    with pytest.raises(SystemExit):
        bench_main(["--only", "nope", "--out", str(out)])
    with pytest.raises(SystemExit):
        bench_main(["--scale", "0", "--out", str(out)])


# ----------------------------------------------------------------------------------------- integration

@pytest.mark.parametrize("arch, module, kw", [("bitbalance", "golden.bitbalance", {"k": 3}),
                                              ("ebsp", "golden.ebsp", {"window": 3})])
def test_projected_weights_are_accepted(arch, module, kw):
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:  # written by another developer in parallel
        pytest.skip(f"{module} is not importable yet ({exc})")
    q = np.random.default_rng(11).integers(-127, 128, size=(40, 32, 3, 3))
    p = mod.project(q, bits=8, **kw)
    # 40 channels -> tiles of 32 and 8; 9 * 2 passes per channel; out 6x6 -> 6 window tiles
    per_pass = kw.get("k", 1)
    assert C.layer_cycles(arch, p, out_size=(6, 6), **kw) == 2 * 18 * per_pass * 6


# -- found by the fuzz harness (tests/fuzz/) -----------------------------------------------------------

def test_array_reference_functions_check_their_arguments():
    from golden import array, bench
    with pytest.raises(TypeError, match="size must be a pair"):
        array.conv_out_size(None, (3, 3), 1, ((0, 0), (0, 0)))
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        array.conv_out_size((8, 8), (3, 3), 0, ((0, 0), (0, 0)))
    with pytest.raises(ValueError, match="w and x are too large"):
        array.fc_reference(np.array([[2]]), np.array([[2 ** 62]]))
    with pytest.raises(TypeError, match="out_size must be a pair"):
        array.engine_cycles(np.ones((1, 1), dtype=np.int64), config=array.ArrayConfig(), out_size=True)
    with pytest.raises(ValueError, match="name must be one of"):
        bench.run_one("nope", 0.01)
    with pytest.raises(ValueError, match="scale must be a number in"):
        bench.run_one("quantize", float("nan"))


def test_network_cycles_refuses_a_layer_without_weights():
    with pytest.raises(TypeError, match="layers must be a mapping with a 'w' entry"):
        C.network_cycles("stripes", {})


def test_more_arguments_found_by_the_fuzz_profile():
    from golden import array, bitbalance, primitives
    with pytest.raises(ValueError, match="would overflow the int64 accumulator"):
        primitives.shift_accumulate(np.full(2, 2 ** 62), np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64),
                                    mode="shift_add")
    long = primitives.shift_accumulate(np.ones(100, dtype=np.int64), np.zeros(100, dtype=np.int64),
                                       start=np.ones(100, dtype=np.int64), mode="double_add")
    assert (long == 1).all()                          # every step restarts: no overflow, no refusal
    w = np.ones((2, 16), dtype=np.int64)
    with pytest.raises(ValueError, match="takes 0 cycles"):
        C.speedup_vs_stripes("bitlet", {"w": w, "tokens": 1}, lane_mask=0)
    with pytest.raises(ValueError, match="w and x must not be empty"):
        array.conv_reference(np.ones((1, 1, 1, 1), dtype=np.int64), np.ones((1, 0, 3), dtype=np.int64))
    with pytest.raises(TypeError, match=r"layers\[0\] must be an array of integers"):
        bitbalance.project_layers([np.array([0.5])], k=2)


def test_empty_layers_and_bad_padding_are_refused_by_name():
    from golden import array
    with pytest.raises(ValueError, match="w must not be empty"):
        C.layer_cycles("stripes", np.zeros((1, 0), dtype=np.int64), tokens=1)
    with pytest.raises(TypeError, match="padding must be"):
        array.conv_out_size((1, 1), (1, 1), 1, "")
