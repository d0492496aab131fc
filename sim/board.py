"""The simulated board: a :class:`hw.link.top.SerialCore` (UART, host link, layer engine) under cocotb
and Verilator behind a TCP socket (:mod:`sim.tb_board`), for the host driver to use as it would use a
board: ``socket://127.0.0.1:PORT`` instead of ``/dev/ttyUSB0`` (docs/link.md).

Verilator, not Icarus: Icarus 11 mis-simulates Amaranth's UART logic (docs/link.md). The simulated UART
runs at ``divisor`` = 4 clock cycles a bit (the fewest the receiver allows) so a layer's bytes take
seconds, not hours, of simulation; ``IDENT`` reports the iCEBreaker's 12 MHz clock.

``python -m sim.board [--arch A] [--rows R] [--cols C] [--port P]`` builds the design, prints the URL and
serves one host connection; :class:`SimulatedBoard` does the same from Python (a context manager).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from golden.check import check_choice, check_int
from hw.array.archs import ARCHS, engine
from hw.link.top import SerialCore

__all__ = ["SimulatedBoard", "sim_core", "SIM_DIVISOR", "SIM_CLK_HZ"]

SIM_DIVISOR = 4
SIM_CLK_HZ = 12_000_000


def sim_core(arch: str, rows: int = 2, cols: int = 2) -> SerialCore:
    """The simulated board's design: ``arch`` on a ``rows x cols`` engine with a board's buffers
    (:func:`fpga.board.board_config`), so the core is the one a board's bitstream holds but for the UART
    divisor and the clock it reports."""
    from fpga.board import board_config
    check_choice("arch", arch, ARCHS)
    cfg = board_config(arch, check_int("rows", rows, lo=1, hi=16), check_int("cols", cols, lo=1, hi=16))
    return SerialCore(engine(arch, cfg, hold_desc=True), arch=list(ARCHS).index(arch), clk_hz=SIM_CLK_HZ,
                      divisor=SIM_DIVISOR)


class SimulatedBoard:
    """A simulated board serving one host connection; ``url`` once entered.

    ``build_dir``: where Verilator builds (default ``build/sim/board_<arch>_<R>x<C>``); ``start_timeout``:
    seconds to wait for the build and the socket.
    """

    def __init__(self, arch: str = "stripes", rows: int = 2, cols: int = 2, *, build_dir=None, port: int = 0,
                 start_timeout: float = 600.0):
        self.core = sim_core(arch, rows, cols)
        self.arch, self.rows, self.cols = arch, rows, cols
        from sim.runner import BUILD
        self.build_dir = Path(build_dir or BUILD / "sim" / f"board_{arch}_{rows}x{cols}")
        self.port_file = self.build_dir / "port"
        self.port, self.start_timeout = port, start_timeout
        self.url = None
        self._thread = None
        self._error: list = []

    def _serve(self):
        from sim.runner import run_cocotb
        try:
            run_cocotb(self.core, toplevel=f"board_{self.arch}", tb_module="sim.tb_board", build_dir=self.build_dir,
                       params={"divisor": SIM_DIVISOR, "port": self.port, "port_file": str(self.port_file),
                               "accept_timeout": self.start_timeout},
                       simulator="verilator")
        except BaseException as e:            # reported by __exit__ / __enter__
            self._error.append(e)

    def __enter__(self) -> SimulatedBoard:
        self.build_dir.mkdir(parents=True, exist_ok=True)
        self.port_file.unlink(missing_ok=True)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        end = time.monotonic() + self.start_timeout
        while not self.port_file.exists() or not self.port_file.read_text().strip():
            if self._error or not self._thread.is_alive():
                raise RuntimeError(f"the simulated board did not start: {self._error[0] if self._error else 'ended'}")
            if time.monotonic() > end:
                raise RuntimeError(f"the simulated board did not open its socket within {self.start_timeout} s")
            time.sleep(0.1)
        self.url = f"socket://127.0.0.1:{int(self.port_file.read_text())}"
        return self

    def __exit__(self, *exc):
        self._thread.join(timeout=120)
        if self._error and exc[0] is None:
            raise self._error[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.board", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="stripes", choices=list(ARCHS))
    ap.add_argument("--rows", type=int, default=2)
    ap.add_argument("--cols", type=int, default=2)
    ap.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    args = ap.parse_args(argv)
    try:
        board = SimulatedBoard(args.arch, args.rows, args.cols, port=args.port)
    except (ValueError, TypeError) as e:
        ap.error(str(e))
    print(f"building the simulated {args.arch} {args.rows}x{args.cols} board (Verilator) ...", flush=True)
    with board:
        print(f"serving one connection at {board.url}  (python -m host.run --url {board.url})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
