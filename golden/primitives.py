"""Golden functions of the primitive hardware blocks (issue 2), one per block in ``hw/``.

Each function here is the specification its generator is checked against, in the Amaranth simulator and
in Icarus on the generated Verilog. Widths that hardware and model must agree on are computed here
(``*_width`` functions) and called by the generators; nothing is derived twice.

Blocks and their functions:

============================  ==========================  ===========================
hardware (hw/)                golden function             width helpers
============================  ==========================  ===========================
``lod.LeadingOneDetector``    :func:`leading_one`         :func:`lod_index_width`
``barrel_shifter``            :func:`barrel_shift`        :func:`shifter_widths`
``popcount.Popcount``         :func:`popcount_bits`       :func:`popcount_width`
``adder_tree.AdderTree``      :func:`adder_tree_sum`      :func:`adder_tree_width`, :func:`adder_tree_latency`
``shift_accumulator``         :func:`shift_accumulate`    :func:`shift_accumulator_width`
``ebsp_lut.EBSPLut``          :func:`ebsp_lut_table`      :func:`ebsp_lut_entry_width`
``bbs_column_decoder``        :func:`bbs_column_decode`   :func:`bbs_sel_width`
============================  ==========================  ===========================

All functions are vectorized over NumPy arrays of inputs.
"""

from __future__ import annotations

import numpy as np

from .bits import popcount, signed_width, unsigned_width
from .check import as_array, check_bool, check_choice, check_int, check_int_array

__all__ = [
    "lod_index_width", "leading_one",
    "shifter_widths", "barrel_shift",
    "popcount_width", "popcount_bits",
    "adder_tree_width", "adder_tree_levels", "adder_tree_latency", "adder_tree_sum",
    "shift_accumulator_width", "shift_accumulate",
    "ebsp_lut_entry_width", "ebsp_lut_table",
    "bbs_sel_width", "bbs_column_decode",
]


# -- 1. leading-one detector -------------------------------------------------------------------------

def _check_words(name, x, width):
    """Unsigned ``width``-bit words (width <= 64) as uint64; Python ints or integer arrays accepted."""
    if width <= 62:
        return check_int_array(name, x, lo=0, hi=(1 << width) - 1).astype(np.uint64)
    a = as_array(name, x)
    if a.dtype == object:
        flat = [v for v in a.ravel()]
        for i, v in enumerate(flat):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must hold integers, got {v!r} at flat index {i}")
            if not 0 <= int(v) < (1 << width):
                raise ValueError(f"{name} must hold integers in [0, {(1 << width) - 1}], got {v} at flat index {i}")
        return np.array([int(v) for v in flat], dtype=np.uint64).reshape(a.shape)
    if a.dtype == np.uint64:
        return a if width == 64 else _check_words(name, a.astype(object), width)
    return check_int_array(name, a, lo=0).astype(np.uint64)


def _check_width(width, hi=64):
    return check_int("width", width, lo=1, hi=hi)


def lod_index_width(width: int) -> int:
    """Bits of the LOD ``index`` output for a ``width``-bit input (enough for ``0..width-1``)."""
    return unsigned_width(_check_width(width) - 1)


def leading_one(x, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the most significant 1 of each ``width``-bit unsigned ``x``, and a valid flag.

    Returns ``(index, valid)``; for ``x == 0`` the index is 0 and ``valid`` is 0.
    """
    width = _check_width(width)
    a = _check_words("x", x, width)
    index = np.zeros(a.shape, dtype=np.int64)
    rest = a.copy()
    # binary search on the bit position: log2(64) = 6 vectorized steps
    for step in (32, 16, 8, 4, 2, 1):
        hi = rest >= np.uint64(1 << step)
        index = np.where(hi, index + step, index)
        rest = np.where(hi, rest >> np.uint64(step), rest)
    return index, (a != 0).astype(np.int64)


# -- 2. barrel shifter --------------------------------------------------------------------------------

def shifter_widths(width: int, max_shift: int, direction: str) -> tuple[int, int]:
    """``(amount_width, out_width)`` of a barrel shifter.

    A left shifter widens its output to ``width + max_shift`` so no bit is ever lost; a right shifter
    keeps ``width`` bits (the bits shifted out are the defined result of a right shift: floor division).
    Allowed: ``1 <= width <= 48``, ``1 <= max_shift <= 48``, and for left shifts ``width + max_shift <= 62``.
    """
    width = check_int("width", width, lo=1, hi=48)
    max_shift = check_int("max_shift", max_shift, lo=1, hi=48)
    check_choice("direction", direction, ("left", "right"))
    amount_width = unsigned_width(max_shift)
    if direction == "left" and width + max_shift > 62:
        raise ValueError(f"width + max_shift must be <= 62 for a left shifter, got {width} + {max_shift}")
    return amount_width, (width + max_shift if direction == "left" else width)


def barrel_shift(x, amount, *, width: int, max_shift: int, direction: str, arithmetic: bool) -> np.ndarray:
    """Shift ``width``-bit words ``x`` by ``amount`` (0 .. ``2**amount_width - 1``).

    ``x`` is given as the unsigned bit pattern ``0 .. 2**width - 1``; the result is the unsigned bit pattern
    of the ``out_width``-bit output. Left: ``x << amount``; arithmetic left is logical left with the sign
    bit replicated into the widened top bits (i.e. the signed value times ``2**amount``). Right: logical
    fills with zeros, arithmetic with the sign bit (floor division of the signed value).

    Amounts above ``max_shift`` (possible when ``max_shift + 1`` is not a power of two) are defined as the
    same operation, with a left-shift result reduced to ``out_width`` bits.
    """
    amount_width, out_width = shifter_widths(width, max_shift, direction)
    arithmetic = check_bool("arithmetic", arithmetic)
    a = check_int_array("x", x, lo=0, hi=(1 << width) - 1)
    s = check_int_array("amount", amount, lo=0, hi=(1 << amount_width) - 1)
    a, s = np.broadcast_arrays(a, s)
    v = a - ((a >> (width - 1)) << width) if arithmetic else a        # signed value if arithmetic
    if direction == "left":
        # amounts past max_shift may push bits beyond out_width (and beyond int64): drop them first
        keep = np.maximum(out_width - s, 0)
        v = np.where(keep < 63, v & ((np.int64(1) << np.minimum(keep, 62)) - 1), v)
        r = np.where(s < 63, v << np.minimum(s, 62), 0)
    else:
        r = v >> np.minimum(s, 63)
    return (r & ((1 << out_width) - 1)).astype(np.int64)


# -- 3. popcount --------------------------------------------------------------------------------------

def popcount_width(width: int) -> int:
    """Bits of the popcount of ``width`` bits (holds ``0..width``)."""
    return unsigned_width(_check_width(width))


def popcount_bits(x, width: int) -> np.ndarray:
    """Number of one bits of each ``width``-bit unsigned ``x``."""
    width = _check_width(width)
    return popcount(_check_words("x", x, width))


# -- 4. adder tree ------------------------------------------------------------------------------------

def _check_tree(n, width):
    n = check_int("n", n, lo=1, hi=4096)
    width = check_int("width", width, lo=1, hi=48)
    return n, width


def adder_tree_width(n: int, width: int) -> int:
    """Output width of a sum of ``n`` signed ``width``-bit inputs: never overflows, no bit to spare."""
    n, width = _check_tree(n, width)
    return signed_width(n * -(1 << (width - 1)), n * ((1 << (width - 1)) - 1))


def adder_tree_levels(n: int) -> int:
    """Adder levels of a balanced binary tree over ``n`` inputs (``ceil(log2 n)``)."""
    n = check_int("n", n, lo=1, hi=4096)
    return (n - 1).bit_length()


def adder_tree_latency(n: int, register_every: int) -> int:
    """Cycles from input to output: one register after every ``register_every`` levels (0: none)."""
    register_every = check_int("register_every", register_every, lo=0)
    return 0 if register_every == 0 else adder_tree_levels(n) // register_every


def adder_tree_sum(x, *, n: int, width: int) -> np.ndarray:
    """Sum of the last axis (length ``n``) of signed ``width``-bit inputs ``x``."""
    n, width = _check_tree(n, width)
    a = check_int_array("x", x, lo=-(1 << (width - 1)), hi=(1 << (width - 1)) - 1)
    if a.ndim < 1 or a.shape[-1] != n:
        raise ValueError(f"x must have a last axis of length n={n}, got shape {a.shape}")
    return a.sum(axis=-1)


# -- 5. bit-serial shift-accumulator -----------------------------------------------------------------

SHIFT_ACC_MODES = ("shift_add", "double_add")


def shift_accumulator_width(*, x_width: int, steps: int, mode: str, max_shift: int = 0) -> int:
    """Accumulator width for the worst case of a configuration.

    ``shift_add``: ``acc <- acc + (+/- x << k)``, ``k <= max_shift``, at most ``steps`` terms.
    ``double_add``: ``acc <- 2*acc + (+/- x)`` for ``steps`` steps (Stripes-style MSB-first).
    ``x`` is signed ``x_width`` bits; negation of the most negative ``x`` is included in the worst case.
    """
    x_width = check_int("x_width", x_width, lo=1, hi=48)
    steps = check_int("steps", steps, lo=1, hi=1024)
    check_choice("mode", mode, SHIFT_ACC_MODES)
    max_shift = check_int("max_shift", max_shift, lo=0, hi=48)
    if mode == "double_add" and max_shift != 0:
        raise ValueError(f"max_shift must be 0 for mode 'double_add', got {max_shift}")
    big = 1 << (x_width - 1)                 # |x| <= 2**(x_width-1), reached by -x_min
    bound = steps * (big << max_shift) if mode == "shift_add" else ((1 << steps) - 1) * big
    return signed_width(-bound, bound)


def shift_accumulate(x, negate, shift=None, start=None, *, mode: str) -> np.ndarray:
    """Accumulator value after each step of a bit-serial shift-accumulator.

    Inputs are sequences over time (last axis): signed ``x``, ``negate`` (0/1), ``shift`` (``shift_add``
    only), ``start`` (0/1: this step discards the old accumulator, as the first step of a new dot
    product). Returns the accumulator after every step (same shape), starting from 0.
    """
    check_choice("mode", mode, SHIFT_ACC_MODES)
    xa = check_int_array("x", x)
    neg = check_int_array("negate", negate, lo=0, hi=1)
    st = np.zeros_like(xa) if start is None else check_int_array("start", start, lo=0, hi=1)
    if mode == "shift_add":
        if shift is None:
            raise ValueError("shift is required for mode 'shift_add'")
        sh = check_int_array("shift", shift, lo=0, hi=48)
    elif shift is not None:
        raise ValueError("shift must be None for mode 'double_add'")
    try:
        xa, neg, st = np.broadcast_arrays(xa, neg, st)
    except ValueError:
        raise ValueError(f"x, negate and start of shapes {xa.shape}, {neg.shape}, {st.shape} do not broadcast") from None
    if xa.ndim < 1:
        raise ValueError(f"x must have a time (last) axis, got shape {xa.shape}")
    if mode == "shift_add":
        try:
            sh = np.broadcast_to(sh, xa.shape)
        except ValueError:
            raise ValueError(f"shift of shape {sh.shape} does not broadcast to x's {xa.shape}") from None
    # the accumulator is int64: refuse inputs whose worst case would wrap (the bound restarts at start)
    mag = np.abs(xa.astype(np.float64))
    if mode == "shift_add":
        mag = mag * np.exp2(sh.astype(np.float64))
    bound = np.zeros(xa.shape[:-1])
    for t in range(xa.shape[-1]):
        keep = np.where(st[..., t] == 1, 0.0, bound)
        bound = (keep if mode == "shift_add" else 2 * keep) + mag[..., t]
        if (bound >= 2.0 ** 62).any():
            raise ValueError(f"x{' and shift' if mode == 'shift_add' else ''} would overflow the int64 accumulator "
                             f"at step {t} (|acc| can reach {float(bound.max()):.3g})")
    term = np.where(neg == 1, -xa, xa)
    if mode == "shift_add":
        term = term << np.broadcast_to(sh, xa.shape)
    out = np.empty(xa.shape, dtype=np.int64)
    acc = np.zeros(xa.shape[:-1], dtype=np.int64)
    for t in range(xa.shape[-1]):
        keep = np.where(st[..., t] == 1, 0, acc)
        acc = (keep + term[..., t]) if mode == "shift_add" else (2 * keep + term[..., t])
        out[..., t] = acc
    return out


# -- 6. EBSP LUT --------------------------------------------------------------------------------------

def ebsp_lut_entry_width(act_width: int, window: int) -> int:
    """Width of one LUT entry ``d * x`` for signed ``act_width``-bit ``x`` and ``0 <= d < 2**window``."""
    act_width = check_int("act_width", act_width, lo=2, hi=32)
    window = check_int("window", window, lo=1, hi=8)
    dmax = (1 << window) - 1
    return signed_width(dmax * -(1 << (act_width - 1)), dmax * ((1 << (act_width - 1)) - 1))


def ebsp_lut_table(x, *, act_width: int, window: int) -> np.ndarray:
    """The table ``{0, x, 2x, ..., (2**window - 1) x}`` for each signed activation (new last axis)."""
    ebsp_lut_entry_width(act_width, window)
    a = check_int_array("x", x, lo=-(1 << (act_width - 1)), hi=(1 << (act_width - 1)) - 1)
    return a[..., None] * np.arange(1 << window, dtype=np.int64)


# -- 7. BBS column decoder ---------------------------------------------------------------------------

def _check_gs(subgroup):
    subgroup = check_int("subgroup", subgroup, lo=2, hi=16)
    if subgroup % 2:
        raise ValueError(f"subgroup must be an even integer in [2, 16], got {subgroup}")
    return subgroup


def bbs_sel_width(subgroup: int) -> int:
    """Bits of one lane select (``0..subgroup/2``: a (Gs/2+1):1 window mux)."""
    return unsigned_width(_check_gs(subgroup) // 2)


def bbs_column_decode(column, *, subgroup: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BitVert scheduler decisions for Gs-bit weight sub-columns (docs/bbs.md, BitVert scheduler).

    Bit ``i`` of ``column`` is the weight bit of lane-input ``i`` (activation ``A_i``).

    * ``invert = popcount(column) > Gs/2`` (strictly); the bits to place are ``m = ~column`` if inverted,
      else ``column``. At most Gs/2 bits remain.
    * Lane ``j`` (``0 <= j < Gs/2``) reads a window of positions ``j .. j + Gs/2``; its select is
      ``sel = position - j`` (0 = the window's lowest activation, the convention of encoder and mux).
    * Lanes are served from the top lane ``Gs/2 - 1`` down to lane 0 (the RTL's encoder chain); each takes
      the **highest** remaining set bit of ``m`` in its window and removes it. A lane that finds none has
      ``valid = 0`` and ``sel = 0``. Every remaining set bit is taken exactly once, for every column
      (checked exhaustively for Gs = 4, 8, 16 in the tests); a failure raises ``AssertionError``.

    Returns ``(invert, sel, valid)``: ``invert`` with ``column.shape``, ``sel`` and ``valid`` with a new
    last axis of length Gs/2 (index = lane).
    """
    gs = _check_gs(subgroup)
    c = check_int_array("column", column, lo=0, hi=(1 << gs) - 1)
    half = gs // 2
    invert = (popcount(c) > half).astype(np.int64)
    m = np.where(invert == 1, ((1 << gs) - 1) ^ c, c)
    sel = np.zeros(c.shape + (half,), dtype=np.int64)
    valid = np.zeros(c.shape + (half,), dtype=np.int64)
    for j in reversed(range(half)):
        window = (m >> j) & ((1 << (half + 1)) - 1)
        idx, ok = leading_one(window, half + 1)
        sel[..., j] = np.where(ok == 1, idx, 0)
        valid[..., j] = ok
        m = np.where(ok == 1, m & ~(1 << (idx + j)), m)
    if (m != 0).any():
        bad = int(np.asarray(c)[m != 0].ravel()[0])
        raise AssertionError(f"BitVert window scheduler left a bit unplaced for column {bad:#x}")
    return invert, sel, valid
