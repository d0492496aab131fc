"""hw/bitvert/column_decoder.py: the golden decode and the decoder against it, exhaustively, in the Amaranth
simulator and in Icarus on its Verilog (sim/tb_bbs_column_decoder.py)."""

import numpy as np
import pytest

from golden.bits import popcount
from golden.primitives import bbs_column_decode, bbs_sel_width
from hw.bitvert.column_decoder import MAX_SUBGROUP, BBSColumnDecoder
from sim.amaranth_sim import run_comb
from sim.runner import run_cocotb


def test_golden_examples():
    # 0b1111_0000: popcount 4 is not > 4, so no invert; lane 3 takes bit 7 (sel 4), ..., lane 0 takes bit 4
    inv, sel, val = bbs_column_decode(np.array([0b11110000]))
    assert inv.tolist() == [0] and sel.tolist() == [[4, 4, 4, 4]] and val.tolist() == [[1, 1, 1, 1]]
    # 0b1110_1111: 7 ones -> invert, the one zero at bit 4: lane 3 (window 3..7) takes it with sel 1
    inv, sel, val = bbs_column_decode(np.array([0b11101111]))
    assert inv.tolist() == [1] and sel.tolist() == [[0, 0, 0, 1]] and val.tolist() == [[0, 0, 0, 1]]
    # 0b0000_0101: lane 3 window 3..7 is empty, lane 2 takes bit 2 (sel 0), lane 0 takes bit 0
    inv, sel, val = bbs_column_decode(np.array([0b00000101]))
    assert inv.tolist() == [0] and sel.tolist() == [[0, 0, 0, 0]] and val.tolist() == [[1, 0, 1, 0]]
    assert bbs_sel_width(8) == 3 and bbs_sel_width(4) == 2 and bbs_sel_width(16) == 4


@pytest.mark.parametrize("gs", [2, 4, 8, 16])
def test_golden_places_every_bit_exactly_once(gs):
    cols = np.arange(1 << gs)
    inv, sel, val = bbs_column_decode(cols, subgroup=gs)
    m = np.where(inv == 1, ((1 << gs) - 1) ^ cols, cols)
    lanes = np.arange(gs // 2)
    taken = (val * (1 << (lanes + sel))).sum(axis=-1)              # distinct bits: a sum is an OR
    assert (taken == m).all()
    assert (val.sum(axis=-1) == popcount(m)).all()                 # ...and no bit twice
    assert (popcount(m) <= gs // 2).all()
    assert (inv == (popcount(cols) > gs // 2)).all()


@pytest.mark.parametrize("gs, exc", [(7, ValueError), (0, ValueError), (18, ValueError), (8.0, TypeError)])
def test_generator_refuses_bad_subgroup(gs, exc):
    msg = (r"subgroup must be an even integer in \[2, 16\], got 7" if gs == 7 else r"subgroup must be an integer in \[2, 16\]")
    with pytest.raises(exc, match=msg):
        BBSColumnDecoder(gs)


def test_max_subgroup_is_the_decoder_limit():
    """MAX_SUBGROUP (the BitVert PE's and scheduler's subgroup limit) is the largest Gs the decoder takes."""
    assert len(BBSColumnDecoder(MAX_SUBGROUP).sel) == MAX_SUBGROUP // 2
    msg = rf"subgroup must be an integer in \[2, {MAX_SUBGROUP}\], got {MAX_SUBGROUP + 2}"
    with pytest.raises(ValueError, match=msg):
        BBSColumnDecoder(MAX_SUBGROUP + 2)


@pytest.mark.parametrize("gs", [4, 8])
def test_amaranth_exhaustive(gs):
    dut = BBSColumnDecoder(gs)
    cols = np.arange(1 << gs)
    got = run_comb(dut, [[(dut.column, int(c))] for c in cols],
                   lambda ctx: (ctx.get(dut.invert), [ctx.get(s) for s in dut.sel], [ctx.get(v) for v in dut.valid]))
    inv, sel, val = bbs_column_decode(cols, subgroup=gs)
    assert got == list(zip(inv.tolist(), sel.tolist(), val.tolist()))


@pytest.mark.cocotb
@pytest.mark.parametrize("gs", [4, 8, 16])
def test_cocotb_verilog_exhaustive(gs, build_dir):
    assert run_cocotb(BBSColumnDecoder(gs), toplevel=f"bbs_column_decoder_gs{gs}",
                      tb_module="sim.tb_bbs_column_decoder", build_dir=build_dir, params={"subgroup": gs}) == 1
