"""The board's platform-free core: the command executor of the host link around a layer engine
(docs/link.md).

Bytes from the UART go through a receive FIFO into :class:`~hw.link.frame.FrameRx`; every frame it
delivers is executed here against a :class:`~hw.array.layer.LayerEngine` and answered through
:class:`~hw.link.frame.FrameTx`. The same core runs on a board (:mod:`fpga.board`, behind a UART) and in
the simulated board (:mod:`sim.board`), so the host driver cannot tell them apart.

Ports
-----
``rx`` : ``In(stream.Signature(8))``
    Received bytes (the UART's output). Always ready: a byte that finds the receive FIFO full is lost
    and counted in ``overflows``.
``tx`` : ``Out(stream.Signature(8))``
    Response bytes (the UART transmitter's input).
``rx_overflow``, ``rx_frame_error`` : ``In(1)``
    The UART receiver's pulses, counted in ``overflows`` and ``line_errors``.

Execution (per frame, after its CRC is checked): ``WRITE`` two cycles per payload byte plus one per word,
after counting the words (one cycle per word); ``READ`` three cycles per word before its bytes go out;
``RUN`` starts the layer and answers at once; the response leaves at the rate ``tx`` takes it. The frame
is released to the receiver when its response has been handed to the transmitter, so frames that arrive
meanwhile wait in the receive FIFO (:data:`golden.link.RX_FIFO` bytes).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import fifo, stream
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from golden.link import MAGIC, MAX_PAYLOAD, RESPONSE, RX_FIFO, VERSION, Buffer, Command, Status
from hw.array.layer import LayerEngine
from hw.base import Component
from hw.link.frame import FrameRx, FrameTx

__all__ = ["LinkCore", "nbytes", "identity_bytes", "buffer_widths", "buffer_depths", "STATUS_FIELDS"]

#: the STATUS response after its status byte: (name, bytes)
STATUS_FIELDS = (("flags", 1), ("cycles", 4), ("frames", 2), ("crc_errors", 2), ("timeouts", 2),
                 ("overflows", 2), ("line_errors", 2), ("refused", 2))
COUNTERS = [name for name, _ in STATUS_FIELDS[2:]]


def nbytes(bits: int) -> int:
    """Bytes of a word of ``bits`` bits on the link."""
    return (bits + 7) // 8


def buffer_widths(engine: LayerEngine) -> dict:
    """Bits of one word of each :class:`golden.link.Buffer` of ``engine``."""
    return {Buffer.WEIGHTS: engine.weight_bits, Buffer.ACTS: engine.act_bits, Buffer.PARAMS: engine.param_bits,
            Buffer.ACTS_BROADCAST: engine.act_bits // engine.config.cols, Buffer.OUTPUTS: engine.config.acc_width}


def buffer_depths(engine: LayerEngine) -> dict:
    """Words of each :class:`golden.link.Buffer` of ``engine``."""
    c = engine.config
    return {Buffer.WEIGHTS: c.weight_depth, Buffer.ACTS: c.act_depth, Buffer.PARAMS: c.param_depth,
            Buffer.ACTS_BROADCAST: c.act_depth, Buffer.OUTPUTS: c.out_depth}


def identity_bytes(engine: LayerEngine, arch: int, clk_hz: int, divisor: int) -> bytes:
    """The ``IDENT`` record (docs/link.md) of a core around ``engine``."""
    c = engine.config
    le = int.to_bytes
    return (MAGIC + bytes([VERSION, arch, c.rows, c.cols])
            + b"".join(le(d, 2, "little") for d in (c.weight_depth, c.act_depth, c.param_depth, c.out_depth))
            + bytes([c.acc_width])
            + b"".join(le(w, 2, "little") for w in (engine.weight_bits, engine.act_bits, engine.param_bits,
                                                    engine.desc_layout.size))
            + le(clk_hz, 4, "little") + le(divisor, 2, "little"))


class LinkCore(Component):
    """The command executor of docs/link.md around ``engine`` (a :class:`~hw.array.layer.LayerEngine`).

    ``arch``: the architecture's index in :data:`hw.array.archs.ARCHS` (reported by ``IDENT``);
    ``clk_hz``, ``divisor``: the clock and the UART's bit time, reported by ``IDENT``; ``timeout``: the
    longest gap between two bytes of a frame, in cycles (:class:`~hw.link.frame.FrameRx`).
    """

    def __init__(self, engine: LayerEngine, *, arch: int, clk_hz: int, divisor: int, timeout: int):
        if not isinstance(engine, LayerEngine):
            raise TypeError(f"engine must be a hw.array.layer.LayerEngine, got {type(engine).__name__}")
        self.engine = engine
        self.arch = check_int("arch", arch, lo=0, hi=255)
        self.clk_hz = check_int("clk_hz", clk_hz, lo=1, hi=2**32 - 1)
        self.divisor = check_int("divisor", divisor, lo=4, hi=2**16 - 1)
        self.timeout = check_int("timeout", timeout, lo=1)
        self.widths = buffer_widths(engine)
        self.depths = buffer_depths(engine)
        self.nbytes = {b: nbytes(w) for b, w in self.widths.items()}
        for b, n in self.nbytes.items():
            if 3 + n > MAX_PAYLOAD:
                raise ValueError(f"a {b.name} word of this engine is {n} bytes, more than one WRITE frame holds "
                                 f"({MAX_PAYLOAD - 3} bytes after its header): use fewer rows or columns")
        self.desc_bytes = nbytes(engine.desc_layout.size)
        if self.desc_bytes > MAX_PAYLOAD:
            raise ValueError(f"the descriptor is {self.desc_bytes} bytes, more than a frame's {MAX_PAYLOAD}")
        self.identity = identity_bytes(engine, arch, clk_hz, divisor)
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "rx_overflow": In(1),
            "rx_frame_error": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.engine
        soft_reset = Signal()
        m.submodules.engine = ResetInserter({"sync": soft_reset})(eng)
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=RX_FIFO)
        m.submodules.frame_rx = frx = FrameRx(self.timeout)
        m.submodules.frame_tx = ftx = FrameTx()

        # -- receive path: UART -> FIFO -> frame receiver -------------------------------------------
        counters = {name: Signal(16, name=f"count_{name}") for name in COUNTERS}
        count = {name: Signal(name=f"inc_{name}") for name in COUNTERS}
        m.d.comb += [self.rx.ready.eq(1), rx_fifo.w_data.eq(self.rx.payload),
                     rx_fifo.w_en.eq(self.rx.valid),
                     frx.i.payload.eq(rx_fifo.r_data), frx.i.valid.eq(rx_fifo.r_rdy), rx_fifo.r_en.eq(frx.i.ready),
                     self.tx.payload.eq(ftx.o.payload), self.tx.valid.eq(ftx.o.valid), ftx.o.ready.eq(self.tx.ready)]
        lost = Signal(2)
        m.d.comb += [lost.eq(self.rx_overflow + (self.rx.valid & ~rx_fifo.w_rdy)),
                     count["timeouts"].eq(frx.timeout_event), count["line_errors"].eq(self.rx_frame_error)]

        # -- the frame being executed -----------------------------------------------------------------
        f = frx.frame.payload
        cmd, seq, length = Signal(8), Signal(8), Signal(8)
        status = Signal(8)
        last_cmd, last_seq, last_valid = Signal(8), Signal(8), Signal()
        ptr = Signal(8)                               # the next payload byte to read
        m.d.comb += frx.payload_addr.eq(ptr)
        args = Signal(32)                             # buffer, addr (2), count
        buffer = args[:8]
        addr = args[8:24]
        n_req = args[24:32]
        n_args = Signal(3)
        words = Signal(8)                             # WRITE: words in the frame; READ: words to send
        rem = Signal(8)
        nb = Signal(8)                                # bytes per word of the addressed buffer
        depth = Signal(17)
        big = max(self.nbytes.values())
        shift = Signal(8 * max(big, sum(n for _, n in STATUS_FIELDS)))   # bytes still to send, low byte first
        from_ident = Signal()                         # IDENT: the bytes come from the constant record
        ident_rom = Array(Const(b, 8) for b in self.identity)
        left = Signal(8)                              # bytes left in shift
        byte_i = Signal(8)                            # WRITE: bytes of the current word assembled
        desc = Signal(eng.desc_layout)
        resp_cmd, resp_len = Signal(8), Signal(8)
        read_buffer = Signal(3)

        with m.Switch(buffer):
            for b in Buffer:
                with m.Case(int(b)):
                    m.d.comb += [nb.eq(self.nbytes[b]), depth.eq(self.depths[b])]

        m.d.comb += [eng.desc.eq(desc), eng.load.payload.buffer.eq(buffer[:2]), eng.load.payload.addr.eq(addr),
                     eng.load.payload.data.eq(shift), eng.peek.payload.buffer.eq(read_buffer),
                     eng.peek.payload.addr.eq(addr)]

        stat = Signal(8 * sum(n for _, n in STATUS_FIELDS))
        m.d.comb += stat.eq(Cat(eng.busy, eng.load_error, Const(0, 6), eng.cycles,
                                *(counters[n] for n in COUNTERS)))

        def refuse(code):
            m.d.sync += [status.eq(code), resp_len.eq(1), left.eq(0), words.eq(0)]
            m.next = "HEADER"

        def respond(payload, n):
            m.d.sync += [status.eq(Status.OK), resp_len.eq(1 + n), shift.eq(payload), left.eq(n), words.eq(0)]
            m.next = "HEADER"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(frx.frame.valid):
                    m.d.sync += [cmd.eq(f.cmd), seq.eq(f.seq), length.eq(f.len), resp_cmd.eq(f.cmd | RESPONSE),
                                 ptr.eq(0), args.eq(0), byte_i.eq(0), words.eq(0)]
                    with m.If(~f.ok):
                        m.d.comb += count["crc_errors"].eq(1)
                        m.d.sync += [resp_cmd.eq(Command.NAK | RESPONSE), status.eq(Status.BAD_CRC),
                                     resp_len.eq(1), left.eq(0)]
                        m.next = "HEADER"
                    with m.Else():
                        m.d.comb += count["frames"].eq(1)
                        m.next = "DECODE"

            with m.State("DECODE"):
                duplicate = last_valid & (last_cmd == cmd) & (last_seq == seq)
                m.d.sync += [last_cmd.eq(cmd), last_seq.eq(seq), last_valid.eq(1)]
                with m.Switch(cmd):
                    with m.Case(Command.IDENT):
                        with m.If(length != 0):
                            refuse(Status.BAD_LENGTH)
                        with m.Else():
                            respond(0, len(self.identity))
                            m.d.sync += from_ident.eq(1)
                    with m.Case(Command.STATUS):
                        with m.If(length != 0):
                            refuse(Status.BAD_LENGTH)
                        with m.Else():
                            respond(stat, len(stat) // 8)
                    with m.Case(Command.RUN):
                        with m.If(duplicate):
                            refuse(Status.DUPLICATE)
                        with m.Elif(eng.busy):
                            refuse(Status.BUSY)
                        with m.Elif(length != 0):
                            refuse(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += eng.start.eq(1)
                            respond(0, 0)
                    with m.Case(Command.RESET):
                        with m.If(duplicate):
                            refuse(Status.DUPLICATE)
                        with m.Elif(length != 0):
                            refuse(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += soft_reset.eq(1)
                            m.d.sync += [c.eq(0) for c in counters.values()]
                            m.d.sync += desc.eq(0)
                            respond(0, 0)
                    with m.Case(Command.DESC):
                        with m.If(eng.busy):
                            refuse(Status.BUSY)
                        with m.Elif(length != self.desc_bytes):
                            refuse(Status.BAD_LENGTH)
                        with m.Else():
                            m.next = "DESC_ADDR"
                    with m.Case(Command.WRITE):
                        with m.If(eng.busy):
                            refuse(Status.BUSY)
                        with m.Elif(length < 4):
                            refuse(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += n_args.eq(3)
                            m.next = "ARG_ADDR"
                    with m.Case(Command.READ):
                        with m.If(eng.busy):
                            refuse(Status.BUSY)
                        with m.Elif(length != 4):
                            refuse(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += n_args.eq(4)
                            m.next = "ARG_ADDR"
                    with m.Default():
                        refuse(Status.BAD_COMMAND)

            # -- arguments: payload bytes 0 .. n_args-1 into args (a byte takes two cycles) ----------
            with m.State("ARG_ADDR"):
                m.next = "ARG_DATA"
            with m.State("ARG_DATA"):
                m.d.sync += [args.word_select(ptr[:2], 8).eq(frx.payload_data), ptr.eq(ptr + 1)]
                with m.If(ptr + 1 == n_args):
                    m.d.sync += [rem.eq(length - 3), words.eq(0)]
                    m.next = "CHECK"
                with m.Else():
                    m.next = "ARG_ADDR"

            with m.State("CHECK"):
                with m.If(cmd == Command.WRITE):
                    with m.If(buffer > Buffer.ACTS_BROADCAST):
                        refuse(Status.BAD_BUFFER)
                    with m.Else():
                        m.next = "COUNT"
                with m.Else():                                     # READ
                    with m.If(buffer > Buffer.OUTPUTS):
                        refuse(Status.BAD_BUFFER)
                    with m.Elif((n_req == 0) | (1 + n_req * nb > MAX_PAYLOAD)):
                        refuse(Status.BAD_LENGTH)
                    with m.Elif(addr + n_req > depth):
                        refuse(Status.BAD_ADDRESS)
                    with m.Else():
                        m.d.sync += [status.eq(Status.OK), resp_len.eq(1 + n_req * nb), left.eq(0),
                                     words.eq(n_req), read_buffer.eq(buffer)]
                        m.next = "HEADER"

            # -- WRITE: count the words (rem - n * nb == 0), check the range, then write them ---------
            with m.State("COUNT"):
                with m.If(rem >= nb):
                    m.d.sync += [rem.eq(rem - nb), words.eq(words + 1)]
                with m.Elif(rem != 0):
                    refuse(Status.BAD_LENGTH)
                with m.Elif(addr + words > depth):
                    refuse(Status.BAD_ADDRESS)
                with m.Else():
                    m.d.sync += shift.eq(0)
                    m.next = "WORD_ADDR"
            with m.State("WORD_ADDR"):
                m.next = "WORD_DATA"
            with m.State("WORD_DATA"):
                m.d.sync += [shift.word_select(byte_i, 8).eq(frx.payload_data), ptr.eq(ptr + 1),
                             byte_i.eq(byte_i + 1)]
                with m.If(byte_i + 1 == nb):
                    m.next = "LOAD"
                with m.Else():
                    m.next = "WORD_ADDR"
            with m.State("LOAD"):
                m.d.comb += eng.load.valid.eq(1)
                with m.If(eng.load.ready):
                    m.d.sync += [addr.eq(addr + 1), words.eq(words - 1), byte_i.eq(0), shift.eq(0)]
                    with m.If(words == 1):
                        respond(0, 0)
                    with m.Else():
                        m.next = "WORD_ADDR"

            # -- DESC: the payload bytes into the descriptor, low byte first --------------------------
            with m.State("DESC_ADDR"):
                m.next = "DESC_DATA"
            with m.State("DESC_DATA"):
                for i in range(self.desc_bytes):
                    with m.If(ptr == i):
                        m.d.sync += desc.as_value()[8 * i:8 * i + 8].eq(frx.payload_data)
                m.d.sync += ptr.eq(ptr + 1)
                with m.If(ptr + 1 == self.desc_bytes):
                    respond(0, 0)
                with m.Else():
                    m.next = "DESC_ADDR"

            # -- the response: header, status, then the bytes of shift (READ: word by word) ------------
            with m.State("HEADER"):
                m.d.comb += [ftx.header.valid.eq(1), ftx.header.payload.cmd.eq(resp_cmd),
                             ftx.header.payload.seq.eq(seq), ftx.header.payload.len.eq(resp_len)]
                with m.If(ftx.header.ready):
                    m.next = "STATUS"
            with m.State("STATUS"):
                m.d.comb += [ftx.payload.valid.eq(1), ftx.payload.payload.eq(status)]
                with m.If(ftx.payload.ready):
                    with m.If((status != Status.OK) & (resp_cmd != (Command.NAK | RESPONSE))):
                        m.d.comb += count["refused"].eq(1)
                    with m.If(words != 0):
                        m.next = "PEEK"
                    with m.Else():
                        m.next = "SEND"
            with m.State("PEEK"):
                m.d.comb += eng.peek.valid.eq(1)
                with m.If(eng.peek.ready):
                    m.next = "PEEK_DATA"
            with m.State("PEEK_DATA"):
                m.d.sync += [shift.eq(eng.peek_data), left.eq(nb), addr.eq(addr + 1), words.eq(words - 1)]
                m.next = "SEND"
            with m.State("SEND"):
                with m.If(left == 0):
                    with m.If(words != 0):
                        m.next = "PEEK"
                    with m.Else():
                        m.next = "DONE"
                with m.Else():
                    byte = Mux(from_ident, ident_rom[len(self.identity) - left], shift[:8])
                    m.d.comb += [ftx.payload.valid.eq(1), ftx.payload.payload.eq(byte)]
                    with m.If(ftx.payload.ready):
                        m.d.sync += [shift.eq(shift >> 8), left.eq(left - 1)]
            with m.State("DONE"):
                m.d.comb += frx.frame.ready.eq(1)
                m.d.sync += from_ident.eq(0)
                m.next = "IDLE"

        for name, c in counters.items():
            inc = lost if name == "overflows" else count[name]
            with m.If(~soft_reset):
                m.d.sync += c.eq(c + inc)
        return m
