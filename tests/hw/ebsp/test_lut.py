import numpy as np
import pytest

from golden.primitives import ebsp_lut_entry_width, ebsp_lut_table
from hw.ebsp.lut import EBSPLut
from sim.amaranth_sim import run_comb
from sim.runner import run_cocotb


def test_golden_examples():
    assert ebsp_lut_table(np.array([-3]), act_width=8, window=3).tolist() == [[0, -3, -6, -9, -12, -15, -18, -21]]
    assert ebsp_lut_entry_width(8, 3) == 11        # 7 * -128 = -896
    assert ebsp_lut_entry_width(8, 1) == 8


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(act_width=1), ValueError, r"act_width must be an integer in \[2, 32\], got 1"),
    (dict(window=0), ValueError, r"window must be an integer in \[1, 8\], got 0"),
    (dict(window=9), ValueError, r"window must be an integer in \[1, 8\], got 9"),
    (dict(read_ports=0), ValueError, r"read_ports must be an integer in \[1, 64\], got 0"),
    (dict(window=2.5), TypeError, r"window must be an integer in \[1, 8\], got 2.5 of type float"),
])
def test_generator_refuses_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        EBSPLut(**kwargs)


def test_golden_refuses_out_of_range_activation():
    with pytest.raises(ValueError, match=r"x must hold integers in \[-128, 127\], got 128"):
        ebsp_lut_table(np.array([128]), act_width=8, window=3)


@pytest.mark.parametrize("window", [1, 2, 3])
def test_amaranth_exhaustive_a6(window):
    dut = EBSPLut(6, window, read_ports=2)
    assert dut.adders == [0, 1, 3][window - 1]          # 2**(L-1) - 1 adders build the table
    xs, ds = np.meshgrid(np.arange(-32, 32), np.arange(1 << window), indexing="ij")
    vectors = [[(dut.x, int(x)), (dut.digit[0], int(d)), (dut.digit[1], int((1 << window) - 1 - d))]
               for x, d in zip(xs.ravel(), ds.ravel())]
    got = run_comb(dut, vectors, lambda ctx: (ctx.get(dut.value[0]), ctx.get(dut.value[1])))
    table = ebsp_lut_table(xs.ravel(), act_width=6, window=window)
    want = [(int(t[d]), int(t[(1 << window) - 1 - d])) for t, d in zip(table, ds.ravel())]
    assert got == want


@pytest.mark.cocotb
@pytest.mark.parametrize("act_width, window, read_ports", [(8, 3, 1), (8, 3, 4), (8, 1, 1), (8, 5, 2)])
def test_cocotb_verilog_exhaustive(act_width, window, read_ports, build_dir):
    run_cocotb(EBSPLut(act_width, window, read_ports), toplevel="ebsp_lut", tb_module="sim.tb_ebsp_lut",
               build_dir=build_dir, params={"act_width": act_width, "window": window, "read_ports": read_ports})
