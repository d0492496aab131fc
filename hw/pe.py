"""The streaming contract shared by every processing element, and the bit-serial step sequencer.

Every PE (BitVert, Stripes, Pragmatic, parallel MAC, and later EBSP, Bit-balance, Bitlet) has the same
ports, so an array or a board top can take any of them:

``i`` : ``In(stream.Signature(StructLayout({"weights": <PE-specific>, "acts": ArrayLayout(signed(a), lanes)})))``
    One transaction = one weight group (encoded in the PE's own format) and its activation vector.
``o`` : ``Out(stream.Signature(signed(result_width)))``
    One transaction per input transaction, in order: the exact dot product of that group. The output
    holds its value while ``o.valid`` and not ``o.ready`` (back-pressure); the PE then stalls on its last
    step and stops accepting input, so nothing is lost or duplicated.
``clear`` : ``In(1)``
    Synchronous flush: the group in flight and an unconsumed result are dropped, the cycle counter is
    zeroed; ``i.ready`` is low during ``clear``. The reset ``rst`` does the same.
``cycles`` : ``Out(32)``
    Number of compute steps performed since the last ``clear``/reset (one per cycle in which the datapath
    advanced; stalls do not count). The per-group delta is what the cycle model predicts.

Timing of a bit-serial PE built on :class:`SerialSequencer`: the group is registered in the cycle it is
accepted; its ``n`` steps execute in the following ``n`` cycles; the result is written to the output
register in the last step, and the next group is accepted in that same cycle. So in steady state (input
always valid, output always ready) a group takes exactly ``n`` cycles, and an output appears one cycle
after its last step: latency ``n + 1`` cycles from acceptance to ``o.valid``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from golden.bits import unsigned_width
from golden.check import check_int
from hw.base import Component

__all__ = ["pe_ports", "input_layout", "SerialSequencer", "CYCLE_COUNTER_WIDTH"]

CYCLE_COUNTER_WIDTH = 32


def input_layout(weights_shape, *, lanes: int, act_bits: int) -> data.StructLayout:
    """The payload layout of a PE's input stream."""
    return data.StructLayout({"weights": weights_shape,
                              "acts": data.ArrayLayout(signed(act_bits), lanes)})


def pe_ports(weights_shape, *, lanes: int, act_bits: int, result_width: int) -> dict:
    """The signature members every PE has (see the module docstring)."""
    return {
        "i": In(stream.Signature(input_layout(weights_shape, lanes=lanes, act_bits=act_bits))),
        "o": Out(stream.Signature(signed(result_width))),
        "clear": In(1),
        "cycles": Out(CYCLE_COUNTER_WIDTH),
    }


class SerialSequencer(Component):
    """Handshake and step control of a bit-serial PE: ``n`` steps per group (``1 <= n <= max_steps``).

    Attributes
    ----------
    in_valid, out_ready, clear : In(1)
        From the PE's ``i.valid``, ``o.ready`` and ``clear``.
    n_steps : In(unsigned_width(max_steps))
        Steps of the group offered on the input (sampled when it is accepted; 0 is treated as 1).
    in_ready : Out(1)
        To ``i.ready``.
    load : Out(1)
        The offered group is accepted this cycle: register it.
    active : Out(1)
        A step executes this cycle (the datapath advances).
    step : Out(unsigned_width(max_steps - 1))
        Index of the step executing (0 = first).
    last : Out(1)
        This is the group's last step: the datapath writes the result register this cycle.
    out_valid : Out(1)
        To ``o.valid``.
    cycles : Out(32)
        Steps executed since clear/reset.
    """

    def __init__(self, max_steps: int):
        self.max_steps = check_int("max_steps", max_steps, lo=1, hi=1 << 16)
        super().__init__({
            "in_valid": In(1), "out_ready": In(1), "clear": In(1),
            "n_steps": In(unsigned_width(self.max_steps)),
            "in_ready": Out(1), "load": Out(1), "active": Out(1),
            "step": Out(unsigned_width(max(self.max_steps - 1, 1))),
            "last": Out(1), "out_valid": Out(1), "cycles": Out(CYCLE_COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        busy = Signal()
        n = Signal.like(self.n_steps)
        at_end = Signal()
        out_free = Signal()
        m.d.comb += [
            at_end.eq(busy & (self.step + 1 >= n)),
            out_free.eq(~self.out_valid | self.out_ready),
            self.last.eq(at_end & out_free),
            self.active.eq(busy & (~at_end | out_free)),
            self.in_ready.eq(~self.clear & (~busy | (at_end & out_free))),
            self.load.eq(self.in_valid & self.in_ready),
        ]
        with m.If(self.out_valid & self.out_ready):
            m.d.sync += self.out_valid.eq(0)
        with m.If(self.active):
            m.d.sync += [self.step.eq(self.step + 1), self.cycles.eq(self.cycles + 1)]
        with m.If(self.last):
            m.d.sync += [busy.eq(0), self.out_valid.eq(1)]
        with m.If(self.load):
            m.d.sync += [busy.eq(1), self.step.eq(0), n.eq(self.n_steps | (self.n_steps == 0))]
        with m.If(self.clear):
            m.d.sync += [busy.eq(0), self.out_valid.eq(0), self.cycles.eq(0), self.step.eq(0)]
        return m
