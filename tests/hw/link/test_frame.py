"""The frame layer in the Amaranth simulator (docs/link.md, "Frames"): the CRC expression against
golden.link.crc16 over every byte value; FrameRx event for event against golden.link.FrameReceiver
(valid, corrupted, truncated and garbled streams, the exact timeout boundary and the cycle of its pulse, a
reset mid-frame, back-to-back frames at one byte per cycle and the cycle each frame is offered), the
payload read back through its buffer port; FrameTx's bytes equal encode_frame under back-pressure, at
one byte per cycle without; FrameTx into FrameRx."""

import binascii

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from golden.link import SYNC, Dropped, Frame, FrameReceiver, crc16, encode_frame
from hw.link.crc import CRC16
from hw.link.frame import FrameRx, FrameTx
from sim.amaranth_sim import run_comb, stream_get, stream_put


# --- CRC -------------------------------------------------------------------------------------------

def test_crc_update_every_byte_from_several_states():
    dut = CRC16()
    states = [0xFFFF, 0x0000, 0x8000, 0x0001, 0x29B1, 0x5A5A, 0x1234, 0xFEDC]
    vectors = [[(dut.crc, s), (dut.byte, b)] for s in states for b in range(256)]
    got = run_comb(dut, vectors, lambda ctx: ctx.get(dut.next))
    # from 0xFFFF: golden.link.crc16 of the byte; from any other state s, binascii.crc_hqx continues
    # from s (crc16 is crc_hqx from 0xFFFF)
    assert got[:256] == [crc16(bytes([b])) for b in range(256)]
    assert got == [binascii.crc_hqx(bytes([b]), s) for s in states for b in range(256)]


def test_crc_update_refuses_widths():
    from hw.link.crc import crc16_update
    with pytest.raises(ValueError, match="crc must be 16 bits and byte 8 bits wide, got 15 and 8"):
        crc16_update(Signal(15), Signal(8))


# --- FrameRx ---------------------------------------------------------------------------------------

def sched_bytes(data, gap=0, first_gap=None):
    """Schedule items for ``data``: each byte after ``gap`` idle cycles (the first after ``first_gap``)."""
    return [("byte", b, gap if (i or first_gap is None) else first_gap) for i, b in enumerate(data)]


def golden_events(timeout, schedule):
    rx = FrameReceiver(timeout)
    events = []
    for item in schedule:
        if item[0] == "byte":
            events += rx.feed(item[1], item[2])
        elif item[0] == "idle":
            events += rx.idle(item[1])
        else:
            rx.reset()
    return events


def run_rx(timeout, schedule, *, ready_prob=1.0, read_payload=True, seed=0):
    """Drive FrameRx with ``schedule`` (("byte", b, gap) / ("idle", n) / ("reset",)), followed by enough
    idle cycles to end; the consumer reads each frame's payload (if ``read_payload``, for ok frames) then
    takes it after random delays. Returns (events as golden objects, per event its cycle, the cycle each
    byte was taken)."""
    dut = FrameRx(timeout)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    rng = np.random.default_rng(seed)
    schedule = schedule + [("idle", timeout + 300)]
    marks, taken, payloads = [], [], []

    async def producer(ctx):
        cycle = 0
        for item in schedule:
            if item[0] == "reset":
                ctx.set(cd.rst, 1)
                await ctx.tick()
                ctx.set(cd.rst, 0)
                cycle += 1
                continue
            idle = item[2] if item[0] == "byte" else item[1]
            for _ in range(idle):
                await ctx.tick()
                cycle += 1
            if item[0] == "byte":
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, item[1])
                while True:
                    *_, ready = await ctx.tick().sample(dut.i.ready)
                    cycle += 1
                    if ready:
                        break
                ctx.set(dut.i.valid, 0)
                taken.append(cycle - 1)

    async def monitor(ctx):
        cycle = 0
        while True:
            *_, valid, ready, frame, tev = await ctx.tick().sample(dut.frame.valid, dut.frame.ready,
                                                                   dut.frame.payload, dut.timeout_event)
            if tev:
                marks.append((cycle, "timeout", None))
            if valid and ready:
                marks.append((cycle, "frame", (frame.cmd, frame.seq, frame.len, frame.ok)))
            cycle += 1

    async def consumer(ctx):
        while True:
            while not ctx.get(dut.frame.valid):
                await ctx.tick()
            n, ok = ctx.get(dut.frame.payload.len), ctx.get(dut.frame.payload.ok)
            data = []
            if read_payload and ok:
                for a in range(n):
                    ctx.set(dut.payload_addr, a)
                    await ctx.tick()
                    data.append(ctx.get(dut.payload_data))
            while rng.random() >= ready_prob:
                await ctx.tick()
            ctx.set(dut.frame.ready, 1)
            await ctx.tick()
            ctx.set(dut.frame.ready, 0)
            payloads.append(bytes(data))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(consumer, background=True)
    sim.run()
    events, cycles, k = [], [], 0
    for cycle, kind, f in marks:
        cycles.append(cycle)
        if kind == "timeout":
            events.append(Dropped("timeout"))
            continue
        cmd, seq, n, ok = f
        if ok:
            p = payloads[k] if read_payload else n     # without reading: compare lengths only
            events.append(Frame(cmd, seq, p))
        else:
            events.append(Dropped("crc", cmd, seq))
        k += 1
    return events, cycles, taken


def check_rx(timeout, schedule, **kw):
    """FrameRx's events equal the golden receiver's; returns them (and the cycles, bytes' cycles)."""
    want = golden_events(timeout, schedule)
    got, cycles, taken = run_rx(timeout, schedule, **kw)
    if not kw.get("read_payload", True):
        want = [Frame(e.cmd, e.seq, len(e.payload)) if isinstance(e, Frame) else e for e in want]
    assert got == want
    return got, cycles, taken


def random_frame(rng, length=None):
    n = int(rng.integers(0, 256)) if length is None else length
    return (int(rng.integers(0, 256)), int(rng.integers(0, 256)), rng.integers(0, 256, n).astype(np.uint8).tobytes())


def test_rx_valid_frames_with_gaps_and_slow_consumer():
    rng = np.random.default_rng(1)
    frames = [random_frame(rng, n) for n in (0, 1, 255, 2)] + [random_frame(rng) for _ in range(4)]
    timeout = 3
    sched = []
    for f in frames:
        # idle cycles up to the timeout between the bytes of a frame, any number between frames
        sched += [("byte", b, int(rng.integers(0, timeout + 1)) if i else int(rng.integers(0, 20)))
                  for i, b in enumerate(encode_frame(*f))]
    got, _, _ = check_rx(timeout, sched, ready_prob=0.3, seed=2)
    assert got == [Frame(*f) for f in frames]


def test_rx_back_to_back_one_byte_per_cycle():
    """Frames at full rate, frame.ready always high: a byte is taken in every cycle, and each frame is
    offered (and taken) in the cycle after its last CRC byte."""
    rng = np.random.default_rng(3)
    frames = [random_frame(rng, n) for n in (0, 0, 1, 255, 5)] + [random_frame(rng) for _ in range(3)]
    data = b"".join(encode_frame(*f) for f in frames)
    got, cycles, taken = check_rx(1, sched_bytes(data), read_payload=False)
    assert len(got) == len(frames) and all(isinstance(e, Frame) for e in got)
    assert taken == list(range(len(data)))
    ends = np.cumsum([len(encode_frame(*f)) for f in frames]) - 1
    assert cycles == [taken[e] + 1 for e in ends]


def test_rx_back_to_back_with_payload_reads():
    rng = np.random.default_rng(4)
    frames = [random_frame(rng, n) for n in (255, 0, 1, 17)]
    got, _, _ = check_rx(2, sched_bytes(b"".join(encode_frame(*f) for f in frames)))
    assert got == [Frame(*f) for f in frames]


@pytest.mark.parametrize("where", ["cmd", "seq", "len", "payload0", "payload_mid", "crc_hi", "crc_lo"])
def test_rx_corrupted_frame(where):
    rng = np.random.default_rng(5)
    f = random_frame(rng, 40)
    raw = bytearray(encode_frame(*f))
    pos = {"cmd": 1, "seq": 2, "len": 3, "payload0": 4, "payload_mid": 24, "crc_hi": 44, "crc_lo": 45}[where]
    raw[pos] ^= 0x10
    after = [random_frame(rng, n) for n in (3, 0, 60)]
    sched = sched_bytes(bytes(raw)) + sched_bytes(b"".join(encode_frame(*g) for g in after))
    timeout = 4
    # len corrupted: the frame ends elsewhere; a pause after it lets a timeout resynchronise
    sched += [("byte", SYNC, 0), ("idle", 10)] + sched_bytes(encode_frame(*after[0]), first_gap=6)
    got, _, _ = check_rx(timeout, sched, ready_prob=0.5, seed=pos)
    if where != "len":
        assert got[0] == Dropped("crc", raw[1], raw[2])
        assert got[1:] == [Frame(*g) for g in after] + [Dropped("timeout"), Frame(*after[0])]
    else:
        assert got[-1] == Frame(*after[0]) and any(e.reason == "timeout" for e in got if isinstance(e, Dropped))


def test_rx_truncated_frames_and_garbage():
    rng = np.random.default_rng(6)
    timeout = 5
    good = [random_frame(rng) for _ in range(6)]
    sched = []
    for i, g in enumerate(good):
        trunc = encode_frame(*random_frame(rng, 30))[: int(rng.integers(1, 36))]
        garbage = rng.integers(0, 256, int(rng.integers(0, 12))).astype(np.uint8).tobytes().replace(b"\x5a", b"")
        sched += sched_bytes(garbage) + sched_bytes(trunc) + sched_bytes(encode_frame(*g), first_gap=timeout + 1 + i)
    got, _, _ = check_rx(timeout, sched, ready_prob=0.7, seed=7)
    assert got == [e for g in good for e in (Dropped("timeout"), Frame(*g))]


def test_rx_random_streams():
    """Frames, corrupted frames, garbage with SYNC bytes in it and pauses both sides of the timeout,
    mixed at random: FrameRx agrees with the golden receiver on every event."""
    rng = np.random.default_rng(8)
    timeout = 2
    sched = []
    for _ in range(40):
        kind = rng.integers(0, 4)
        if kind == 0:
            raw = bytearray(encode_frame(*random_frame(rng, int(rng.integers(0, 8)))))
            if rng.random() < 0.4:
                raw[int(rng.integers(1, len(raw)))] ^= int(rng.integers(1, 256))
            data = bytes(raw)
        elif kind == 1:
            data = rng.choice([0x5A, 0x00, 0x01, 0xFF, 0x03], int(rng.integers(1, 6))).astype(np.uint8).tobytes()
        else:
            data = encode_frame(*random_frame(rng, int(rng.integers(0, 8))))
        sched += [("byte", b, int(rng.choice([0] * 12 + [1, 2, 3]))) for b in data]
    got, _, _ = check_rx(timeout, sched, ready_prob=0.6, seed=9)
    kinds = {type(e).__name__ + (e.reason if isinstance(e, Dropped) else "") for e in got}
    assert kinds == {"Frame", "Droppedcrc", "Droppedtimeout"}


@pytest.mark.parametrize("timeout", [1, 3])
@pytest.mark.parametrize("cut", [1, 3, 4, 9, 10, 11])
def test_rx_timeout_boundary(timeout, cut):
    """``timeout`` idle cycles before byte ``cut`` of a frame keep it; ``timeout + 1`` drop it, with
    ``timeout_event`` in the cycle ``timeout + 2`` after the byte before the pause; the late byte starts
    a new hunt (here a SYNC: a new frame)."""
    raw = encode_frame(0x22, 0x33, b"abcdef")     # 12 bytes: cut 10 and 11 are the CRC bytes
    kept = [("byte", b, timeout if i == cut else 0) for i, b in enumerate(raw)]
    got, _, _ = check_rx(timeout, kept)
    assert got == [Frame(0x22, 0x33, b"abcdef")]
    dropped = sched_bytes(raw[:cut]) + sched_bytes(raw, first_gap=timeout + 1)
    got, cycles, taken = check_rx(timeout, dropped)
    assert got == [Dropped("timeout"), Frame(0x22, 0x33, b"abcdef")]
    assert cycles[0] == taken[cut - 1] + timeout + 2
    assert taken[cut] == taken[cut - 1] + timeout + 2


def test_rx_reset_mid_frame():
    rng = np.random.default_rng(10)
    f, g = random_frame(rng, 20), random_frame(rng, 9)
    raw = encode_frame(*f)
    for cut in (1, 3, 10, len(raw) - 1):
        sched = sched_bytes(raw[:cut]) + [("reset",)] + sched_bytes(encode_frame(*g))
        got, _, _ = check_rx(100, sched)
        assert got == [Frame(*g)]


def test_rx_refuses_bad_timeout():
    with pytest.raises(ValueError, match=r"timeout must be an integer >= 1, got 0"):
        FrameRx(0)
    with pytest.raises(TypeError, match="timeout must be an integer"):
        FrameRx(2.5)


# --- FrameTx ---------------------------------------------------------------------------------------

def run_tx(frames, *, in_prob=1.0, out_prob=1.0, seed=0):
    """Feed FrameTx the frames' headers and payloads (random gaps with ``in_prob < 1``), take ``o`` with
    random ready (``out_prob``). Returns (bytes, cycle of each byte's transfer)."""
    dut = FrameTx()
    rng = np.random.default_rng(seed)
    total = sum(len(encode_frame(*f)) for f in frames)
    out, when = [], []

    def gaps():
        n = 0
        while rng.random() >= in_prob:
            n += 1
        return n

    async def headers(ctx):
        for cmd, seq, p in frames:
            await stream_put(ctx, dut.header, {"cmd": cmd, "seq": seq, "len": len(p)}, gaps=gaps())

    async def payloads(ctx):
        for _, _, p in frames:
            for b in p:
                await stream_put(ctx, dut.payload, b, gaps=gaps())

    async def sink(ctx):
        cycle = 0
        for _ in range(total):
            b, ticks, _ = await stream_get(ctx, dut.o, ready=lambda: rng.random() < out_prob)
            cycle += ticks
            out.append(b)
            when.append(cycle - 1)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(headers, background=True)
    sim.add_testbench(payloads, background=True)
    sim.add_testbench(sink)
    sim.run()
    return bytes(out), when


def test_tx_bytes_with_back_pressure():
    rng = np.random.default_rng(11)
    frames = [random_frame(rng, n) for n in (0, 1, 255)] + [random_frame(rng) for _ in range(5)]
    got, _ = run_tx(frames, in_prob=0.6, out_prob=0.3, seed=12)
    assert got == b"".join(encode_frame(*f) for f in frames)


def test_tx_one_byte_per_cycle():
    """Inputs always valid, o always ready: the header is taken in cycle 0, SYNC goes in cycle 1 and the
    frames' bytes follow in every cycle, back to back."""
    rng = np.random.default_rng(13)
    frames = [random_frame(rng, n) for n in (3, 0, 255, 1)]
    got, when = run_tx(frames)
    assert got == b"".join(encode_frame(*f) for f in frames)
    assert when == list(range(1, len(got) + 1))


# --- loopback --------------------------------------------------------------------------------------

def test_tx_into_rx_loopback():
    """50 random frames through FrameTx into FrameRx, gaps on the transmitter's inputs (within the
    receiver's timeout) and a slow consumer: every frame arrives intact, in order."""
    rng = np.random.default_rng(14)
    frames = [random_frame(rng, int(rng.choice([0, 1, 255, int(rng.integers(0, 40))]))) for _ in range(50)]
    tx, rx = FrameTx(), FrameRx(8)
    top = Module()
    top.submodules.tx, top.submodules.rx = tx, rx
    wiring.connect(top, tx.o, rx.i)
    got = []

    async def headers(ctx):
        for cmd, seq, p in frames:
            await stream_put(ctx, tx.header, {"cmd": cmd, "seq": seq, "len": len(p)}, gaps=int(rng.integers(0, 4)))

    async def payloads(ctx):
        for _, _, p in frames:
            for b in p:
                await stream_put(ctx, tx.payload, b, gaps=int(rng.choice([0, 0, 0, 1, 8])))

    async def consumer(ctx):
        for _ in frames:
            waited = 0
            while not ctx.get(rx.frame.valid):
                await ctx.tick()
                waited += 1
                assert waited < 2000, f"frame {len(got)} did not arrive"
            f = ctx.get(rx.frame.payload)
            data = []
            for a in range(f.len):
                ctx.set(rx.payload_addr, a)
                await ctx.tick()
                data.append(ctx.get(rx.payload_data))
            for _ in range(int(rng.integers(0, 3))):
                await ctx.tick()
            ctx.set(rx.frame.ready, 1)
            await ctx.tick()
            ctx.set(rx.frame.ready, 0)
            assert f.ok == 1
            got.append((f.cmd, f.seq, bytes(data)))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(headers, background=True)
    sim.add_testbench(payloads, background=True)
    sim.add_testbench(consumer)
    sim.run()
    assert got == frames
