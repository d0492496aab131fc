"""Bitlet check-window lane scheduler: one significance lane's bit selection (docs/bitlet.md, check-window lane).

One lane holds bit ``g`` of all ``n_total`` magnitudes (its *column*) and selects, one per cycle, the next
essential bit or a bubble, as ``Bitlet_CheckWindow.v`` and :func:`golden.bitlet.lane_schedule` do::

    ptr = 0
    while ptr <= n_total - 1:
        win = column[ptr : ptr + n_check]       # zeros past the end
        if win == 0:  bubble;  ptr += n_check
        else:         sel = ptr + lowest set bit of win
                      ptr += second-lowest set bit of win if it exists else n_check

Ports: in ``load`` (start a new column, only when ``done``), ``clear`` (drop it; wins over ``load``),
``column`` (bit ``i`` = bit ``g`` of pair ``i``), ``signs`` (bit ``i`` = pair ``i``'s weight sign, stable
during the pass), ``enable`` (the lane-mask bit: a disabled lane never runs), ``step`` (the PE advances);
out ``busy`` (cycles left, this one included), ``sel`` (one-hot: the selected pair, 0 for a bubble),
``neg`` (its sign), ``valid`` (``sel != 0``), ``done`` (nothing after this cycle). Each decision is made
one cycle ahead and registered (``sel``, ``neg``, ``done`` are flip-flops): one decision per ``step``.

Choice: window form (``n_check < n_total``): a static column, a right shifter trimmed to the ``n_check``
bits used (the first window comes from the input, past it), two leading-one detectors for the lowest and
second-lowest ones. Whole-column form (``n_check >= n_total``): a remaining-bits register, no shifter.
Choice: ``n_valid`` (the RTL's ``N_calculate + 1``) is ``n_total``: a shorter group is zero-padded.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from golden.bits import unsigned_width
from golden.check import check_int
from golden.bitlet import MAX_TOTAL
from hw.base import Component
from hw.blocks.lod import LeadingOneDetector

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
            "load": In(1), "clear": In(1), "column": In(self.n_total), "signs": In(self.n_total), "enable": In(1),
            "step": In(1),
            "busy": Out(1), "valid": Out(1), "sel": Out(self.n_total), "neg": Out(1), "done": Out(1, init=1),
        })

    @property
    def whole_column(self) -> bool:
        """Every window covers the rest of the column (``n_check >= n_total``): remaining-bits form."""
        return self.n_check >= self.n_total

    def elaborate(self, platform):
        return self._elaborate_whole() if self.whole_column else self._elaborate_window()

    def _register(self, m, onehot, last):
        """Register the decision made this cycle (at ``load``, or at a ``step`` that is not the last).

        The decision logic reads the column input when ``done`` is set and the lane's state otherwise:
        a lane that is not done is never loaded (the PE loads only when every lane is done), and a lane
        that is done only loads or goes idle. So the late ``load`` (it depends on the PE's handshake)
        only enables the registers instead of steering the decision logic.
        """
        decide = Signal()
        idle = Signal()
        sign_of = Signal()
        m.d.comb += [
            decide.eq(self.load | (self.step & self.busy & ~self.done)),
            # cleared, loaded disabled, or stepping past its last decision: no selection
            idle.eq(self.clear | Mux(self.load, ~self.enable, self.step & self.busy & self.done)),
            sign_of.eq((onehot & self.signs).any()),
            self.valid.eq(self.sel.any()),
        ]
        with m.If(idle):                                    # a synchronous reset of the decision
            m.d.sync += [self.sel.eq(0), self.neg.eq(0), self.done.eq(1)]
        with m.Elif(decide):
            m.d.sync += [self.sel.eq(onehot), self.neg.eq(sign_of), self.done.eq(last)]
        with m.If(self.clear):
            m.d.sync += self.busy.eq(0)
        with m.Elif(self.load):
            m.d.sync += self.busy.eq(self.enable)
        with m.Elif(self.step & self.done):
            m.d.sync += self.busy.eq(0)

    def _elaborate_whole(self):
        m = Module()
        rem = Signal(self.n_total)                          # the ones after the current decision
        cur = Signal(self.n_total)
        lowest = Signal(self.n_total)                       # one-hot: the lowest one of cur
        rest = Signal(self.n_total)
        m.d.comb += [
            cur.eq(Mux(self.done, self.column, rem)),      # see _register: done = the next is a load
            rest.eq(cur & (cur - 1)),                       # without the lowest one
            lowest.eq(cur ^ rest),
        ]
        with m.If(self.load | (self.step & self.busy & ~self.done)):
            m.d.sync += rem.eq(rest)
        self._register(m, lowest, rest == 0)
        return m

    def _elaborate_window(self):
        m = Module()
        n, c = self.n_total, self.n_check
        col = Signal(n)
        ptr = Signal(self.ptr_width)                        # the window after the current decision
        cur_ptr = Signal(self.select_width)                 # ptr <= n_total - 1 when a decision is made
        win = Signal(c)
        m.d.comb += [
            cur_ptr.eq(Mux(self.done, 0, ptr[:self.select_width])),   # see _register
            # the first window of a new column is its first n_check bits: the column input does not
            # pass through the window shifter (zeros past the end)
            win.eq(Mux(self.done, self.column[:c], (Cat(col, Const(0, c)) >> ptr[:self.select_width])[:c])),
        ]

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
        ptr_next = Signal(self.ptr_width)
        index = Signal(self.select_width)
        m.d.comb += [
            lowest.eq(c - 1 - lod_lo.index),
            step.eq(Mux(lod_next.valid, c - 1 - lod_next.index, c)),
            ptr_next.eq(cur_ptr + step),
            index.eq(cur_ptr + lowest),                     # < n_total whenever the window has a one
        ]
        with m.If(self.load):
            m.d.sync += col.eq(self.column)
        with m.If(self.load | (self.step & self.busy & ~self.done)):
            m.d.sync += ptr.eq(ptr_next)
        onehot = Mux(lod_lo.valid, (Const(1, n) << index)[:n], 0)
        self._register(m, onehot, ptr_next >= n)
        return m
