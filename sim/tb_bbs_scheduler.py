"""cocotb bench for ``hw/bitvert/scheduler.py``: per-cycle controls of every pass against the golden model.

The pytest side (``tests/hw/bitvert/test_scheduler.py``) writes ``BITSPARSE_PARAMS["vectors"]``: per pass the
packed ``group``, its ``n_steps`` and, per live cycle, ``invert`` / ``sel`` / ``valid`` (per sub-column and
lane), ``col_idx``, ``is_msb`` and ``(const_digit, const_shift)`` (and ``sel_onehot == valid << sel``),
all from golden.bbs.column_sums, golden.primitives.bbs_column_decode and golden.bitvert.constant_digits. The
bench loads each pass (with ``advance`` also set on every third load: load wins), checks ``n_steps``
combinationally, then checks every cycle's controls once while holding (neither ``load`` nor ``advance``)
and advances.
"""

import json

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from sim.runner import test_params


def read(dut, S, half):
    def port(name):
        return getattr(dut, name)
    for s in range(S):                                  # the PE's one-hot selects = valid << sel
        for j in range(half):
            assert int(port(f"sel_onehot__{s}__{j}").value) == \
                int(port(f"valid__{s}__{j}").value) << int(port(f"sel__{s}__{j}").value)
    return {"invert": [int(port(f"invert__{s}").value) for s in range(S)],
            "sel": [[int(port(f"sel__{s}__{j}").value) for j in range(half)] for s in range(S)],
            "valid": [[int(port(f"valid__{s}__{j}").value) for j in range(half)] for s in range(S)],
            "col_idx": int(dut.col_idx.value), "is_msb": int(dut.is_msb.value),
            "digit": [dut.const_digit.value.to_signed(), int(dut.const_shift.value)]}


@cocotb.test()
async def controls(dut):
    p = test_params()
    with open(p["vectors"]) as f:
        passes = json.load(f)
    S, half = p["subcolumns"], p["subgroup"] // 2
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.load.value = 0
    dut.advance.value = 0
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    for k, ps in enumerate(passes):
        dut.group.value = ps["group"]
        dut.load.value = 1
        dut.advance.value = int(k % 3 == 0)
        await Timer(1, unit="ns")
        assert int(dut.n_steps.value) == ps["n_steps"], f"pass {k}: n_steps {int(dut.n_steps.value)}"
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.load.value = 0
        dut.group.value = passes[k - 1]["group"]       # the input may change once loaded
        for t, want in enumerate(ps["steps"]):
            dut.advance.value = 0
            await RisingEdge(dut.clk)                   # hold one cycle
            await FallingEdge(dut.clk)
            got = read(dut, S, half)
            assert got == want, f"pass {k} cycle {t}: scheduler {got}, golden {want}"
            dut.advance.value = 1
            await RisingEdge(dut.clk)
            await FallingEdge(dut.clk)
        dut.advance.value = 0
