import numpy as np
import pytest

from golden.primitives import shift_accumulate, shift_accumulator_width
from hw.blocks.shift_accumulator import ShiftAccumulator
from sim.amaranth_sim import run_sync
from sim.runner import run_cocotb


def test_golden_examples():
    # Stripes: w = 0b1011 = -5 (4-bit two's complement) times x = 3, MSB column negated
    acc = shift_accumulate([3, 0, 3, 3], [1, 0, 0, 0], start=[1, 0, 0, 0], mode="double_add")
    assert acc.tolist() == [-3, -6, -9, -15]
    acc = shift_accumulate([5, 5, 7], [0, 1, 0], [3, 0, 1], [1, 0, 1], mode="shift_add")
    assert acc.tolist() == [40, 35, 14]
    assert shift_accumulator_width(x_width=8, steps=8, mode="double_add") == 16   # +/-255 * 128 = +/-32640 fits 16 bits
    assert shift_accumulator_width(x_width=12, steps=8, mode="shift_add", max_shift=7) == 23  # 8 * 2^18 = 2^21 -> 23


def test_bad_input():
    with pytest.raises(ValueError, match="mode must be one of 'shift_add', 'double_add', got 'mac'"):
        ShiftAccumulator(8, 8, "mac")
    with pytest.raises(ValueError, match="max_shift must be 0 for mode 'double_add', got 3"):
        ShiftAccumulator(8, 8, "double_add", 3)
    with pytest.raises(ValueError, match=r"steps must be an integer in \[1, 1024\], got 0"):
        ShiftAccumulator(8, 0)
    with pytest.raises(ValueError, match="shift is required for mode 'shift_add'"):
        shift_accumulate([1], [0], mode="shift_add")
    with pytest.raises(ValueError, match=r"negate must hold integers in \[0, 1\], got 2"):
        shift_accumulate([1], [2], [0], mode="shift_add")


@pytest.mark.parametrize("mode, max_shift", [("shift_add", 3), ("double_add", 0)])
def test_amaranth_worst_case_and_random(mode, max_shift):
    w, steps = 5, 6
    dut = ShiftAccumulator(w, steps, mode, max_shift)
    rng = np.random.default_rng(11)
    xs = np.concatenate([np.full(steps, -16), rng.integers(-16, 16, 60)])
    negs = np.concatenate([np.ones(steps, dtype=np.int64), rng.integers(0, 2, 60)])
    shifts = np.concatenate([np.full(steps, max_shift), rng.integers(0, max_shift + 1, 60)])
    starts = np.zeros(len(xs), dtype=np.int64)
    starts[::steps] = 1
    want = shift_accumulate(xs, negs, shifts if mode == "shift_add" else None, starts, mode=mode).tolist()
    got = []

    async def bench(ctx):
        for t in range(len(xs)):
            ctx.set(dut.en, 1)
            ctx.set(dut.x, int(xs[t]))
            ctx.set(dut.negate, int(negs[t]))
            ctx.set(dut.start, int(starts[t]))
            if max_shift:
                ctx.set(dut.shift, int(shifts[t]))
            await ctx.tick()
            got.append(ctx.get(dut.acc))

    run_sync(dut, bench)
    assert got == want
    bound = steps * (16 << max_shift) if mode == "shift_add" else ((1 << steps) - 1) * 16
    assert want[steps - 1] == bound                       # the worst case was reached...
    assert bound <= (1 << (len(dut.acc) - 1)) - 1         # ...and fits the derived width


@pytest.mark.cocotb
@pytest.mark.parametrize("x_width, steps, mode, max_shift", [
    (13, 8, "shift_add", 7),        # BitVert: 12-bit column psum (+sign) << col_idx
    (12, 8, "double_add", 0),       # Stripes: 16 x int8 column sum, 8 columns
    (9, 3, "shift_add", 6),         # Bit-balance: +/- x << position, k = 3
    (4, 5, "shift_add", 0),
])
def test_cocotb_verilog(x_width, steps, mode, max_shift, build_dir):
    run_cocotb(ShiftAccumulator(x_width, steps, mode, max_shift), toplevel="shift_acc",
               tb_module="sim.tb_shift_accumulator", build_dir=build_dir,
               params={"x_width": x_width, "steps": steps, "mode": mode, "max_shift": max_shift})
