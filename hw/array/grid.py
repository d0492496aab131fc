"""An output-stationary grid of PEs run in lock step (docs/array.md).

``rows x cols`` copies of one PE. Row ``r`` holds one output channel: its weight payload is broadcast to
every PE of the row; column ``c`` holds one input window or token: its activation vector is broadcast to
every PE of the column. One *pass* (one transaction of the PE contract, :mod:`hw.pe`) is issued to all
PEs in the same cycle, and only when every PE is ready, so a pass costs the slowest row: exactly the
lock-step rule of :func:`golden.cycles.layer_cycles`. Each PE's per-pass results are added into its own
accumulator, which holds the output of ``(row, col)`` across all the passes of a tile.

:class:`LockStepGrid` holds what every such grid shares (constructor, ports, lock-step issue,
accumulators); :class:`PEGrid` fills it with ``rows x cols`` whole PEs, and a grid that shares per-row
or per-column logic between its PEs fills it otherwise (:class:`hw.array.bitvert_grid.BitVertGrid`).

Ports
-----
``issue`` : ``In(stream.Signature(StructLayout({"weights": ArrayLayout(<PE weights>, rows),
"acts": ArrayLayout(<PE acts>, cols)})))``
    One pass. ``issue.ready`` is high when every PE can accept it (their ``i.ready``); the pass is taken
    by all PEs in the cycle ``valid & ready``. The grid never stalls on its outputs (``o.ready = 1``).
``tile_passes`` : ``In(16)``
    Passes of the current tile (``P``).
``tile_done`` : ``Out(1)``
    Every row has delivered ``P`` results since the last ``clear``: the accumulators hold the tile.
``capture`` : ``In(1)``
    Copy every accumulator into its PE's result register (at ``tile_done``): the write-back reads the
    result registers while the accumulators already sum the next tile (docs/array.md).
``sel_row``, ``sel_col`` : ``In``; ``acc`` : ``Out(signed(acc_width))``
    ``acc`` is the result register of PE ``(sel_row, sel_col)`` (combinational read): the accumulator as
    the last ``capture`` took it.
``clear`` : ``In(1)``
    Zero the accumulators and the delivery counters (between tiles; with ``capture`` in one cycle, the
    result registers take the accumulators before they are zeroed).

Latency: a pass of ``n`` steps accepted in cycle ``t`` is in the accumulators from cycle
``t + n + latency + 1`` (the PE's latency, one more for the accumulator register).
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from golden.bits import unsigned_width
from golden.check import check_int
from hw.base import Component

__all__ = ["PEGrid", "LockStepGrid"]

PASS_COUNTER_WIDTH = 16


class LockStepGrid(Component):
    """What every lock-step grid of ``rows x cols`` PEs shares: the constructor's checks, a prototype PE
    ``pe = make_pe()`` whose payload layouts are the grid's, the ports of the module docstring, and in
    :meth:`issue_all` and :meth:`accumulate` the lock-step issue and the per-PE output accumulators. A
    subclass builds the PEs (or their shared parts) in ``elaborate``."""

    def __init__(self, make_pe, rows: int, cols: int, acc_width: int = 32):
        self.rows = check_int("rows", rows, lo=1, hi=64)
        self.cols = check_int("cols", cols, lo=1, hi=64)
        self.acc_width = check_int("acc_width", acc_width, lo=2, hi=64)
        #: a PE of the grid: its payload layouts and codec are the grid's (hw.array.layer uses them)
        self.pe = pe = make_pe()
        if pe.beats_per_pass != 1:
            raise ValueError(f"a grid issues a pass as one transaction; this {type(pe).__name__} takes "
                             f"{pe.beats_per_pass} beats per pass (Bitlet: set n_input = n_total)")
        if getattr(pe, "fp32", False):
            raise ValueError(f"a grid accumulates integer results; this {type(pe).__name__} is in fp32 mode "
                             f"(its results are binary32 bit patterns)")
        self.weights_layout = pe.input_layout.members["weights"]
        self.acts_layout = pe.input_layout.members["acts"]
        self.issue_layout = data.StructLayout({"weights": data.ArrayLayout(self.weights_layout, self.rows),
                                               "acts": data.ArrayLayout(self.acts_layout, self.cols)})
        super().__init__({
            "issue": In(stream.Signature(self.issue_layout)),
            "tile_passes": In(PASS_COUNTER_WIDTH),
            "tile_done": Out(1),
            "sel_row": In(unsigned_width(max(self.rows - 1, 1))),
            "sel_col": In(unsigned_width(max(self.cols - 1, 1))),
            "acc": Out(signed(self.acc_width)),
            "clear": In(1),
            "capture": In(1),
        })

    def issue_all(self, m: Module, ready_terms) -> Signal:
        """``issue.ready`` = the AND of ``ready_terms`` (every PE, or every row, can take a pass); returns
        the signal that issues the pass to all of them (``issue.valid & issue.ready``)."""
        all_ready = Signal()
        take = Signal()
        m.d.comb += [all_ready.eq(_and_all(ready_terms)), self.issue.ready.eq(all_ready),
                     take.eq(self.issue.valid & all_ready)]
        return take

    def accumulate(self, m: Module, outputs) -> None:
        """Per PE ``(r, c)`` an accumulator that adds ``value`` in the cycles ``valid``, where
        ``outputs[r][c] = (valid, value)`` is the PE's per-pass result stream (the grid takes every one);
        the delivery counters, ``tile_done``, ``clear`` and the ``acc`` read mux (:meth:`deliveries`,
        :meth:`read_out`)."""
        rows, cols = self.rows, self.cols
        accs = [[Signal(signed(self.acc_width), name=f"acc_r{r}c{c}") for c in range(cols)] for r in range(rows)]
        for r in range(rows):
            for c in range(cols):
                valid, value = outputs[r][c]
                with m.If(self.clear):
                    m.d.sync += accs[r][c].eq(0)
                with m.Elif(valid):
                    m.d.sync += accs[r][c].eq(accs[r][c] + value)
        self.deliveries(m, [outputs[r][0][0] for r in range(rows)])
        self.read_out(m, accs)

    def deliveries(self, m: Module, delivered) -> None:
        """A delivery counter per row, counting the cycles ``delivered[r]`` (row ``r``'s per-pass results,
        its column 0's or its sequencer's) since ``clear``; ``tile_done`` when every row has ``tile_passes``."""
        got = [Signal(PASS_COUNTER_WIDTH, name=f"got_r{r}") for r in range(self.rows)]
        for r in range(self.rows):
            with m.If(self.clear):
                m.d.sync += got[r].eq(0)
            with m.Elif(delivered[r]):
                m.d.sync += got[r].eq(got[r] + 1)
        m.d.comb += self.tile_done.eq(_and_all([g == self.tile_passes for g in got]))

    def read_out(self, m: Module, accs) -> None:
        """Per PE a result register that takes ``accs[r][c]`` in the cycles of ``capture``; ``acc`` = the
        result register of ``(sel_row, sel_col)`` (combinational read)."""
        results = [[Signal(signed(self.acc_width), name=f"result_r{r}c{c}") for c in range(self.cols)]
                   for r in range(self.rows)]
        with m.If(self.capture):
            m.d.sync += [results[r][c].eq(accs[r][c]) for r in range(self.rows) for c in range(self.cols)]
        result_rows = Array(Array(row) for row in results)
        m.d.comb += self.acc.eq(result_rows[self.sel_row][self.sel_col])


class PEGrid(LockStepGrid):
    """``rows x cols`` PEs made by ``make_pe()`` (a fresh PE per call), lock-step issue, one accumulator
    of ``acc_width`` bits per PE. See the module docstring for the ports. ``pes[r][c]`` is PE ``(r, c)``;
    ``pe`` is ``pes[0][0]``."""

    def __init__(self, make_pe, rows: int, cols: int, acc_width: int = 32):
        super().__init__(make_pe, rows, cols, acc_width)
        self.pes = [[self.pe if (r, c) == (0, 0) else make_pe() for c in range(self.cols)]
                    for r in range(self.rows)]

    def elaborate(self, platform):
        m = Module()
        pes = [pe for row in self.pes for pe in row]
        take = self.issue_all(m, [pe.i.ready for pe in pes])
        for r in range(self.rows):
            for c in range(self.cols):
                pe = self.pes[r][c]
                m.submodules[f"pe_r{r}c{c}"] = pe
                m.d.comb += [
                    pe.i.valid.eq(take),
                    pe.i.payload.weights.eq(self.issue.payload.weights[r]),
                    pe.i.payload.acts.eq(self.issue.payload.acts[c]),
                    pe.o.ready.eq(1),
                ]
        self.accumulate(m, [[(pe.o.valid, pe.o.payload) for pe in row] for row in self.pes])
        return m


def _and_all(terms):
    out = terms[0]
    for t in terms[1:]:
        out = out & t
    return out
