"""Bounded memory on large tensors: the one chunking helper of the golden model and the up-front memory check.

The functions that take whole weight tensors (:func:`golden.quant.quantize`, :func:`golden.bbs.round_average`,
:func:`golden.bbs.zero_point_shift`, :func:`golden.bbs.encode`, :func:`golden.bitlet.dot_fixed` and
:func:`golden.cycles.layer_cycles`) never expand the whole tensor into int64 copies, bit planes or boolean
masks: they walk it in **blocks** of about :data:`CHUNK_ELEMENTS` elements (:func:`blocks`) along its natural
axes (output channels, then positions, then groups; or the leading axes of a dot product) and write each
block's result into the preallocated outputs. Every block is computed exactly as the whole tensor was, so the
results are bit-identical to the unchunked computation (tested with a tiny chunk).

**The bound.** Above the memory the caller already holds (the input itself), a call allocates its outputs and
at most :data:`WORK_BYTES` of working memory (the block temporaries, :data:`CHUNK_ELEMENTS` elements times at
most 64 bytes each), as long as one block is no larger than :data:`CHUNK_ELEMENTS` elements (blocks are only
larger when a single unit is: one BBS group, the bit planes of one dot product (``n * bits``) or, for
``layer_cycles``, one output channel). :func:`bound` states it in bytes; ``make bench``
(:mod:`golden.membench`) measures it.

**The up-front check.** Before allocating, each of those functions but ``layer_cycles`` (whose only output is an
integer) adds up the bytes it will allocate (outputs
plus :data:`WORK_BYTES`) and calls :func:`require_memory`, which (for outputs of :data:`CHECK_BYTES` = 64 MiB or
more) raises :class:`InsufficientMemoryError` (a
``MemoryError``) saying how much is needed and how much is available (:func:`available_memory`:
``MemAvailable`` of ``/proc/meminfo``, or the free physical pages, and the cgroup limit when there is one),
instead of failing half-way with a bare ``MemoryError``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

__all__ = ["CHUNK_ELEMENTS", "CHECK_BYTES", "WORK_BYTES", "blocks", "available_memory", "require_memory", "bound",
           "InsufficientMemoryError", "format_bytes"]

#: Elements per block: large enough that the per-block Python overhead is negligible, small enough that the
#: block temporaries stay within :data:`WORK_BYTES`. Tests set it tiny (monkeypatch) to compare chunked and
#: unchunked results.
CHUNK_ELEMENTS = 1 << 20

#: Outputs below this size are not checked against the available memory (reading it costs a few hundred
#: microseconds, more than a small call itself); tests set it to 0.
CHECK_BYTES = 64 << 20

#: Working memory a call may take beyond its outputs: ``CHUNK_ELEMENTS`` elements of at most 64 bytes of live
#: temporaries each (e.g. eight int64 arrays of the block's size), 64 MiB.
WORK_BYTES = 64 * CHUNK_ELEMENTS


def blocks(shape, cost: int = 1, limit: int | None = None) -> Iterator[tuple[tuple[slice, ...], int, int]]:
    """Tile an array of ``shape`` into row-major blocks of at most ``limit`` (default :data:`CHUNK_ELEMENTS`)
    elements, an element costing ``cost`` (the size of a trailing unit left out of ``shape``).

    Yields ``(index, start, stop)``: ``index`` is a tuple of one slice per axis (so ``a[index]`` keeps every
    axis), ``start:stop`` the block's range in the row-major flattening of ``shape``. The blocks cover the
    array in row-major order and each is contiguous in it: leading axes are taken one index at a time until
    the remaining axes of one index fit, then the next axis is cut into runs. A block is larger than ``limit``
    only when a single element (``cost``) is.
    """
    shape = tuple(int(s) for s in shape)
    limit = CHUNK_ELEMENTS if limit is None else limit
    cost = max(1, int(cost))
    if any(s == 0 for s in shape):
        return
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]

    def rec(prefix, start, d):
        if d == len(shape):
            yield prefix, start, start + 1
            return
        inner = strides[d]
        if inner * cost <= limit or d == len(shape) - 1:
            step = max(1, limit // (inner * cost))
            for s in range(0, shape[d], step):
                e = min(s + step, shape[d])
                rest = tuple(slice(0, n) for n in shape[d + 1:])
                yield prefix + (slice(s, e),) + rest, start + s * inner, start + e * inner
        else:
            for i in range(shape[d]):
                yield from rec(prefix + (slice(i, i + 1),), start + i * inner, d + 1)

    if not shape:
        yield (), 0, 1
        return
    yield from rec((), 0, 0)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int:
    """Bytes a new allocation can take without swapping or the OOM killer: ``MemAvailable`` of
    ``/proc/meminfo`` (else the free physical pages, else all physical pages), lowered to the cgroup's
    ``memory.max - memory.current`` (v2) or ``limit_in_bytes - usage_in_bytes`` (v1) when that is smaller."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
            try:
                avail = os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
                break
            except (ValueError, OSError, AttributeError):
                continue
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        lim, use = _read_int(limit), _read_int(usage)
        if lim is not None and use is not None and lim < 1 << 60:
            free = max(0, lim - use)
            avail = free if avail is None else min(avail, free)
    return avail if avail is not None else 1 << 62


def format_bytes(n: int) -> str:
    """``n`` bytes in the largest unit that keeps it >= 1: ``"1.5 GB"``, ``"64.0 MB"`` (decimal units)."""
    from .check import check_int
    n = check_int("n", n, lo=0)
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


class InsufficientMemoryError(MemoryError):
    """Raised before allocating when a call needs more memory than is available (:func:`require_memory`)."""


def require_memory(what: str, output_bytes: int, detail: str = "") -> int:
    """Raise :class:`InsufficientMemoryError` unless ``output_bytes + WORK_BYTES`` fit the available memory.

    ``what`` names the call and its input (``"quantize of w with shape (1000, 2048)"``), ``detail`` what the
    outputs are. Returns the bytes needed. Outputs smaller than :data:`CHECK_BYTES` (64 MiB) are not checked.
    """
    need = int(output_bytes) + WORK_BYTES
    if output_bytes < CHECK_BYTES:
        return need
    have = available_memory()
    if need > have:
        raise InsufficientMemoryError(
            f"{what} needs {format_bytes(need)} of memory ({format_bytes(int(output_bytes))} of outputs"
            f"{': ' + detail if detail else ''}, plus {format_bytes(WORK_BYTES)} of working memory), "
            f"but only {format_bytes(have)} is available; process the tensor in smaller parts "
            f"(e.g. a range of output channels at a time) or free memory")
    return need


def bound(input_bytes: int, output_bytes: int) -> int:
    """The stated bound on the peak memory **above the input** of a call: its outputs plus :data:`WORK_BYTES`.

    ``input_bytes`` is not part of it (the input is the caller's); it is taken so the figure can be reported
    next to it.
    """
    from .check import check_int
    check_int("input_bytes", input_bytes, lo=0)
    return check_int("output_bytes", output_bytes, lo=0) + WORK_BYTES
