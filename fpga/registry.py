"""Named generator configurations: what ``make verilog`` and ``make synth`` build.

``GENERATORS`` maps a generator name (the first argument of ``python -m fpga.verilog``) to its class;
``CONFIGS`` lists the registered configurations. A block's entry holds its constructor keywords; a PE's
entry holds its golden configuration object (``DenseConfig``, ``BBSConfig``, ...) and its hardware-only
options, exactly what the PE is built from (:class:`hw.pe.PE`).

``ARRAY_CONFIGS`` lists the layer engines (:func:`layer_engine`, one per architecture of
:data:`hw.array.archs.ARCHS`, 4 x 4 PEs): ``make verilog`` emits them with the rest, ``fpga.synth`` (the
area table) leaves them out (they hold block RAM and take minutes each); ``fpga.array_report``
characterizes them.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

from golden.baselines import DenseConfig, PragmaticConfig
from golden.bbs import BBSConfig
from golden.bitbalance import BitBalanceConfig
from golden.bitlet import BitletConfig
from golden.ebsp import EBSPConfig
from hw.pe import PE

from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.bitvert.column_decoder import BBSColumnDecoder
from hw.ebsp.lut import EBSPLut
from hw.blocks.lod import LeadingOneDetector
from hw.blocks.popcount import Popcount
from hw.blocks.shift_accumulator import ShiftAccumulator
from hw.bitbalance.pe import BitBalancePE
from hw.bitlet.lane import BitletLane
from hw.bitlet.mac import BitletMAC
from hw.bitlet.pe import BitletPE
from hw.bitvert.pe import BitVertPE
from hw.ebsp.pe import EBSPPE
from hw.baselines.parallel_mac import ParallelMAC
from hw.baselines.pragmatic import PragmaticPE
from hw.baselines.stripes import StripesPE

__all__ = ["GENERATORS", "CONFIGS", "ARRAY_CONFIGS", "ENGINE_BUFFERS", "Config", "get_config", "build",
           "split_params", "layer_engine"]

#: buffer depths of the registered engines: those of the engine bench (tests/sim/test_engine_cocotb.py), which
#: hold its layer slice (the first rows + 2 channels of EfficientNet-Lite0's classifier, C = 1280, of block 8's
#: expand convolution and of the stem on an 11 x 11 crop) for every architecture up to 4 x 4 PEs
ENGINE_BUFFERS = {"weight_depth": 512, "act_depth": 512, "param_depth": 8, "out_depth": 256, "acc_width": 32}


def layer_engine(**params):
    """A :class:`hw.array.layer.LayerEngine` of architecture ``arch`` (a name of :data:`hw.array.archs.ARCHS`,
    its default PE) on ``rows x cols`` PEs, with the :class:`golden.array.ArrayConfig` buffer fields
    ``weight_depth``, ``act_depth``, ``param_depth``, ``out_depth``, ``acc_width``. Defaults: ``stripes``,
    4 x 4, :data:`ENGINE_BUFFERS`. A name outside these is refused (``ValueError`` naming it)."""
    from golden.array import ArrayConfig
    from hw.array.archs import engine

    allowed = {"arch": "stripes", "rows": 4, "cols": 4, **ENGINE_BUFFERS}
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ValueError(f"layer_engine has no parameter {unknown[0]!r}; its parameters are {', '.join(allowed)}")
    p = {**allowed, **params}
    arch = p.pop("arch")
    return engine(arch, ArrayConfig(**p))


# its parameters for inspect.signature (fpga.params lists them): the keywords ``layer_engine`` accepts
layer_engine.__signature__ = inspect.Signature(
    [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
     for k, v in {"arch": "stripes", "rows": 4, "cols": 4, **ENGINE_BUFFERS}.items()])


GENERATORS = {
    "lod": LeadingOneDetector,
    "barrel_shifter": BarrelShifter,
    "popcount": Popcount,
    "adder_tree": AdderTree,
    "shift_accumulator": ShiftAccumulator,
    "ebsp_lut": EBSPLut,
    "bbs_column_decoder": BBSColumnDecoder,
    "stripes_pe": StripesPE,
    "pragmatic_pe": PragmaticPE,
    "parallel_mac": ParallelMAC,
    "bitvert_pe": BitVertPE,
    "ebsp_pe": EBSPPE,
    "bitbalance_pe": BitBalancePE,
    "bitlet_pe": BitletPE,
    "bitlet_mac": BitletMAC,
    "bitlet_lane": BitletLane,
    "layer_engine": layer_engine,
}


@dataclass(frozen=True)
class Config:
    """One registered configuration.

    ``params``: a block's constructor keywords, or a PE's hardware-only options (``multiplier``,
    ``weight_format``); ``config``: a PE's golden configuration object (None for a block).
    """

    name: str
    generator: str
    params: dict = field(default_factory=dict)
    note: str = ""
    heavy: bool = False   # minutes of synthesis: left out of the make-test synthesis smoke, kept in make synth
    place_only: bool = False   # ECP5: placed, not routed (routing does not finish in hours); make synth ROUTE=1
    config: object = None

    def build(self):
        cls = _generator(self.generator)
        return cls(self.config, **self.params) if self.config is not None else cls(**self.params)

    @property
    def all_params(self) -> dict:
        """Every parameter: the configuration's fields, then the options (or the block's keywords)."""
        fields = dataclasses.asdict(self.config) if self.config is not None else {}
        return {**fields, **self.params}


def _generator(generator: str):
    """The class (or function) of ``generator``; ``ValueError`` listing the generators and the closest."""
    if generator not in GENERATORS:
        from fpga.params import suggest
        raise ValueError(f"generator must be one of {', '.join(sorted(GENERATORS))}, got {generator!r}"
                         + suggest(generator, GENERATORS))
    return GENERATORS[generator]


def split_params(generator: str, params: dict) -> tuple[object, dict]:
    """``(golden configuration, hardware options)`` of a PE generator from flat ``params``; a name that is
    neither a field of its configuration class nor one of its options is refused, naming the valid ones."""
    cls = _generator(generator)
    fields = [f.name for f in dataclasses.fields(cls.config_class)]
    unknown = [k for k in params if k not in fields and k not in cls.options]
    if unknown:
        raise ValueError(f"{generator} has no parameter {unknown[0]!r}; its parameters are "
                         f"{', '.join(fields + list(cls.options))}")
    config = cls.config_class(**{k: v for k, v in params.items() if k in fields})
    return config, {k: v for k, v in params.items() if k in cls.options}


def build(generator: str, params: dict):
    """Instantiate generator ``generator`` from flat ``params`` (a PE: its configuration's fields and its
    options; a block: its keywords). Raises ``ValueError``/``TypeError`` naming a bad name or value."""
    cls = _generator(generator)
    if isinstance(cls, type) and issubclass(cls, PE):
        config, options = split_params(generator, params)
        return cls(config, **options)
    return cls(**params)


CONFIGS = [
    Config("lod_w16", "lod", {"width": 16}, "LOD, 16 bits"),
    Config("lod_w64", "lod", {"width": 64}, "LOD, 64 bits (Bitlet repack scale)"),
    Config("barrel_left_w16", "barrel_shifter",
           {"width": 16, "max_shift": 15, "direction": "left", "arithmetic": True}, "signed << 0..15"),
    Config("barrel_right_w16", "barrel_shifter",
           {"width": 16, "max_shift": 15, "direction": "right", "arithmetic": False}, "unsigned >> 0..15"),
    Config("barrel_right_arith_w24", "barrel_shifter",
           {"width": 24, "max_shift": 31, "direction": "right", "arithmetic": True}, "Bitlet-style aligner"),
    Config("popcount_w8", "popcount", {"width": 8}, "BBS sub-column popcount"),
    Config("popcount_w64", "popcount", {"width": 64}, "64-bit popcount"),
    Config("adder_tree_n16_w8", "adder_tree", {"n": 16, "width": 8}, "16 int8, combinational"),
    Config("adder_tree_n16_w8_pipe2", "adder_tree", {"n": 16, "width": 8, "register_every": 2},
           "16 int8, register every 2 levels"),
    Config("shift_acc_add_x13_s8", "shift_accumulator",
           {"x_width": 13, "steps": 8, "mode": "shift_add", "max_shift": 7}, "acc += +/-(x << k)"),
    Config("shift_acc_double_x12_s8", "shift_accumulator",
           {"x_width": 12, "steps": 8, "mode": "double_add"}, "acc = 2 acc +/- x (Stripes)"),
    Config("ebsp_lut_a8_l3", "ebsp_lut", {"act_width": 8, "window": 3, "read_ports": 1}, "int8, L = 3"),
    Config("ebsp_lut_a8_l3_r16", "ebsp_lut", {"act_width": 8, "window": 3, "read_ports": 16},
           "shared by 16 lanes"),
    Config("bbs_column_decoder_gs8", "bbs_column_decoder", {"subgroup": 8}, "BitVert Gs = 8"),
    # processing elements (issue 4 onwards); characterized by fpga/pe_report.py
    Config("stripes_pe_l8", "stripes_pe", note="Stripes, 8 lanes", config=DenseConfig(bits=8, pe_length=8, act_bits=8)),
    Config("stripes_pe_l16", "stripes_pe", note="Stripes, 16 lanes", config=DenseConfig(bits=8, pe_length=16, act_bits=8)),
    Config("pragmatic_pe_l16", "pragmatic_pe", note="Pragmatic on weights, 1..7 cycles/group",
           config=PragmaticConfig(bits=8, pe_length=16, act_bits=8)),
    Config("parallel_mac_l16", "parallel_mac", {"multiplier": "lut"}, "bit-parallel MAC, LUT multipliers",
           heavy=True, config=DenseConfig(bits=8, pe_length=16, act_bits=8)),
    Config("parallel_mac_l8_dsp", "parallel_mac", {"multiplier": "sb_mac16"},
           "bit-parallel MAC, 8 SB_MAC16 (fits the UP5K)", config=DenseConfig(bits=8, pe_length=8, act_bits=8)),
    Config("bitvert_pe_n2", "bitvert_pe", note="BitVert cons: 6 cycles/pass, 8 sensitive",
           config=BBSConfig(bits=8, pruned=2, pe_length=16, subgroup=8, const_bits=6)),
    Config("bitvert_pe_n4", "bitvert_pe", note="BitVert mod: 4 cycles/pass, 8 sensitive",
           config=BBSConfig(bits=8, pruned=4, pe_length=16, subgroup=8, const_bits=6)),
    Config("bitvert_pe_n4_l8", "bitvert_pe", note="BitVert mod, G_pe = 8",
           config=BBSConfig(bits=8, pruned=4, pe_length=8, subgroup=8, const_bits=6)),
    Config("ebsp_pe_l16_enc", "ebsp_pe", {"weight_format": "encoded"},
           "EBSP, pre-encoded (sign, shift, digits), 1 cycle/group",
           config=EBSPConfig(bits=8, window=3, pe_length=16, act_bits=8, lut_sharing=1)),
    Config("ebsp_pe_l16_plain", "ebsp_pe", {"weight_format": "plain"},
           "EBSP, sign-magnitude weights via LOD + digit mux",
           config=EBSPConfig(bits=8, window=3, pe_length=16, act_bits=8, lut_sharing=1)),
    Config("bitbalance_pe_l16_k3", "bitbalance_pe", note="Bit-balance, run-time k <= 3 in the payload, k cycles/group",
           config=BitBalanceConfig(bits=8, k=3, pe_length=16, act_bits=8)),
    Config("bitlet_int8_n16", "bitlet_pe", note="Bitlet INT8, 16 pairs, 8 lanes, 8-bit check window (the BBS comparison point)",
           config=BitletConfig(n_total=16, n_input=16, n_channel=8, n_check=8, act_bits=8)),
    Config("bitlet_int8_n16_whole", "bitlet_pe", note="Bitlet INT8, 16 pairs, whole-column lanes",
           config=BitletConfig(n_total=16, n_input=16, n_channel=8, n_check=16, act_bits=8)),
    Config("bitlet_lane_n16_whole", "bitlet_lane", {"n_total": 16, "n_check": 16},
           "one Bitlet lane scheduler, 16 pairs, whole-column form"),
    Config("bitlet_lane_n16_c8", "bitlet_lane", {"n_total": 16, "n_check": 8},
           "one Bitlet lane scheduler, 16 pairs, 8-bit check window"),
    Config("bitlet_mac_n16", "bitlet_mac",
           {"n_total": 16, "n_lanes": 8, "x_width": 8, "act_signed": True, "acc_width": 20},
           "Bitlet INT8 MAC datapath alone (selects as inputs: the scope of the BBS authors' model)"),
    Config("bitlet_fixed24_n64", "bitlet_pe", note="the paper's PE, 1-24 bit fixed point", heavy=True, place_only=True,
           config=BitletConfig(n_total=64, n_input=16, n_channel=24, n_check=8, mode="fixed")),
    Config("bitlet_fp32_n64", "bitlet_pe", note="the paper's PE, fp32", heavy=True, place_only=True,
           config=BitletConfig(n_total=64, n_input=16, n_channel=24, n_check=8, mode="fp32")),
    Config("bitlet_fp32_n16", "bitlet_pe", note="Bitlet fp32, 16 pairs (the paper's lanes and window)", heavy=True,
           config=BitletConfig(n_total=16, n_input=8, n_channel=24, n_check=8, mode="fp32")),
]


def _array_configs() -> list[Config]:
    from hw.array.archs import ARCHS
    return [Config(f"engine_{name}_4x4", "layer_engine", {"arch": name, "rows": 4, "cols": 4, **ENGINE_BUFFERS},
                   f"layer engine, 4 x 4 PEs: {arch.note}") for name, arch in ARCHS.items()]


ARRAY_CONFIGS = _array_configs()


def get_config(name: str) -> Config:
    """The registered configuration ``name`` (of :data:`CONFIGS` or :data:`ARRAY_CONFIGS`)."""
    for c in CONFIGS + ARRAY_CONFIGS:
        if c.name == name:
            return c
    raise ValueError(f"configuration must be one of {', '.join(c.name for c in CONFIGS + ARRAY_CONFIGS)}, "
                     f"got {name!r}")
