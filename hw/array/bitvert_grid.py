"""The BitVert array of the BBS paper: one scheduler per PE row, one activation-sum unit per PE column.

docs/bbs.md (the shared array). In the output-stationary grid (:mod:`hw.array.grid`) the PEs of row
``r`` take the same weights, so they would make the same column decisions every cycle, and the PEs of
column ``c`` take the same activations, so they would compute the same activation sums and hold the
same activation registers. The BitVert accelerator shares them; so does this grid:

* per row: one :class:`~hw.bitvert.scheduler.BBSScheduler` and one :class:`~hw.pe.SerialSequencer`
  (handshake and steps), their outputs broadcast to the row's datapaths;
* per column: one :class:`~hw.bitvert.act_sums.BitVertActSums` and the pass's activation registers,
  both registered when a pass is issued (every row's sequencer loads in that cycle, lock step);
* per PE: one array-variant :class:`~hw.bitvert.datapath.BitVertDatapath` (window muxes, adder trees,
  shifter, constant term, accumulator), built with ``tile_acc_width=acc_width`` and
  ``acts_registered=True``: its accumulator *is* the PE's output accumulator, ``acc_width`` bits,
  accumulating every step of every pass of the tile and zeroed by ``clear``; no per-pass result register
  and no second adder.

A :class:`~hw.bitvert.pe.BitVertPE` is one scheduler, sequencer and sum unit around one datapath, so
every PE of this grid computes the steps a BitVertPE computes, in the same cycles: ``BitVertGrid`` has
:class:`~hw.array.grid.PEGrid`'s constructor, attributes and ports, and ``issue.ready`` and
``tile_done`` equal a PEGrid's of BitVertPEs in every cycle (the same delivery counters of the
sequencers' results), so a :class:`~hw.array.layer.LayerEngine` built with ``grid_class=BitVertGrid``
gives the same outputs in the same cycles as one with a ``PEGrid`` of BitVertPEs.

``acc`` equals the PEGrid's under the layer engine's protocol: ``clear`` only when no pass is in flight
(every issued pass delivered), and ``acc`` read once ``tile_done`` is high until the next pass is issued
(then both hold the sum of the tile's passes modulo ``2**acc_width``, the same bits, datapath docstring).
Outside it they differ: while a pass executes this grid's ``acc`` holds the partial sum (it has all of
a pass one cycle before a PEGrid's does), and a ``clear`` during a pass drops the steps before it.

``make_pe()`` must make a ``BitVertPE``; one is made, the prototype ``pe`` whose payload layouts and
codec the grid takes (it is not elaborated).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal

from hw.array.grid import LockStepGrid
from hw.bitvert.act_sums import BitVertActSums
from hw.bitvert.datapath import BitVertDatapath, drive_datapath
from hw.bitvert.pe import BitVertPE
from hw.bitvert.scheduler import BBSScheduler
from hw.pe import SerialSequencer

__all__ = ["BitVertGrid"]


class BitVertGrid(LockStepGrid):
    """``rows x cols`` BitVert datapaths with one scheduler and sequencer per row and one activation-sum
    unit and activation register set per column, for BitVertPEs made by ``make_pe()`` (module
    docstring; ports as :class:`~hw.array.grid.PEGrid`'s)."""

    def __init__(self, make_pe, rows: int, cols: int, acc_width: int = 32):
        super().__init__(make_pe, rows, cols, acc_width)
        if not isinstance(self.pe, BitVertPE):
            raise TypeError(f"make_pe must make a hw.bitvert.pe.BitVertPE for a BitVertGrid, "
                            f"got {type(self.pe).__name__}")

    def elaborate(self, platform):
        m = Module()
        cfg = self.pe.config
        weights, acts = self.issue.payload.weights, self.issue.payload.acts
        schedulers, sequencers = [], []
        for r in range(self.rows):
            sch = BBSScheduler(cfg)
            seq = SerialSequencer(self.pe.max_steps)
            m.submodules[f"scheduler_r{r}"] = sch
            m.submodules[f"seq_r{r}"] = seq
            m.d.comb += [sch.group.eq(weights[r]), sch.load.eq(seq.load), sch.advance.eq(seq.active),
                         seq.n_steps.eq(sch.n_steps), seq.out_ready.eq(1), seq.clear.eq(0)]
            schedulers.append(sch)
            sequencers.append(seq)
        take = self.issue_all(m, [seq.in_ready for seq in sequencers])
        m.d.comb += [seq.in_valid.eq(take) for seq in sequencers]

        # per column: the activation sums and the activation registers, loaded when the pass is issued
        # (each row's sequencer.load = in_valid & in_ready = take, since take needs every in_ready)
        sums, col_acts = [], []
        for c in range(self.cols):
            m.submodules[f"act_sums_c{c}"] = unit = BitVertActSums(cfg)
            m.d.comb += [unit.acts.eq(acts[c]), unit.load.eq(take)]
            sums.append(unit)
            reg = Signal.like(acts[c], name=f"acts_c{c}")
            with m.If(take):
                m.d.sync += reg.eq(acts[c])
            col_acts.append(reg)

        accs = []
        for r in range(self.rows):
            row = []
            for c in range(self.cols):
                dp = BitVertDatapath(cfg, tile_acc_width=self.acc_width, acts_registered=True)
                m.submodules[f"datapath_r{r}c{c}"] = dp
                drive_datapath(m, dp, acts=col_acts[c], scheduler=schedulers[r], sequencer=sequencers[r],
                               sums=sums[c])
                m.d.comb += dp.clear.eq(self.clear)
                row.append(dp.acc)
            accs.append(row)

        # delivery counters as LockStepGrid.accumulate's: per row, the sequencer's results since clear
        self.deliveries(m, [seq.out_valid for seq in sequencers])
        self.read_out(m, accs)
        return m
