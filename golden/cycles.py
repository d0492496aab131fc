"""Cycle models of the PEs and of an output-stationary array (docs/bbs.md, docs/baselines.md, docs/bitlet.md,
docs/bitbalance.md, docs/ebsp.md).

Two levels:

1. ``group_cycles_<arch>(w_groups, ...)``: cycles one PE spends on each **pass**, i.e. on one weight group
   of ``G_pe`` weights (the dot-product length of the PE, the last axis of ``w_groups``; result shape
   ``w_groups.shape[:-1]``, int64). The weights are integers already processed by the method.

   ============  ==========================================================================================
   bitvert       ``B - N`` per pruned group, exactly (docs/bbs.md, ``BitSim/sim/sim/bitvert.py``);
                 ``B`` for groups of sensitive (INT8) channels. Choice: not data dependent: when a group has
                 more redundant columns than N (``r > N``) the scheduler could stop earlier; like BitSim we
                 still charge ``B - N``. Groups that are not BBS-pruned for N are refused.
   stripes       ``B`` (two's-complement weight bits, MSB first).
   pragmatic     ``max(1, max over the lanes of popcount(|w_i|))``; the last axis is one **synchronised
                 group** of lanes. Sign-magnitude, so the sign is not an essential bit (BitSim's
                 ``pragmatic.py`` sums all 8 sign-magnitude planes, i.e. also counts the sign bit; we do
                 not). Choice: an all-zero group costs **1** cycle, not 0: the PE still spends a cycle to step
                 to the next pass (DNNsim's Pragmatic also counts a zero as one cycle; BitSim charges 0).
   bitbalance    ``k``: every weight has ``k`` essential-bit slots, all lanes in lock step (a choice);
                 weights with more than ``k`` one bits are refused.
   ebsp          ``1``: one LUT-and-shift MAC per lane per cycle (a choice, docs/ebsp.md); weights outside the
                 ``window``-bit pattern are refused.
   parallel      ``1``.
   bitlet        :func:`golden.bitlet.pass_cycles` on the sign-magnitude magnitudes; a group is
                 ``n_total`` pairs (64); a shorter group (``C < n_total``) is zero-padded to ``n_total``
                 with ``n_valid`` = its length; by default only the ``B-1`` magnitude lanes are enabled.
   ============  ==========================================================================================

2. :func:`layer_cycles`: a whole layer on an output-stationary array (the BitSim loop nest):
   ``array_rows`` weight (output) channels x ``array_cols`` input windows. Definitions, exactly:

   * Weights are grouped with :func:`golden.layout.group_weights` by ``G_pe = pe_length`` (``n_total``
     for Bitlet): along input channels, conv reordered to ``[K, KH, KW, C]``, ``G = C`` when
     ``C < G_pe``. So every output channel has ``P = KH*KW*C/G`` passes. Choice: a layer with ``C < G_pe``
     (ResNet conv1, C = 3) uses only C lanes; BitSim instead puts ``k*k`` on the dot axis when
     ``k*k > C``.
   * Output channels are cut into ``ceil(K / array_rows)`` tiles of ``array_rows`` consecutive channels
     (the last may be partial). The rows of a tile run in **lock step**: pass ``p`` of a tile costs the
     max over its rows of the group cycles. A tile costs the sum over its P passes.
   * Pragmatic with ``sync_group < pe_length``: the lanes of different synchronised groups step through
     the passes of a tile independently (each has its own offset queue) and meet at the end of the tile,
     where the outputs are drained: the tile costs ``max_j sum_p max_rows cycles(row, p, j)``. With the
     default ``sync_group = pe_length`` this is the plain rule above.
   * BitVert with a ``sensitive`` mask: with ``reorder=True`` (default) the channels are first stably
     reordered so the sensitive ones come first (channel reordering, docs/bbs.md), so tiles are homogeneous
     when the sensitive count is a multiple of ``array_rows``; with ``reorder=False`` a mixed tile costs
     ``B``.
   * The weight schedule repeats for every window tile: conv ``OH * ceil(OW / array_cols)`` times (BitSim),
     fc ``ceil(tokens / array_cols)`` times; times ``batch``.

   Memory (DRAM/SRAM) stalls, pipeline fill, and the iso-area scaling of the BBS paper are not modelled:
   all architectures are compared on the same array geometry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .bbs import _FIELD_BITS, _RMAX as _BBS_RMAX      # the BBS metadata byte's fields
from .bitlet import MAX_TOTAL as _BITLET_MAX_TOTAL       # pairs of a Bitlet pass
from .bits import popcount, twos_range
from .check import as_array, check_bool, check_choice, check_int, check_int_values, first_index
from .chunks import blocks
from .layout import _layout, grouped_view

__all__ = [
    "ARCHS",
    "group_cycles_bitvert", "group_cycles_stripes", "group_cycles_pragmatic", "group_cycles_bitbalance",
    "group_cycles_ebsp", "group_cycles_parallel", "group_cycles_bitlet",
    "layer_cycles", "network_cycles", "speedup_vs_stripes",
]

ARCHS = ("bitvert", "stripes", "pragmatic", "bitbalance", "ebsp", "parallel", "bitlet")


def _value_range(bits: int, signed_magnitude: bool) -> tuple[int, int]:
    if signed_magnitude:
        m = (1 << (bits - 1)) - 1
        return -m, m
    return twos_range(bits)


def _zps_hint(bits: int, pruned: int) -> str:
    """Appended to a BitVert range error with ``pruned=0``: ZPS weights ``w' = q + C`` may leave INT-B."""
    return (f"; zero-point-shifted weights (golden.bbs.zero_point_shift) can leave INT-{bits}: pass the pruned=N "
            f"they were pruned with") if pruned == 0 else ""


def _check_values(name: str, w, lo: int, hi: int, hint: str = "") -> np.ndarray:
    """:func:`golden.check.check_int_values` with ``[lo, hi]`` (the array in its own integer dtype, not copied),
    ``hint`` appended to its range message."""
    a = check_int_values(name, w)
    try:
        return check_int_values(name, a, lo=lo, hi=hi)
    except ValueError as e:
        raise ValueError(f"{e}{hint}") from None


def _groups(w_groups, bits: int, signed_magnitude: bool, value_range=None, hint: str = "") -> np.ndarray:
    bits = check_int("bits", bits, lo=2, hi=16)
    lo, hi = value_range if value_range is not None else _value_range(bits, signed_magnitude)
    w = _check_values("w_groups", w_groups, lo, hi, hint).astype(np.int64, copy=False)
    if w.ndim < 1 or w.shape[-1] < 1:
        raise ValueError(f"w_groups must have a group axis (last) of length >= 1, got shape {w.shape}")
    return w


def _bool_mask(name: str, mask, shape: tuple[int, ...]) -> np.ndarray:
    m = as_array(name, mask)
    if m.dtype != np.bool_:
        raise TypeError(f"{name} must be a bool array, got dtype {m.dtype}")
    try:
        return np.broadcast_to(m, shape)
    except ValueError:
        raise ValueError(f"{name} shape {m.shape} does not broadcast to the group shape {shape}") from None


# the constant field: ZPS two's complement [-2**(F-1), 2**(F-1) - 1], RA unsigned [0, 2**F - 1]
_BBS_CONSTANTS = (-(1 << (_FIELD_BITS - 1)), (1 << _FIELD_BITS) - 1)


def _bbs_fits(w: np.ndarray, bits: int, pruned: int) -> np.ndarray:
    """Bool per group (last axis): the group has the BBS datapath form of ``pruned`` = N (golden/bbs.py,
    module docstring), i.e. for some ``r`` in ``0..min(3, N)`` and a constant ``C`` of the metadata field
    every ``w - C`` is a ``(B - r)``-bit two's-complement number with ``N - r`` zero LSBs."""
    gmin, gmax = w.min(axis=-1), w.max(axis=-1)
    ok = np.zeros(w.shape[:-1], dtype=bool)
    for r in range(min(_BBS_RMAX, pruned) + 1):
        step, top = 1 << (pruned - r), 1 << (bits - 1 - r)
        res = w[..., 0] & (step - 1)                        # w - C = 0 (mod step): one residue per group
        same = ((w & (step - 1)) == res[..., None]).all(axis=-1)
        lo = np.maximum(gmax - top + step, _BBS_CONSTANTS[0])   # the C keeping every w - C in [-top, top - step]
        hi = np.minimum(gmin + top, _BBS_CONSTANTS[1])
        ok |= same & (lo + ((res - lo) & (step - 1)) <= hi)     # the least C >= lo with that residue
    return ok


def _index_text(name: str, idx: tuple) -> str:
    return f"{name}[{', '.join(map(str, idx))}]"


def group_cycles_bitvert(w_groups, *, bits: int = 8, pruned: int = 0, sensitive=None) -> np.ndarray:
    """BitVert cycles per group: exactly ``bits - pruned`` (pruned group) or ``bits`` (sensitive group).

    Parameters
    ----------
    w_groups : int array ``[..., G]``
        Weights after BBS pruning, in ``BBSConfig(bits, pruned=pruned).weight_range`` (ZPS may leave INT-B).
        Each pruned group must have the BBS datapath form (golden/bbs.py): for some ``r <= min(3, N)`` and
        a constant ``C`` of the 6-bit metadata field (``[-32, 31]`` ZPS or ``[0, 63]`` RA), every ``w - C``
        fits ``B - r`` bits with ``N - r`` zero LSBs, so that its ``B - N`` live columns hold it. Groups
        that do not (e.g. INT8 weights that were never pruned) are refused with a ``ValueError`` naming
        the group, rather than charged ``B - N`` cycles. A group is one PE pass, so it must lie inside one
        pruning group (``G_pe`` dividing the BBS group ``G``, as in the hardware). Sensitive groups must
        be INT-B.
    bits : int
        B, 2..16.
    pruned : int
        N, the bi-directional sparse columns of a pruned group, ``0..B-2`` (at least 2 live columns
        remain, docs/bbs.md).
    sensitive : bool array broadcastable to ``w_groups.shape[:-1]``, optional
        True for groups of sensitive (INT8) channels, which take B cycles. None = all groups pruned.
    """
    bits = check_int("bits", bits, lo=2, hi=16)
    pruned = check_int("pruned", pruned, lo=0, hi=min(6, bits - 2))
    from .bbs import BBSConfig   # ZPS weights w' = q + C may leave INT-B: accept the format's range
    w = _groups(w_groups, bits, signed_magnitude=False,
                value_range=BBSConfig(bits=bits, pruned=pruned).weight_range, hint=_zps_hint(bits, pruned))
    sens = np.zeros(w.shape[:-1], dtype=bool) if sensitive is None else _bool_mask("sensitive", sensitive,
                                                                                   w.shape[:-1])
    return _bitvert_cycles(w, bits, pruned, sens)


def _at(idx: tuple, k0: int) -> tuple:
    """``idx`` of a block whose first axis starts at ``k0``, as an index of the whole array."""
    return (idx[0] + k0,) + tuple(idx[1:]) if idx else idx


def _bitvert_cycles(w, bits, pruned, sens, k0=0):
    """:func:`group_cycles_bitvert` of checked int64 ``w`` and a bool ``sens`` of shape ``w.shape[:-1]``; the
    messages index ``w`` as a block starting at channel ``k0`` of the layer."""
    lo, hi = twos_range(bits)
    bad_sens = sens & ((w < lo) | (w > hi)).any(axis=-1)
    idx = first_index(bad_sens)
    if idx is not None:
        v = next(int(x) for x in w[idx] if not lo <= x <= hi)
        raise ValueError(f"{_index_text('w_groups', _at(idx, k0))} = {w[idx].tolist()} is sensitive (INT-{bits}, "
                         f"{bits} columns) but holds {v}, outside [{lo}, {hi}]")
    if pruned:
        idx = first_index(~sens & ~_bbs_fits(w, bits, pruned))
        if idx is not None:
            raise ValueError(
                f"{_index_text('w_groups', _at(idx, k0))} = {w[idx].tolist()} is not BBS-pruned for pruned={pruned}: no r in "
                f"0..{min(_BBS_RMAX, pruned)} and constant C in [{_BBS_CONSTANTS[0]}, {_BBS_CONSTANTS[1]}] make "
                f"every w - C an ({bits} - r)-bit two's-complement number with {pruned} - r zero LSBs "
                f"({bits - pruned} live columns); prune the weights with golden.bbs.round_average or "
                f"golden.bbs.zero_point_shift (pruned={pruned}), or mark the group sensitive")
    return np.where(sens, bits, bits - pruned).astype(np.int64)


def group_cycles_stripes(w_groups, *, bits: int = 8) -> np.ndarray:
    """Stripes: ``bits`` cycles per group (two's-complement weights)."""
    w = _groups(w_groups, bits, signed_magnitude=False)
    return np.full(w.shape[:-1], bits, dtype=np.int64)


def group_cycles_pragmatic(w_groups, *, bits: int = 8) -> np.ndarray:
    """Pragmatic (on weights): ``max(1, max_i popcount(|w_i|))`` over one synchronised group (last axis).

    Sign-magnitude weights in ``[-(2**(B-1)-1), 2**(B-1)-1]``; ``-2**(B-1)`` is refused. Choice: an
    all-zero group costs 1 cycle (see the module docstring).
    """
    w = _groups(w_groups, bits, signed_magnitude=True)
    return _pragmatic_cycles(w)


def _pragmatic_cycles(w):
    return np.maximum(1, popcount(np.abs(w)).max(axis=-1)).astype(np.int64)


def group_cycles_bitbalance(w_groups, *, bits: int = 8, k: int) -> np.ndarray:
    """Bit-balance: exactly ``k`` cycles per group (``k`` fixed essential-bit slots per weight; a choice).

    Sign-magnitude weights; a weight whose magnitude has more than ``k`` one bits is refused (project it
    with :mod:`golden.bitbalance` first).
    """
    w = _groups(w_groups, bits, signed_magnitude=True)
    k = check_int("k", k, lo=1, hi=bits - 1)
    return _bitbalance_cycles(w, k)


def _bitbalance_cycles(w, k, k0=0):
    pc = popcount(np.abs(w))
    if (pc > k).any():
        idx = tuple(int(i) for i in np.argwhere(pc > k)[0])
        raise ValueError(f"w_groups must hold weights with at most k={k} one bits in the magnitude, "
                         f"got {int(w[idx])} ({int(pc[idx])} ones) at index {_at(idx, k0)}")
    return np.full(w.shape[:-1], k, dtype=np.int64)


def _bit_length(m: np.ndarray, nbits: int) -> np.ndarray:
    out = np.zeros(m.shape, dtype=np.int64)
    for b in range(nbits):
        out = np.where((m >> b) & 1, b + 1, out)
    return out


def group_cycles_ebsp(w_groups, *, bits: int = 8, window: int) -> np.ndarray:
    """EBSP: 1 cycle per group (one LUT + shift MAC per lane per cycle, a choice, docs/ebsp.md).

    Sign-magnitude weights whose magnitude bits all lie within ``window`` consecutive positions below
    the leading one (``m % 2**max(e - window + 1, 0) == 0``, ``e`` = leading-one position); other
    weights are refused (project them with :mod:`golden.ebsp` first).
    """
    w = _groups(w_groups, bits, signed_magnitude=True)
    window = check_int("window", window, lo=1, hi=bits - 1)
    return _ebsp_cycles(w, bits, window)


def _ebsp_cycles(w, bits, window, k0=0):
    m = np.abs(w)
    p = np.maximum(_bit_length(m, bits - 1) - window, 0)
    bad = (m & ((1 << p) - 1)) != 0
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"w_groups must hold weights whose magnitude fits a window={window} bit pattern, "
                         f"got {int(w[idx])} at index {_at(idx, k0)}")
    return np.ones(w.shape[:-1], dtype=np.int64)


def group_cycles_parallel(w_groups, *, bits: int = 8) -> np.ndarray:
    """Bit-parallel MAC: 1 cycle per group."""
    w = _groups(w_groups, bits, signed_magnitude=False)
    return np.ones(w.shape[:-1], dtype=np.int64)


def group_cycles_bitlet(w_groups, *, bits: int = 8, n_total: int = 64, n_check: int = 8,
                        lane_mask=None) -> np.ndarray:
    """Bitlet: :func:`golden.bitlet.pass_cycles` of the magnitudes ``|w_i|`` of each group.

    ``w_groups`` is ``[..., n]`` with ``n <= n_total <= 64`` sign-magnitude weights (the sign is folded into
    the activation, docs/bitlet.md). A group shorter than ``n_total`` is zero-padded to ``n_total`` and passed with
    ``n_valid = n``, so the check windows stop at the last valid pair. Choice: ``lane_mask=None`` enables the
    ``bits - 1`` magnitude lanes (the RTL's ``prune`` set to the weight precision); an enabled lane with
    no ones still walks its ``ceil(n_valid / n_check)`` empty windows, so a full 64-pair pass costs at
    least 8 cycles (the real PE; BitSim's INT8 re-model ignores these bubbles).
    """
    w = _groups(w_groups, bits, signed_magnitude=True)
    n_total = check_int("n_total", n_total, lo=1, hi=_BITLET_MAX_TOTAL)
    n = w.shape[-1]
    if n > n_total:
        raise ValueError(f"w_groups group length (last axis) must be <= n_total={n_total}, got {n}")
    if lane_mask is None:
        lane_mask = (1 << (bits - 1)) - 1      # Choice: the B-1 magnitude lanes of a B-bit weight
    from . import bitlet  # lazy: golden.bitlet is written separately
    mag = np.abs(w)
    if n < n_total:
        mag = np.concatenate([mag, np.zeros(mag.shape[:-1] + (n_total - n,), dtype=np.int64)], axis=-1)
        return np.asarray(bitlet.pass_cycles(mag, n_check=n_check, lane_mask=lane_mask, n_valid=n),
                          dtype=np.int64)
    return np.asarray(bitlet.pass_cycles(mag, n_check=n_check, lane_mask=lane_mask), dtype=np.int64)


def _spatial_passes(kind: str, out_size, tokens, array_cols: int, batch: int) -> int:
    if kind == "fc":
        if out_size is not None:
            raise ValueError("out_size is for convolution layers; a fully connected layer takes tokens")
        if tokens is None:
            raise ValueError("tokens is required for a fully connected layer [K, C]")
        tokens = check_int("tokens", tokens, lo=1)
        n = -(-tokens // array_cols)
    else:
        if tokens is not None:
            raise ValueError("tokens is for fully connected layers; a convolution layer takes out_size")
        if out_size is None:
            raise ValueError("out_size=(OH, OW) is required for a convolution layer [K, C, H, W]")
        if not isinstance(out_size, (tuple, list)) or len(out_size) != 2:
            raise ValueError(f"out_size must be a pair (OH, OW), got {out_size!r}")
        oh = check_int("out_size[0]", out_size[0], lo=1)
        ow = check_int("out_size[1]", out_size[1], lo=1)
        n = oh * (-(-ow // array_cols))
    return n * batch


# the arguments of layer_cycles that only some architectures take
_ARCH_ARGS = {
    "pe_length": ("bitvert", "stripes", "pragmatic", "bitbalance", "ebsp", "parallel"),
    "pruned": ("bitvert",), "sensitive": ("bitvert",), "reorder": ("bitvert",),
    "sync_group": ("pragmatic",), "k": ("bitbalance",), "window": ("ebsp",),
    "n_total": ("bitlet",), "n_check": ("bitlet",), "lane_mask": ("bitlet",),
}
_SIGN_MAGNITUDE_ARCHS = ("pragmatic", "bitbalance", "ebsp", "bitlet")


def layer_cycles(arch: str, w, *, out_size=None, tokens=None, batch: int = 1, bits: int = 8,
                 pe_length: int | None = None, array_rows: int = 32, array_cols: int = 16,
                 pruned: int | None = None, sensitive=None, reorder: bool | None = None,
                 sync_group: int | None = None, k: int | None = None, window: int | None = None,
                 n_total: int | None = None, n_check: int | None = None, lane_mask=None) -> int:
    """Cycles of one layer on an output-stationary ``array_rows x array_cols`` array (module docstring).

    Parameters
    ----------
    arch : str
        One of :data:`ARCHS`.
    w : int array
        ``[K, C]`` (fc) or ``[K, C, KH, KW]`` (conv), integer weights already processed by the method, in
        its range (two's complement INT-B; sign-magnitude for pragmatic, bitbalance, ebsp and bitlet;
        ``BBSConfig(bits, pruned=pruned).weight_range`` for bitvert). ``C`` must be a multiple of the
        pass length (``pe_length``, Bitlet ``n_total``) or smaller than it.
    out_size : (OH, OW)
        Output spatial size, conv only. ``tokens``: number of input vectors, fc only. ``batch``: images.
    bits, pe_length, array_rows, array_cols : int
        B, the PE dot length ``G_pe`` (default 16; every arch but bitlet), array rows (weight channels in
        lock step), array columns (windows). Any ``array_rows, array_cols >= 1``: rows beyond ``K`` and
        columns beyond the windows stay idle (nothing is allocated per row).
    pruned, sensitive, reorder
        BitVert: N (default 0), a per-output-channel bool mask ``[K]`` of sensitive (INT8) channels,
        channel reordering (default True).
    sync_group : int, optional
        Pragmatic: lanes per synchronised group, a divisor of ``pe_length`` (default ``pe_length``).
    k : int
        Bit-balance: essential bits per weight. ``window``: EBSP pattern window.
    n_total, n_check, lane_mask
        Bitlet PE parameters (pairs per pass ``1..64``, default 64; check window, default 8; lane mask).

    The architecture-specific arguments (``pe_length`` to ``lane_mask`` above) are refused with a
    ``ValueError`` when given (not ``None``) for an architecture that does not take them. Weights that a
    method's group check refuses are named ``w_groups[k, p, i]``: output channel ``k`` of ``w``, pass ``p``
    of that channel (:func:`golden.layout.group_weights` order), lane ``i``.

    Returns
    -------
    int
        Total cycles.

    Memory: ``w`` is read in blocks of whole tiles, or of a run of channels of one tile, of about
    :data:`golden.chunks.CHUNK_ELEMENTS` weights (:func:`golden.chunks.blocks`); it is never converted,
    grouped or expanded whole, and no per-pass cycle array of the whole layer is kept. So the peak above the
    input is at most :data:`golden.chunks.WORK_BYTES` (64 MiB) as long as one output channel is at most
    :data:`golden.chunks.CHUNK_ELEMENTS` weights (else one channel's temporaries). Its only output is an
    integer, so there is nothing of the input's size to refuse up front.
    """
    arch = check_choice("arch", arch, ARCHS)
    given = dict(pe_length=pe_length, pruned=pruned, sensitive=sensitive, reorder=reorder, sync_group=sync_group,
                 k=k, window=window, n_total=n_total, n_check=n_check, lane_mask=lane_mask)
    for name, value in given.items():
        if value is not None and arch not in _ARCH_ARGS[name]:
            raise ValueError(f"{name} does not apply to arch={arch!r}: {name} is for "
                             f"arch={', '.join(map(repr, _ARCH_ARGS[name]))} only")
    bits = check_int("bits", bits, lo=2, hi=16)
    pe_length = check_int("pe_length", 16 if pe_length is None else pe_length, lo=1, hi=4096)
    pruned = check_int("pruned", 0 if pruned is None else pruned, lo=0, hi=min(6, bits - 2))
    reorder = check_bool("reorder", True if reorder is None else reorder)
    n_check = 8 if n_check is None else n_check
    array_rows = check_int("array_rows", array_rows, lo=1)
    array_cols = check_int("array_cols", array_cols, lo=1)
    batch = check_int("batch", batch, lo=1)
    a = check_int_values("w", w, ndim=(2, 4))
    if a.size == 0:
        raise ValueError(f"w must not be empty, got shape {a.shape}")
    if arch == "bitvert":
        from .bbs import BBSConfig
        a = _check_values("w", a, *BBSConfig(bits=bits, pruned=pruned).weight_range, _zps_hint(bits, pruned))
    else:
        a = _check_values("w", a, *_value_range(bits, arch in _SIGN_MAGNITUDE_ARCHS))
    kind = "fc" if a.ndim == 2 else "conv"
    spatial = _spatial_passes(kind, out_size, tokens, array_cols, batch)
    n_out = a.shape[0]

    sens = order = None
    if arch == "bitvert" and sensitive is not None:
        sens = as_array("sensitive", sensitive)
        if sens.dtype != np.bool_:
            raise TypeError(f"sensitive must be a bool array, got dtype {sens.dtype}")
        if sens.shape != (n_out,):
            raise ValueError(f"sensitive must have shape ({n_out},) (one flag per output channel), "
                             f"got {sens.shape}")
        if reorder:                              # applied to the cycles, so messages index w's channels
            order = np.argsort(~sens, kind="stable")

    unit_name = "n_total" if arch == "bitlet" else "pe_length"
    unit = check_int("n_total", 64 if n_total is None else n_total, lo=1, hi=_BITLET_MAX_TOTAL) \
        if arch == "bitlet" else pe_length
    if a.shape[1] > unit and a.shape[1] % unit:
        raise ValueError(f"w has C={a.shape[1]} input channels, which must be a multiple of {unit_name}={unit} "
                         f"(or smaller than it): a PE pass takes {unit_name} input channels; pad C or pick "
                         f"another {unit_name}")
    a, grouping = _layout(a, unit)
    G = grouping.group
    passes = a.size // (n_out * G)
    chunks, chunk = 1, G
    if arch == "pragmatic":
        sg = pe_length if sync_group is None else check_int(
            "sync_group", sync_group, lo=1, hi=pe_length, extra=f"and a divisor of pe_length={pe_length}")
        if pe_length % sg:
            raise ValueError(f"sync_group must be an integer in [1, {pe_length}] and a divisor of "
                             f"pe_length={pe_length}, got {sg}")
        chunk = min(sg, G)
        if G % chunk:
            raise ValueError(f"sync_group={sg} must divide the layer's group size {G} (C < pe_length)")
        chunks = G // chunk
    elif arch == "bitbalance":
        if k is None:
            raise ValueError("k is required for arch='bitbalance'")
        k = check_int("k", k, lo=1, hi=bits - 1)
    elif arch == "ebsp":
        if window is None:
            raise ValueError("window is required for arch='ebsp'")
        window = check_int("window", window, lo=1, hi=bits - 1)

    view = grouped_view(a, G)                         # [k, pos, C/G, lane]: passes are (pos, C/G)

    def cycles(k0, k1):
        """Cycles ``[k1 - k0, passes, chunks]`` of channels ``k0..k1-1`` (group messages index w's channels)."""
        groups = np.empty((k1 - k0, passes, G), dtype=np.int64)   # [k, p, lane]: the index in group messages
        np.copyto(groups.reshape(view[k0:k1].shape), view[k0:k1], casting="unsafe")
        if arch == "bitvert":
            gs = np.zeros(groups.shape[:-1], dtype=bool) if sens is None else \
                np.broadcast_to(sens[k0:k1, None], groups.shape[:-1])
            cyc = _bitvert_cycles(groups, bits, pruned, gs, k0)
        elif arch == "stripes":
            cyc = np.full(groups.shape[:-1], bits, dtype=np.int64)
        elif arch == "pragmatic":
            cyc = _pragmatic_cycles(groups.reshape(k1 - k0, passes, chunks, chunk))
        elif arch == "bitbalance":
            cyc = _bitbalance_cycles(groups, k, k0)
        elif arch == "ebsp":
            cyc = _ebsp_cycles(groups, bits, window, k0)
        elif arch == "parallel":
            cyc = np.ones(groups.shape[:-1], dtype=np.int64)
        else:
            cyc = group_cycles_bitlet(groups, bits=bits, n_total=unit, n_check=n_check, lane_mask=lane_mask)
        return cyc.reshape(k1 - k0, passes, chunks)

    rows = min(array_rows, n_out)         # more rows than channels: one tile; padding stays below K rows
    tiles = -(-n_out // rows)
    per_channel = passes * G
    if order is not None:
        # BitVert's cycles do not depend on the values: check every channel block (in w's order, so the
        # messages name the first bad group of w), then charge each reordered channel bits or bits - pruned
        for idx, k0, k1 in blocks((n_out,), cost=per_channel):
            cycles(k0, k1)
        cyc = np.where(sens, bits, bits - pruned).astype(np.int64)[order]
        cyc = np.concatenate([cyc, np.zeros(tiles * rows - n_out, dtype=np.int64)])
        return int(cyc.reshape(tiles, rows).max(axis=1).sum()) * passes * spatial
    # blocks of whole tiles (rows in lock step), or of a run of rows of one tile; the rows past K are zeros
    total, open_max = 0, None
    for idx, s0, s1 in blocks((tiles, rows), cost=per_channel):
        k0, k1 = min(s0, n_out), min(s1, n_out)
        cyc = cycles(k0, k1) if k0 < k1 else np.zeros((0, passes, chunks), dtype=np.int64)
        if k1 - k0 < s1 - s0:
            cyc = np.concatenate([cyc, np.zeros((s1 - s0 - (k1 - k0), passes, chunks), dtype=np.int64)], axis=0)
        t_len, r_len = idx[0].stop - idx[0].start, idx[1].stop - idx[1].start
        per_pass = cyc.reshape(t_len, r_len, passes, chunks).max(axis=1)           # rows in lock step
        if r_len == rows:
            total += int(per_pass.sum(axis=1).max(axis=-1).sum())                   # sync groups meet per tile
            continue
        open_max = per_pass[0] if idx[1].start == 0 else np.maximum(open_max, per_pass[0])
        if idx[1].stop == rows:
            total += int(open_max.sum(axis=0).max())
    return total * spatial


def _layers(layers) -> list[Mapping]:
    if isinstance(layers, Mapping):
        if "w" not in layers:
            raise TypeError(f"layers must be a mapping with a 'w' entry (and out_size or tokens), "
                            f"got one with the keys {list(layers)}")
        return [layers]
    if isinstance(layers, Sequence) and not isinstance(layers, (str, bytes)) and len(layers) > 0:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Mapping) or "w" not in layer:
                raise TypeError(f"layers[{i}] must be a mapping with a 'w' entry (and out_size or tokens), "
                                f"got {type(layer).__name__}")
        return list(layers)
    raise TypeError(f"layers must be a mapping or a non-empty sequence of mappings "
                    f"{{'w': ..., 'out_size' or 'tokens': ...}}, got {type(layers).__name__}")


def network_cycles(arch: str, layers, **kwargs) -> int:
    """Sum of :func:`layer_cycles` over ``layers``.

    ``layers`` is one mapping or a sequence of mappings with keys ``w`` and ``out_size`` (conv) or
    ``tokens`` (fc), optionally ``sensitive``; ``kwargs`` are passed to every :func:`layer_cycles` call.
    """
    return sum(layer_cycles(arch, **{**kwargs, **dict(layer)}) for layer in _layers(layers))


_STRIPES_KEYS = ("bits", "pe_length", "array_rows", "array_cols", "batch")
_LAYER_STRIPES_KEYS = ("w", "out_size", "tokens", "batch")


def speedup_vs_stripes(arch: str, layers, **kwargs) -> float:
    """``network_cycles('stripes', ...) / network_cycles(arch, ...)`` on the same array geometry.

    Stripes runs the same layer shapes (its cycles do not depend on the weight values) with the same
    ``bits``, ``pe_length``, ``array_rows``, ``array_cols`` and ``batch``; the method-specific arguments
    in ``kwargs`` and ``layers`` (e.g. ``pruned``, ``sensitive``, ``k``) go to ``arch`` only.
    """
    ls = _layers(layers)
    s_kwargs = {key: v for key, v in kwargs.items() if key in _STRIPES_KEYS}
    s_layers = [{key: v for key, v in layer.items() if key in _LAYER_STRIPES_KEYS} for layer in ls]
    stripes = network_cycles("stripes", s_layers, **s_kwargs)
    other = network_cycles(arch, ls, **kwargs)
    if other == 0:
        raise ValueError(f"arch={arch!r} takes 0 cycles on these layers (e.g. lane_mask=0 disables every Bitlet "
                         f"lane): there is no speedup to give")
    return stripes / other
