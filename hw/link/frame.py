"""The link's frame layer: the frame receiver and transmitter (docs/link.md, "Frames").

A frame is ``SYNC, cmd, seq, len, payload[len], crc_hi, crc_lo`` (:func:`golden.link.encode_frame`).
:class:`FrameRx` turns received bytes into frames, behaving event for event as the golden
:class:`golden.link.FrameReceiver`; :class:`FrameTx` turns a header and its payload bytes into the bytes
of a frame.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, memory, stream
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from golden.link import MAX_PAYLOAD, SYNC
from hw.base import Component
from hw.link.crc import INIT, crc16_update

__all__ = ["FrameRx", "FrameTx", "rx_frame_layout", "tx_header_layout"]


def rx_frame_layout() -> data.StructLayout:
    """What :class:`FrameRx` reports of a frame: its header and whether its CRC matched."""
    return data.StructLayout({"cmd": 8, "seq": 8, "len": 8, "ok": 1})


def tx_header_layout() -> data.StructLayout:
    """The header :class:`FrameTx` sends a frame with."""
    return data.StructLayout({"cmd": 8, "seq": 8, "len": 8})


class FrameRx(Component):
    """The frame receiver: hunts for ``SYNC``, reads the header, the payload (into a 256 x 8 buffer) and
    the CRC, and offers each complete frame, CRC matched or not.

    Mid-frame (from the byte after ``SYNC`` is awaited to the last CRC byte), idle cycles (``i.valid``
    low) are counted; the ``timeout + 1``-th consecutive one drops the partial frame: a byte that comes
    after exactly ``timeout`` idle cycles belongs to the frame, one that comes after ``timeout + 1`` or
    more is read as the start of a new hunt (:class:`golden.link.FrameReceiver`, the same rule).

    Parameters
    ----------
    timeout : int
        The most idle cycles allowed between two bytes of a frame, ``>= 1``.

    Ports
    -----
    ``i`` : ``In(stream.Signature(8))``
        Received bytes (from the receive FIFO). Ready in every cycle, except while a frame is offered
        and ``frame.ready`` is low.
    ``frame`` : ``Out(stream.Signature(rx_frame_layout()))``
        One transfer per complete frame: ``cmd``, ``seq``, ``len`` as received and ``ok`` (the CRC
        matched). With ``ok`` = 0 nothing of the frame may be used but its ``cmd`` and ``seq`` (for the
        ``NAK``): even ``len`` may be corrupted. Held until ``frame.ready``.
    ``payload_addr`` : ``In(8)``; ``payload_data`` : ``Out(8)``
        The payload buffer's read port, synchronous: ``payload_data`` holds, in cycle ``t + 1``, byte
        ``payload_addr`` (of cycle ``t``) of the frame's payload. The buffer is stable while the frame is
        offered and until it is taken; bytes past ``len`` are stale.
    ``timeout_event`` : ``Out(1)``
        High for one cycle when a partial frame is dropped: the cycle after its ``timeout + 1``-th
        consecutive idle cycle.

    Latency and throughput
    ----------------------
    A frame is offered (``frame.valid`` high) in the cycle after its last CRC byte is taken, latency 1.
    While a frame is offered, ``i.ready`` follows ``frame.ready``: in the cycle the frame is taken the
    receiver takes a byte too, so with ``frame.ready`` high frames are received back to back at one byte
    per cycle.
    """

    def __init__(self, timeout: int):
        self.timeout = check_int("timeout", timeout, lo=1)
        super().__init__({
            "i": In(stream.Signature(8)),
            "frame": Out(stream.Signature(rx_frame_layout())),
            "payload_addr": In(8),
            "payload_data": Out(8),
            "timeout_event": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.buf = buf = memory.Memory(shape=8, depth=MAX_PAYLOAD + 1, init=[])
        wr, rd = buf.write_port(), buf.read_port()
        m.d.comb += [rd.addr.eq(self.payload_addr), self.payload_data.eq(rd.data)]

        cmd, seq, length, crc_hi = Signal(8), Signal(8), Signal(8), Signal(8)
        ok = Signal()
        crc = Signal(16, init=INIT)
        count = Signal(8)                         # payload bytes so far
        idle = Signal(range(self.timeout + 1))    # consecutive idle cycles mid-frame
        byte = self.i.payload
        take = self.i.valid & self.i.ready
        f = self.frame
        m.d.comb += [f.payload.cmd.eq(cmd), f.payload.seq.eq(seq), f.payload.len.eq(length),
                     f.payload.ok.eq(ok), wr.addr.eq(count), wr.data.eq(byte)]
        m.d.sync += self.timeout_event.eq(0)
        next_crc = crc16_update(crc, byte)

        def hunt():
            with m.If(take & (byte == SYNC)):
                m.d.sync += crc.eq(INIT)
                m.next = "CMD"
            with m.Else():
                m.next = "HUNT"

        with m.FSM():
            with m.State("HUNT"):
                m.d.comb += self.i.ready.eq(1)
                hunt()
            with m.State("OFFER"):
                m.d.comb += [f.valid.eq(1), self.i.ready.eq(f.ready)]
                with m.If(f.ready):
                    hunt()                        # the frame is taken; the byte (if any) is hunted
            # mid-frame: always ready; a byte resets the idle count, an idle cycle counts
            for state, nxt in [("CMD", "SEQ"), ("SEQ", "LEN"), ("LEN", None), ("PAYLOAD", None),
                               ("CRC_HI", "CRC_LO"), ("CRC_LO", "OFFER")]:
                with m.State(state):
                    m.d.comb += self.i.ready.eq(1)
                    with m.If(self.i.valid):
                        m.d.sync += idle.eq(0)
                        if state in ("CMD", "SEQ", "LEN", "PAYLOAD"):
                            m.d.sync += crc.eq(next_crc)
                        if state == "CMD":
                            m.d.sync += cmd.eq(byte)
                        elif state == "SEQ":
                            m.d.sync += seq.eq(byte)
                        elif state == "LEN":
                            m.d.sync += [length.eq(byte), count.eq(0)]
                            with m.If(byte == 0):
                                m.next = "CRC_HI"
                            with m.Else():
                                m.next = "PAYLOAD"
                        elif state == "PAYLOAD":
                            m.d.comb += wr.en.eq(1)
                            m.d.sync += count.eq(count + 1)
                            with m.If(count == length - 1):
                                m.next = "CRC_HI"
                        elif state == "CRC_HI":
                            m.d.sync += crc_hi.eq(byte)
                        else:
                            m.d.sync += ok.eq(crc == Cat(byte, crc_hi))
                        if nxt is not None:
                            m.next = nxt
                    with m.Elif(idle == self.timeout):
                        m.d.sync += [idle.eq(0), self.timeout_event.eq(1)]
                        m.next = "HUNT"
                    with m.Else():
                        m.d.sync += idle.eq(idle + 1)
        return m


class FrameTx(Component):
    """The frame transmitter: sends ``SYNC, cmd, seq, len``, the ``len`` payload bytes and the CRC
    (big-endian) of each header, the bytes of :func:`golden.link.encode_frame`.

    Ports
    -----
    ``header`` : ``In(stream.Signature(tx_header_layout()))``
        A frame's ``cmd``, ``seq`` and ``len``; taken when the transmitter is idle, or in the cycle the
        previous frame's last CRC byte is taken by ``o``.
    ``payload`` : ``In(stream.Signature(8))``
        Exactly ``len`` bytes after the header is taken, passed through to ``o`` (``payload.ready`` is
        ``o.ready`` while they are due, ``o.valid`` is ``payload.valid``).
    ``o`` : ``Out(stream.Signature(8))``
        The frame's bytes; back-pressure holds them.

    Latency and throughput
    ----------------------
    ``SYNC`` is offered in the cycle after the header is taken. With ``o.ready`` and the inputs always
    valid a frame of ``len`` payload bytes takes ``6 + len`` cycles, one byte per cycle, and the next
    frame's ``SYNC`` follows its last CRC byte in the next cycle.
    """

    def __init__(self):
        super().__init__({
            "header": In(stream.Signature(tx_header_layout())),
            "payload": In(stream.Signature(8)),
            "o": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        cmd, seq, length, count = Signal(8), Signal(8), Signal(8), Signal(8)
        crc = Signal(16)
        o, h = self.o, self.header
        sent = o.valid & o.ready
        next_crc = crc16_update(crc, o.payload)

        def take_header():
            m.d.comb += h.ready.eq(1)
            with m.If(h.valid):
                m.d.sync += [cmd.eq(h.payload.cmd), seq.eq(h.payload.seq), length.eq(h.payload.len),
                             crc.eq(INIT), count.eq(0)]
                m.next = "SYNC"

        with m.FSM():
            with m.State("IDLE"):
                take_header()
            with m.State("SYNC"):
                m.d.comb += [o.valid.eq(1), o.payload.eq(SYNC)]
                with m.If(sent):
                    m.next = "CMD"
            for state, field, nxt in [("CMD", cmd, "SEQ"), ("SEQ", seq, "LEN")]:
                with m.State(state):
                    m.d.comb += [o.valid.eq(1), o.payload.eq(field)]
                    with m.If(sent):
                        m.d.sync += crc.eq(next_crc)
                        m.next = nxt
            with m.State("LEN"):
                m.d.comb += [o.valid.eq(1), o.payload.eq(length)]
                with m.If(sent):
                    m.d.sync += crc.eq(next_crc)
                    with m.If(length == 0):
                        m.next = "CRC_HI"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [o.valid.eq(self.payload.valid), o.payload.eq(self.payload.payload),
                             self.payload.ready.eq(o.ready)]
                with m.If(sent):
                    m.d.sync += [crc.eq(next_crc), count.eq(count + 1)]
                    with m.If(count == length - 1):
                        m.next = "CRC_HI"
            with m.State("CRC_HI"):
                m.d.comb += [o.valid.eq(1), o.payload.eq(crc[8:])]
                with m.If(sent):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                m.d.comb += [o.valid.eq(1), o.payload.eq(crc[:8])]
                with m.If(sent):
                    m.next = "IDLE"
                    take_header()                 # the next frame's SYNC follows at once
        return m
