"""The layer engine in the Amaranth simulator: every architecture bit-exact and cycle-exact on fully
connected layers with partial tiles, stalls on the load port and back-pressure on the drain port; two
layers back to back through the activation buffer; bad layers refused by name."""

import dataclasses

import numpy as np
import pytest

from golden.array import ArrayConfig, conv_reference, engine_cycles, fc_reference, requantize
from hw.array.archs import ARCHS, engine
from hw.array.images import conv_layer, fc_layer
from sim.engine_sim import run_engine

SMALL = ArrayConfig(rows=2, cols=3, weight_depth=64, act_depth=64, param_depth=32, out_depth=128)


def laplace_int8(rng, shape, scale=20.0):
    return np.clip(np.round(rng.laplace(0, scale, shape)), -127, 127).astype(np.int64)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_fc_layer_exact_with_stalls(arch):
    """K = 5 channels on 2 rows and T = 4 tokens on 3 columns: partial tiles both ways."""
    rng = np.random.default_rng(sorted(ARCHS).index(arch))
    a = ARCHS[arch]
    K, C, T = 5, 2 * a.config.pe_length * (2 if arch == "stripes8" else 1), 4
    q = laplace_int8(rng, (K, C))
    sens = np.array([False, True, False, False, True]) if arch == "bitvert" else None
    w = a.prepare(q, sens)
    x = rng.integers(-128, 128, (T, C))
    bias = rng.integers(-5000, 5000, K)
    eng = engine(arch, SMALL)
    raw = fc_layer(eng, w, x, bias=bias)
    mult = rng.integers(1, 1 << 16, K)
    req = fc_layer(eng, w, x, bias=bias, mult=mult, shift=20, relu=True, requant=True)
    r_raw, r_req = run_engine(eng, [raw, req], load_prob=0.6, drain_prob=0.5, seed=3)
    w_int = raw.reference - bias[:, None]
    assert np.array_equal(w_int, fc_reference(np.asarray(_ints(w)), x))
    assert r_raw.outputs == raw.expected.ravel().tolist()
    assert r_req.outputs == requantize(raw.expected, mult, 20, relu=True).ravel().tolist()
    assert r_raw.cycles == raw.cycles.compute and r_req.cycles == req.cycles.compute
    assert r_raw.load_error == 0


def test_requantization_at_every_kind_of_shift():
    """The output stage at shift 0 (no rounding), 1, the shifts of real layers, and SHIFT_MAX = 47, with
    and without ReLU, multipliers up to 2**16 - 1 and accumulators near the 32-bit limits, equal to
    golden.array.requantize (the rounding is computed as ((p >> (s-1)) + 1) >> 1 in hardware)."""
    from golden.array import SHIFT_MAX
    rng = np.random.default_rng(11)
    eng = engine("stripes", SMALL)
    K, C, T = 4, 16, 3
    w = laplace_int8(rng, (K, C))
    x = rng.integers(-128, 128, (T, C))
    images, wants = [], []
    for shift, relu, big in [(0, False, False), (1, False, False), (1, True, False), (2, False, False),
                             (13, True, False), (20, False, True), (31, False, True), (SHIFT_MAX, False, True)]:
        bias = rng.integers(-(1 << 30), 1 << 30, K) if big else rng.integers(-400, 400, K)
        mult = np.array([1, 1 << 15, (1 << 16) - 1, int(rng.integers(1, 1 << 16))])
        image = fc_layer(eng, w, x, bias=bias, mult=mult, shift=shift, relu=relu, requant=True)
        want = requantize(fc_reference(w, x, bias).reshape(K, T), mult, shift, relu=relu)
        assert np.array_equal(image.expected, want)
        images.append(image)
        wants.append(want)
    assert len({tuple(wn.ravel()) for wn in wants}) == len(wants)        # the cases are told apart
    for run, image in zip(run_engine(eng, images, seed=5), images):
        assert run.outputs == image.expected.ravel().tolist()
        assert run.cycles == image.cycles.compute


def _ints(w):
    from golden.bbs import BBSEncoded, decode
    return decode(w) if isinstance(w, BBSEncoded) else w


@pytest.mark.parametrize("arch", ["stripes", "bitvert", "pragmatic"])
def test_two_layers_back_to_back(arch):
    """Layer 1 writes its requantized INT8 outputs into the activation buffer; layer 2 reads them there
    (the host loads only layer 2's weights and parameters); its outputs equal the two layers' integer
    inference."""
    rng = np.random.default_rng(7)
    a = ARCHS[arch]
    K1, C, T, K2 = 32, 32, 4, 5
    q1, q2 = laplace_int8(rng, (K1, C)), laplace_int8(rng, (K2, K1))
    x = rng.integers(0, 128, (T, C))
    m1, m2 = rng.integers(1, 1 << 10, K1), rng.integers(1, 1 << 10, K2)
    eng = engine(arch, SMALL)
    w1, w2 = a.prepare(q1), a.prepare(q2)
    l1 = fc_layer(eng, w1, x, mult=m1, shift=16, relu=True, requant=True, to_acts=20, drain=False)
    x2 = requantize(fc_reference(_ints(w1), x), m1, 16, relu=True).T
    l2 = fc_layer(eng, w2, x2, mult=m2, shift=14, requant=True, a_base=20, load_acts=False, w_base=40, p_base=4)
    assert not any(buf == 1 for buf, _, _ in l2.load)
    r1, r2 = run_engine(eng, [l1, l2], load_prob=0.8, drain_prob=0.7)
    assert r1.outputs == []
    assert r2.outputs == requantize(fc_reference(_ints(w2), x2), m2, 14).ravel().tolist()
    assert (r1.cycles, r2.cycles) == (l1.cycles.compute, l2.cycles.compute)
    assert l2.cycles.load == len(l2.load)


def test_engine_cycles_by_hand():
    """Two channel tiles (rows 2) of 3 passes, one token tile: pass costs are the slowest row's; the
    second tile's write-back is hidden behind its passes unless they are shorter than rows * cols."""
    steps = np.array([[6, 6, 8], [6, 8, 6], [6, 6, 6]])
    cfg = ArrayConfig(rows=2, cols=2)
    c = engine_cycles(steps, tokens=2, config=cfg, latency=1)
    # tile 0: 6 + 8 + 8 = 22 (+ latency + rows*cols + 3 = 8), tile 1 (one real row): 18 (+ latency + 2)
    assert c.compute_only == 40
    assert c.compute == 1 + 22 + 8 + 18 + 3
    assert c.load == 2 * 3 + 1 * 3 + 2 and c.drain == 6
    # 4 x 4 (16 outputs a tile), 1-step passes: tile 1's write-back (16 + 2) is longer than its passes
    # (3 + latency + 2), so it costs rows * cols + 2; two token tiles repeat the channel tiles
    short = engine_cycles(np.ones((8, 3), dtype=int), tokens=8, config=ArrayConfig(rows=4, cols=4), latency=1)
    assert short.compute == 1 + (3 + 1 + 16 + 3) + 3 * (16 + 2)


def test_load_error_on_bad_buffer_and_address():
    """A word past a buffer's depth writes nothing and raises load_error (cleared by start); the layer
    loaded around it still runs exactly."""
    eng = engine("stripes", SMALL)
    rng = np.random.default_rng(0)
    q = laplace_int8(rng, (2, 16))
    img = fc_layer(eng, q, rng.integers(-128, 128, (2, 16)))
    for bad in [(2, SMALL.param_depth, 0), (2, SMALL.param_depth + 8, 0)]:
        spoilt = dataclasses.replace(img, load=img.load[:1] + [bad] + img.load[1:])
        first, again = run_engine(eng, [spoilt, img])
        assert first.load_error == 1 and again.load_error == 0
        assert first.outputs == again.outputs == img.expected.ravel().tolist()


def test_bad_layers_refused():
    eng = engine("stripes", SMALL)
    rng = np.random.default_rng(0)
    q = laplace_int8(rng, (4, 32))
    x = rng.integers(-128, 128, (3, 32))
    with pytest.raises(ValueError, match="multiple of pe_length=16"):
        fc_layer(eng, q[:, :24], x[:, :24])
    with pytest.raises(ValueError, match="x must have C=32"):
        fc_layer(eng, q, x[:, :16])
    with pytest.raises(ValueError, match="weight buffer.*weight_depth=64"):
        fc_layer(eng, laplace_int8(rng, (66, 64)), rng.integers(-128, 128, (1, 64)))
    with pytest.raises(ValueError, match="x must hold integers in \\[-128, 127\\]"):
        fc_layer(eng, q, x + 200)
    with pytest.raises(ValueError, match="beyond the 32-bit accumulator"):
        fc_layer(eng, q, x, bias=np.full(4, 2**31 - 100))
    with pytest.raises(ValueError, match="w_base must be an integer in \\[0, 60\\]"):
        fc_layer(eng, q, x, w_base=61)
    with pytest.raises(ValueError, match="to_acts needs requant=True"):
        fc_layer(eng, q, x, to_acts=30)
    with pytest.raises(ValueError, match="to_acts needs K=4 to be a multiple of pe_length=16"):
        fc_layer(eng, q, x, requant=True, to_acts=30)
    with pytest.raises(ValueError, match="overlaps this layer's activations"):
        fc_layer(eng, laplace_int8(rng, (16, 32)), x, requant=True, to_acts=1)
    with pytest.raises(TypeError, match="engine must be a hw.array.layer.LayerEngine"):
        fc_layer(object(), q, x)
    with pytest.raises(ValueError, match="arch must be one of"):
        engine("bitlett", SMALL)
    with pytest.raises(ValueError, match="rows must be an integer in \\[1, 64\\], got 0"):
        ArrayConfig(rows=0)
    with pytest.raises(ValueError, match="param_ram must be one of 'auto', 'block', got 'spram'"):
        engine("stripes", SMALL, param_ram="spram")
    bitlet = ARCHS["bitlet"].config
    with pytest.raises(ValueError, match="this BitletPE takes 4 beats per pass \\(Bitlet: set n_input = n_total\\)"):
        engine("bitlet", SMALL, dataclasses.replace(bitlet, n_total=64))
    with pytest.raises(ValueError, match="this BitletPE is in fp32 mode"):
        engine("bitlet", SMALL, dataclasses.replace(bitlet, mode="fp32", n_channel=24, act_bits=25))


def test_buffers_carry_their_synthesis_attributes():
    """Every buffer is marked collision-free for Yosys (no_rw_check); param_ram="block" asks for block RAM
    for the parameter buffer only."""
    from amaranth.back import rtlil
    for param_ram, block in (("auto", 0), ("block", 1)):
        il = rtlil.convert(engine("stripes", SMALL, param_ram=param_ram), name="eng", emit_src=False)
        mems = [line.split()[-1] for line in il.splitlines() if line.strip().startswith("memory ")]
        assert sorted(mems) == ["\\amem0", "\\amem1", "\\amem2", "\\omem", "\\pmem", "\\wmem"]
        assert il.count("attribute \\no_rw_check 1") == len(mems)
        assert il.count('attribute \\ram_style "block"') == block


#: (K, C, kernel, H, W, stride, padding): 3x3 with same padding, stride 2 with the stem's asymmetric
#: padding, a 1x1, a 5x5 wider than the partial last tile of its rows
CONVS = [(3, 16, 3, 3, 4, 1, ((1, 1), (1, 1))), (3, 16, 3, 5, 4, 2, ((0, 1), (0, 1))),
         (2, 32, 1, 2, 4, 1, ((0, 0), (0, 0))), (2, 16, 5, 2, 2, 1, ((2, 2), (2, 2)))]


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_conv_layer_exact_with_stalls(arch):
    """Convolutions with the addresses generated in hardware: every output and the cycle count exact."""
    rng = np.random.default_rng(11 + sorted(ARCHS).index(arch))
    a = ARCHS[arch]
    eng = engine(arch, ArrayConfig(rows=2, cols=3, weight_depth=256, act_depth=256, param_depth=8, out_depth=128))
    images = []
    for K, C, k, H, W, s, pad in CONVS:
        q = laplace_int8(rng, (K, C, k, k))
        x = rng.integers(-128, 128, (C, H, W))
        bias = rng.integers(-99, 99, K)
        w = a.prepare(q)
        img = conv_layer(eng, w, x, stride=s, padding=pad, bias=bias)
        want = conv_reference(_ints(w), x, stride=s, padding=pad, bias=bias)
        assert np.array_equal(img.expected, want.reshape(K, -1))
        images.append(img)
    runs = run_engine(eng, images, load_prob=0.7, drain_prob=0.6, seed=5)
    for img, run in zip(images, runs):
        assert run.outputs == img.expected.ravel().tolist()
        assert run.cycles == img.cycles.compute


def test_conv_reference_against_im2col():
    """golden.array.conv_reference equals an explicit im2col matrix product."""
    rng = np.random.default_rng(2)
    w, x = rng.integers(-9, 9, (4, 3, 3, 2)), rng.integers(-9, 9, (3, 6, 5))
    pad, s = ((1, 2), (0, 1)), 2
    y = conv_reference(w, x, stride=s, padding=pad)
    xp = np.pad(x, ((0, 0),) + pad)
    OH, OW = (6 + 3 - 3) // 2 + 1, (5 + 1 - 2) // 2 + 1
    cols = np.array([[xp[:, oy * s:oy * s + 3, ox * s:ox * s + 2].ravel() for ox in range(OW)] for oy in range(OH)])
    assert y.shape == (4, OH, OW)
    assert np.array_equal(y, np.einsum("kf,hwf->khw", w.reshape(4, -1), cols))


@pytest.mark.parametrize("arch", ["stripes", "bitvert"])
def test_conv_then_conv_through_the_activation_buffer(arch):
    """A 3x3 convolution writes its requantized outputs into the activation buffer as a feature map; a
    stride-2 3x3 convolution reads them there (the host loads only its weights and parameters); then a
    1x1 convolution run as a fully connected layer over pixels (to_map) feeds a third convolution. All
    equal the layers' integer inference."""
    rng = np.random.default_rng(21)
    a = ARCHS[arch]
    eng = engine(arch, ArrayConfig(rows=2, cols=3, weight_depth=256, act_depth=256, param_depth=32, out_depth=512))
    C, K1, K2, H, W = 16, 16, 3, 3, 4
    q1, q2 = laplace_int8(rng, (K1, C, 3, 3)), laplace_int8(rng, (K2, K1, 3, 3))
    x = rng.integers(-128, 128, (C, H, W))
    m1, m2 = rng.integers(1, 1 << 10, K1), rng.integers(1, 1 << 10, K2)
    w1, w2 = a.prepare(q1), a.prepare(q2)
    same, stem = ((1, 1), (1, 1)), ((0, 1), (0, 1))
    l1 = conv_layer(eng, w1, x, padding=same, mult=m1, shift=15, relu=True, requant=True, to_acts=100, drain=False)
    x2 = requantize(conv_reference(_ints(w1), x, padding=same).reshape(K1, -1), m1, 15, relu=True).reshape(K1, H, W)
    l2 = conv_layer(eng, w2, x2, stride=2, padding=stem, mult=m2, shift=13, requant=True, a_base=100,
                    load_acts=False, w_base=100, p_base=16)
    q3 = laplace_int8(rng, (K1, C))
    pixels = x.reshape(C, -1).T                                   # a 1x1 convolution: tokens are pixels
    l3 = fc_layer(eng, a.prepare(q3), pixels, mult=m1, shift=15, requant=True, to_acts=150, to_map=True,
                  drain=False)
    x4 = requantize(fc_reference(_ints(a.prepare(q3)), pixels), m1, 15).reshape(K1, H, W)
    l4 = conv_layer(eng, w2, x4, padding=same, mult=m2, shift=13, requant=True, a_base=150, load_acts=False)
    assert not any(buf in (1, 3) for buf, _, _ in l2.load + l4.load)
    runs = run_engine(eng, [l1, l2, l3, l4], load_prob=0.8, drain_prob=0.7)
    want2 = requantize(conv_reference(_ints(w2), x2, stride=2, padding=stem).reshape(K2, -1), m2, 13)
    want4 = requantize(conv_reference(_ints(w2), x4, padding=same).reshape(K2, -1), m2, 13)
    assert runs[1].outputs == want2.ravel().tolist()
    assert runs[3].outputs == want4.ravel().tolist()
    assert [r.cycles for r in runs] == [im.cycles.compute for im in (l1, l2, l3, l4)]


@pytest.mark.parametrize("arch", ["stripes", "bitvert"])
def test_peek_reads_every_buffer_back(arch):
    """The host's read port (hw.link's READ): after a layer, every word loaded into the weight, activation
    (all banks, and bank 0 alone) and parameter buffers and every output reads back exactly as written
    or computed; peek is refused (ready low) while the layer runs."""
    from amaranth.sim import Simulator
    from sim.amaranth_sim import stream_get, stream_put
    from sim.engine_sim import load_payload

    rng = np.random.default_rng(11)
    a = ARCHS[arch]
    K, C, T = 3, a.config.pe_length, 4
    w = a.prepare(laplace_int8(rng, (K, C)), np.array([False, True, False]) if arch == "bitvert" else None)
    eng = engine(arch, SMALL)
    image = fc_layer(eng, w, rng.integers(-128, 128, (T, C)), bias=rng.integers(-99, 99, K))
    col_bits = eng.act_bits // SMALL.cols
    want = {}
    for buffer, addr, word in image.load:
        want[(buffer, addr)] = word
        if buffer == 1:
            want[(3, addr)] = word & ((1 << col_bits) - 1)
    want.update({(4, k * T + t): int(v) & ((1 << SMALL.acc_width) - 1)
                 for (k, t), v in np.ndenumerate(image.expected)})
    got, refused = {}, []

    async def host(ctx):
        for buffer, addr, word in image.load:
            await stream_put(ctx, eng.load, load_payload(buffer, addr, word))
        ctx.set(eng.desc, {**image.desc, "drain": 0})
        ctx.set(eng.start, 1)
        await ctx.tick()
        ctx.set(eng.start, 0)
        refused.append(ctx.get(eng.peek.ready))
        while ctx.get(eng.busy):
            await ctx.tick()
        for buffer, addr in want:
            await stream_put(ctx, eng.peek, {"buffer": buffer, "addr": addr})
            got[(buffer, addr)] = ctx.get(eng.peek_data)

    sim = Simulator(eng)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.run()
    assert refused == [0]
    assert got == want


#: depthwise (channel groups of the PE's lanes, kernel, H, W, stride, padding): a 3x3 with same padding on
#: two groups (the tile-to-group step), a stride-2 3x3 with the stem's padding, a 5x5
DEPTHWISE = [(2, 3, 2, 3, 1, ((1, 1), (1, 1))), (1, 3, 5, 4, 2, ((0, 1), (0, 1))), (1, 5, 2, 3, 1, ((2, 2), (2, 2)))]
DW_ENGINE = ArrayConfig(rows=2, cols=3, weight_depth=512, act_depth=256, param_depth=32, out_depth=512,
                        depthwise=True)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_depthwise_layer_exact_with_stalls(arch):
    """Depthwise convolutions (one input channel per output) on 2 rows: channel tile kt reads channel
    group kt // (pe_length / rows), one pass per tap; every output equals plain integer NumPy and the
    cycle count the model."""
    from golden.array import depthwise_reference
    from hw.array.images import depthwise_layer
    rng = np.random.default_rng(31 + sorted(ARCHS).index(arch))
    a = ARCHS[arch]
    eng = engine(arch, DW_ENGINE)
    images = []
    for groups, k, H, W, s, pad in DEPTHWISE:
        C = groups * a.config.pe_length
        q = laplace_int8(rng, (C, 1, k, k), scale=40.0)
        x = rng.integers(-128, 128, (C, H, W))
        bias = rng.integers(-99, 99, C)
        w = a.prepare_depthwise(q)
        img = depthwise_layer(eng, w, x, stride=s, padding=pad, bias=bias)
        w_int = q if arch.startswith("bitvert") else _ints(w)           # BitVert keeps the layer INT8
        want = depthwise_reference(w_int, x, stride=s, padding=pad, bias=bias)
        assert np.array_equal(img.expected, want.reshape(C, -1))
        images.append(img)
    runs = run_engine(eng, images, load_prob=0.7, drain_prob=0.6, seed=6)
    for img, run in zip(images, runs):
        assert run.outputs == img.expected.ravel().tolist()
        assert run.cycles == img.cycles.compute


@pytest.mark.parametrize("arch", ["stripes", "bitvert"])
def test_mbconv_block_through_the_activation_buffer(arch):
    """EfficientNet's inverted bottleneck without the host moving data: a 1x1 expansion (run as a fully
    connected layer over pixels, to_map) writes a feature map that a 3x3 depthwise convolution reads,
    whose requantized map a 1x1 projection (a convolution) reads. The outputs equal the three layers' integer inference."""
    from golden.array import depthwise_reference
    from hw.array.images import depthwise_layer
    rng = np.random.default_rng(41)
    a = ARCHS[arch]
    eng = engine(arch, DW_ENGINE)
    C, E, H, W = 16, 32, 2, 3
    x = rng.integers(-128, 128, (C, H, W))
    w1, w3 = a.prepare(laplace_int8(rng, (E, C))), a.prepare(laplace_int8(rng, (5, E, 1, 1)))
    w2 = a.prepare_depthwise(laplace_int8(rng, (E, 1, 3, 3), scale=40.0))
    m1, m2, m3 = rng.integers(1, 1 << 8, E), rng.integers(1, 1 << 8, E), rng.integers(1, 1 << 8, 5)
    same = ((1, 1), (1, 1))
    pixels = x.reshape(C, -1).T
    l1 = fc_layer(eng, w1, pixels, mult=m1, shift=15, relu=True, requant=True, to_acts=100, to_map=True,
                  drain=False)
    x2 = requantize(fc_reference(_ints(w1), pixels), m1, 15, relu=True).reshape(E, H, W)
    l2 = depthwise_layer(eng, w2, x2, padding=same, mult=m2, shift=12, relu=True, requant=True, a_base=100,
                         load_acts=False, w_base=100, p_base=16, to_acts=200, drain=False)
    w2_int = _ints(w2)
    if w2_int.shape[1] != 1:                                       # BitVert's block-diagonal encoding
        w2_int = w2_int[np.arange(E), np.arange(E) % a.config.pe_length][:, None]
    x3 = requantize(depthwise_reference(w2_int, x2, padding=same).reshape(E, -1), m2, 12, relu=True)
    x3 = x3.reshape(E, H, W)
    l3 = conv_layer(eng, w3, x3, mult=m3, shift=13, requant=True, a_base=200, load_acts=False, w_base=300,
                    p_base=28)
    assert not any(buf in (1, 3) for buf, _, _ in l2.load + l3.load)
    runs = run_engine(eng, [l1, l2, l3], load_prob=0.8, drain_prob=0.7)
    want = requantize(conv_reference(_ints(w3), x3).reshape(5, -1), m3, 13)
    assert 0 < np.count_nonzero(np.abs(want) < 127) and 0 < np.count_nonzero(x3) < x3.size
    assert runs[2].outputs == want.ravel().tolist()
    assert [r.cycles for r in runs] == [im.cycles.compute for im in (l1, l2, l3)]


def test_bad_depthwise_layers_refused():
    from hw.array.images import block_diagonal, depthwise_layer
    rng = np.random.default_rng(0)
    q = laplace_int8(rng, (16, 1, 3, 3))
    x = rng.integers(-128, 128, (16, 4, 4))
    with pytest.raises(ValueError, match="built without depthwise convolutions"):
        depthwise_layer(engine("stripes", SMALL), q, x)
    with pytest.raises(ValueError, match="depthwise=True needs rows to divide the PE's pe_length=16 by a "
                                         "power of two .* got rows=3"):
        engine("stripes", dataclasses.replace(DW_ENGINE, rows=3))
    eng = engine("stripes", DW_ENGINE)
    with pytest.raises(ValueError, match="weights must be depthwise \\[C, 1, KH, KW\\], got shape \\(16, 2, 3, 3\\)"):
        depthwise_layer(eng, np.repeat(q, 2, axis=1), x)
    with pytest.raises(ValueError, match="multiple of pe_length=16 channels, got C=8"):
        depthwise_layer(eng, q[:8], x[:8])
    with pytest.raises(ValueError, match="x must have C=16 input channels"):
        depthwise_layer(eng, q, x[:8])
    with pytest.raises(TypeError, match="depthwise must be a bool \\(True or False\\), got 1"):
        ArrayConfig(depthwise=1)
    bv = ARCHS["bitvert"]
    dense = bv.prepare(laplace_int8(rng, (16, 16, 3, 3)), np.ones(16, dtype=bool))
    with pytest.raises(ValueError, match="not zero outside each channel's own lane"):
        depthwise_layer(engine("bitvert", DW_ENGINE), dense, x)
    assert block_diagonal(q, 16)[3, 3].tolist() == q[3, 0].tolist() and not block_diagonal(q, 16)[3, 4].any()


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_global_avg_pool_on_the_engine(arch):
    """The global average pool as a depthwise layer (equal weights over the whole map, the output stage of
    golden.array.pool_requantization): each output is the channel's mean rounded half up, on a 3 x 3 map,
    a 2 x 4 map (an even window, exact halves) and maps of -128 and 127, and the cycles the model's."""
    from golden.array import avg_pool_reference
    from hw.array.images import global_avg_pool_layer
    rng = np.random.default_rng(51 + sorted(ARCHS).index(arch))
    C = ARCHS[arch].config.pe_length
    eng = engine(arch, DW_ENGINE)
    maps = [rng.integers(-128, 128, (C, 3, 3)), rng.integers(-128, 128, (C, 2, 4)),
            np.where(np.arange(C)[:, None, None] % 2, 127, -128) * np.ones((C, 2, 2), dtype=np.int64)]
    maps[1][0] = [[-3, -1, 0, 0], [0, 0, 0, 0]]          # mean -0.5: rounds half up to 0
    images = [global_avg_pool_layer(eng, arch, x) for x in maps]
    runs = run_engine(eng, images, load_prob=0.7, drain_prob=0.6, seed=7)
    for x, img, run in zip(maps, images, runs):
        assert run.outputs == avg_pool_reference(x).tolist()
        assert run.cycles == img.cycles.compute
    assert avg_pool_reference(maps[1])[0] == 0


def test_bad_pools_refused():
    from hw.array.images import global_avg_pool_layer
    eng = engine("stripes", DW_ENGINE)
    x = np.zeros((16, 3, 3), dtype=np.int64)
    with pytest.raises(TypeError, match="a pool sets the output stage itself; 'shift' is not an option"):
        global_avg_pool_layer(eng, "stripes", x, shift=3)
    with pytest.raises(ValueError, match="W must be an integer in \\[1, 15\\]"):
        global_avg_pool_layer(eng, "stripes", np.zeros((16, 3, 16), dtype=np.int64))
    with pytest.raises(ValueError, match="arch must be one of"):
        global_avg_pool_layer(eng, "stripez", x)


@pytest.mark.parametrize("arch", ["stripes", "bitvert", "bitlet"])
def test_windowed_avg_pool_on_the_engine(arch):
    """A 3 x 3 average pool, stride 2, padding 1 (zeros counted, as network.engine.avg_pool): every output
    the window's rounded mean, the cycles the model's."""
    from golden.array import avg_pool_reference
    from hw.array.images import avg_pool_layer
    from network.engine import avg_pool
    rng = np.random.default_rng(61)
    C = ARCHS[arch].config.pe_length
    x = rng.integers(-128, 128, (C, 5, 4))
    eng = engine(arch, DW_ENGINE)
    pad = ((1, 1), (1, 1))
    img = avg_pool_layer(eng, arch, x, (3, 3), stride=2, padding=pad)
    want = avg_pool_reference(x, (3, 3), stride=2, padding=pad)
    assert np.array_equal(want, avg_pool(x[None], 3, stride=2, padding=1)[0])
    [run] = run_engine(eng, [img], load_prob=0.7, drain_prob=0.6, seed=8)
    assert run.outputs == want.ravel().tolist() and run.cycles == img.cycles.compute
