"""The host link's command executor (hw/link/core.py, docs/link.md) in the Amaranth simulator, at the byte
level: every command and every refusal answered exactly as docs/link.md says (responses decoded by the
golden receiver), nothing of a refused or corrupted frame executed, truncated frames and garbage
skipped, back-to-back frames at one byte per cycle, a reset in the middle of a frame, and a real layer
loaded, run and read back bit-exact with the golden model and cycle-exact with the cycle model."""

import numpy as np
import pytest
from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from golden.array import ArrayConfig
from golden.link import RESPONSE, Buffer, Command, Frame, FrameReceiver, Status, encode_frame
from hw.array.archs import ARCHS, engine
from hw.base import Component
from hw.link.core import STATUS_FIELDS, LinkCore, identity_bytes
from host.driver import BoardStatus
from host.layer import descriptor_value

CFG = ArrayConfig(rows=2, cols=2, weight_depth=64, act_depth=64, param_depth=8, out_depth=64)
TIMEOUT = 50


class Bench(Component):
    """The core with a reset of its own (``rst``), its rx and tx streams as ports."""

    def __init__(self, core):
        self.core = core
        super().__init__({"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)), "rst": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = ResetInserter(self.rst)(self.core)
        c = self.core
        m.d.comb += [c.rx.payload.eq(self.rx.payload), c.rx.valid.eq(self.rx.valid), self.rx.ready.eq(c.rx.ready),
                     self.tx.payload.eq(c.tx.payload), self.tx.valid.eq(c.tx.valid), c.tx.ready.eq(self.tx.ready)]
        return m


def make_core(arch="stripes"):
    eng = engine(arch, CFG, hold_desc=True)          # as on a board (fpga.board) and the simulated board
    return LinkCore(eng, arch=list(ARCHS).index(arch), clk_hz=12_000_000, divisor=4, timeout=TIMEOUT)


def run(core, script, *, settle=3000, spacing=4):
    """Play ``script`` into the core: items are ``bytes`` (one byte every ``spacing`` cycles: 10 times the
    fastest UART, whose bytes are 10 * divisor >= 40 cycles apart), ``("gap", n)`` idle
    cycles, ``("reset",)`` a one-cycle reset, ``("wait",)`` until the responses so far have been sent;
    returns the response frames (golden receiver) and the raw bytes."""
    bench = Bench(core)
    out = []

    async def sender(ctx):
        ctx.set(bench.tx.ready, 1)
        for item in script:
            if isinstance(item, bytes):
                for b in item:
                    ctx.set(bench.rx.valid, 1)
                    ctx.set(bench.rx.payload, b)
                    await ctx.tick()
                    if spacing > 1:
                        ctx.set(bench.rx.valid, 0)
                        await ctx.tick().repeat(spacing - 1)
                ctx.set(bench.rx.valid, 0)
            elif item[0] == "gap":
                await ctx.tick().repeat(item[1])
            elif item[0] == "reset":
                ctx.set(bench.rst, 1)
                await ctx.tick()
                ctx.set(bench.rst, 0)
            elif item[0] == "wait":
                quiet = 0
                while quiet < 400:
                    *_, valid = await ctx.tick().sample(bench.tx.valid)
                    quiet = 0 if valid else quiet + 1
        await ctx.tick().repeat(settle)

    async def receiver(ctx):
        async for clk_edge, rst, valid, payload in ctx.tick().sample(bench.tx.valid, bench.tx.payload):
            if valid:
                out.append(payload)

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(sender)
    sim.add_process(receiver)
    sim.run()
    rx = FrameReceiver(timeout=10**6)
    frames = [e for b in out for e in rx.feed(b)]
    assert all(isinstance(f, Frame) for f in frames), frames
    return frames


def random_words(rng, bits, n):
    """``n`` random words of ``bits`` bits (every bit random, however wide)."""
    return [int.from_bytes(rng.bytes((bits + 7) // 8), "little") % (1 << bits) for _ in range(n)]


def response(cmd, seq, status, data=b""):
    return Frame(cmd | RESPONSE, seq, bytes([status]) + data)


def write(seq, buffer, addr, words, nb):
    return encode_frame(Command.WRITE, seq, bytes([buffer]) + addr.to_bytes(2, "little")
                        + b"".join(w.to_bytes(nb, "little") for w in words))


def read(seq, buffer, addr, count):
    return encode_frame(Command.READ, seq, bytes([buffer]) + addr.to_bytes(2, "little") + bytes([count]))


def test_ident_and_status():
    core = make_core()
    frames = run(core, [encode_frame(Command.IDENT, 1), encode_frame(Command.STATUS, 2)])
    ident = identity_bytes(core.engine, list(ARCHS).index("stripes"), 12_000_000, 4)
    assert frames[0] == response(Command.IDENT, 1, Status.OK, ident)
    assert len(ident) == 31 and ident[:4] == b"BSPK"
    st = BoardStatus.parse(frames[1].payload[1:])
    assert st == BoardStatus(False, False, 0, 2, 0, 0, 0, 0, 0)
    assert len(frames[1].payload) == 1 + sum(n for _, n in STATUS_FIELDS)


def test_write_then_read_every_buffer():
    core = make_core()
    rng = np.random.default_rng(1)
    nb = core.nbytes
    w, a, b, p = (random_words(rng, core.widths[buf], n) for buf, n in
                  ((Buffer.WEIGHTS, 5), (Buffer.ACTS, 3), (Buffer.ACTS_BROADCAST, 2), (Buffer.PARAMS, 2)))
    frames = run(core, [write(1, Buffer.WEIGHTS, 7, w, nb[Buffer.WEIGHTS]), write(2, Buffer.ACTS, 0, a, nb[Buffer.ACTS]),
                        write(3, Buffer.ACTS_BROADCAST, 3, b, nb[Buffer.ACTS_BROADCAST]),
                        write(4, Buffer.PARAMS, 6, p, nb[Buffer.PARAMS]),
                        read(5, Buffer.WEIGHTS, 7, 5), read(6, Buffer.ACTS, 0, 5), read(7, Buffer.ACTS_BROADCAST, 0, 5),
                        read(8, Buffer.PARAMS, 6, 2)])
    assert [f.payload[0] for f in frames] == [Status.OK] * 8
    assert [f.seq for f in frames] == list(range(1, 9))

    def words(f, buffer):
        n = nb[buffer]
        return [int.from_bytes(f.payload[1 + i:1 + i + n], "little") for i in range(0, len(f.payload) - 1, n)]

    half = core.widths[Buffer.ACTS_BROADCAST]
    both = [v | v << half for v in b]                 # a broadcast word lands in both column banks
    assert words(frames[4], Buffer.WEIGHTS) == w
    assert words(frames[5], Buffer.ACTS) == a + both
    assert words(frames[6], Buffer.ACTS_BROADCAST) == [v & ((1 << half) - 1) for v in a] + b
    assert words(frames[7], Buffer.PARAMS) == p


def test_refusals_execute_nothing():
    core = make_core()
    nb = core.nbytes[Buffer.WEIGHTS]
    depth = CFG.weight_depth
    good = write(1, Buffer.WEIGHTS, 0, [5, 6], nb)
    bad_crc = bytearray(write(2, Buffer.WEIGHTS, 0, [9, 9], nb))
    bad_crc[6] ^= 0x10
    frames = run(core, [
        good,
        bytes(bad_crc),                                                          # NAK, not written
        encode_frame(Command.WRITE, 3, bytes([0, 0, 0]) + b"\x01" * (nb + 1)),   # not whole words
        write(4, Buffer.WEIGHTS, depth - 1, [1, 2], nb),                         # past the depth: nothing written
        write(5, Buffer.OUTPUTS, 0, [1], 4),                                     # outputs are read only
        encode_frame(Command.WRITE, 6, bytes([0, 0])),                           # no word
        read(7, 5, 0, 1),                                                        # no buffer 5
        read(8, Buffer.WEIGHTS, 0, 0),                                           # count 0
        read(9, Buffer.OUTPUTS, 0, 64),                                          # 256 bytes > a frame
        read(10, Buffer.OUTPUTS, 60, 5),                                         # past the depth
        encode_frame(Command.READ, 11, bytes(3)),
        encode_frame(0x33, 12),
        encode_frame(Command.IDENT, 13, b"x"),
        encode_frame(Command.DESC, 14, b"\x00"),
        read(15, Buffer.WEIGHTS, 0, 2),
        read(16, Buffer.WEIGHTS, depth - 1, 1),
        encode_frame(Command.STATUS, 17),
    ])
    S = Status
    assert frames[:-3] == [response(Command.WRITE, 1, S.OK), response(Command.NAK, 2, S.BAD_CRC),
                           response(Command.WRITE, 3, S.BAD_LENGTH), response(Command.WRITE, 4, S.BAD_ADDRESS),
                           response(Command.WRITE, 5, S.BAD_BUFFER), response(Command.WRITE, 6, S.BAD_LENGTH),
                           response(Command.READ, 7, S.BAD_BUFFER), response(Command.READ, 8, S.BAD_LENGTH),
                           response(Command.READ, 9, S.BAD_LENGTH), response(Command.READ, 10, S.BAD_ADDRESS),
                           response(Command.READ, 11, S.BAD_LENGTH), response(0x33, 12, S.BAD_COMMAND),
                           response(Command.IDENT, 13, S.BAD_LENGTH), response(Command.DESC, 14, S.BAD_LENGTH)]
    assert frames[-3] == response(Command.READ, 15, S.OK, (5).to_bytes(nb, "little") + (6).to_bytes(nb, "little"))
    assert frames[-2] == response(Command.READ, 16, S.OK, bytes(nb))   # BAD_ADDRESS wrote nothing
    st = BoardStatus.parse(frames[-1].payload[1:])
    assert (st.frames, st.crc_errors, st.refused, st.timeouts) == (16, 1, 12, 0)


def test_truncated_frames_garbage_and_reset_mid_frame():
    core = make_core()
    nb = core.nbytes[Buffer.WEIGHTS]
    w = write(1, Buffer.WEIGHTS, 0, [0x11, 0x22, 0x33], nb)
    frames = run(core, [
        b"\x00\xff\x13",                       # garbage before a frame
        w[:9], ("gap", TIMEOUT + 1),           # truncated: dropped after the gap
        # a gap inside the timeout (the byte spacing adds 3 idle cycles): kept; the exact boundary is
        # FrameRx's (tests/hw/link/test_frame.py)
        encode_frame(Command.IDENT, 2)[:3], ("gap", TIMEOUT - 3), encode_frame(Command.IDENT, 2)[3:],
        ("wait",), w[:7], ("reset",),          # a reset mid-frame
        read(3, Buffer.WEIGHTS, 0, 3),
        encode_frame(Command.STATUS, 4),
    ])
    assert [f.cmd & 0x7F for f in frames] == [Command.IDENT, Command.READ, Command.STATUS]
    assert frames[1] == response(Command.READ, 3, Status.OK, bytes(3 * nb))    # nothing of w written
    st = BoardStatus.parse(frames[2].payload[1:])
    assert (st.frames, st.timeouts, st.crc_errors) == (2, 0, 0)   # the reset cleared the counters before


def test_bytes_faster_than_the_core_are_counted_not_lost_silently():
    """At one byte per cycle (no UART is that fast) WRITE frames arrive faster than they execute: the
    receive FIFO fills, the bytes that find it full are counted in ``overflows``, the frames they
    belonged to are dropped (answered NAK or not at all), and a frame after a pause is answered."""
    core = make_core()
    nb = core.nbytes[Buffer.WEIGHTS]
    per = (255 - 3) // nb
    burst = b"".join(write(1 + i, Buffer.WEIGHTS, 0, [i] * per, nb) for i in range(12))
    frames = run(core, [burst, ("gap", 3000), encode_frame(Command.STATUS, 100)], spacing=1)
    assert frames[-1].seq == 100
    st = BoardStatus.parse(frames[-1].payload[1:])
    assert st.overflows > 0 and st.frames + st.crc_errors + st.timeouts < 13
    assert len(frames) < 13


def test_back_to_back_frames_at_full_rate():
    core = make_core()
    nb = core.nbytes[Buffer.WEIGHTS]
    rng = np.random.default_rng(2)
    per = (255 - 3) // nb                             # words of a full WRITE frame
    words = random_words(rng, core.widths[Buffer.WEIGHTS], 5 * per)
    half = (255 - 1) // nb                            # words of a full READ response
    reads = [read(6 + i, Buffer.WEIGHTS, half * i, min(half, 5 * per - half * i)) for i in range(-(-5 * per // half))]
    script = [b"".join(write(1 + i, Buffer.WEIGHTS, per * i, words[per * i:per * i + per], nb) for i in range(5))
              + b"".join(reads) + encode_frame(Command.STATUS, 6 + len(reads))]
    frames = run(core, script)
    assert [f.seq for f in frames] == list(range(1, 7 + len(reads)))
    got = b"".join(f.payload[1:] for f in frames[5:-1])
    assert [int.from_bytes(got[i:i + nb], "little") for i in range(0, len(got), nb)] == words
    assert BoardStatus.parse(frames[-1].payload[1:]).overflows == 0


@pytest.mark.parametrize("arch", ["stripes", "bitvert"])
def test_real_layer_through_the_link(arch):
    """The block-8 expand conv slice of EfficientNet-Lite0 (sim.engine_vectors.real_layers): WRITE its
    words, DESC, RUN (and a resent RUN: DUPLICATE, not run twice), RUN while busy refused, STATUS until
    idle, READ the outputs: equal to the golden model, cycles equal to the cycle model."""
    from hw.array.images import fc_layer
    from sim.engine_vectors import real_layers

    core = make_core(arch)
    eng = core.engine
    name, kind, w, x, bias = list(real_layers(arch, CFG.rows, CFG.cols, seed=0))[1]
    assert name == "_blocks.8._expand_conv" and kind == "fc"
    image = fc_layer(eng, w, x, bias=bias)
    script, seq = [], 0
    for buffer, addr, word in image.load:
        seq += 1
        script.append(write(seq, buffer, addr, [word], core.nbytes[Buffer(buffer)]))
    desc = descriptor_value(eng, {**image.desc, "drain": 0})
    script += [encode_frame(Command.DESC, seq + 1, desc.to_bytes(core.desc_bytes, "little")), ("wait",),
               encode_frame(Command.RUN, seq + 2), encode_frame(Command.RUN, seq + 2), encode_frame(Command.RUN, seq + 3),
               ("gap", image.cycles.compute + 100), encode_frame(Command.STATUS, seq + 4)]
    k, t = image.expected.shape
    script += [read(seq + 5, Buffer.OUTPUTS, 0, k * t)]
    frames = run(core, script)
    n = len(image.load)
    assert [f.payload for f in frames[:n + 1]] == [bytes([Status.OK])] * (n + 1)
    assert frames[n + 1] == response(Command.RUN, seq + 2, Status.OK)
    assert frames[n + 2] == response(Command.RUN, seq + 2, Status.DUPLICATE)
    assert frames[n + 3] == response(Command.RUN, seq + 3, Status.BUSY)
    st = BoardStatus.parse(frames[n + 4].payload[1:])
    assert not st.busy and st.cycles == image.cycles.compute
    data = frames[n + 5].payload[1:]
    out = [int.from_bytes(data[i:i + 4], "little", signed=True) for i in range(0, len(data), 4)]
    assert out == image.expected.ravel().tolist()
