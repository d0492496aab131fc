"""The BitVert array of the BBS paper: one scheduler per PE row, one activation-sum unit per PE column.

docs/bbs.md (the shared array). In the output-stationary grid (:mod:`hw.array.grid`) the PEs of row
``r`` take the same weights, so they would make the same column decisions every cycle, and the PEs of
column ``c`` take the same activations, so they would compute the same activation sums. The BitVert
accelerator shares them; so does this grid:

* per row: one :class:`~hw.bitvert.scheduler.BBSScheduler` and one :class:`~hw.pe.SerialSequencer`
  (handshake and steps), their outputs broadcast to the row's datapaths;
* per column: one :class:`~hw.bitvert.act_sums.BitVertActSums`, registered when a pass is issued;
* per PE: one :class:`~hw.bitvert.datapath.BitVertDatapath` (activation registers, window muxes, adder
  trees, shifter, constant term, accumulator, result register) and the grid's output accumulator.

A :class:`~hw.bitvert.pe.BitVertPE` is exactly one of each around one datapath, so every PE of this grid
computes what a BitVertPE computes, in the same cycles: ``BitVertGrid`` has :class:`~hw.array.grid.PEGrid`'s
constructor, attributes, ports and timing (module docstring of :mod:`hw.array.grid`), and a
:class:`~hw.array.layer.LayerEngine` built with ``grid_class=BitVertGrid`` gives the same outputs in the
same cycles as one with a ``PEGrid`` of BitVertPEs. ``make_pe()`` must make a ``BitVertPE``; one is
made, the prototype ``pe`` whose payload layouts and codec the grid takes (it is not elaborated).
"""

from __future__ import annotations

from amaranth.hdl import Module

from hw.array.grid import LockStepGrid
from hw.bitvert.act_sums import BitVertActSums
from hw.bitvert.datapath import BitVertDatapath, drive_datapath
from hw.bitvert.pe import BitVertPE
from hw.bitvert.scheduler import BBSScheduler
from hw.pe import SerialSequencer

__all__ = ["BitVertGrid"]


class BitVertGrid(LockStepGrid):
    """``rows x cols`` BitVert datapaths with one scheduler and sequencer per row and one activation-sum
    unit per column, for BitVertPEs made by ``make_pe()`` (module docstring; ports as
    :class:`~hw.array.grid.PEGrid`'s)."""

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

        sums = []
        for c in range(self.cols):
            m.submodules[f"act_sums_c{c}"] = unit = BitVertActSums(cfg)
            m.d.comb += [unit.acts.eq(acts[c]), unit.load.eq(take)]
            sums.append(unit)

        outputs = []
        for r in range(self.rows):
            row = []
            for c in range(self.cols):
                m.submodules[f"datapath_r{r}c{c}"] = dp = BitVertDatapath(cfg)
                drive_datapath(m, dp, acts=acts[c], scheduler=schedulers[r], sequencer=sequencers[r],
                               sums=sums[c])
                row.append((sequencers[r].out_valid, dp.result))
            outputs.append(row)
        self.accumulate(m, outputs)
        return m
