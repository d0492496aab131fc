"""Where a layer engine's area goes (issue 13): Yosys synthesis that keeps the hierarchy, per module group.

``python -m fpga.area_breakdown --arch bitvert --arch stripes8 --shape 4x4 --family ecp5 [--family ice40]``

The engine is :class:`fpga.array_report.Engine` (the registered buffers at 4 x 4, the slice's otherwise),
elaborated exactly as ``fpga.array_report`` does. Its Verilog keeps every Amaranth submodule as a module
(``<top>.grid.datapath_r0c0``, ...); the modules down to :data:`DEPTH` levels below the top (the grid,
the address generator, and the grid's PEs, datapaths, row schedulers and sequencers, column sums) get
``keep_hierarchy`` and the rest is flattened into them, then the family's flow of ``fpga.pnr`` /
``fpga.array_report`` runs unchanged (ECP5: :data:`fpga.pnr.ECP5_SYNTH`, ``abc -lut 4``, which maps
multipliers to MULT18X18D; iCE40: :data:`fpga.pnr.ICE40_SYNTH`, no DSP, the script of the PE reports and
of docs/bbs.md's grid figures, so a PE's LUT4 include its multiplier) and ``stat -json`` counts every
module.

Groups (:func:`module_group`): PE datapaths (BitVert's and a RowSharedGrid's per-PE datapath; a PEGrid's
whole PE with its sequencer; a BitletGrid's MACs), row schedulers (BitVert's; a BitletGrid's lane
schedulers), row weight units (a RowSharedGrid's: Pragmatic's
offsets, Bit-balance's slot registers, EBSP's weight decode), row sequencers, column activation sums
(BitVert's), column LUTs (a RowSharedGrid's column units: EBSP's activation registers and LUTs), and the
logic of two modules that mixes several roles, split by :func:`attribute` over the mapped netlist: every register, block RAM, DSP,
submodule input and output port is a *sink* named by :data:`TOP_RULES` / :data:`GRID_RULES`, and every
LUT (carry cell) is charged to the sinks its outputs reach through combinational cells, in equal shares
when it reaches several groups. The top module (``LayerEngine``) gives the buffers (memories, their
address and write logic, the grid-input masking), the controller (the descriptor, pass reader, tile
counters, FSM, cycle counter; with the ``conv_address`` module), the write-back (bias add, requantizing
multiplier, shifter, clamp, output and activation-buffer write addresses) and the host ports (load,
peek, drain); the grid module gives the PEs' tile accumulators (a PEGrid's, per PE), the PEs' result registers (the tile the
write-back reads while the next one computes), the column
activation registers (BitVertGrid, RowSharedGrid) and the grid glue (lock-step issue, delivery counters, the
accumulator read multiplexer).

Non-flattened synthesis optimizes nothing across a kept boundary (no constant propagated into a module,
no logic merged between modules), so the sum of the groups is larger than the flattened engine's area;
the flattened engine (and grid) of ``fpga.array_report`` is synthesized too (the same cache,
``docs/array_cache.json``) and given next to the sum.

Writes ``build/reports/area_breakdown.json`` (a list of rows, merged by ``name`` = ``<engine>_<family>``,
``_d<depth>`` added for another ``--depth``)
and ``build/reports/area_breakdown.md``. Row fields: ``name``, ``arch``, ``family``, ``rows``, ``cols``,
``pes``, ``groups`` (``{group: {"lut4", "ff", "carry", "bram", "dsp", "lutram", "instances"}}``, LUT4
possibly fractional from shared cells), ``per_pe`` (the PE datapath group per instance), ``pe_detail``
(per module kind, the cells of one instance), ``hier_total`` (sum of the groups), ``flat`` (the flattened
engine and grid: ``lut4``, ``ff``, ``bram``, ``dsp``), ``macs_per_cycle`` (the cycle model on the whole
``_blocks.8._expand_conv`` layer, as the README's array table), ``sinks`` (the names each split group was
given), ``key`` (the engine's Verilog key), ``revision``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from fpga import array_report as ar
from fpga import pnr as _pnr
from fpga.synth import mark_done, reuse_or_fresh, run_key, run_yosys, step
from fpga.verilog import to_verilog

__all__ = ["DEPTH", "TOP_RULES", "GRID_RULES", "module_group", "kept_modules", "hier_script", "cell_kind",
           "attribute", "breakdown", "summarize", "markdown", "main"]

ROOT = ar.ROOT
WORK = ROOT / "build" / "area_breakdown"
#: levels of hierarchy kept below the top module (1: grid and conv_address; 2: the grid's children)
DEPTH = 2
HEADLINE_LAYER = "_blocks.8._expand_conv"

# -- the groups -----------------------------------------------------------------------------------

#: group order of the tables
GROUPS = ("PE datapaths", "PE tile accumulators", "PE result registers", "row schedulers", "row weight units", "row sequencers",
          "column activation sums", "column LUTs", "column activation registers", "grid glue", "buffers", "controller",
          "write-back", "host ports", "other")
GRID_GROUPS = GROUPS[:10]
#: groups whose logic is per PE (the PE level of the ratios)
PE_GROUPS = ("PE datapaths", "PE tile accumulators", "PE result registers")

#: sinks of the top module (LayerEngine's own logic), by name (first match). A sink's name is the net its
#: register drives (``wb_raw``), a memory or DSP cell's type and name, ``<instance>:<port>`` for an input
#: of a submodule, ``port:<name>`` for an output port
TOP_RULES = [
    (r"^(MULT18X18D|SB_MAC16) total", "host ports"),     # desc.channels * desc.tokens: the drain's count
    (r"^(MULT18X18D|SB_MAC16|\$mul)\b", "write-back"),
    (r"^(DP16KD|PDPW16KD|TRELLIS_DPR16X4|SB_RAM40_4K|\$mem)", "buffers"),
    (r"^(wmem|pmem|omem|amem)", "buffers"),
    (r"^(wb_|k_div|k_mod|k0_div|k0_mod|dst_tbase|dst_rowbase|map_addr|product|coarse|scaled)", "write-back"),
    (r"^grid:issue__payload", "buffers"),         # the grid's inputs: buffer words and their masking
    (r"^grid:", "controller"),                    # issue valid, clear, tile_passes, the read selects
    (r"^conv_address:", "controller"),
    (r"^port:(peek|load|drain)", "host ports"),
    (r"^(pk_buffer|peek|d_addr|d_more|d_valid|drain|load_error)", "host ports"),
    (r"", "controller"),                          # desc, rd_*, staged, col_valid, issued, kt, tt, fsm, busy, cycles
]
#: the write-back's second stage (product rounding, shift, clamp) feeds the buffers' write ports directly
TOP_OVERRIDES = [("buffers", "write-back", "write-back")]
#: sinks of the grid module
GRID_RULES = [
    (r"^acc_r\d+c\d+", "PE tile accumulators"),
    (r"^result_r\d+c\d+", "PE result registers"),  # the captured tile the write-back reads
    (r"^acts", "column activation registers"),   # acts_c<c> (or the datapaths' acts input it drives)
    (r"^(datapath|pe|mac)_r\d+c\d+:", "PE datapaths"),
    (r"^(scheduler|lanes)_r\d+:", "row schedulers"),
    (r"^row_unit_r\d+:", "row weight units"),
    (r"^seq_r\d+:", "row sequencers"),
    (r"^act_sums_c\d+:", "column activation sums"),
    (r"^col_unit_c\d+:", "column LUTs"),          # a RowSharedGrid's column units (EBSP's activation LUTs)
    (r"", "grid glue"),                           # got_r*, tile_done, issue.ready, the acc read mux
]

#: the own logic of one instance of these modules (``pe_detail``, at ``--depth 3``), split by sink
DETAIL_RULES = {
    r"^grid\.datapath_r0c0$": [
        (r"^lanes\d+:", "window muxes (AND-OR, into the lane adder trees)"),
        (r"^column_tree:", "Eq. 2/3 per sub-group (into the column tree)"),
        (r"^shifter:", "sign column's negation (into the shifter)"),
        (r"", "constant term, step adder and accumulator"),
    ],
    r"^grid\.pe_r0c0$": [
        (r"^w\d+", "weight shift registers"),
        (r"^a\d+", "activation registers"),
        (r"^tree:", "lane AND (into the adder tree)"),
        (r"^(sequencer|seq)\w*:", "into the sequencer"),
        (r"", "accumulator and result register"),
    ],
    r"^grid\.scheduler_r0$": [
        (r"^decoder\d+:", "into the column decoders (column select)"),
        (r"^next_col", "column shift register"),
        (r"onehot", "column decoders, into the one-hot select registers"),
        (r"", "other registers (col_idx, digits, invert)"),
    ],
}

_KIDS = [(r"^grid\.(datapath|pe|mac)_r\d+c\d+$", "PE datapaths"), (r"^grid\.(scheduler|lanes)_r\d+$", "row schedulers"),
         (r"^grid\.row_unit_r\d+$", "row weight units"),
         (r"^grid\.seq_r\d+$", "row sequencers"), (r"^grid\.act_sums_c\d+$", "column activation sums"),
         (r"^grid\.col_unit_c\d+$", "column LUTs"),
         (r"^conv_address$", "controller")]


def module_group(path: str) -> str | None:
    """The group of a module by its path below the top (``grid.datapath_r0c0``, ``conv_address``; a
    deeper module is its ancestor's); None for the top and grid modules, which :func:`attribute` splits."""
    if path in ("", "grid"):
        return None
    parts = path.split(".")
    for depth in range(len(parts), 0, -1):
        head = ".".join(parts[:depth])
        for pattern, group in _KIDS:
            if re.match(pattern, head):
                return group
    return "other"


def kept_modules(verilog: str, top: str, depth: int = DEPTH) -> list[str]:
    """The modules of ``verilog`` at most ``depth`` levels below ``top`` (the top excluded)."""
    names = re.findall(r"^module \\?(\S+?)[\s(]", verilog, re.M)
    out = []
    for n in names:
        if n.startswith(top + "."):
            if n[len(top) + 1:].count(".") < depth:
                out.append(n)
    return out


def hier_script(family: str, kept: list[str]) -> str:
    """The family's synthesis script of the project with ``keep_hierarchy`` on ``kept`` before it and a
    netlist written after it."""
    base = _pnr.ECP5_SYNTH if family == "ecp5" else _pnr.ICE40_SYNTH
    lines = base.splitlines()
    keep = [f"setattr -mod -set keep_hierarchy 1 {n}" for n in kept]
    # read, then the hierarchy (so the modules exist), the attributes, then the flow as it is
    out = [lines[0], "hierarchy -top {top}"] + keep + lines[1:]
    return "\n".join(out) + "\nwrite_json netlist.json\n"


# -- the netlist ----------------------------------------------------------------------------------

_COMB = re.compile(r"^(LUT4|CCU2C|PFUMX|L6MUX21|SB_LUT4|SB_CARRY|\$_.*_|\$(and|or|xor|not|mux|pmux|add|sub|eq|ne|"
                   r"lt|le|gt|ge|shl|shr|sshr|logic_.*|reduce_.*))$")
_FF = re.compile(r"^(TRELLIS_FF|SB_DFF\w*|\$_DFF\w*|\$_SDFF\w*|\$_DFFE\w*|\$dff\w*|\$sdff\w*|\$adff\w*)$")


def cell_kind(ctype: str, modules) -> str:
    """``comb``, ``ff``, ``inst`` (a module of the design) or ``hard`` (RAM, DSP, anything else)."""
    if ctype in modules or ctype.lstrip("\\") in modules:
        return "inst"
    if _FF.match(ctype):
        return "ff"
    if _COMB.match(ctype):
        return "comb"
    return "hard"


def _costs(ctype: str) -> dict:
    if ctype in ("LUT4", "SB_LUT4"):
        return {"lut4": 1}
    if ctype == "CCU2C":
        return {"lut4": 2, "carry": 1}
    if ctype == "SB_CARRY":
        return {"carry": 1}
    if _FF.match(ctype):
        return {"ff": 1}
    if ctype in ("DP16KD", "PDPW16KD", "SB_RAM40_4K"):
        return {"bram": 1}
    if ctype in ("MULT18X18D", "SB_MAC16"):
        return {"dsp": 1}
    if ctype == "TRELLIS_DPR16X4":
        return {"lutram": 1}
    return {}


_OUT_PORTS = {"Z", "Q", "O", "F", "S0", "S1", "COUT", "CO", "DO", "RDATA"}


def _is_output(cell: dict, port: str) -> bool:
    d = cell.get("port_directions", {}).get(port)
    if d is not None:
        return d == "output"
    return port in _OUT_PORTS or re.match(r"^(DO[AB]\d+|P\d+|ROA\d+|ROB\d+|DO\d+|O|Q|Z|F\d?|S[01]|COUT)$", port)


_GENERATED = re.compile(r"^\\?[$_]|_(LUT4|CCU2C|TRELLIS_FF|PFUMX|L6MUX21|SB_LUT4|SB_CARRY|SB_DFF\w*)_")


def _generated(name: str) -> bool:
    return bool(_GENERATED.search(name))


def _bit_names(module: dict) -> dict:
    """Net bit -> its preferred name (a public name over a hidden one, the shortest)."""
    names = {}
    ports = set(module.get("ports", {}))
    for name, net in module.get("netnames", {}).items():
        # hidden names, then generated ones (Amaranth's $1, Yosys' _2_, abc -dress's x_LUT4_Z_3_D), then
        # ports, then the shortest
        generated = _generated(name)
        hidden = net.get("hide_name", 0)
        for b in net["bits"]:
            if isinstance(b, str):
                continue
            old = names.get(b)
            cand = (hidden, generated, name in ports, len(name), name)
            if old is None or cand < old:
                names[b] = cand
    return {b: c[-1] for b, c in names.items()}


def _classify(name: str, rules) -> str:
    for pattern, group in rules:
        if re.search(pattern, name):
            return group
    return "other"


def attribute(module: dict, rules, modules=(), instance_name=None, overrides=()) -> tuple[dict, dict]:
    """Split the cells of one netlist module (Yosys ``write_json``'s) into groups by their sinks (module
    docstring): ``({group: costs}, {group: sorted sink names})``. ``overrides``: ``(sink group, source
    group, group)``: a combinational cell's share of ``sink group`` goes to ``group`` when its inputs come
    (through combinational cells) from a register or cell of ``source group`` (the write-back's second
    stage, combinational from its registers into the buffers' write ports, is write-back logic).
    ``modules``: the design's module names
    (a cell of such a type is a submodule instance, a sink by ``<instance>:<port>``, its cost not
    counted here); ``instance_name(cell_name, cell)``: the instance's short name (default the cell name
    after its last ``.``)."""
    modules = set(modules) | {m.lstrip("\\") for m in modules}
    names = _bit_names(module)
    cells = module.get("cells", {})
    # bit -> (cell, port) readers; cell -> output bits
    readers = defaultdict(list)
    driver = {}
    outputs = {}
    kinds = {}
    for cname, cell in cells.items():
        kinds[cname] = cell_kind(cell["type"], modules)
        outs = []
        for port, bits in cell["connections"].items():
            if _is_output(cell, port):
                outs += [b for b in bits if not isinstance(b, str)]
                driver.update((b, cname) for b in bits if not isinstance(b, str))
            else:
                for b in bits:
                    if not isinstance(b, str):
                        readers[b].append((cname, port))
        outputs[cname] = outs
    port_readers = defaultdict(list)
    for pname, p in module.get("ports", {}).items():
        if p["direction"] in ("output", "inout"):
            for b in p["bits"]:
                if not isinstance(b, str):
                    port_readers[b].append(pname)

    def short(cname, cell):
        if instance_name:
            return instance_name(cname, cell)
        return cname.lstrip("\\").rpartition(".")[2]

    def sink_name(cname, port):
        cell = cells[cname]
        kind = kinds[cname]
        if kind == "inst":
            return f"{short(cname, cell)}:{port}"
        if kind == "ff":
            q = outputs[cname]
            name = names.get(q[0], cname) if q else cname
            if _generated(name):
                # a register without a name of its own: a RAM's read register is the RAM's
                d = [b for p, bits in cell["connections"].items() if not _is_output(cell, p) for b in bits
                     if not isinstance(b, str) and b in driver and kinds[driver[b]] == "hard"]
                if d:
                    return sink_name(driver[d[0]], None)
            return name
        return f"{cell['type']} {cname.lstrip(chr(92))}"

    sinks_of = {}
    sink_names = defaultdict(set)

    def groups_of_cell(start):
        # iterative DFS over combinational fan-out with memo
        stack = [(start, False)]
        while stack:
            cname, done = stack.pop()
            if cname in sinks_of and not done:
                continue
            if done:
                acc = set()
                for b in outputs[cname]:
                    for pname in port_readers.get(b, ()):
                        g = _classify(f"port:{pname}", rules)
                        sink_names[g].add(f"port:{pname}")
                        acc.add(g)
                    for rc, rport in readers.get(b, ()):
                        if kinds[rc] == "comb":
                            acc |= sinks_of.get(rc, set())
                        else:
                            sn = sink_name(rc, rport)
                            g = _classify(sn, rules)
                            sink_names[g].add(re.sub(r"\[\d+\]$", "", sn))
                            acc.add(g)
                sinks_of[cname] = acc
                continue
            sinks_of[cname] = set()          # in progress (no combinational loop after synthesis)
            stack.append((cname, True))
            for b in outputs[cname]:
                for rc, _ in readers.get(b, ()):
                    if kinds[rc] == "comb" and rc not in sinks_of:
                        stack.append((rc, False))

    sources_of = {}

    def source_groups(start):
        # the groups of the registers, cells and ports the combinational cell start reads, through
        # combinational cells (iterative, memoized)
        stack = [(start, False)]
        while stack:
            cname, done = stack.pop()
            if cname in sources_of and not done:
                continue
            cell = cells[cname]
            ins = [b for p, bits in cell["connections"].items() if not _is_output(cell, p) for b in bits
                   if not isinstance(b, str)]
            if done:
                acc = set()
                for b in ins:
                    d = driver.get(b)
                    if d is None:
                        continue                 # an input port: no group
                    if kinds[d] == "comb":
                        acc |= sources_of.get(d, set())
                    elif kinds[d] != "inst":
                        acc.add(_classify(sink_name(d, None), rules))
                sources_of[cname] = acc
                continue
            sources_of[cname] = set()
            stack.append((cname, True))
            stack.extend((driver[b], False) for b in ins if b in driver and kinds[driver[b]] == "comb"
                         and driver[b] not in sources_of)

    totals = defaultdict(lambda: defaultdict(float))
    for cname, cell in cells.items():
        kind = kinds[cname]
        cost = _costs(cell["type"])
        if kind == "inst" or not cost:
            continue
        if kind == "comb":
            if cname not in sinks_of or not sinks_of[cname]:
                sinks_of.pop(cname, None)
                groups_of_cell(cname)
            gs = sinks_of[cname] or {"other"}
            for sink_group, source_group, group in overrides:
                if sink_group in gs:
                    if cname not in sources_of:
                        source_groups(cname)
                    if source_group in sources_of[cname]:
                        gs = (gs - {sink_group}) | {group}
        else:
            sn = sink_name(cname, None)
            g = _classify(sn, rules)
            sink_names[g].add(re.sub(r"\[\d+\]$", "", sn))
            gs = {g}
        for g in gs:
            for k, v in cost.items():
                totals[g][k] += v / len(gs)
    return ({g: dict(c) for g, c in totals.items()},
            {g: sorted(s) for g, s in sink_names.items()})


def _module_cells(stat_module: dict, modules) -> dict:
    """A module's own costs from ``stat -json``'s ``num_cells_by_type`` (submodule instances excluded)."""
    out = defaultdict(float)
    for ctype, n in stat_module.get("num_cells_by_type", {}).items():
        if ctype in modules or ctype.lstrip("\\") in modules:
            continue
        for k, v in _costs(ctype).items():
            out[k] += v * n
    return dict(out)


def summarize(stat: dict, netlist: dict, top: str) -> dict:
    """Groups of one hierarchical synthesis (``stat -json`` and ``write_json`` of the same design):
    ``{"groups": {group: costs + instances}, "per_pe": costs, "pe_detail": {kind: costs}, "sinks": ...}``."""
    smods = stat["modules"]
    modules = set(smods) | {m.lstrip("\\") for m in smods}
    groups = defaultdict(lambda: defaultdict(float))
    instances = defaultdict(set)
    detail = {}
    sinks = {}
    nmods = netlist["modules"]
    for mname, sm in smods.items():
        name = mname.lstrip("\\")
        path = "" if name == top else name[len(top) + 1:] if name.startswith(top + ".") else None
        if path is None:
            continue                                   # a cell library module
        g = module_group(path)
        if g is None:
            rules, over = (TOP_RULES, TOP_OVERRIDES) if path == "" else (GRID_RULES, ())
            split, sk = attribute(nmods[name] if name in nmods else nmods[mname], rules, modules, overrides=over)
            for grp, c in split.items():
                for k, v in c.items():
                    groups[grp][k] += v
            sinks["engine" if path == "" else "grid"] = sk
            continue
        own = _module_cells(sm, modules)
        for k, v in own.items():
            groups[g][k] += v
        top_level = ".".join(path.split(".")[:2]) if path.startswith("grid.") else path.split(".")[0]
        instances[g].add(top_level)
        kind = re.sub(r"_r\d+c\d+|_r\d+|_c\d+", "", top_level)
        if top_level.endswith(("_r0c0", "_r0", "_c0")) or top_level == "conv_address":
            sub = path[len(top_level) + 1:]
            rules = next((r for pat, r in DETAIL_RULES.items() if re.match(pat, path)), None)
            kids = any(t in modules and t != mname for t in sm.get("num_cells_by_type", {}))
            if rules is not None and not kids and not path.startswith("grid.scheduler"):
                rules = None                           # flattened: one sink, nothing to split
            if sub or rules is None:
                detail.setdefault(kind, {})[sub or "(own logic)"] = own
            else:
                split, _ = attribute(nmods[name] if name in nmods else nmods[mname], rules, modules)
                for grp, c in split.items():
                    detail.setdefault(kind, {})[f"own: {grp}"] = {k: round(v, 1) for k, v in c.items()}
    out = {}
    for g in GROUPS:
        if g in groups:
            out[g] = {k: round(v, 1) for k, v in sorted(groups[g].items())}
            out[g]["instances"] = len(instances[g]) or 1
    pe = out.get("PE datapaths", {})
    n = pe.get("instances", 1)
    per_pe = {k: round(v / n, 1) for k, v in pe.items() if k != "instances"}
    return {"groups": out, "per_pe": per_pe, "pe_detail": detail, "sinks": sinks}


# -- the runs -------------------------------------------------------------------------------------


def hier_synth(e: "ar.Engine", family: str, work=WORK, depth: int = DEPTH) -> dict:
    """Hierarchical synthesis of engine ``e`` for ``family`` (kept in ``work/<name>/<family>_hier``):
    :func:`summarize` of its stat and netlist."""
    verilog = to_verilog(e.make(), e.top)
    script = hier_script(family, kept_modules(verilog, e.top, depth)).format(src=f"{e.top}.v", top=e.top,
                                                                            json="")
    stat_file = "ecp5_stat.json" if family == "ecp5" else "ice40_stat.json"
    key = run_key(verilog, script)
    workdir, done = reuse_or_fresh(Path(work) / e.name / f"{family}_hier_d{depth}", key, "netlist.json")
    if not done:
        (workdir / f"{e.top}.v").write_text(verilog)
        with step(e.name, f"Yosys {family} synthesis, hierarchy kept to depth {depth}", workdir,
                  f"area_breakdown_{family}"):
            run_yosys(script, workdir, e.name, "netlist.json")
        mark_done(workdir, key)
    stat = json.loads((workdir / stat_file).read_text())
    netlist = json.loads((workdir / "netlist.json").read_text())
    return summarize(stat, netlist, e.top)


def flat_figures(e: "ar.Engine", family: str, cache) -> dict:
    """The flattened engine and grid of ``fpga.array_report`` (its cache keys and work directories):
    ``{"lut4", "ff", "bram", "dsp", "grid_lut4"}``."""
    if family == "ecp5":
        eng = ar.ecp5_figures(e, cache, place=False)
        grid = ar._cached(cache, e.step_key("grid_ecp5_area"), f"{e.name}: ECP5 synthesis of the grid alone",
                          lambda: _pnr.ecp5_area(f"grid_{e.name}", e.make().grid, e.work / "grid_ecp5_area"))
        return {"lut4": eng["lut4"], "ff": eng["ff"], "bram": eng["bram"], "dsp": eng["dsp"],
                "grid_lut4": grid["lut4"], "grid_ff": grid["ff"]}
    eng = ar._cached(cache, e.step_key("ice40_area"), f"{e.name}: iCE40 synthesis (project script, no DSP)",
                     lambda: _pnr.ice40_area(e.top, e.make(), e.work / "ice40_area_nodsp"))
    grid = ar._cached(cache, e.step_key("grid_ice40_area"), f"{e.name}: iCE40 synthesis of the grid alone",
                      lambda: _pnr.ice40_area(f"grid_{e.name}", e.make().grid, e.work / "grid_ice40_area"))
    return {"lut4": eng["lut4"], "ff": eng["ff"], "bram": eng["ram"], "dsp": eng["dsp"], "carry": eng["carry"],
            "grid_lut4": grid["lut4"], "grid_ff": grid["ff"]}


def breakdown(arch: str, rows: int, cols: int, family: str, cache=None, work=WORK, flat: bool = True,
              depth: int = DEPTH) -> dict:
    """One row (module docstring)."""
    buffers = "registry" if (rows, cols) == ar.ECP5_SHAPE else "slice"
    e = ar.Engine(arch, rows, cols, buffers)
    ar.log(f"{e.name} ({family}): hierarchical synthesis")
    s = hier_synth(e, family, work, depth)
    total = defaultdict(float)
    for c in s["groups"].values():
        for k, v in c.items():
            if k != "instances":
                total[k] += v
    mpc = ar.whole_layer_cycles(arch, rows, cols, HEADLINE_LAYER)["macs_per_cycle"]
    name = f"{e.name}_{family}" + ("" if depth == DEPTH else f"_d{depth}")
    return {"name": name, "arch": arch, "family": family, "rows": rows, "cols": cols,
            "pes": rows * cols, "depth": depth, **s, "hier_total": {k: round(v, 1) for k, v in total.items()},
            "flat": flat_figures(e, family, cache) if flat else None,
            "macs_per_cycle": mpc, "key": e.key, "revision": ar._revision()}


# -- tables ---------------------------------------------------------------------------------------


def _n(v, spec=",.0f"):
    return "" if v is None else f"{v:{spec}}"


def level_totals(row: dict) -> dict:
    """LUT4 of the three levels of the ratios: ``pe`` (PE groups), ``grid`` (every grid group),
    ``engine`` (every group); from the hierarchical sum."""
    g = row["groups"]
    lut = {k: v.get("lut4", 0) for k, v in g.items()}
    return {"pe": sum(lut.get(k, 0) for k in PE_GROUPS), "grid": sum(lut.get(k, 0) for k in GRID_GROUPS),
            "engine": sum(lut.values())}


def markdown(rows: list[dict]) -> str:
    """Per family: a table of groups (LUT4 and FF per architecture) with the per-PE line, the sum and
    the flattened figures; then the ratios of MACs/cycle per kLUT to the first architecture's Stripes
    reference at the three levels."""
    lines = []
    for family in sorted({r["family"] for r in rows}, key=lambda f: f != "ecp5"):
        rs = [r for r in rows if r["family"] == family and r.get("depth", DEPTH) == DEPTH]
        if not rs:
            continue
        carry = "CCU2C" if family == "ecp5" else "SB_CARRY"
        lines += [f"### {family.upper()} (synthesis, hierarchy kept; LUT4{' = LUT4 + 2 per CCU2C' if family == 'ecp5' else ''})",
                  "", "| group | " + " | ".join(f"{r['arch']} {r['rows']}x{r['cols']} LUT4 | FF" for r in rs) + " |",
                  "|---|" + "---:|---:|" * len(rs)]
        for g in GROUPS:
            if not any(g in r["groups"] for r in rs):
                continue
            cells = []
            for r in rs:
                c = r["groups"].get(g)
                cells += [_n(c.get("lut4", 0)) if c else "", _n(c.get("ff", 0)) if c else ""]
            lines.append(f"| {g} | " + " | ".join(cells) + " |")
        lines.append("| per PE datapath | " + " | ".join(f"{_n(r['per_pe'].get('lut4', 0))} | {_n(r['per_pe'].get('ff', 0))}"
                                                     for r in rs) + " |")
        lines.append("| **sum (hierarchical)** | " + " | ".join(f"**{_n(r['hier_total'].get('lut4', 0))}** | "
                                                             f"{_n(r['hier_total'].get('ff', 0))}" for r in rs) + " |")
        lines.append("| flattened engine | " + " | ".join(f"{_n(r['flat']['lut4'])} | {_n(r['flat']['ff'])}" if r.get("flat")
                                                       else " | " for r in rs) + " |")
        lines.append("| flattened grid alone | " + " | ".join(f"{_n(r['flat']['grid_lut4'])} | {_n(r['flat']['grid_ff'])}"
                                                           if r.get("flat") else " | " for r in rs) + " |")
        lines.append(f"| {carry}, BRAM, DSP (hierarchical) | " + " | ".join(
            f"{_n(r['hier_total'].get('carry', 0))}, {_n(r['hier_total'].get('bram', 0))}, "
            f"{_n(r['hier_total'].get('dsp', 0))} | " for r in rs) + " |")
        lines.append("")
        refs = {(r["rows"], r["cols"]): r for r in rs if r["arch"] == "stripes8"}
        for shape, ref in refs.items():
            rs_shape = [r for r in rs if (r["rows"], r["cols"]) == shape]
            lines += [f"MACs/cycle per kLUT ({HEADLINE_LAYER}, whole layer, cycle model) relative to "
                      f"stripes8 {shape[0]}x{shape[1]} at three levels:", "",
                      "| architecture | MACs/cycle | PE LUT4 | ratio | grid LUT4 | ratio | engine LUT4 (hier.) | ratio "
                      "| engine LUT4 (flat) | ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
            rl = level_totals(ref)
            for r in rs_shape:
                lv = level_totals(r)
                cells = []
                for k in ("pe", "grid", "engine"):
                    cells += [_n(lv[k]), f"{(r['macs_per_cycle'] / lv[k]) / (ref['macs_per_cycle'] / rl[k]):.2f}x"]
                if r.get("flat") and ref.get("flat"):
                    ratio = (r["macs_per_cycle"] / r["flat"]["lut4"]) / (ref["macs_per_cycle"] / ref["flat"]["lut4"])
                    cells += [_n(r["flat"]["lut4"]), f"{ratio:.2f}x"]
                else:
                    cells += ["", ""]
                lines.append(f"| {r['arch']} | {r['macs_per_cycle']:.2f} | " + " | ".join(cells) + " |")
            lines.append("")
    for r in rows:
        lines += [f"One instance of each module of {r['name']} (hierarchy kept to depth {r.get('depth', DEPTH)}):", "",
                  "| module | part | LUT4 | FF | carry cells | DSP |", "|---|---|---:|---:|---:|---:|"]
        for kind, parts in r["pe_detail"].items():
            for part, c in parts.items():
                lines.append(f"| {kind} | {part} | {_n(c.get('lut4', 0), ',.1f')} | {_n(c.get('ff', 0))} | "
                             f"{_n(c.get('carry', 0))} | {_n(c.get('dsp', 0))} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def write(rows: list[dict], reports=ar.REPORTS) -> list[dict]:
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / "area_breakdown.json"
    old = {r["name"]: r for r in json.loads(path.read_text())} if path.exists() else {}
    old.update({r["name"]: r for r in rows})
    every = list(old.values())
    path.write_text(json.dumps(every, indent=1) + "\n")
    (reports / "area_breakdown.md").write_text(markdown(every))
    return every


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fpga.area_breakdown", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", action="append", choices=list(ar.ARCHS), required=True)
    ap.add_argument("--shape", action="append", type=ar._shape, help="RxC (default 4x4)")
    ap.add_argument("--family", action="append", choices=("ecp5", "ice40"), help="default ecp5")
    ap.add_argument("--depth", type=int, default=DEPTH, help=f"hierarchy levels kept below the top (default {DEPTH})")
    ap.add_argument("--no-flat", action="store_true", help="skip the flattened engine and grid")
    ap.add_argument("--reports", default=str(ar.REPORTS))
    args = ap.parse_args(argv)
    cache = ar.Cache(ar.CACHE)
    rows = []
    for family in args.family or ["ecp5"]:
        for shape in args.shape or [ar.ECP5_SHAPE]:
            for arch in args.arch:
                rows.append(breakdown(arch, *shape, family, cache, flat=not args.no_flat, depth=args.depth))
                every = write(rows, args.reports)
    sys.stdout.write(markdown([r for r in every if r["name"] in {x["name"] for x in rows}]))
    ar.log(f"wrote {Path(args.reports) / 'area_breakdown.json'} and {Path(args.reports) / 'area_breakdown.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
