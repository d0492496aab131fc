"""The host link's UART (hw/link/uart.py, docs/link.md "UART"): transmitter bit-exact against the reference
line, receiver on reference lines (exact, 2 % fast and slow senders, glitches, framing errors, overflow,
a break), TX into RX at the full rate, parameter checks, and the same design's Verilog under Verilator
(sim/tb_uart.py)."""

import numpy as np
import pytest
from amaranth.hdl import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hw.base import Component
from hw.link.uart import UARTRx, UARTTx, divisor_for
from sim.runner import run_cocotb
from sim.tb_uart import frame_bits, rx_cycle, sender_line, tx_line

DIVISORS = [4, 5, 13, 104]


class UARTLoop(Component):
    """A UARTTx and a UARTRx; the receiver listens to the transmitter's ``tx`` (``loop`` high) or to the
    ``rx`` pin (``loop`` low). ``tx`` and ``tx_busy`` are the transmitter's pin and ``busy``."""

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1), "tx_busy": Out(1), "rx": In(1, init=1),
                          "loop": In(1), "o": Out(stream.Signature(8)), "overflow": Out(1),
                          "frame_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = UARTTx(self.divisor)
        m.submodules.rx = rx = UARTRx(self.divisor)
        wiring.connect(m, wiring.flipped(self.i), tx.i)
        wiring.connect(m, rx.o, wiring.flipped(self.o))
        m.d.comb += [self.tx.eq(tx.tx), self.tx_busy.eq(tx.busy), rx.rx.eq(Mux(self.loop, tx.tx, self.rx)),
                     self.overflow.eq(rx.overflow), self.frame_error.eq(rx.frame_error)]
        return m


def _simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


# ---- the reference line model itself, against frames written out by hand

def test_reference_line_model():
    assert frame_bits(0x01) == [0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert frame_bits(0xA5, stop=0) == [0, 1, 0, 1, 0, 0, 1, 0, 1, 0]
    # 0x0F taken in cycle 1 at divisor 4: idle in cycles 0..1, the frame in cycles 2..41
    assert tx_line([(1, 0x0F)], 4, 44) == [1, 1] + [0] * 4 + [1] * 16 + [0] * 16 + [1] * 6
    line, starts = sender_line([0x80, 0x01], 4.0, [0.5, 0.0], tail=0.25)
    assert starts == [2, 42]
    assert line == [1, 1] + [0] * 32 + [1] * 8 + [0] * 4 + [1] * 4 + [0] * 28 + [1] * 4 + [1]
    # a real-valued bit time: edges at round(1.1 + k * 4.4), the stop bit from round(40.7) to round(45.1)
    line, starts = sender_line([0x00], 4.4, [0.25], tail=0.0)
    assert starts == [1] and line == [1] + [0] * 40 + [1] * 4
    assert rx_cycle(10, 5) == 10 + 2 + 45 + 3


# ---- transmitter

def run_tx(divisor, data, gaps, tail=None):
    """Offer ``data`` on ``i``, byte ``j`` ``gaps[j]`` idle cycles after the previous transfer; return the
    transfers (cycle, byte) and ``tx``, ``busy``, ``i.ready`` per cycle."""
    dut = UARTTx(divisor)
    rec = {"transfers": [], "tx": [], "busy": [], "ready": []}

    def sample(ctx):
        rec["tx"].append(ctx.get(dut.tx))
        rec["busy"].append(ctx.get(dut.busy))
        rec["ready"].append(ctx.get(dut.i.ready))

    async def bench(ctx):
        c = 0
        for b, g in zip(data, gaps):
            ctx.set(dut.i.valid, 0)
            for _ in range(g):
                sample(ctx)
                await ctx.tick()
                c += 1
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, b)
            while True:
                sample(ctx)
                taken = ctx.get(dut.i.ready)
                if taken:
                    rec["transfers"].append((c, b))
                await ctx.tick()
                c += 1
                if taken:
                    break
        ctx.set(dut.i.valid, 0)
        for _ in range(10 * divisor + 3 if tail is None else tail):
            sample(ctx)
            await ctx.tick()

    _simulate(dut, bench)
    return rec


@pytest.mark.parametrize("divisor", DIVISORS)
def test_tx_bit_exact(divisor):
    rng = np.random.default_rng(divisor)
    n = 24 if divisor < 100 else 6
    data = [int(b) for b in rng.integers(0, 256, n)]
    gaps = [0 if rng.random() < 0.5 else int(rng.integers(1, 3 * divisor)) for _ in data]
    gaps[1] = gaps[2] = 0
    rec = run_tx(divisor, data, gaps)
    transfers = rec["transfers"]
    assert [b for _, b in transfers] == data
    n_cycles = len(rec["tx"])
    assert rec["tx"] == tx_line(transfers, divisor, n_cycles)
    want_busy = [0] * n_cycles
    for t, _ in transfers:
        want_busy[t + 1:t + 1 + 10 * divisor] = [1] * (10 * divisor)
    assert rec["busy"] == want_busy
    # ready: idle, or the last cycle of a stop bit
    last = {t + 10 * divisor for t, _ in transfers}
    assert rec["ready"] == [int(not want_busy[c] or c in last) for c in range(n_cycles)]
    # offered g idle cycles after the previous transfer: taken a frame later (g = 0: back to back)
    for (t0, _), (t1, _), g in zip(transfers, transfers[1:], gaps[1:]):
        assert t1 - t0 == max(g + 1, 10 * divisor)


def test_tx_back_to_back_from_reset():
    rec = run_tx(4, [0x00, 0xFF, 0x5A], [0, 0, 0], tail=41)
    assert [t for t, _ in rec["transfers"]] == [0, 40, 80]
    bits = frame_bits(0x00) + frame_bits(0xFF) + frame_bits(0x5A)
    assert rec["tx"] == [1] + [b for b in bits for _ in range(4)] + [1] * (len(rec["tx"]) - 121)


# ---- receiver

def run_rx(divisor, line, ready=lambda c: 1):
    """Drive ``rx`` with ``line`` (one value per cycle) and ``o.ready`` with ``ready(cycle)``; return the
    transfers on ``o``, the cycles of overflow and frame_error pulses, and (valid, payload) per cycle."""
    dut = UARTRx(divisor)
    rec = {"got": [], "overflow": [], "frame_error": [], "o": []}

    async def bench(ctx):
        for c, v in enumerate(line):
            ctx.set(dut.rx, v)
            r = ready(c)
            ctx.set(dut.o.ready, r)
            valid = ctx.get(dut.o.valid)
            rec["o"].append((valid, ctx.get(dut.o.payload)))
            if valid and r:
                rec["got"].append((c, ctx.get(dut.o.payload)))
            for name in ("overflow", "frame_error"):
                if ctx.get(getattr(dut, name)):
                    rec[name].append(c)
            await ctx.tick()

    _simulate(dut, bench)
    return rec


def frame_line(byte, divisor, stop=1):
    return [bit for bit in frame_bits(byte, stop) for _ in range(divisor)]


@pytest.mark.parametrize("divisor", DIVISORS)
def test_rx_exact_rate_latency(divisor):
    rng = np.random.default_rng(100 + divisor)
    n = 24 if divisor < 100 else 6
    data = [int(b) for b in rng.integers(0, 256, n)]
    gaps = [0.0 if rng.random() < 0.5 else float(rng.integers(1, 3 * divisor)) / divisor for _ in data]
    gaps[0] = 1.0
    line, starts = sender_line(data, float(divisor), gaps)
    rec = run_rx(divisor, line)
    # o.ready is always high: each byte is taken in the cycle it appears, 3 cycles after its stop sample
    assert rec["got"] == [(rx_cycle(s, divisor), b) for s, b in zip(starts, data)]
    assert rec["overflow"] == rec["frame_error"] == []


@pytest.mark.parametrize("rate", [1.02, 0.98])
@pytest.mark.parametrize("divisor", DIVISORS)
def test_rx_sender_off_rate(divisor, rate):
    """A sender 2 % fast or slow, back to back or with fractional gaps, its edges on rounded real times."""
    rng = np.random.default_rng(200 + divisor + int(rate * 100))
    n = 32 if divisor < 100 else 8
    data = [int(b) for b in rng.integers(0, 256, n)]
    gaps = [0.0 if rng.random() < 0.6 else float(rng.uniform(0, 1.5)) for _ in data]
    gaps[0] = float(rng.uniform(0.5, 1.5))     # and a random phase of the sender's clock
    line, _ = sender_line(data, divisor / rate, gaps)
    rec = run_rx(divisor, line, ready=lambda c: int(rng.random() < 0.5))
    assert [b for _, b in rec["got"]] == data
    assert rec["overflow"] == rec["frame_error"] == []


@pytest.mark.parametrize("divisor", [4, 5, 13])
def test_rx_glitch_ignored(divisor):
    """Low pulses shorter than half a bit are not start bits; a byte right after them is received."""
    h = divisor // 2
    line, c = [1] * divisor, divisor
    for width in range(1, (divisor + 1) // 2):     # width < divisor / 2
        line += [0] * width + [1] * (h + 1 - width)
    start = len(line)
    line += frame_line(0x3C, divisor) + [1] * (2 * divisor)
    rec = run_rx(divisor, line)
    assert rec["got"] == [(rx_cycle(start, divisor), 0x3C)]
    assert rec["overflow"] == rec["frame_error"] == []
    # low up to the start bit's middle sample (h + 1 cycles) is a start bit: then an all-ones byte
    assert run_rx(divisor, [1] * 4 + [0] * (h + 1) + [1] * (10 * divisor))["got"] == \
        [(rx_cycle(4, divisor), 0xFF)]


@pytest.mark.parametrize("divisor", [4, 13])
def test_rx_frame_error(divisor):
    line = [1] * 3 + frame_line(0xA7, divisor, stop=0) + [1] * divisor
    good = len(line)
    line += frame_line(0x42, divisor) + [1] * (2 * divisor)
    rec = run_rx(divisor, line)
    assert rec["frame_error"] == [rx_cycle(3, divisor)]
    assert rec["got"] == [(rx_cycle(good, divisor), 0x42)]
    assert rec["overflow"] == []


@pytest.mark.parametrize("divisor", [4, 13])
def test_rx_overflow_keeps_first_byte(divisor):
    data = [0x11, 0x22, 0x33, 0x44]
    line, starts = sender_line(data, float(divisor), [1.0, 0.0, 0.5, 0.0])
    take = rx_cycle(starts[3], divisor) + 5          # o.ready only from here on
    rec = run_rx(divisor, line + [1] * 10, ready=lambda c: int(c >= take))
    first = rx_cycle(starts[0], divisor)
    assert rec["overflow"] == [rx_cycle(s, divisor) for s in starts[1:]]
    assert rec["got"] == [(take, 0x11)]
    assert rec["o"][first:take + 1] == [(1, 0x11)] * (take + 1 - first)
    assert [v for v, _ in rec["o"][:first]] == [0] * first and rec["o"][take + 1][0] == 0
    assert rec["frame_error"] == []


@pytest.mark.parametrize("divisor", [4, 13])
def test_rx_break_then_resume(divisor):
    """The line low for three byte times: one framing error, then bytes are received as usual."""
    line = [1] * 5 + [0] * (30 * divisor) + [1] * 3
    data = [0x00, 0xFF, 0x81]
    resume, starts = sender_line(data, float(divisor), [0.5, 0.0, 0.0])
    rec = run_rx(divisor, line + resume)
    assert rec["frame_error"] == [rx_cycle(5, divisor)]
    assert rec["got"] == [(rx_cycle(len(line) + s, divisor), b) for s, b in zip(starts, data)]
    assert rec["overflow"] == []


# ---- loopback

@pytest.mark.parametrize("divisor", [4, 13])
def test_loopback_full_rate(divisor):
    rng = np.random.default_rng(300 + divisor)
    data = [int(b) for b in rng.integers(0, 256, 64)]
    dut = UARTLoop(divisor)
    taken, got, errors = [], [], []

    async def bench(ctx):
        ctx.set(dut.loop, 1)
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        j = 0
        for c in range(10 * divisor * (len(data) + 2)):
            if j < len(data):
                ctx.set(dut.i.payload, data[j])
                if ctx.get(dut.i.ready):
                    taken.append(c)
                    j += 1
            else:
                ctx.set(dut.i.valid, 0)
            if ctx.get(dut.o.valid):
                got.append((c, ctx.get(dut.o.payload)))
            if ctx.get(dut.overflow) or ctx.get(dut.frame_error):
                errors.append(c)
            await ctx.tick()

    _simulate(dut, bench)
    assert np.diff(taken).tolist() == [10 * divisor] * (len(data) - 1)
    assert got == [(rx_cycle(t + 1, divisor), b) for t, b in zip(taken, data)]
    assert errors == []


# ---- parameters

@pytest.mark.parametrize("cls", [UARTRx, UARTTx])
def test_bad_divisor(cls):
    with pytest.raises(ValueError, match=r"divisor must be an integer in \[4, 65536\], got 3$"):
        cls(3)
    with pytest.raises(ValueError, match=r"divisor must be an integer in \[4, 65536\], got 65537$"):
        cls(2**16 + 1)
    with pytest.raises(TypeError, match=r"divisor must be an integer in \[4, 65536\], got '8' of type str"):
        cls("8")
    with pytest.raises(TypeError, match=r"divisor must be an integer in \[4, 65536\], got 4.5 of type float"):
        cls(4.5)
    assert cls(4).divisor == 4 and cls(2**16).divisor == 2**16


def test_divisor_for():
    assert divisor_for(12_000_000, 115200) == 104
    assert divisor_for(12e6, 1e6) == 12
    assert divisor_for(48_000_000, 3_000_000) == 16
    # 12 MHz / 2 MBd = 6 exactly; 12 MHz / 1.1 MBd: 11 gives 1.0909 MBd, 0.83 % off
    assert divisor_for(12e6, 2e6) == 6 and divisor_for(12e6, 1.1e6) == 11
    assert divisor_for(12_000_000, 1_700_000) == 7          # 1.714 MBd: 0.84 % off, accepted
    with pytest.raises(ValueError, match=r"clk_hz=12000000 and baud=1400000: divisor 9 achieves baud "
                                         r"1\.33333e\+06, an error of 4\.76%, more than 2%"):
        divisor_for(12_000_000, 1_400_000)
    with pytest.raises(ValueError, match=r"clk_hz=12000000 and baud=4000000 give divisor 3, outside \[4, 65536\]"):
        divisor_for(12_000_000, 4_000_000)
    with pytest.raises(ValueError, match=r"baud must be a positive number, got 0"):
        divisor_for(12e6, 0)
    with pytest.raises(TypeError, match=r"clk_hz must be a positive number, got '12e6' of type str"):
        divisor_for("12e6", 115200)


# ---- the generated Verilog under Verilator

@pytest.mark.verilator
def test_verilator_loopback(build_dir):
    """TX bit-exact, RX of reference lines (exact and 2 % off, random gaps), TX into RX back to back:
    sim/tb_uart.py, one Verilator build."""
    assert run_cocotb(UARTLoop(5), toplevel="uart_loop", tb_module="sim.tb_uart", build_dir=build_dir,
                      params={"divisor": 5, "seed": 7, "n": 48}, simulator="verilator") == 3
