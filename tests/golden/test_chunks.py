"""golden.chunks: blockwise processing of large tensors gives bit-identical results, and the up-front memory check.

Every chunked function is run with :data:`golden.chunks.CHUNK_ELEMENTS` set huge (one block: the unchunked
computation) and tiny (blocks of a single group, lane or channel part), on random and on real EfficientNet-Lite0
weights; results, dtypes and error messages must be identical.
"""

import dataclasses
import itertools
import math
import re

import numpy as np
import pytest

from golden import bbs, bitlet, chunks, cycles, pretrained
from golden.check import check_float_array, check_int_array, check_int_values
from golden.layout import group_weights, ungroup_weights
from golden.quant import quantize

UNCHUNKED = 1 << 62


def _same(x, y, path="result"):
    assert type(x) is type(y), f"{path}: {type(x).__name__} vs {type(y).__name__}"
    if isinstance(x, np.ndarray):
        assert x.dtype == y.dtype and x.shape == y.shape, f"{path}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
        assert np.array_equal(x, y), f"{path} differs"
        assert x.flags.writeable == y.flags.writeable, f"{path}: writeable flag differs"
    elif isinstance(x, (tuple, list)):
        assert len(x) == len(y)
        for i, (a, b) in enumerate(zip(x, y)):
            _same(a, b, f"{path}[{i}]")
    elif dataclasses.is_dataclass(x):
        for f in dataclasses.fields(x):
            _same(getattr(x, f.name), getattr(y, f.name), f"{path}.{f.name}")
    else:
        assert x == y, f"{path}: {x!r} vs {y!r}"


def _outcome(fn):
    try:
        return "ok", fn()
    except (ValueError, TypeError) as e:
        return type(e).__name__, str(e)


def check_chunked(monkeypatch, fn, limits=(1, 7, 100)):
    """``fn()`` unchunked and with every limit in ``limits``: identical results (or identical errors)."""
    monkeypatch.setattr(chunks, "CHUNK_ELEMENTS", UNCHUNKED)
    ref = _outcome(fn)
    for limit in limits:
        monkeypatch.setattr(chunks, "CHUNK_ELEMENTS", limit)
        got = _outcome(fn)
        assert got[0] == ref[0], f"limit {limit}: {got[0]} vs {ref[0]} ({got[1]!s:.300} / {ref[1]!s:.300})"
        if ref[0] == "ok":
            _same(got[1], ref[1])
        else:
            assert got[1] == ref[1], f"limit {limit}: message differs"
    return ref


@pytest.fixture(scope="module")
def real():
    return pretrained.pretrained_layers()


RNG_SHAPES = [(6, 64, 3, 3), (5, 96), (4, 3, 3, 3), (3, 8, 1, 1), (2, 32, 1, 5)]


def _ints(shape, seed, lo=-127, hi=127, dtype=np.int64):
    rng = np.random.default_rng(seed)
    # Laplace-like: mostly small values, a few large ones, so every redundant-column count occurs
    v = np.rint(rng.laplace(0, 12, size=shape)).clip(lo, hi)
    return v.astype(dtype)


# ------------------------------------------------------------------------------------------------ blocks


@pytest.mark.parametrize("shape,cost,limit", [((5,), 1, 2), ((3, 4, 5), 1, 7), ((3, 4, 5), 2, 7), ((2, 3), 10, 4),
                                              ((4, 1, 6), 3, 1000), ((7, 2, 2), 1, 1), ((), 1, 5), ((3, 0), 1, 5)])
def test_blocks_tile_in_row_major_order(shape, cost, limit):
    n = math.prod(shape)
    seen = np.zeros(shape, dtype=int)
    flat_next = 0
    for idx, start, stop in chunks.blocks(shape, cost, limit):
        assert len(idx) == len(shape) and all(isinstance(s, slice) for s in idx)
        block = seen[idx]
        assert block.size == stop - start and start == flat_next      # contiguous, in order
        assert block.size * cost <= limit or block.size == 1 or \
            math.prod(shape[len(shape) - 1:]) * cost > limit
        flat = np.arange(n).reshape(shape)[idx] if shape else np.array(0)
        assert np.array_equal(np.ravel(flat), np.arange(start, stop))
        seen[idx] += 1
        flat_next = stop
    assert flat_next == n and (seen == 1).all()


def test_blocks_default_limit_is_the_module_constant(monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_ELEMENTS", 10)
    assert [b[1:] for b in chunks.blocks((4, 5))] == [(0, 10), (10, 20)]


# ------------------------------------------------------------------------------------------------ checks


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_int_checks_chunked(monkeypatch, dtype):
    a = _ints((4, 5, 6), 1, 0, 120, dtype)
    a[2, 3, 4] = 121
    a[3, 0, 0] = 125
    for lo, hi in ((0, 120), (0, None), (None, 122), (5, 127)):
        check_chunked(monkeypatch, lambda: check_int_array("x", a, lo=lo, hi=hi))
    got = check_int_values("x", a, hi=127)
    assert got.dtype == (np.int64 if dtype == np.uint64 else dtype)
    assert (got is a) or dtype == np.uint64                             # no copy of the caller's array


def test_float_check_chunked(monkeypatch):
    a = np.random.default_rng(2).standard_normal((3, 4, 5))
    a[1, 2, 3], a[2, 0, 1] = np.inf, np.nan
    kind, msg = check_chunked(monkeypatch, lambda: check_float_array("x", a))
    assert kind == "ValueError" and "inf at index (1, 2, 3)" in msg


@pytest.mark.parametrize("shape", RNG_SHAPES)
def test_group_weights_chunked(monkeypatch, shape):
    a = _ints(shape, 3, dtype=np.int16)
    g, grouping = check_chunked(monkeypatch, lambda: group_weights(a, 32))[1]
    assert g.dtype == np.int16
    _same(check_chunked(monkeypatch, lambda: ungroup_weights(g, grouping))[1], a)
    _same(group_weights(a, 32, dtype=np.int64)[0], g.astype(np.int64))


# ------------------------------------------------------------------------------------------------ quantize


@pytest.mark.parametrize("shape", [(6, 64, 3, 3), (5, 96), (17,), (3, 4, 5)])
@pytest.mark.parametrize("per_channel", [True, False])
def test_quantize_chunked(monkeypatch, shape, per_channel):
    w = np.random.default_rng(4).laplace(0, 0.1, size=shape)
    w[0] = 0.0                                                     # an all-zero channel: scale 1.0
    for x, axis in itertools.product((w, w.astype(np.float32), np.rint(w * 1000).astype(np.int32)),
                                     sorted({0, -1, len(shape) - 1, min(1, len(shape) - 1)})):
        check_chunked(monkeypatch, lambda: quantize(x, bits=8, per_channel=per_channel, axis=axis))


def test_quantize_chunked_real_and_errors(monkeypatch, real):
    for name in ("_conv_stem", "_blocks.8._project_conv", "_fc"):
        q, s = check_chunked(monkeypatch, lambda: quantize(real[name].weight_float, bits=8), limits=(1000,))[1]
        assert np.array_equal(q, real[name].q)
    w = np.ones((3, 4, 5))
    w[2, 1, 0] = np.nan
    assert check_chunked(monkeypatch, lambda: quantize(w))[1] == "w must be finite, got nan at index (2, 1, 0)"


# ------------------------------------------------------------------------------------------------ BBS


def _prunings(w):
    yield lambda: bbs.round_average(w, bits=8, group=32, pruned=2)
    yield lambda: bbs.round_average(w, bits=8, group=16, pruned=4)
    yield lambda: bbs.zero_point_shift(w, bits=8, group=32, pruned=4)
    yield lambda: bbs.zero_point_shift(w, bits=8, group=8, pruned=3, const_bits=5, mode="reference")
    yield lambda: bbs.zps_apply(w, -14, bits=8, group=32, pruned=4)


@pytest.mark.parametrize("shape", RNG_SHAPES)
@pytest.mark.parametrize("dtype", [np.int8, np.int64])
def test_bbs_pruning_chunked(monkeypatch, shape, dtype):
    w = _ints(shape, 5, dtype=dtype)
    for fn in _prunings(w):
        check_chunked(monkeypatch, fn)
    n = w.size // min(32, shape[1])
    k = np.random.default_rng(6).integers(-31, 33, size=n)
    check_chunked(monkeypatch, lambda: bbs.zps_apply(w, k, bits=8, group=32, pruned=4))


def test_bbs_pruning_chunked_real(monkeypatch, real):
    for name, limits in (("_conv_stem", (7, 1000)), ("_blocks.8._project_conv", (5000,))):
        q = np.asarray(real[name].q)
        for fn in _prunings(q):
            check_chunked(monkeypatch, fn, limits=limits)


@pytest.mark.parametrize("shape", RNG_SHAPES)
def test_encode_chunked(monkeypatch, shape):
    w = _ints(shape, 7)
    sens = np.arange(shape[0]) % 2 == 1
    for fn in _prunings(w):
        wp, meta = fn()
        mixed = np.where(sens.reshape((-1,) + (1,) * (w.ndim - 1)), w, wp)
        for s in (None, sens):
            check_chunked(monkeypatch, lambda: bbs.encode(mixed if s is not None else wp, meta, sensitive=s))


def test_encode_chunked_real_and_errors(monkeypatch, real):
    q = np.asarray(real["_blocks.8._project_conv"].q)                 # [112, 480, 1, 1]
    wp, meta = bbs.round_average(q, bits=8, group=32, pruned=2)
    sens = np.zeros(112, dtype=bool)
    sens[[3, 50]] = True
    mixed = np.where(sens[:, None, None, None], q, wp)
    check_chunked(monkeypatch, lambda: bbs.encode(mixed, meta, sensitive=sens), limits=(7, 1000))
    # errors: a sensitive channel not holding its INT8 weights; a group that does not fit the format
    bad = mixed.copy()
    bad[50, 200, 0, 0] += 1
    bad[50, 3, 0, 0] += 1
    bad[51, 0, 0, 0] += 1                               # not sensitive: only the sensitive ones count
    kind, msg = check_chunked(monkeypatch, lambda: bbs.encode(bad, meta, sensitive=sens))
    assert kind == "ValueError" and "w_pruned[50, 3, 0, 0]" in msg and "(2 weights of the 2 sensitive" in msg
    kind, msg = check_chunked(monkeypatch, lambda: bbs.encode(bad, meta))
    assert kind == "ValueError" and msg.startswith("group ")
    w = _ints((4, 8, 3, 3), 8)
    wr, mr = bbs.zero_point_shift(w, bits=8, group=8, pruned=4, mode="reference")
    check_chunked(monkeypatch, lambda: bbs.encode(wr, mr))


# ------------------------------------------------------------------------------------------------ Bitlet


@pytest.mark.parametrize("wshape,ashape", [((10, 64), (10, 64)), ((10, 64), (64,)), ((3, 4, 5, 17), (4, 1, 17)),
                                           ((64,), (64,)), ((1, 9, 3), (7, 1, 3)), ((0, 5), (5,))])
@pytest.mark.parametrize("bits,lane_mask", [(8, None), (5, 0b10110), (24, None)])
def test_dot_fixed_chunked(monkeypatch, wshape, ashape, bits, lane_mask):
    rng = np.random.default_rng(9)
    m = (1 << bits) - 1
    w = rng.integers(-m, m + 1, size=wshape)
    a = rng.integers(-bitlet.A_MAX, bitlet.A_MAX + 1, size=ashape)
    for ww, aa in ((w, a), (w.astype(np.int32), a.astype(np.int32))):
        kind, got = check_chunked(monkeypatch, lambda: bitlet.dot_fixed(ww, aa, bits=bits, lane_mask=lane_mask))
        if lane_mask is None:
            assert np.array_equal(got, np.einsum("...i,...i->...", *np.broadcast_arrays(w, a)))


def test_dot_fixed_chunked_real(monkeypatch, real):
    q = np.asarray(real["_fc"].q)[:200]                               # [200, 1280]
    x = np.random.default_rng(10).integers(-128, 128, size=1280)
    got = check_chunked(monkeypatch, lambda: bitlet.dot_fixed(q.reshape(200, 20, 64), x.reshape(20, 64), bits=7),
                        limits=(7, 5000))[1]
    assert np.array_equal(got.sum(axis=1), q @ x)


# ------------------------------------------------------------------------------------------------ cycles


def _cycle_cases(w, pruned_w=None, sens=None, out=(5, 6)):
    kw = {"out_size": out} if w.ndim == 4 else {"tokens": 7}
    for arch, extra in (("stripes", {}), ("parallel", {}), ("pragmatic", {}), ("pragmatic", {"sync_group": 4}),
                        ("bitbalance", {"k": 7}), ("bitbalance", {"k": 3}), ("ebsp", {"window": 7}),
                        ("ebsp", {"window": 3}), ("bitlet", {}), ("bitlet", {"n_total": 16}), ("bitvert", {})):
        for rows in (1, 3, 32, 1000):
            yield lambda: cycles.layer_cycles(arch, w, array_rows=rows, **kw, **extra)
    if pruned_w is not None:
        for rows, reorder in itertools.product((1, 3, 32), (True, False)):
            yield lambda: cycles.layer_cycles("bitvert", pruned_w, array_rows=rows, pruned=2, **kw)
            yield lambda: cycles.layer_cycles("bitvert", pruned_w, array_rows=rows, pruned=2, sensitive=sens,
                                              reorder=reorder, **kw)
            yield lambda: cycles.layer_cycles("bitvert", w, array_rows=rows, pruned=2, sensitive=sens,
                                              reorder=reorder, **kw)             # not pruned: an error


@pytest.mark.parametrize("shape", [(7, 64, 3, 3), (5, 96), (4, 3, 3, 3)])
def test_layer_cycles_chunked(monkeypatch, shape):
    w = _ints(shape, 11)
    wp, _ = bbs.round_average(w, bits=8, group=32, pruned=2)
    sens = np.arange(shape[0]) % 3 == 2
    wp = np.where(sens.reshape((-1,) + (1,) * (w.ndim - 1)), w, wp)
    outcomes = [check_chunked(monkeypatch, fn, limits=(1, 50))[0] for fn in _cycle_cases(w, wp, sens)]
    assert "ok" in outcomes and "ValueError" in outcomes                # both results and messages compared


def test_layer_cycles_chunked_real(monkeypatch, real):
    for name in ("_conv_stem", "_blocks.8._project_conv"):
        lay = real[name]
        q = np.asarray(lay.q)
        for fn in _cycle_cases(q, out=lay.out_size):
            check_chunked(monkeypatch, fn, limits=(100, 5000))


def test_layer_cycles_chunked_messages_name_the_channel(monkeypatch):
    w = _ints((9, 16, 2, 2), 12)
    w[6, 5, 1, 0] = 127                                               # 7 ones: refused by bitbalance k=3 ...
    w[w == 127] = 0
    w[6, 5, 1, 0] = 127
    kind, msg = check_chunked(monkeypatch, lambda: cycles.layer_cycles("bitbalance", w, out_size=(2, 2), k=6))
    assert kind == "ValueError" and "got 127 (7 ones) at index (6, 2, 5)" in msg


# ------------------------------------------------------------------------------------------------ memory check


def test_available_memory_is_plausible():
    have = chunks.available_memory()
    assert 0 < have <= 1 << 62


@pytest.mark.parametrize("call", [
    lambda: quantize(np.ones((1000, 1000))),
    lambda: bbs.round_average(np.ones((1000, 1024), dtype=np.int8)),
    lambda: bbs.zero_point_shift(np.ones((1000, 1024), dtype=np.int8)),
    lambda: bbs.zps_apply(np.ones((1000, 1024), dtype=np.int8), 0),
    lambda: bbs.encode(*bbs.round_average(np.ones((10, 32), dtype=np.int8))),
    lambda: bitlet.dot_fixed(np.ones((1000, 64), dtype=np.int8), np.ones(64, dtype=np.int8), bits=8),
])
def test_refused_up_front_when_memory_is_short(monkeypatch, call):
    monkeypatch.setattr(chunks, "available_memory", lambda: 10**6)
    monkeypatch.setattr(chunks, "CHECK_BYTES", 0)
    with pytest.raises(chunks.InsufficientMemoryError,
                       match=r"needs \d+\.\d [MGk]B of memory \(.*\), but only 1\.0 MB is available") as e:
        call()
    assert isinstance(e.value, MemoryError)


def test_memory_message_states_the_need(monkeypatch):
    monkeypatch.setattr(chunks, "available_memory", lambda: 3 * 10**9)
    with pytest.raises(MemoryError, match=re.escape(
            "quantize of w with shape (50000, 10000) needs 4.1 GB of memory (4.0 GB of outputs: q, 500,000,000 "
            "int64, and the scales, plus 67.1 MB of working memory), but only 3.0 GB is available")):
        quantize(np.broadcast_to(np.int8(1), (50000, 10000)))           # 4 GB of output, no input memory
    monkeypatch.setattr(chunks, "available_memory", lambda: 5 * 10**9)
    assert chunks.require_memory("x", 4 * 10**9) == 4 * 10**9 + chunks.WORK_BYTES


def test_small_outputs_are_not_checked(monkeypatch):
    def never():
        raise AssertionError("available_memory read for a small call")
    monkeypatch.setattr(chunks, "available_memory", never)
    quantize(np.ones((100, 100)))
    cycles.layer_cycles("pragmatic", np.ones((10, 32), dtype=np.int8), tokens=1)
    assert chunks.require_memory("x", chunks.CHECK_BYTES - 1) == chunks.CHECK_BYTES - 1 + chunks.WORK_BYTES
