"""The host link's protocol: constants, the CRC, frame encoding and the golden frame receiver
(docs/link.md, "Frames" and "Commands").

A frame is ``SYNC, cmd, seq, len, payload[len], crc_hi, crc_lo``; the CRC is CRC-16/CCITT-FALSE over
``cmd, seq, len, payload`` (:func:`crc16`). A response carries ``cmd | RESPONSE``.

:class:`FrameReceiver` is the byte-level model of the gateware's frame receiver
(:class:`hw.link.frame.FrameRx`), compared with it event for event: it hunts for ``SYNC`` (any other
byte is skipped silently), reads the header, the payload and the CRC, and reports every complete frame,
verified (:class:`Frame`) or not (:class:`Dropped` with reason ``"crc"``); a partial frame is dropped
(:class:`Dropped` with reason ``"timeout"``) when more than ``timeout`` idle cycles pass between two of
its bytes, and the byte that comes late starts a new hunt.
"""

from __future__ import annotations

import binascii
from enum import IntEnum
from typing import NamedTuple

from golden.check import check_int

__all__ = ["SYNC", "RESPONSE", "MAX_PAYLOAD", "HEADER", "MAGIC", "VERSION", "RX_FIFO",
           "Command", "Status", "Buffer", "crc16", "encode_frame", "Frame", "Dropped", "FrameReceiver",
           "decode_frames"]

#: the first byte of every frame
SYNC = 0x5A
#: ``cmd | RESPONSE`` is the ``cmd`` byte of a response
RESPONSE = 0x80
#: the largest payload (``len`` is one byte)
MAX_PAYLOAD = 255
#: bytes before the payload: SYNC, cmd, seq, len
HEADER = 4
#: the identity record's first field (``IDENT``)
MAGIC = b"BSPK"
#: the protocol version in the identity record
VERSION = 1
#: bytes of the receive FIFO in front of the frame receiver
RX_FIFO = 512


class Command(IntEnum):
    """Command codes (a request's ``cmd``; a response has ``cmd | RESPONSE``)."""
    IDENT = 0x01
    WRITE = 0x02
    READ = 0x03
    DESC = 0x04
    RUN = 0x05
    STATUS = 0x06
    RESET = 0x07
    NAK = 0x7F


class Status(IntEnum):
    """The status byte that starts every response's payload (and a ``NAK``'s reason)."""
    OK = 0
    BUSY = 1
    BAD_LENGTH = 2
    BAD_ADDRESS = 3
    BAD_COMMAND = 4
    BAD_BUFFER = 5
    BAD_CRC = 6
    DUPLICATE = 7


class Buffer(IntEnum):
    """The ``buffer`` byte of ``WRITE`` and ``READ``."""
    WEIGHTS = 0
    ACTS = 1
    PARAMS = 2
    ACTS_BROADCAST = 3
    OUTPUTS = 4


def _check_bytes(name: str, value) -> bytes:
    # no helper of golden.check takes byte strings; the message follows theirs
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, bytearray or memoryview, got {value!r} of type "
                        f"{type(value).__name__}")
    return bytes(value)


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR);
    ``crc16(b"123456789") == 0x29B1``."""
    return binascii.crc_hqx(_check_bytes("data", data), 0xFFFF)


def encode_frame(cmd: int, seq: int, payload: bytes = b"") -> bytes:
    """The bytes of one frame: ``SYNC, cmd, seq, len(payload), payload, CRC`` (CRC big-endian, over
    ``cmd`` to the end of the payload)."""
    cmd = check_int("cmd", cmd, lo=0, hi=255)
    seq = check_int("seq", seq, lo=0, hi=255)
    payload = _check_bytes("payload", payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload must be at most MAX_PAYLOAD={MAX_PAYLOAD} bytes, got {len(payload)}")
    body = bytes([cmd, seq, len(payload)]) + payload
    return bytes([SYNC]) + body + crc16(body).to_bytes(2, "big")


class Frame(NamedTuple):
    """A received frame whose CRC matched."""
    cmd: int
    seq: int
    payload: bytes


class Dropped(NamedTuple):
    """A dropped frame: ``reason`` ``"crc"`` (complete, CRC mismatch; ``cmd`` and ``seq`` as received,
    for the ``NAK``) or ``"timeout"`` (partial; ``cmd`` and ``seq`` are ``None``)."""
    reason: str
    cmd: int | None = None
    seq: int | None = None


# receiver states: hunting, then the frame's fields in order
_HUNT, _CMD, _SEQ, _LEN, _PAYLOAD, _CRC_HI, _CRC_LO = range(7)


class FrameReceiver:
    """The golden frame receiver of docs/link.md, one byte at a time.

    Time is counted in idle cycles: cycles in which no byte arrives. :meth:`feed` takes a byte and the
    idle cycles before it (``gap``, 0 = the byte follows the previous one in the next cycle);
    :meth:`idle` lets idle cycles pass without a byte. Mid-frame (after ``SYNC``, before the last CRC
    byte), the ``timeout + 1``-th consecutive idle cycle drops the partial frame: a byte after exactly
    ``timeout`` idle cycles is still part of the frame, a byte after ``timeout + 1`` or more starts a new
    hunt (if it is ``SYNC``, a new frame). Between frames idle time does not matter.

    Both methods return the list of events they caused, in order: :class:`Frame` (CRC matched) or
    :class:`Dropped`. ``frames``, ``crc_errors`` and ``timeouts`` count them; :meth:`reset` returns to
    hunting (the counters are kept).
    """

    def __init__(self, timeout: int):
        self.timeout = check_int("timeout", timeout, lo=1)
        self.frames = self.crc_errors = self.timeouts = 0
        self.reset()

    def reset(self) -> None:
        """Abandon any partial frame and hunt for ``SYNC`` (the hardware's reset)."""
        self._state = _HUNT
        self._idle = 0
        self._cmd = self._seq = self._len = self._crc_hi = 0
        self._payload = bytearray()

    @property
    def hunting(self) -> bool:
        """True between frames (no partial frame held)."""
        return self._state == _HUNT

    def idle(self, cycles: int) -> list:
        """Let ``cycles`` idle cycles pass; a ``[Dropped("timeout")]`` if that drops a partial frame."""
        cycles = check_int("cycles", cycles, lo=0)
        if self._state == _HUNT:
            return []
        self._idle += cycles
        if self._idle > self.timeout:
            self.reset()
            self.timeouts += 1
            return [Dropped("timeout")]
        return []

    def feed(self, byte: int, gap: int = 0) -> list:
        """``gap`` idle cycles, then ``byte``; the events they cause (at most a timeout and a frame)."""
        byte = check_int("byte", byte, lo=0, hi=255)
        events = self.idle(check_int("gap", gap, lo=0))
        self._idle = 0
        state = self._state
        if state == _HUNT:
            if byte == SYNC:
                self._state = _CMD
        elif state == _CMD:
            self._cmd, self._state = byte, _SEQ
        elif state == _SEQ:
            self._seq, self._state = byte, _LEN
        elif state == _LEN:
            self._len, self._payload = byte, bytearray()
            self._state = _PAYLOAD if byte else _CRC_HI
        elif state == _PAYLOAD:
            self._payload.append(byte)
            if len(self._payload) == self._len:
                self._state = _CRC_HI
        elif state == _CRC_HI:
            self._crc_hi, self._state = byte, _CRC_LO
        else:
            received = self._crc_hi << 8 | byte
            body = bytes([self._cmd, self._seq, self._len]) + bytes(self._payload)
            if crc16(body) == received:
                self.frames += 1
                events.append(Frame(self._cmd, self._seq, bytes(self._payload)))
            else:
                self.crc_errors += 1
                events.append(Dropped("crc", self._cmd, self._seq))
            self.reset()
        return events


def decode_frames(data: bytes) -> list:
    """The verified frames in a byte string received without pauses (no timeouts; frames with a bad CRC,
    bytes between frames and a trailing partial frame are skipped)."""
    rx = FrameReceiver(1)
    return [e for b in _check_bytes("data", data) for e in rx.feed(b) if isinstance(e, Frame)]
