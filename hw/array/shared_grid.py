"""A lock-step grid whose PE rows share the weight side: one row unit and sequencer per row, one
activation register set or column unit per column, a datapath per PE (docs/array.md, sharing).

In the output-stationary grid (:mod:`hw.array.grid`) the PEs of row ``r`` take the same weights, so the
weight side of a PE (Pragmatic's offsets: magnitude registers, popcounts, max tree, leading-one
detectors; Bit-balance's slot registers; EBSP's weight registers and digit decode) would compute the
same terms in every PE of the row, and the PEs of column ``c`` would hold the same activation registers
(and, for EBSP, build the same LUTs of activation multiples). This grid builds them once:

* per row: the PE's ``row_unit()`` (:class:`~hw.baselines.pragmatic.PragmaticOffsets`,
  :class:`~hw.bitbalance.pe.BitBalancePositions`, :class:`~hw.ebsp.pe.EBSPWeights`) and a
  :class:`~hw.pe.SerialSequencer`, their terms and step control broadcast to the row's datapaths;
* per column: the pass's activation registers, loaded when a pass is issued (every row's sequencer loads
  in that cycle, lock step); or, for a PE with ``column_unit(read_ports)``
  (:class:`~hw.ebsp.pe.EBSPActs`), that unit with one read port per row: it registers the activations
  when the pass is issued and gives read port ``r`` the values of row ``r``'s terms;
* per PE: the PE's ``datapath(acc_width)``, the array variant of its datapath
  (:class:`~hw.blocks.shift_add_datapath.ShiftAddDatapath`, :class:`~hw.ebsp.pe.EBSPDatapath`), whose
  accumulator *is* the PE's output accumulator (``acc_width`` bits, every step of every pass of the
  tile, zeroed by ``clear``): no per-pass result register and no second adder.

A PE of the grid computes the steps its whole PE computes, in the same cycles, so ``RowSharedGrid`` has
:class:`~hw.array.grid.PEGrid`'s constructor, attributes and ports, and ``issue.ready`` and ``tile_done``
equal a PEGrid's of the same PEs in every cycle (the same delivery counters of the sequencers'
results); ``acc`` equals the PEGrid's under the layer engine's protocol, as
:class:`~hw.array.bitvert_grid.BitVertGrid`'s does (its docstring: ``clear`` only with no pass in
flight, ``acc`` read once ``tile_done`` is high until the next pass). So a
:class:`~hw.array.layer.LayerEngine` built with ``grid_class=RowSharedGrid`` gives the same outputs in the
same cycles as one with a ``PEGrid``.

``make_pe()`` must make a PE with ``row_unit()`` and ``datapath(tile_acc_width)`` (a row unit with ports
``weights``, ``load``, ``active``, ``n_steps``, ``terms``; a datapath with ``terms``, ``active``,
``clear``, ``acc`` and either ``acts`` or, with a column unit, ``values``), and optionally
``column_unit(read_ports)`` (ports ``acts``, ``load``, ``terms`` and ``values``, arrays of
``read_ports``); one is made, the prototype ``pe`` whose payload layouts and codec the grid takes (it is
not elaborated). A PE whose pass gives more than one result (EBSP's ``lut_sharing > 1``) is refused.
Latency as a PEGrid's of those PEs.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal

from hw.array.grid import LockStepGrid
from hw.pe import SerialSequencer

__all__ = ["RowSharedGrid"]


class RowSharedGrid(LockStepGrid):
    """``rows x cols`` datapaths with one row unit and sequencer per row and one activation register set
    or column unit per column, for PEs made by ``make_pe()`` that split into ``row_unit()``,
    ``datapath()`` and optionally ``column_unit()`` (module docstring; ports as
    :class:`~hw.array.grid.PEGrid`'s)."""

    def __init__(self, make_pe, rows: int, cols: int, acc_width: int = 32):
        super().__init__(make_pe, rows, cols, acc_width)
        if not (callable(getattr(self.pe, "row_unit", None)) and callable(getattr(self.pe, "datapath", None))):
            raise TypeError(f"make_pe must make a PE with row_unit() and datapath() for a RowSharedGrid "
                            f"(PragmaticPE, BitBalancePE, EBSPPE), got {type(self.pe).__name__}")
        sharing = getattr(self.pe.config, "lut_sharing", 1)
        if sharing != 1:
            raise ValueError(f"lut_sharing must be 1 for a RowSharedGrid (one result per PE and pass), "
                             f"got {sharing}")

    def elaborate(self, platform):
        m = Module()
        weights, acts = self.issue.payload.weights, self.issue.payload.acts
        units, sequencers = [], []
        for r in range(self.rows):
            unit = self.pe.row_unit()
            seq = SerialSequencer(self.pe.max_steps)
            m.submodules[f"row_unit_r{r}"] = unit
            m.submodules[f"seq_r{r}"] = seq
            m.d.comb += [unit.weights.eq(weights[r]), unit.load.eq(seq.load), unit.active.eq(seq.active),
                         seq.n_steps.eq(unit.n_steps), seq.out_ready.eq(1), seq.clear.eq(0)]
            units.append(unit)
            sequencers.append(seq)
        take = self.issue_all(m, [seq.in_ready for seq in sequencers])
        m.d.comb += [seq.in_valid.eq(take) for seq in sequencers]

        column_unit = getattr(self.pe, "column_unit", None)
        col_acts, col_units = [], []
        for c in range(self.cols):                 # loaded with every row's sequencer (take = each load)
            if column_unit is None:
                reg = Signal.like(acts[c], name=f"acts_c{c}")
                with m.If(take):
                    m.d.sync += reg.eq(acts[c])
                col_acts.append(reg)
            else:
                unit = column_unit(self.rows)
                m.submodules[f"col_unit_c{c}"] = unit
                m.d.comb += [unit.acts.eq(acts[c]), unit.load.eq(take)]
                m.d.comb += [unit.terms[r].eq(units[r].terms) for r in range(self.rows)]
                col_units.append(unit)

        accs = []
        for r in range(self.rows):
            row = []
            for c in range(self.cols):
                dp = self.pe.datapath(self.acc_width)
                m.submodules[f"datapath_r{r}c{c}"] = dp
                m.d.comb += [dp.terms.eq(units[r].terms), dp.active.eq(sequencers[r].active),
                             dp.clear.eq(self.clear)]
                if column_unit is None:
                    m.d.comb += dp.acts.eq(col_acts[c])
                else:
                    m.d.comb += dp.values.eq(col_units[c].values[r])
                row.append(dp.acc)
            accs.append(row)

        # delivery counters as LockStepGrid.accumulate's: per row, the sequencer's results since clear
        self.deliveries(m, [seq.out_valid for seq in sequencers])
        self.read_out(m, accs)
        return m
