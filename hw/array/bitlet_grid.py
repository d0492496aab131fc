"""The Bitlet array: one set of lane schedulers per PE row, one activation register set per PE column,
a MAC per PE (docs/array.md, Bitlet in the engine).

In the output-stationary grid (:mod:`hw.array.grid`) the PEs of row ``r`` take the same weights, so
their lane schedulers (:class:`~hw.bitlet.lane.BitletLane`: the weight bit columns, the check windows,
the leading-one detectors) make the same decisions in every cycle, and the PEs of column ``c`` hold the
same activation registers. Bitlet's accelerator shares the schedulers between the PEs that share a
weight row; so does this grid:

* per row: one :class:`~hw.bitlet.lanes.BitletLanes` (the ``n_channel`` lane schedulers and the step
  control), its selects, signs and step flags broadcast to the row's MACs;
* per column: the pass's activation registers, loaded when a pass is issued (every row's lanes load in
  that cycle, lock step);
* per PE: one :class:`~hw.bitlet.mac.BitletMAC` (the per-lane select, sign fold, lane sum) built with
  ``acc_width`` and ``clear_acc``, its ``first`` held low: its accumulator *is* the PE's output
  accumulator, summing every step of every pass of the tile, zeroed by ``clear``; no per-pass result
  register and no second adder.

A :class:`~hw.bitlet.pe.BitletPE` (fixed point, one beat per pass) is one ``BitletLanes``, the activation
registers and one MAC, so every PE of this grid computes the steps a BitletPE computes, in the same
cycles: ``BitletGrid`` has :class:`~hw.array.grid.PEGrid`'s constructor, attributes and ports, and
``issue.ready`` and ``tile_done`` equal a PEGrid's of BitletPEs in every cycle (a row delivers its pass
in the cycle after its MACs' last step, as a PE's result register does), so a
:class:`~hw.array.layer.LayerEngine` built with ``grid_class=BitletGrid`` gives the same outputs in the
same cycles as one with a ``PEGrid`` of BitletPEs. ``acc`` equals the PEGrid's under the layer engine's
protocol, as :class:`~hw.array.bitvert_grid.BitVertGrid`'s does (``clear`` only with no pass in flight,
``acc`` read once ``tile_done`` is high until the next pass).

``make_pe()`` must make a ``BitletPE``; one is made, the prototype ``pe`` whose payload layouts and codec
the grid takes (it is not elaborated). Latency as a PEGrid's of those PEs: a pass of ``n`` steps issued
in cycle ``t`` is in the accumulators from cycle ``t + n + 3``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, ResetSignal, Signal

from hw.array.grid import LockStepGrid
from hw.bitlet.lanes import BitletLanes
from hw.bitlet.mac import BitletMAC
from hw.bitlet.pe import BitletPE

__all__ = ["BitletGrid"]


class BitletGrid(LockStepGrid):
    """``rows x cols`` Bitlet MACs with one set of lane schedulers per row and one activation register set
    per column, for BitletPEs made by ``make_pe()`` (module docstring; ports as
    :class:`~hw.array.grid.PEGrid`'s)."""

    def __init__(self, make_pe, rows: int, cols: int, acc_width: int = 32):
        super().__init__(make_pe, rows, cols, acc_width)
        if not isinstance(self.pe, BitletPE):
            raise TypeError(f"make_pe must make a hw.bitlet.pe.BitletPE for a BitletGrid, "
                            f"got {type(self.pe).__name__}")

    def elaborate(self, platform):
        m = Module()
        cfg = self.pe.config
        n, nch = cfg.n_total, cfg.n_channel
        weights, acts = self.issue.payload.weights, self.issue.payload.acts
        in_reset = Signal()
        m.d.comb += in_reset.eq(ResetSignal())            # a BitletPE takes no beat in reset
        rows = []
        for r in range(self.rows):
            m.submodules[f"lanes_r{r}"] = lanes = BitletLanes(cfg)
            w = weights[r]
            m.d.comb += [lanes.columns[g].eq(Cat(*[w.w[i].mag[g] for i in range(n)])) for g in range(nch)]
            m.d.comb += [lanes.signs.eq(Cat(*[w.w[i].sign for i in range(n)])), lanes.lane_mask.eq(w.lane_mask),
                         lanes.hold.eq(0), lanes.clear.eq(0)]
            rows.append(lanes)
        take = self.issue_all(m, [~in_reset & lanes.ready for lanes in rows])
        m.d.comb += [lanes.load.eq(take) for lanes in rows]

        col_acts = []
        for c in range(self.cols):                 # loaded with every row's lanes (take = each load)
            reg = Signal.like(acts[c], name=f"acts_c{c}")
            with m.If(take):
                m.d.sync += reg.eq(acts[c])
            col_acts.append(reg)

        accs, delivered = [], []
        for r, lanes in enumerate(rows):
            row = []
            for c in range(self.cols):
                mac = BitletMAC(n, nch, cfg.act_bits, True, self.acc_width, clear_acc=True)
                m.submodules[f"mac_r{r}c{c}"] = mac
                m.d.comb += [mac.acts[i].eq(col_acts[c][i]) for i in range(n)]
                m.d.comb += [mac.sel[g].eq(lanes.sel[g]) for g in range(nch)]
                m.d.comb += [mac.neg[g].eq(lanes.neg[g]) for g in range(nch)]
                m.d.comb += [mac.step.eq(lanes.active), mac.first.eq(0), mac.last.eq(lanes.last),
                             mac.hold.eq(0), mac.clear.eq(self.clear)]
                row.append(mac)
            # the row's pass is delivered a cycle after its last step accumulates (a PE's result register)
            done = Signal(name=f"delivered_r{r}")
            m.d.sync += done.eq(row[0].finishing)
            delivered.append(done)
            accs.append([mac.acc for mac in row])

        self.deliveries(m, delivered)
        self.read_out(m, accs)
        return m
