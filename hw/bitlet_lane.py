"""Bitlet check-window lane scheduler: one significance lane's bit selection (algorithms.md 3.3 step 4).

One lane holds bit ``g`` of all ``n_total`` magnitudes (its *column*) and emits, per cycle, the index of
the next essential bit or a bubble, exactly as ``Bitlet_CheckWindow.v`` and the golden model
:func:`golden.bitlet.lane_schedule` do::

    ptr = 0
    while ptr <= n_total - 1:
        win = column[ptr : ptr + n_check]       # zeros past the end
        if win == 0:  bubble;  ptr += n_check
        else:         sel = ptr + lowest set bit of win
                      ptr += second-lowest set bit of win if it exists else n_check

Implementation: the column register is static during a pass (loaded once, the flip-flops' enable); the
window is ``(col >> ptr)[:n_check]``, a logarithmic right shifter whose stages are trimmed to the
``n_check`` bits that are used (``~n_check * log2(n_total)`` 2:1 muxes, against ``n_total * n_check``
for shifting the whole column by the step each cycle: 4x fewer LUTs at ``n_total = 64``). ``ptr`` gives
the select index ``sel = ptr + lowest`` and the end test ``ptr + step >= n_total``. Lowest and
second-lowest set bits come from two leading-one detectors (:class:`hw.lod.LeadingOneDetector`) on the
bit-reversed window and on the window with its lowest one cleared (``win & (win - 1)``). The shifter
uses Amaranth's shift operator: :class:`hw.barrel_shifter.BarrelShifter` stops at 48 bits and keeps its
full output width.

When ``n_check >= n_total`` every window reaches past the end of the column, so the schedule reduces to
"select the lowest remaining one, one per cycle; a lane without ones takes one bubble cycle"
(``max(1, popcount)`` cycles; the BBS authors' Bitlet model has no bubbles at all, but counts
two's-complement planes, algorithms.md 3.3). The lane then uses a cheaper
implementation of the same schedule: a *remaining-bits* register that loses its lowest one every cycle
(``rem & (rem - 1)``), one leading-one detector on it for ``sel``, and ``done`` when at most one one is
left; no pointer, no window shifter.

Latency: the selection is combinational from the lane's registers (``sel``/``valid`` describe the current
cycle); one selection per ``step`` cycle. ``n_valid`` (the RTL's ``N_calculate + 1``) is fixed to
``n_total``: a shorter group is zero-padded and pays the empty windows of the padding.

Ports
-----
load : In(1)
    Start a new column this cycle (wins over ``step``): ``col <- column``, ``ptr <- 0``,
    ``busy <- enable``.
column : In(n_total)
    Bit ``i`` = bit ``g`` of pair ``i``'s magnitude.
enable : In(1)
    The lane mask bit of the pass being loaded (a disabled lane never runs, 0 cycles).
step : In(1)
    The PE advances this cycle; a busy lane consumes its current window.
busy : Out(1)
    The lane has cycles left (this one included).
valid : Out(1)
    This cycle selects an essential bit (``busy`` and the window is not empty).
sel : Out(select_width)
    Its pair index (meaningful when ``valid``).
done : Out(1)
    Nothing after this cycle: the lane is idle, or this is its last cycle.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from golden.bits import unsigned_width
from golden.check import check_int
from golden.bitlet import MAX_TOTAL
from hw.base import Component
from hw.lod import LeadingOneDetector

__all__ = ["BitletLane"]


class BitletLane(Component):
    """Check-window scheduler of one Bitlet lane.

    Parameters
    ----------
    n_total : int
        Pairs per pass (column length), 1..64.
    n_check : int
        Window width, 1..64.
    """

    def __init__(self, n_total: int, n_check: int):
        self.n_total = check_int("n_total", n_total, lo=1, hi=MAX_TOTAL)
        self.n_check = check_int("n_check", n_check, lo=1, hi=MAX_TOTAL)
        self.select_width = unsigned_width(self.n_total - 1)
        self.ptr_width = unsigned_width(self.n_total - 1 + self.n_check)
        super().__init__({
            "load": In(1), "column": In(self.n_total), "enable": In(1), "step": In(1),
            "busy": Out(1), "valid": Out(1), "sel": Out(self.select_width), "done": Out(1),
        })

    @property
    def whole_column(self) -> bool:
        """Every window covers the rest of the column (``n_check >= n_total``): remaining-bits form."""
        return self.n_check >= self.n_total

    def elaborate(self, platform):
        return self._elaborate_whole() if self.whole_column else self._elaborate_window()

    def _elaborate_whole(self):
        m = Module()
        n = self.n_total
        rem = Signal(n)                                     # the ones not selected yet
        rest = Signal(n)
        m.submodules.lod = lod = LeadingOneDetector(n)
        m.d.comb += [
            rest.eq(rem & (rem - 1)),                       # without the lowest one
            lod.data.eq(Cat(*reversed(list(rem)))),
            self.valid.eq(self.busy & lod.valid),
            self.sel.eq(n - 1 - lod.index),
            self.done.eq(~self.busy | (rest == 0)),
        ]
        with m.If(self.load):
            m.d.sync += [rem.eq(self.column), self.busy.eq(self.enable)]
        with m.Elif(self.step & self.busy):
            m.d.sync += [rem.eq(rest), self.busy.eq(rest != 0)]
        return m

    def _elaborate_window(self):
        m = Module()
        n, c = self.n_total, self.n_check
        col = Signal(n)
        ptr = Signal(self.ptr_width)
        win = Signal(c)
        ptr_lo = ptr[:self.select_width]                    # ptr <= n_total - 1 while busy
        m.d.comb += win.eq((Cat(col, Const(0, c)) >> ptr_lo)[:c])   # zeros past the end

        # lowest set bit: leading one of the reversed window
        m.submodules.lod_lo = lod_lo = LeadingOneDetector(c)
        m.submodules.lod_next = lod_next = LeadingOneDetector(c)
        rest = Signal(c)
        m.d.comb += [
            lod_lo.data.eq(Cat(*reversed(list(win)))),
            rest.eq(win & (win - 1)),                       # the window without its lowest one
            lod_next.data.eq(Cat(*reversed(list(rest)))),
        ]
        lowest = Signal(unsigned_width(c - 1))
        step = Signal(unsigned_width(c))
        m.d.comb += [
            lowest.eq(c - 1 - lod_lo.index),
            step.eq(Mux(lod_next.valid, c - 1 - lod_next.index, c)),
        ]
        ptr_next = Signal(self.ptr_width)
        m.d.comb += [
            ptr_next.eq(ptr + step),
            self.valid.eq(self.busy & lod_lo.valid),
            self.sel.eq(ptr_lo + lowest),                      # < n_total whenever valid
            self.done.eq(~self.busy | (ptr_next >= n)),
        ]
        with m.If(self.load):
            m.d.sync += [col.eq(self.column), ptr.eq(0), self.busy.eq(self.enable)]
        with m.Elif(self.step & self.busy):
            m.d.sync += [ptr.eq(ptr_next), self.busy.eq(ptr_next < n)]
        return m
