"""The link protocol's golden model (docs/link.md, "Frames"): the CRC's check value and bit-level
definition, frame bytes by hand, encode/decode round trips, the receiver's hunting, CRC errors and the
exact timeout boundary, and every refused argument."""

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.link import (HEADER, MAGIC, MAX_PAYLOAD, RESPONSE, RX_FIFO, SYNC, VERSION, Buffer, Command,
                         Dropped, Frame, FrameReceiver, Status, crc16, decode_frames, encode_frame)


def bitwise_crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE from its definition, bit by bit (independent of binascii)."""
    crc = 0xFFFF
    for b in data:
        for i in range(7, -1, -1):
            top = ((crc >> 15) ^ (b >> i)) & 1
            crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return crc


def test_constants():
    assert (SYNC, RESPONSE, MAX_PAYLOAD, HEADER, MAGIC, VERSION, RX_FIFO) == (0x5A, 0x80, 255, 4, b"BSPK", 1, 512)
    assert [(c.name, c.value) for c in Command] == [("IDENT", 1), ("WRITE", 2), ("READ", 3), ("DESC", 4),
                                                   ("RUN", 5), ("STATUS", 6), ("RESET", 7), ("NAK", 0x7F)]
    assert [s.name for s in sorted(Status)] == ["OK", "BUSY", "BAD_LENGTH", "BAD_ADDRESS", "BAD_COMMAND",
                                                "BAD_BUFFER", "BAD_CRC", "DUPLICATE"]
    assert [s.value for s in sorted(Status)] == list(range(8))
    assert [(b.name, b.value) for b in Buffer] == [("WEIGHTS", 0), ("ACTS", 1), ("PARAMS", 2),
                                                  ("ACTS_BROADCAST", 3), ("OUTPUTS", 4)]


def test_crc_check_value_and_definition():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF
    assert crc16(bytearray(b"123456789")) == crc16(memoryview(b"123456789")) == 0x29B1
    for data in [b"\x00", b"\xff", bytes(range(256)), b"\x01\x02\x00"]:
        assert crc16(data) == bitwise_crc16(data) == binascii.crc_hqx(data, 0xFFFF)


def test_encode_by_hand():
    body = bytes([0x02, 0x09, 3, 0xAA, 0xBB, 0xCC])
    c = bitwise_crc16(body)
    assert encode_frame(Command.WRITE, 9, b"\xaa\xbb\xcc") == b"\x5a" + body + bytes([c >> 8, c & 0xFF])
    empty = encode_frame(Command.IDENT | RESPONSE, 255)
    assert empty[:4] == b"\x5a\x81\xff\x00" and len(empty) == 6
    assert int.from_bytes(empty[4:], "big") == bitwise_crc16(b"\x81\xff\x00")
    assert len(encode_frame(0, 0, bytes(MAX_PAYLOAD))) == HEADER + MAX_PAYLOAD + 2


frames = st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=MAX_PAYLOAD))


@settings(max_examples=60, deadline=None)
@given(st.lists(frames, max_size=6), st.lists(st.binary(max_size=8), min_size=7, max_size=7))
def test_round_trip_with_garbage(fs, garbage):
    """Frames separated by garbage that holds no SYNC decode to themselves, in order."""
    garbage = [g.replace(bytes([SYNC]), b"") for g in garbage]
    stream = garbage[0] + b"".join(encode_frame(*f) + g for f, g in zip(fs, garbage[1:]))
    assert decode_frames(stream) == [Frame(c, s, p) for c, s, p in fs]


@settings(max_examples=60, deadline=None)
@given(frames, st.data())
def test_any_single_byte_error_is_a_crc_error(f, data):
    """Changing one byte of cmd..CRC (not len: that moves the frame's end) gives a CRC error with the
    bytes received, and the following frame is still received."""
    raw = bytearray(encode_frame(*f))
    pos = data.draw(st.sampled_from([1, 2] + list(range(4, len(raw)))))
    raw[pos] ^= data.draw(st.integers(1, 255))
    rx = FrameReceiver(5)
    events = [e for b in bytes(raw) + encode_frame(7, 8, b"ok") for e in rx.feed(b)]
    assert events == [Dropped("crc", raw[1], raw[2]), Frame(7, 8, b"ok")]
    assert (rx.frames, rx.crc_errors, rx.timeouts) == (1, 1, 0)


def test_timeout_boundary():
    """``timeout`` idle cycles between two bytes of a frame are allowed; ``timeout + 1`` drop it, and the
    late byte starts a new hunt (a SYNC starts a new frame)."""
    raw = encode_frame(3, 4, b"xyz")
    for timeout in (1, 2, 7):
        for cut in range(1, len(raw)):           # the gap comes before byte raw[cut]
            rx = FrameReceiver(timeout)
            ev = [e for i, b in enumerate(raw) for e in rx.feed(b, timeout if i == cut else 0)]
            assert ev == [Frame(3, 4, b"xyz")]
            rx = FrameReceiver(timeout)
            ev = [e for i, b in enumerate(raw) for e in rx.feed(b, timeout + 1 if i == cut else 0)]
            assert ev == [Dropped("timeout")]
            assert rx.hunting == (SYNC not in raw[cut:])   # the rest was hunted, SYNC-free here
            assert rx.timeouts == 1 and rx.frames == 0
    # the late byte is a SYNC: the new frame is received
    rx = FrameReceiver(3)
    ev = [e for b in raw[:5] for e in rx.feed(b)]
    ev += [e for i, b in enumerate(raw) for e in rx.feed(b, 4 if i == 0 else 0)]
    assert ev == [Dropped("timeout"), Frame(3, 4, b"xyz")]


def test_idle_accumulates_and_only_mid_frame():
    rx = FrameReceiver(4)
    assert rx.idle(1000) == [] and rx.hunting   # idle between frames is nothing
    assert rx.feed(SYNC, 1000) == []
    assert rx.idle(2) == [] and rx.idle(2) == []
    assert rx.idle(1) == [Dropped("timeout")] and rx.hunting
    assert rx.idle(10) == []
    # idle() and a gap add up: 3 + 1 allowed
    rx = FrameReceiver(4)
    raw = encode_frame(1, 2)
    rx.feed(raw[0])
    rx.idle(3)
    assert [e for i, b in enumerate(raw[1:]) for e in rx.feed(b, 1 if i == 0 else 0)] == [Frame(1, 2, b"")]


def test_reset_and_hunting():
    rx = FrameReceiver(1)
    raw = encode_frame(5, 6, b"ab")
    for b in raw[:4]:
        assert rx.feed(b) == []
    assert not rx.hunting
    rx.reset()
    assert rx.hunting
    assert [e for b in b"\x00\x11" + raw for e in rx.feed(b)] == [Frame(5, 6, b"ab")]


def test_len_zero_and_full():
    rx = FrameReceiver(1)
    for p in (b"", bytes(range(255))):
        assert [e for b in encode_frame(0x7F, 0, p) for e in rx.feed(b)] == [Frame(0x7F, 0, p)]
    # a truncated frame at the end of the data is not reported
    assert decode_frames(encode_frame(1, 1, b"abc")[:-1]) == []


def test_refused_arguments():
    with pytest.raises(ValueError, match=r"cmd must be an integer in \[0, 255\], got 256"):
        encode_frame(256, 0)
    with pytest.raises(ValueError, match=r"seq must be an integer in \[0, 255\], got -1"):
        encode_frame(1, -1)
    with pytest.raises(TypeError, match="cmd must be an integer"):
        encode_frame(1.0, 0)
    with pytest.raises(ValueError, match="payload must be at most MAX_PAYLOAD=255 bytes, got 256"):
        encode_frame(1, 0, bytes(256))
    with pytest.raises(TypeError, match="payload must be bytes, bytearray or memoryview, got 'ab'"):
        encode_frame(1, 0, "ab")
    with pytest.raises(TypeError, match="data must be bytes"):
        crc16([1, 2])
    with pytest.raises(TypeError, match="data must be bytes"):
        decode_frames("abc")
    with pytest.raises(ValueError, match=r"timeout must be an integer >= 1, got 0"):
        FrameReceiver(0)
    with pytest.raises(TypeError, match="timeout must be an integer"):
        FrameReceiver(True)
    rx = FrameReceiver(2)
    with pytest.raises(ValueError, match=r"byte must be an integer in \[0, 255\], got 256"):
        rx.feed(256)
    with pytest.raises(ValueError, match=r"gap must be an integer >= 0, got -1"):
        rx.feed(1, -1)
    with pytest.raises(ValueError, match=r"cycles must be an integer >= 0, got -3"):
        rx.idle(-3)
