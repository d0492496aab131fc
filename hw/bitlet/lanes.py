"""The lane schedulers of a Bitlet pass and their step control: the weight side of a Bitlet PE
(docs/bitlet.md; docs/array.md, Bitlet in the engine).

One :class:`~hw.bitlet.lane.BitletLane` per magnitude bit ``g`` (``n_channel``) holds bit ``g`` of every
pair's weight (its column) and picks one essential bit per step; the pass ends in the step in which every
lane is done. Nothing here depends on the activations, so the PE's compute stage
(:class:`hw.bitlet.stages.BitletCompute`) uses one, and the Bitlet array
(:class:`hw.array.bitlet_grid.BitletGrid`) one per PE row, its selects and signs broadcast to the row's
MACs (:class:`hw.bitlet.mac.BitletMAC`).

Ports
-----
``columns`` : ``In(n_total).array(n_channel)``; ``signs`` : ``In(n_total)``; ``lane_mask`` : ``In(n_channel)``
    The pass offered: bit ``i`` of ``columns[g]`` is bit ``g`` of pair ``i``'s magnitude, bit ``i`` of
    ``signs`` its weight sign; lane ``g`` runs when bit ``g`` of ``lane_mask`` is set. Sampled at ``load``.
``load`` : ``In(1)``
    The pass is taken (only when ``ready``): the lanes register their first decisions.
``hold`` : ``In(1)``
    No step this cycle (the consumer cannot take the pass's last step).
``clear`` : ``In(1)``
    Drop the pass (wins over ``load``).
``ready`` : ``Out(1)``
    A pass can be loaded this cycle: idle, or in the last step of the pass held.
``active`` : ``Out(1)``; ``first``, ``last`` : ``Out(1)``
    A step executes this cycle; it is the pass's first; it is the pass's last (every lane done).
``sel`` : ``Out(n_total).array(n_channel)``; ``neg`` : ``Out(1).array(n_channel)``
    The step's decision of lane ``g``: the one-hot pair (0: a bubble) and its weight sign (registers).

Throughput: a pass of ``max(1, golden.bitlet.pass_cycles)`` steps takes that many cycles when nothing
holds; the next pass can load in the cycle of its last step. Latency: the first step executes in the
cycle after ``load``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from golden.bitlet import BitletConfig
from hw.base import Component
from hw.bitlet.lane import BitletLane

__all__ = ["BitletLanes"]


class BitletLanes(Component):
    """``n_channel`` check-window lane schedulers of ``n_total`` pairs and their step control, from a
    :class:`~golden.bitlet.BitletConfig` (ports: the module docstring)."""

    def __init__(self, config: BitletConfig):
        self.config = config
        n, nch = config.n_total, config.n_channel
        super().__init__({
            "columns": In(n).array(nch), "signs": In(n), "lane_mask": In(nch),
            "load": In(1), "hold": In(1), "clear": In(1),
            "ready": Out(1), "active": Out(1), "first": Out(1), "last": Out(1),
            "sel": Out(n).array(nch), "neg": Out(1).array(nch),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        busy = Signal()          # the lanes hold a pass that is not finished
        lanes = [BitletLane(cfg.n_total, cfg.n_check) for _ in range(cfg.n_channel)]
        for g, lane in enumerate(lanes):
            m.submodules[f"lane{g}"] = lane
        m.d.comb += [
            self.last.eq(busy & Cat(*[lane.done for lane in lanes]).all() & ~self.hold),
            self.active.eq(busy & ~self.hold),
            self.ready.eq(~busy | self.last),
        ]
        # the signs of the pass held; each lane registers its next decision a cycle ahead
        signs = Signal(cfg.n_total)
        with m.If(self.load):
            m.d.sync += signs.eq(self.signs)
        for g, lane in enumerate(lanes):
            m.d.comb += [
                lane.load.eq(self.load), lane.clear.eq(self.clear), lane.column.eq(self.columns[g]),
                lane.signs.eq(Mux(self.load, self.signs, signs)), lane.enable.eq(self.lane_mask[g]),
                lane.step.eq(self.active), self.sel[g].eq(lane.sel), self.neg[g].eq(lane.neg),
            ]
        with m.If(self.active):
            m.d.sync += self.first.eq(0)
        with m.If(self.last):
            m.d.sync += busy.eq(0)
        with m.If(self.load):
            m.d.sync += [busy.eq(1), self.first.eq(1)]
        with m.If(self.clear):
            m.d.sync += busy.eq(0)
        return m
