"""cocotb bench of the simulated board: the generated Verilog of a :class:`hw.link.top.SerialCore` (UART,
host link, layer engine) behind a TCP socket, so the host driver (:mod:`host.driver`) connects to it
with ``socket://127.0.0.1:PORT`` as it would to a board's serial port (docs/link.md).

Bytes from the socket are sent on the core's ``rx`` pin at its bit time (8N1, ``divisor`` clock
cycles a bit), bytes the core sends on ``tx`` are decoded at the middle of each bit and written to the
socket. The bench listens on ``BITSPARSE_PARAMS["port"]`` (0: any free port), writes the port into
``BITSPARSE_PARAMS["port_file"]``, serves one connection and ends when the host closes it (or when no
host connects within ``accept_timeout`` seconds). After 64 byte times without traffic either way it
waits for the host in real time (2 ms per byte time) instead of spinning the simulation.
"""

import queue
import socket
import threading

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

from sim.runner import test_params
from sim.streams import PERIOD_NS


def _serve(sock: socket.socket, inbox: queue.Queue, outbox: queue.Queue, closed: threading.Event):
    """Socket threads: received bytes into ``inbox``; ``outbox`` bytes to the socket."""
    def reader():
        try:
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                for b in data:
                    inbox.put(b)
        except OSError:
            pass
        closed.set()

    def writer():
        while not closed.is_set():
            try:
                b = outbox.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                sock.sendall(bytes([b]))
            except OSError:
                closed.set()

    for fn in (reader, writer):
        threading.Thread(target=fn, daemon=True).start()


@cocotb.test()
async def board(dut):
    p = test_params()
    divisor = int(p["divisor"])
    bit = divisor * PERIOD_NS
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await Timer(4 * PERIOD_NS, unit="ns")
    dut.rst.value = 0

    listener = socket.create_server(("127.0.0.1", int(p.get("port", 0))))
    listener.settimeout(float(p.get("accept_timeout", 60)))
    with open(p["port_file"], "w") as f:
        f.write(str(listener.getsockname()[1]))
    conn, _ = listener.accept()
    listener.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    inbox, outbox, closed = queue.Queue(), queue.Queue(), threading.Event()
    _serve(conn, inbox, outbox, closed)
    sent = [0]

    async def monitor():
        while True:
            await FallingEdge(dut.tx)                        # a start bit
            await Timer(bit // 2, unit="ns")
            if int(dut.tx.value):
                continue                                     # a glitch, not a start bit
            byte = 0
            for i in range(8):
                await Timer(bit, unit="ns")
                byte |= int(dut.tx.value) << i
            await Timer(bit, unit="ns")
            assert int(dut.tx.value) == 1, "the core's stop bit is low"
            outbox.put(byte)
            sent[0] += 1

    cocotb.start_soon(monitor())
    quiet, seen = 0, 0                                       # byte times without traffic either way
    while not (closed.is_set() and inbox.empty()):
        if sent[0] != seen:
            quiet, seen = 0, sent[0]
        try:
            byte = inbox.get(timeout=0.002) if quiet > 64 else inbox.get_nowait()
        except queue.Empty:
            quiet += 1
            await Timer(10 * bit, unit="ns")                 # time passes on the board too
            continue
        quiet = 0
        for level in [0, *((byte >> i) & 1 for i in range(8)), 1]:
            dut.rx.value = level
            await Timer(bit, unit="ns")
    conn.close()
    dut._log.info(f"host closed the connection; the core sent {sent[0]} bytes")
