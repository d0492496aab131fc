"""cocotb bench for hw.bitvert.column_decoder.BBSColumnDecoder: every Gs-bit sub-column (exhaustive)."""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from golden.primitives import bbs_column_decode
from sim.runner import test_params


@cocotb.test()
async def decoder_matches_golden(dut):
    gs = test_params()["subgroup"]
    cols = np.arange(1 << gs, dtype=np.int64)
    inv, sel, valid = bbs_column_decode(cols, subgroup=gs)
    inv, sel, valid = inv.tolist(), sel.tolist(), valid.tolist()
    for c in cols.tolist():
        dut.column.value = c
        await Timer(1, unit="ns")
        got = (int(dut.invert.value),
               [int(getattr(dut, f"sel__{j}").value) for j in range(gs // 2)],
               [int(getattr(dut, f"valid__{j}").value) for j in range(gs // 2)])
        want = (inv[c], sel[c], valid[c])
        assert got == want, f"column={c:#0{gs // 4 + 2}x}: got (invert, sel, valid)={got}, golden {want}"
