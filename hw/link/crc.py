"""CRC-16/CCITT-FALSE of the link's frames, one byte per cycle (docs/link.md, "Frames").

:func:`crc16_update` is the combinational expression of one byte's update, the eight bit steps of the
polynomial 0x1021 (most significant bit first, no reflection) unrolled into one XOR per CRC bit; starting from ``0xFFFF`` and
fed every byte of ``data`` it gives :func:`golden.link.crc16` of ``data``. The frame receiver and
transmitter (:mod:`hw.link.frame`) hold the CRC in a register and update it with this expression.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Value
from amaranth.lib.wiring import In, Out

from hw.base import Component

__all__ = ["crc16_update", "CRC16", "POLY", "INIT"]

#: the generator polynomial (x^16 + x^12 + x^5 + 1, the x^16 term implicit)
POLY = 0x1021
#: the CRC register before the first byte
INIT = 0xFFFF


def _update_matrix() -> list:
    """For each bit of the updated CRC, the bits it is the XOR of: indices 0..15 of the CRC before,
    16..23 of the byte. The eight bit steps are unrolled here over GF(2) (a bit is a set of inputs,
    XOR is the symmetric difference), so the expression has one flat XOR per output bit: unrolled
    as nested Amaranth expressions instead, every step would reference the one before several times
    and the expression would grow exponentially."""
    c = [{i} for i in range(16)]
    for i in range(8):                                 # the byte enters at the top, MSB first
        c[8 + i] = c[8 + i] ^ {16 + i}
    for _ in range(8):
        top = c[15]
        # shift left; the bit shifted out, if set, subtracts (XORs) the polynomial
        c = [set()] + c[:15]
        c = [bit ^ top if POLY >> k & 1 else bit for k, bit in enumerate(c)]
    return [sorted(bit) for bit in c]


_MATRIX = _update_matrix()


def crc16_update(crc, byte) -> Value:
    """The 16-bit CRC after ``byte`` (8 bits) given the CRC ``crc`` (16 bits) before it: combinational,
    one XOR of up to a dozen input bits per output bit."""
    crc, byte = Value.cast(crc), Value.cast(byte)
    if len(crc) != 16 or len(byte) != 8:
        raise ValueError(f"crc must be 16 bits and byte 8 bits wide, got {len(crc)} and {len(byte)}")
    bits = Cat(crc, byte)
    return Cat(*(Cat(*(bits[i] for i in taps)).xor() for taps in _MATRIX))


class CRC16(Component):
    """One byte's CRC-16/CCITT-FALSE update, combinational (no latency).

    Ports
    -----
    ``crc`` : ``In(16)``
        The CRC before the byte (``INIT`` = 0xFFFF before a frame's first byte).
    ``byte`` : ``In(8)``
    ``next`` : ``Out(16)``
        :func:`crc16_update` of the two.
    """

    def __init__(self):
        super().__init__({"crc": In(16), "byte": In(8), "next": Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.next.eq(crc16_update(self.crc, self.byte))
        return m
