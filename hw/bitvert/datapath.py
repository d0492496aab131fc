"""BitVert datapath: a BitVert PE without its control, one BBS column per cycle into the accumulator.

docs/bbs.md (BitVert PE; the shared array). What a PE of the BitVert array holds for itself: the
activation registers, per sub-group ``Gs/2`` one-hot AND-OR window muxes, a lane adder tree and one
``asum - L`` subtractor with a multiplexer (Eq. 2/3), the column adder tree over the sub-groups, the sign
column's negation (once, of the column sum), one barrel shifter ``<< col_idx``, the constant term (one
digit in ``-4..7`` times the pass's activation sum per cycle, ``<< 3`` for the high digit), the accumulator
``acc <- (is_msb ? 0 : acc) + constant term + column term`` and the result register. The column
decisions come from a :class:`~hw.bitvert.scheduler.BBSScheduler`, the step control from a
:class:`~hw.pe.SerialSequencer`, the activation sums from a :class:`~hw.bitvert.act_sums.BitVertActSums`:
one each in a :class:`~hw.bitvert.pe.BitVertPE`, one per PE row (scheduler, sequencer) or column (sums)
in the shared array :class:`~hw.array.bitvert_grid.BitVertGrid`. :func:`drive_datapath` wires them.

Built from a :class:`golden.bbs.BBSConfig` (``S = pe_length // subgroup``, ``half = subgroup // 2``).
Ports:

``acts`` : ``In(ArrayLayout(signed(8), pe_length))``; ``load`` : ``In(1)``
    The offered pass's activations, registered when ``load`` (the sequencer's).
``active``, ``last`` : ``In(1)``
    The sequencer's: a step executes (the accumulator takes ``acc_next``); the pass's last step (the
    result register takes ``acc_next``).
``invert`` : ``In(1).array(S)``; ``sel_onehot`` : ``In(half + 1).array(S, half)``; ``col_idx``;
``is_msb``; ``const_digit``; ``const_shift``
    The scheduler's outputs of the current column (:class:`~hw.bitvert.scheduler.BBSScheduler`).
``sub_sums`` : ``In(signed(subgroup_sum_width)).array(S)``; ``pass_sum`` : ``In(signed(pass_sum_width))``
    The registered activation sums of the pass being executed.
``result`` : ``Out(signed(config.acc_width))``
    The result register: the pass's dot product from the cycle after its last step.

Attribute ``acc`` (``signed(pe_acc_width(config))``): the accumulator register, not a port.

Timing: combinational from the inputs to ``acc_next``; ``acc`` and ``result`` are the only registers
besides the activations. With the controls of a scheduler and sequencer loaded in cycle ``t``, step
``k`` (``0 <= k < n``) executes in cycle ``t + 1 + k`` and ``result`` holds the pass from ``t + n + 1``.

Choice: no register between the shifter and the accumulator; ShiftAccumulator is not reused.
Choice: the sign column's negation is applied once to the column sum, not per sub-group (fewer LUTs:
``fpga.area_breakdown``, docs/array.md "Where the area goes").
Choice: accumulator ``pe_acc_width(config)`` bits, result ``config.acc_width`` bits.

The array variant, ``BitVertDatapath(config, tile_acc_width=W, acts_registered=True)`` (what
:class:`~hw.array.bitvert_grid.BitVertGrid` builds; docs/bbs.md, the shared array). ``tile_acc_width=W``
fuses the accumulator with the array's per-PE output accumulator: ``acc`` is ``signed(W)``, is not
cleared at a pass's first column but keeps accumulating across the passes of a tile,
``acc <- acc + (constant term + column term)`` (the two terms added first, exactly, in
``max(their widths) + 1`` bits, then one ``W``-bit adder), and is zeroed by a new port ``clear`` :
``In(1)`` (over ``active``); there is no result register and no ``result`` port (``last`` is unused).
After the last step of a pass ``acc`` is the sum of the passes since ``clear``, modulo ``2**W``: the
same bits as ``W``-bit accumulation of the passes' exact results, whatever ``W`` (a pass's value is
exact in ``config.acc_width`` bits, and the partial sums within a pass are congruent modulo ``2**W``).
While a pass executes, ``acc`` holds a partial sum; with the pass loaded in cycle ``t``, ``acc``
includes all its ``n`` steps from cycle ``t + n + 1`` (when the result register would hold it). ``acts_registered=True`` takes ``acts`` as the
already registered activations of the pass being executed (the array registers them once per column)
and drops the activation registers and the use of ``load``. The defaults are the BitVertPE's datapath.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.bbs import BBSConfig
from golden.bits import product_range, signed_width, twos_range, unsigned_width
from golden.bitvert import ACT_BITS, DIGIT_BITS, digit_range, pe_acc_width
from golden.check import check_bool, check_int
from hw.base import Component
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.pe import check_config

__all__ = ["BitVertDatapath", "drive_datapath"]


class BitVertDatapath(Component):
    """The BitVert PE's datapath for a :class:`~golden.bbs.BBSConfig` (module docstring for the ports).

    Hardware limits: none beyond ``BBSConfig``'s (the scheduler that drives it has ``subgroup <= 16``).
    """

    config_class = BBSConfig
    hw_limits = {}

    def __init__(self, config: BBSConfig, tile_acc_width: int | None = None, acts_registered: bool = False):
        self.config = cfg = check_config(type(self), config)
        if tile_acc_width is not None:
            tile_acc_width = check_int("tile_acc_width", tile_acc_width, lo=2, hi=64)
        #: None: the PE's per-pass accumulator and result register; an int: the fused tile accumulator
        self.tile_acc_width = tile_acc_width
        self.acts_registered = check_bool("acts_registered", acts_registered)
        S, half = cfg.pe_length // cfg.subgroup, cfg.subgroup // 2
        self.subgroups = S
        ports = {
            "acts": In(data.ArrayLayout(signed(ACT_BITS), cfg.pe_length)),
            "load": In(1),
            "active": In(1),
            "last": In(1),
            "invert": In(1).array(S),
            "sel_onehot": In(half + 1).array(S, half),
            "col_idx": In(unsigned_width(cfg.bits - 1)),
            "is_msb": In(1),
            "const_digit": In(signed(DIGIT_BITS + 1)),
            "const_shift": In(1),
            "sub_sums": In(signed(cfg.subgroup_sum_width)).array(S),
            "pass_sum": In(signed(cfg.pass_sum_width)),
        }
        if tile_acc_width is None:
            ports["result"] = Out(signed(cfg.acc_width))
        else:
            ports["clear"] = In(1)
        super().__init__(ports)
        acc_width = pe_acc_width(cfg) if tile_acc_width is None else tile_acc_width
        self.acc = Signal(signed(acc_width), name="acc")    # not a port: the PE tests (and the array) read it

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B, n, gs = cfg.bits, cfg.pe_length, cfg.subgroup
        half, S = gs // 2, self.subgroups
        if self.acts_registered:
            acts = [self.acts[i] for i in range(n)]
        else:
            acts = [Signal(signed(ACT_BITS), name=f"a{i}") for i in range(n)]
            with m.If(self.load):
                m.d.sync += [acts[i].eq(self.acts[i]) for i in range(n)]

        # per sub-group: window muxes, adder tree and the Eq. 2 / Eq. 3 select u = invert ? asum - L : L,
        # one subtractor and a multiplexer per sub-group; the sign column's negation, the same for every
        # sub-group, is applied once to their sum: (+/-) sum_s u_s
        bbs_sums = []
        sw = cfg.subgroup_sum_width + 1
        for s in range(S):
            base = s * gs
            lanes_tree = AdderTree(half, ACT_BITS)
            m.submodules[f"lanes{s}"] = lanes_tree
            for j in range(half):
                lane = Signal(signed(ACT_BITS), name=f"sub{s}_lane{j}")
                oh = self.sel_onehot[s][j]
                picks = [acts[base + j + k] & oh[k].replicate(ACT_BITS) for k in range(half + 1)]
                m.d.comb += lane.eq(reduce(operator.or_, picks))
                m.d.comb += lanes_tree.x[j].eq(lane)
            lsum = Signal(signed(sw), name=f"sub{s}_lanes")
            bbs = Signal(signed(sw), name=f"sub{s}_bbs_term")
            m.d.comb += [
                lsum.eq(lanes_tree.sum),
                bbs.eq(Mux(self.invert[s], self.sub_sums[s] - lsum, lsum)),
            ]
            bbs_sums.append(bbs)

        m.submodules.column_tree = col_tree = AdderTree(S, sw)
        m.d.comb += [col_tree.x[s].eq(bbs_sums[s]) for s in range(S)]
        # each u_s is the sum of some of its sub-group's activations, so sum_s u_s fits pass_sum_width bits
        # and its negation pass_sum_width + 1
        term = Signal(signed(cfg.pass_sum_width + 1))
        m.d.comb += term.eq(Mux(self.is_msb, -col_tree.sum, col_tree.sum))

        # the single shifter << col_idx
        m.submodules.shifter = sh = BarrelShifter(cfg.pass_sum_width + 1, B - 1, "left", arithmetic=True)
        m.d.comb += [sh.data.eq(term), sh.amount.eq(self.col_idx)]
        col_term = sh.result.as_signed()

        # time-multiplexed BBS constant: one digit x sum(A) per cycle, << 3 for the high digit
        prod_lo, prod_hi = product_range(digit_range(), twos_range(cfg.pass_sum_width))
        const_prod = Signal(signed(signed_width(prod_lo, prod_hi)))
        const_term = Signal(signed(len(const_prod) + DIGIT_BITS))
        m.d.comb += [
            const_prod.eq(self.const_digit * self.pass_sum),
            const_term.eq(Mux(self.const_shift, const_prod << DIGIT_BITS, const_prod)),
        ]

        acc = self.acc
        if self.tile_acc_width is not None:
            # keep: Yosys would otherwise merge the constant term's product and both additions into one
            # tile_acc_width-bit multiply-add (iCE40: 721 LUT4 instead of 675 for this datapath alone)
            step = Signal(signed(max(len(const_term), len(col_term)) + 1), attrs={"keep": 1})
            m.d.comb += step.eq(const_term + col_term)
            with m.If(self.clear):
                m.d.sync += acc.eq(0)
            with m.Elif(self.active):
                m.d.sync += acc.eq(acc + step)
            return m
        acc_next = Signal.like(acc)
        acc_base = Signal.like(acc)          # may wrap; acc_next (modulo 2**len(acc)) is exact
        m.d.comb += [acc_base.eq(Mux(self.is_msb, 0, acc) + const_term), acc_next.eq(acc_base + col_term)]
        with m.If(self.active):
            m.d.sync += acc.eq(acc_next)
        with m.If(self.last):
            m.d.sync += self.result.eq(acc_next)
        return m


def drive_datapath(m: Module, dp: BitVertDatapath, *, acts, scheduler, sequencer, sums) -> None:
    """Drive ``dp``'s inputs in ``m``: ``acts`` (the offered pass's activations, or with
    ``acts_registered`` the registered ones), a :class:`~hw.bitvert.scheduler.BBSScheduler`'s column
    outputs, a :class:`~hw.pe.SerialSequencer`'s ``load``/``active``/``last`` and a
    :class:`~hw.bitvert.act_sums.BitVertActSums`'s registered sums (not ``clear``, the array variant's)."""
    S, half = dp.subgroups, dp.config.subgroup // 2
    m.d.comb += [
        dp.acts.eq(acts),
        dp.load.eq(sequencer.load), dp.active.eq(sequencer.active), dp.last.eq(sequencer.last),
        dp.col_idx.eq(scheduler.col_idx), dp.is_msb.eq(scheduler.is_msb),
        dp.const_digit.eq(scheduler.const_digit), dp.const_shift.eq(scheduler.const_shift),
        dp.pass_sum.eq(sums.pass_sum),
    ]
    for s in range(S):
        m.d.comb += [dp.invert[s].eq(scheduler.invert[s]), dp.sub_sums[s].eq(sums.sub_sums[s])]
        m.d.comb += [dp.sel_onehot[s][j].eq(scheduler.sel_onehot[s][j]) for j in range(half)]
