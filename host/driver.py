"""The host driver of a bitsparse board (docs/link.md): one code path for a board's serial port
(``/dev/ttyUSB0``), the simulated board (``socket://localhost:PORT``, :mod:`sim.board`) and ``loop://``,
through pyserial's ``serial_for_url``.

:class:`Board` sends one command at a time and waits for its response (stop and wait): a response that
does not arrive within ``timeout`` seconds, or a ``NAK`` (the board saw a bad CRC), makes it resend the
same frame, up to ``retries`` times; responses to an older ``seq`` (late answers to a resent frame) are
skipped. A status other than OK raises :class:`Refused` naming the command and the status, except
``DUPLICATE`` for a resent ``RUN`` or ``RESET``, which means the first copy was executed.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import serial

from golden.link import MAGIC, MAX_PAYLOAD, RESPONSE, Buffer, Command, Frame, FrameReceiver, Status, encode_frame

__all__ = ["Board", "Identity", "BoardStatus", "LinkError", "Refused", "open_board"]

STATUS_FIELDS = (("flags", 1), ("cycles", 4), ("frames", 2), ("crc_errors", 2), ("timeouts", 2),
                 ("overflows", 2), ("line_errors", 2), ("refused", 2))


class LinkError(RuntimeError):
    """The board did not answer a command correctly after every retry."""


class Refused(LinkError):
    """The board answered a command with a status other than OK."""

    def __init__(self, command: Command, status: int):
        self.command, self.status = command, status
        name = Status(status).name if status in Status._value2member_map_ else f"unknown status {status}"
        super().__init__(f"the board refused {command.name}: {name}")


class Identity(NamedTuple):
    """The ``IDENT`` record (docs/link.md)."""
    version: int
    arch: int
    rows: int
    cols: int
    weight_depth: int
    act_depth: int
    param_depth: int
    out_depth: int
    acc_width: int
    weight_bits: int
    act_bits: int
    param_bits: int
    desc_bits: int
    clk_hz: int
    divisor: int

    @property
    def baud(self) -> float:
        return self.clk_hz / self.divisor

    def widths(self) -> dict:
        """Bits of a word of each buffer."""
        return {Buffer.WEIGHTS: self.weight_bits, Buffer.ACTS: self.act_bits, Buffer.PARAMS: self.param_bits,
                Buffer.ACTS_BROADCAST: self.act_bits // self.cols, Buffer.OUTPUTS: self.acc_width}

    def depths(self) -> dict:
        return {Buffer.WEIGHTS: self.weight_depth, Buffer.ACTS: self.act_depth, Buffer.PARAMS: self.param_depth,
                Buffer.ACTS_BROADCAST: self.act_depth, Buffer.OUTPUTS: self.out_depth}

    @classmethod
    def parse(cls, data: bytes) -> Identity:
        if len(data) != 31 or data[:4] != MAGIC:
            raise LinkError(f"not a bitsparse board: IDENT answered {data.hex()} (expected {MAGIC!r} and 27 bytes)")
        u = lambda i, n: int.from_bytes(data[i:i + n], "little")  # noqa: E731
        return cls(data[4], data[5], data[6], data[7], u(8, 2), u(10, 2), u(12, 2), u(14, 2), data[16],
                   u(17, 2), u(19, 2), u(21, 2), u(23, 2), u(25, 4), u(29, 2))


class BoardStatus(NamedTuple):
    """The ``STATUS`` record: the engine's flags and cycle counter, and the link's counters."""
    busy: bool
    load_error: bool
    cycles: int
    frames: int
    crc_errors: int
    timeouts: int
    overflows: int
    line_errors: int
    refused: int

    @classmethod
    def parse(cls, data: bytes) -> BoardStatus:
        want = sum(n for _, n in STATUS_FIELDS)
        if len(data) != want:
            raise LinkError(f"STATUS answered {len(data)} bytes, expected {want}")
        values, i = [], 0
        for _, n in STATUS_FIELDS:
            values.append(int.from_bytes(data[i:i + n], "little"))
            i += n
        flags, *rest = values
        return cls(bool(flags & 1), bool(flags & 2), *rest)


def _nbytes(bits: int) -> int:
    return (bits + 7) // 8


class Board:
    """A board (or the simulated board) at ``url``; ``baud`` is ignored by sockets and ``loop://``.

    ``timeout``: seconds to wait for a response before resending; ``retries``: resends before
    :class:`LinkError`; ``progress``: show a progress bar for transfers expected to take more than a
    second and a half (None: only when stderr is a terminal).
    """

    def __init__(self, url: str, *, baud: int = 1_000_000, timeout: float = 1.0, retries: int = 5,
                 progress: bool | None = None, port=None):
        try:
            self.port = port if port is not None else serial.serial_for_url(url, baudrate=baud, timeout=0.05)
        except (serial.SerialException, ValueError) as e:
            raise LinkError(f"cannot open {url}: {e}") from None
        self.url, self.timeout, self.retries = url, timeout, retries
        self.progress = progress
        self.seq = 0
        self.resends = 0                 # frames sent again (no response in time, or a NAK)
        self.link_seconds = 0.0          # wall time spent in commands
        self.identity: Identity | None = None
        self._rx = FrameReceiver(timeout=1)       # the host times out by the clock (deadline), not by gaps
        self._frames: list = []

    def close(self):
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- frames ---------------------------------------------------------------------------------------

    def _read_frame(self, deadline: float):
        """The next response with a good CRC (:class:`golden.link.Frame`); None at the deadline. The bytes
        go through the golden receiver (:class:`golden.link.FrameReceiver`): bytes outside a frame and
        frames with a bad CRC are skipped."""
        while not self._frames:
            if time.monotonic() > deadline:
                return None
            for b in self.port.read(max(1, self.port.in_waiting)):
                self._frames += [e for e in self._rx.feed(b) if isinstance(e, Frame)]
        return self._frames.pop(0)

    def command(self, cmd: Command, payload: bytes = b"") -> bytes:
        """Send ``cmd`` with ``payload``; return the response payload after its status byte."""
        self.seq = (self.seq + 1) & 0xFF
        frame = encode_frame(cmd, self.seq, payload)
        t0 = time.monotonic()
        try:
            for attempt in range(self.retries + 1):
                if attempt:
                    self.resends += 1
                self.port.write(frame)
                self.port.flush()
                deadline = time.monotonic() + self.timeout
                while True:
                    got = self._read_frame(deadline)
                    if got is None:
                        self._rx.reset()                             # drop a partial response
                        break                                        # no answer in time: resend
                    rcmd, rseq, rpayload = got
                    if rseq != self.seq:
                        continue                                     # a late answer to an older frame
                    if rcmd == Command.NAK | RESPONSE:
                        break                                        # the board saw a bad CRC: resend
                    if rcmd != cmd | RESPONSE or not rpayload:
                        raise LinkError(f"{cmd.name}: unexpected response {rcmd:#04x} {rpayload.hex()}")
                    status = rpayload[0]
                    if status == Status.DUPLICATE and cmd in (Command.RUN, Command.RESET) and attempt:
                        return b""
                    if status != Status.OK:
                        raise Refused(cmd, status)
                    return rpayload[1:]
            raise LinkError(f"{cmd.name}: no valid response from {self.url} after {self.retries + 1} tries "
                            f"(timeout {self.timeout} s each)")
        finally:
            self.link_seconds += time.monotonic() - t0

    # -- commands -------------------------------------------------------------------------------------

    def identify(self) -> Identity:
        self.identity = Identity.parse(self.command(Command.IDENT))
        return self.identity

    def _ident(self) -> Identity:
        return self.identity or self.identify()

    def status(self) -> BoardStatus:
        return BoardStatus.parse(self.command(Command.STATUS))

    def reset(self) -> None:
        self.command(Command.RESET)

    def set_descriptor(self, value: int) -> None:
        """The descriptor's bits (``hw.array.layer.descriptor_layout``) as one integer."""
        ident = self._ident()
        if not 0 <= value < 1 << ident.desc_bits:
            raise ValueError(f"descriptor value must fit {ident.desc_bits} bits, got {value}")
        self.command(Command.DESC, value.to_bytes(_nbytes(ident.desc_bits), "little"))

    def run(self) -> None:
        self.command(Command.RUN)

    def wait(self, poll: float = 0.0, limit: float = 60.0) -> BoardStatus:
        """Poll ``STATUS`` until the engine is idle; its last status."""
        end = time.monotonic() + limit
        while True:
            st = self.status()
            if not st.busy:
                return st
            if time.monotonic() > end:
                raise LinkError(f"the layer still runs after {limit} s (cycles so far {st.cycles})")
            time.sleep(poll)

    def _check(self, buffer: Buffer, addr: int, count: int, write: bool):
        ident = self._ident()
        allowed = list(Buffer)[:4] if write else list(Buffer)
        if buffer not in allowed:
            raise ValueError(f"buffer must be one of {[b.name for b in allowed]}, got {buffer!r}")
        depth = ident.depths()[buffer]
        if not (0 <= addr and addr + count <= depth):
            raise ValueError(f"words {addr} .. {addr + count - 1} are outside the {Buffer(buffer).name} buffer "
                             f"(depth {depth})")
        return ident.widths()[buffer]

    def _bar(self, total: int, nbytes_total: int, what: str):
        ident = self._ident()
        seconds = nbytes_total * 10 / ident.baud
        show = self.progress
        if show is None:
            import sys
            show = sys.stderr.isatty()
        if not show or seconds < 1.5:
            return None
        from tqdm import tqdm
        return tqdm(total=total, desc=what, unit="word", leave=False)

    def write(self, buffer: Buffer, addr: int, words) -> None:
        """Write ``words`` (integers of the buffer's width) from ``addr`` on, as few frames as possible."""
        words = [int(w) for w in words]
        bits = self._check(Buffer(buffer), addr, len(words), write=True)
        for w in words:
            if not 0 <= w < 1 << bits:
                raise ValueError(f"a {Buffer(buffer).name} word must fit {bits} bits, got {w:#x}")
        nb = _nbytes(bits)
        per = (MAX_PAYLOAD - 3) // nb
        bar = self._bar(len(words), len(words) * nb, f"write {Buffer(buffer).name}")
        for i in range(0, len(words), per):
            chunk = words[i:i + per]
            self.command(Command.WRITE, bytes([buffer]) + (addr + i).to_bytes(2, "little")
                         + b"".join(w.to_bytes(nb, "little") for w in chunk))
            if bar:
                bar.update(len(chunk))
        if bar:
            bar.close()

    def read(self, buffer: Buffer, addr: int, count: int) -> list[int]:
        """``count`` words of ``buffer`` from ``addr`` on (outputs as signed integers)."""
        bits = self._check(Buffer(buffer), addr, count, write=False)
        nb = _nbytes(bits)
        per = (MAX_PAYLOAD - 1) // nb
        out = []
        bar = self._bar(count, count * nb, f"read {Buffer(buffer).name}")
        for i in range(0, count, per):
            n = min(per, count - i)
            data = self.command(Command.READ, bytes([buffer]) + (addr + i).to_bytes(2, "little") + bytes([n]))
            if len(data) != n * nb:
                raise LinkError(f"READ answered {len(data)} bytes, expected {n * nb}")
            for j in range(n):
                v = int.from_bytes(data[j * nb:(j + 1) * nb], "little")
                if buffer == Buffer.OUTPUTS and v >> (bits - 1):
                    v -= 1 << bits
                out.append(v)
            if bar:
                bar.update(n)
        if bar:
            bar.close()
        return out


def open_board(url: str, **kwargs) -> Board:
    """A :class:`Board` at ``url``, identified (raises :class:`LinkError` when nothing answers)."""
    board = Board(url, **kwargs)
    try:
        board.identify()
    except Exception:
        board.close()
        raise
    return board
