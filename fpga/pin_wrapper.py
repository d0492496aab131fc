"""Pin wrapper: put a PE with hundreds of I/O bits on a small FPGA package for place and route.

A PE's input payload (weights and activations) is far wider than the pins of an iCE40 UP5K (SG48
package: 39 I/O). For Fmax and utilisation we wrap it:

* the payload comes from a shift register loaded one bit per cycle from pin ``sdata`` (``sshift``
  enables the shift), so every payload bit is a flip-flop output, as it would be in an array;
* ``i.valid`` and ``o.ready`` come from pins;
* every output bit (result and cycle counter) is XOR-reduced into one registered pin ``sresult`` , so no
  output bit can be optimised away and the output path ends in a flip-flop; ``o.valid`` and ``i.ready``
  go to pins.

Register-to-register paths inside the PE are therefore what limits Fmax, not pad delays. The wrapper
costs ``payload_width`` flip-flops (plus a few LUTs for the XOR tree), which the report lists separately.
"""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib.wiring import Flow, In, Out

from hw.base import Component

__all__ = ["PinWrapper", "BlockPinWrapper"]


def _shift_register(m, width: int, sdata, sshift) -> Signal:
    """The ``width``-bit register loaded one bit per cycle from pin ``sdata`` while ``sshift``."""
    shreg = Signal(width)
    with m.If(sshift):
        m.d.sync += shreg.eq((shreg << 1) | sdata)
    return shreg


class PinWrapper(Component):
    """Wrap a streaming PE (``i``/``o``/``clear``/``cycles``) into six pins."""

    sdata: In(1)
    sshift: In(1)
    in_valid: In(1)
    out_ready: In(1)
    clear: In(1)
    in_ready: Out(1)
    out_valid: Out(1)
    sresult: Out(1)

    def __init__(self, pe):
        self.pe = pe
        super().__init__()

    @property
    def payload_width(self) -> int:
        return len(Value.cast(self.pe.i.payload))

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = self.pe
        m.d.comb += [
            pe.i.payload.eq(_shift_register(m, self.payload_width, self.sdata, self.sshift)),
            pe.i.valid.eq(self.in_valid),
            pe.o.ready.eq(self.out_ready),
            pe.clear.eq(self.clear),
            self.in_ready.eq(pe.i.ready),
            self.out_valid.eq(pe.o.valid),
        ]
        result_bits = Value.cast(pe.o.payload)
        flag = getattr(pe, "weight_error", None)          # status output of the EBSP / Bit-balance PEs
        m.d.sync += self.sresult.eq(result_bits.xor() ^ pe.cycles.xor() ^ (flag if flag is not None else 0))
        return m


class BlockPinWrapper(Component):
    """Wrap any component with plain ports (a block such as :class:`hw.bitlet.mac.BitletMAC`) the same
    way: every input bit is a flip-flop of the one-pin shift register, every output bit goes into the
    registered XOR pin ``sresult``."""

    sdata: In(1)
    sshift: In(1)
    sresult: Out(1)

    def __init__(self, block):
        self.block = block
        super().__init__()

    def _ports(self, flow):
        return [Value.cast(v) for _, member, v in self.block.signature.flatten(self.block)
                if member.flow == flow]

    @property
    def payload_width(self) -> int:
        return sum(len(v) for v in self._ports(Flow.In))

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = self.block
        inputs = Cat(*self._ports(Flow.In))
        m.d.comb += inputs.eq(_shift_register(m, len(inputs), self.sdata, self.sshift))
        m.d.sync += self.sresult.eq(Cat(*self._ports(Flow.Out)).xor())
        return m
