"""The layer engine's architectures: which PE and which grid each uses by default, and how a method turns
an INT8 layer into the weights that PE takes (docs/array.md).

:data:`ARCHS` maps a name to an :class:`Arch`: ``make_pe(config)`` builds one PE, ``config`` is its default
configuration (16 weights per pass, as the BBS paper compares PEs; ``stripes8`` is the 8-lane Stripes PE
that matches BitVert's 8 window lanes), ``grid`` the grid class the PEs sit in (default
:class:`~hw.array.grid.PEGrid`, ``rows x cols`` whole PEs), and ``prepare(q, sensitive)`` processes INT8
per-channel weights ``q [K, C]`` with the method (BBS pruning and encoding, Bit-balance and EBSP
projection; the dense PEs take ``q`` as it is). ``bitvert`` is the BBS paper's array
(:class:`~hw.array.bitvert_grid.BitVertGrid`: one scheduler per PE row, one activation-sum unit per PE
column); ``bitvert_unshared`` the same PEs in a ``PEGrid``, each with its own scheduler and sums, for the
comparison (same outputs, same cycles). ``pragmatic``, ``bitbalance`` and ``ebsp`` share the weight side
per row (:class:`~hw.array.shared_grid.RowSharedGrid`: Pragmatic's offsets, Bit-balance's slot
registers, EBSP's weight decode), and ``ebsp`` its activation registers and LUTs per column. ``bitlet``
is Bitlet's fixed-point PE with a pass of 16 pairs loaded in one beat (``n_input = n_total``: the grid
issues a pass as one transaction) in a :class:`~hw.array.bitlet_grid.BitletGrid`: one set of lane
schedulers per row, the activation registers per column, a MAC per PE.
:func:`engine` builds a :class:`~hw.array.layer.LayerEngine` of
one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden import bbs, bitbalance, ebsp
from golden.array import ArrayConfig
from golden.baselines import DenseConfig, PragmaticConfig
from golden.bbs import BBSConfig
from golden.bitbalance import BitBalanceConfig
from golden.bitlet import BitletConfig
from golden.check import check_choice, check_int_array
from golden.ebsp import EBSPConfig

__all__ = ["Arch", "ARCHS", "engine"]


@dataclass(frozen=True)
class Arch:
    name: str
    pe_class: str              # "module.Class"
    config: object             # the default PE configuration
    options: tuple = ()        # (name, value) PE options
    note: str = ""
    grid: str = "hw.array.grid.PEGrid"     # "module.Class" of the grid (LayerEngine's grid_class)

    def make_pe(self, config=None):
        return _resolve(self.pe_class)(self.config if config is None else config, **dict(self.options))

    @property
    def grid_class(self):
        """The grid class :attr:`grid` names."""
        return _resolve(self.grid)

    def prepare(self, q, sensitive=None, config=None):
        """The weights the PE takes for INT8 weights ``q [K, C]`` or ``[K, C, KH, KW]``; ``sensitive`` (bool ``[K]``, BitVert
        only) keeps those channels INT8."""
        cfg = self.config if config is None else config
        q = check_int_array("q", q, lo=-127, hi=127, ndim=(2, 4))
        if isinstance(cfg, BBSConfig):
            # Choice: a layer whose C is not a multiple of the group (80 = 2.5 x 32) is pruned in groups
            # of one pass (pe_length), which every PE pass holds whole
            group = min(cfg.group, q.shape[1]) if q.shape[1] % cfg.group == 0 or q.shape[1] < cfg.group \
                else cfg.pe_length
            if cfg.const_bits == 6 and cfg.pruned <= 3:
                wp, meta = bbs.round_average(q, bits=cfg.bits, group=group, pruned=cfg.pruned)
            else:
                wp, meta = bbs.zero_point_shift(q, bits=cfg.bits, group=group, pruned=cfg.pruned,
                                                const_bits=cfg.const_bits)
            if sensitive is None:
                return bbs.encode(wp, meta)
            s = np.asarray(sensitive, dtype=bool)
            return bbs.encode(np.where(s.reshape((-1,) + (1,) * (q.ndim - 1)), q, wp), meta, sensitive=s)
        if sensitive is not None:
            raise ValueError(f"sensitive channels are a BitVert notion; {self.name} takes sensitive=None")
        if isinstance(cfg, BitBalanceConfig):
            return bitbalance.project(q, bits=cfg.bits, k=cfg.k)
        if isinstance(cfg, EBSPConfig):
            return ebsp.project(q, bits=cfg.bits, window=cfg.window)
        return q

    def prepare_depthwise(self, q, config=None):
        """The weights the PE takes for an INT8 depthwise layer ``q [C, 1, KH, KW]``
        (:func:`hw.array.images.depthwise_layer`). Bit-balance and EBSP project every weight, the dense
        PEs and Bitlet take ``q``; BBS works on groups of input channels and a depthwise layer has one, so
        BitVert keeps it INT8 (every channel sensitive, the network policy of docs/networks.md) and
        encodes its block-diagonal passes (:func:`hw.array.images.block_diagonal`)."""
        cfg = self.config if config is None else config
        q = check_int_array("q", q, lo=-127, hi=127, ndim=4)
        if q.shape[1] != 1:
            raise ValueError(f"q must be depthwise weights [C, 1, KH, KW], got shape {q.shape}")
        if isinstance(cfg, BBSConfig):
            from hw.array.images import block_diagonal
            return self.prepare(block_diagonal(q, cfg.pe_length), np.ones(q.shape[0], dtype=bool), config=cfg)
        return self.prepare(q, config=cfg)


def _resolve(path: str):
    """The object ``"module.Name"`` names."""
    import importlib
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


_ROW_SHARED = "hw.array.shared_grid.RowSharedGrid"
_BITVERT_N2 = BBSConfig(bits=8, pruned=2, pe_length=16, subgroup=8, const_bits=6)

ARCHS = {a.name: a for a in [
    Arch("stripes", "hw.baselines.stripes.StripesPE", DenseConfig(bits=8, pe_length=16, act_bits=8),
         note="Stripes, 16 lanes (equal weights per pass)"),
    Arch("stripes8", "hw.baselines.stripes.StripesPE", DenseConfig(bits=8, pe_length=8, act_bits=8),
         note="Stripes, 8 lanes (equal bit-serial lanes with BitVert)"),
    Arch("parallel", "hw.baselines.parallel_mac.ParallelMAC", DenseConfig(bits=8, pe_length=16, act_bits=8),
         options=(("multiplier", "lut"),), note="bit-parallel MAC, 16 LUT multipliers"),
    Arch("pragmatic", "hw.baselines.pragmatic.PragmaticPE", PragmaticConfig(bits=8, pe_length=16, act_bits=8),
         grid=_ROW_SHARED, note="Pragmatic on weights, essential bits; the offsets once per row"),
    Arch("bitvert", "hw.bitvert.pe.BitVertPE", _BITVERT_N2, grid="hw.array.bitvert_grid.BitVertGrid",
         note="BitVert, BBS rounded averaging N = 2 (6 cycles per pruned pass); one scheduler per row, "
              "one activation-sum unit per column"),
    Arch("bitvert_unshared", "hw.bitvert.pe.BitVertPE", _BITVERT_N2,
         note="BitVert as bitvert, every PE with its own scheduler and activation sums"),
    Arch("bitbalance", "hw.bitbalance.pe.BitBalancePE", BitBalanceConfig(bits=8, k=3, pe_length=16, act_bits=8),
         grid=_ROW_SHARED, note="Bit-balance, k = 3; the slot registers once per row"),
    Arch("bitlet", "hw.bitlet.pe.BitletPE",
         BitletConfig(n_total=16, n_input=16, n_channel=7, n_check=8, mode="fixed", act_bits=8),
         grid="hw.array.bitlet_grid.BitletGrid",
         note="Bitlet, 16 pairs per pass in one beat, 7 magnitude lanes (INT8), 8-bit check windows; the lane "
              "schedulers once per row"),
    Arch("ebsp", "hw.ebsp.pe.EBSPPE", EBSPConfig(bits=8, window=3, pe_length=16, act_bits=8, lut_sharing=1),
         options=(("weight_format", "encoded"),), grid=_ROW_SHARED,
         note="EBSP, window 3, pre-encoded; the weight decode once per row, the LUTs once per column"),
]}


def engine(arch: str, config: ArrayConfig, pe_config=None, *, hold_desc: bool = False, param_ram: str = "auto"):
    """A :class:`~hw.array.layer.LayerEngine` of ``config`` with ``arch``'s PE (``pe_config`` or its default)
    in ``arch``'s grid (``hold_desc``, ``param_ram``: see :class:`~hw.array.layer.LayerEngine`)."""
    from hw.array.layer import LayerEngine
    a = ARCHS[check_choice("arch", arch, ARCHS)]
    return LayerEngine(lambda: a.make_pe(pe_config), config, grid_class=a.grid_class, hold_desc=hold_desc,
                       param_ram=param_ram)
