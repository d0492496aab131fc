"""BitVert activation sums: the sub-group and pass sums of one pass's activations, registered at load.

docs/bbs.md (BitVert PE; the shared array). An inverted sub-column's contribution is the sub-group's
activation sum minus the lanes' sum (Eq. 3), and the BBS constant multiplies the pass's activation sum,
so the datapath (:class:`~hw.bitvert.datapath.BitVertDatapath`) needs, for the pass it executes, ``S =
pe_length // subgroup`` sub-group sums (``Gs`` activations each) and their total. They depend on the
activations only: a :class:`~hw.bitvert.pe.BitVertPE` has one unit, the shared array
(:class:`~hw.array.bitvert_grid.BitVertGrid`) one per PE column, whose PEs all see the same activations.

Built from a :class:`golden.bbs.BBSConfig`. Ports:

``acts`` : ``In(ArrayLayout(signed(8), pe_length))``
    The offered pass's activations.
``load`` : ``In(1)``
    The pass is accepted this cycle: register its sums.
``sub_sums`` : ``Out(signed(config.subgroup_sum_width)).array(S)``
    ``sum(acts[s*Gs : (s+1)*Gs])`` of the pass loaded last (registers).
``pass_sum`` : ``Out(signed(config.pass_sum_width))``
    ``sum(acts)`` of the pass loaded last (a register).

Latency: the sums of a pass offered in cycle ``t`` with ``load`` are on the outputs from cycle ``t + 1``
and stay until the next ``load``; one pass per cycle. ``S`` adder trees of ``Gs`` inputs and one of
``S`` inputs (the sub-group sums), combinational before the registers.

Choice: the sums are computed from the offered activations and registered with the pass at load.
"""

from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.bbs import BBSConfig
from golden.bitvert import ACT_BITS
from hw.base import Component
from hw.blocks.adder_tree import AdderTree
from hw.pe import check_config

__all__ = ["BitVertActSums"]


class BitVertActSums(Component):
    """Sub-group and pass activation sums of one pass, registered at ``load`` (module docstring).
    No hardware limit beyond ``BBSConfig``'s."""

    config_class = BBSConfig
    hw_limits = {}

    def __init__(self, config: BBSConfig):
        self.config = cfg = check_config(type(self), config)
        self.subgroups = cfg.pe_length // cfg.subgroup
        super().__init__({
            "acts": In(data.ArrayLayout(signed(ACT_BITS), cfg.pe_length)),
            "load": In(1),
            "sub_sums": Out(signed(cfg.subgroup_sum_width)).array(self.subgroups),
            "pass_sum": Out(signed(cfg.pass_sum_width)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        gs, S = cfg.subgroup, self.subgroups
        sub_now = []
        for s in range(S):
            m.submodules[f"asum{s}"] = tree = AdderTree(gs, ACT_BITS)
            m.d.comb += [tree.x[i].eq(self.acts[s * gs + i]) for i in range(gs)]
            sub_now.append(tree.sum)
        m.submodules.pass_asum_tree = pass_tree = AdderTree(S, cfg.subgroup_sum_width)
        m.d.comb += [pass_tree.x[s].eq(sub_now[s]) for s in range(S)]
        with m.If(self.load):
            m.d.sync += [self.sub_sums[s].eq(sub_now[s]) for s in range(S)]
            m.d.sync += self.pass_sum.eq(pass_tree.sum)
        return m
