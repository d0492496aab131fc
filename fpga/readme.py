"""Regenerate the measured-results tables of docs/results.md, docs/report.md, docs/sweep.md and
docs/array.md from build/reports/*.json and build/sweep/pes/results.json (``make readme``, ``make report``).

Each table sits between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers; a table whose report
does not exist yet is left as it is. Nothing in a table is typed by hand.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "build" / "reports"
RESULTS = ROOT / "docs" / "results.md"


def area_table(records) -> str:
    from fpga.synth import markdown
    return markdown(records)


def bench_table(records) -> str:
    lines = ["| method | weights | seconds | weights/s | peak RSS (MB) |", "|---|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['name']} | {r['weights']:,} | {r['seconds']:.2f} | {r['weights_per_s']:,.0f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def memory_table(records) -> str:
    from golden.membench import table
    return table(records)


def pe_table(records) -> str:
    from fpga.pe_report import markdown
    return markdown(records)


def bitlet_table(records) -> str:
    from fpga.pe_report import bitlet_bar
    blocks = REPORTS / "blocks.json"
    return bitlet_bar(records, json.loads(blocks.read_text()) if blocks.exists() else [])


def array_table(records) -> str:
    from fpga.array_report import markdown
    return markdown(records)


def array_headline_table(records) -> str:
    from fpga.array_report import headline
    return headline(records)


def board_table(records) -> str:
    from fpga.board import markdown
    return markdown(records)


def networks_table(entries) -> str:
    from network.report import markdown
    return markdown(entries)


def networks_headline_table(entries) -> str:
    from network.report import headline
    return headline(entries)


def board_fits_table(entries) -> str:
    from fpga.board import fits_markdown
    return fits_markdown(entries)


def sweep_table(doc) -> str:
    from sweep.run import markdown
    return markdown(doc["points"], doc["spec"]["network"], doc["spec"]["limit"])


def sweep_headline_table(doc) -> str:
    from sweep.run import headline
    return headline(doc["points"])


def depthwise_cycles_table(report) -> str:
    from fpga.depthwise_report import cycles_table
    return cycles_table(report)


def depthwise_area_table(report) -> str:
    from fpga.depthwise_report import area_table
    return area_table(report)


#: tables README.md repeats as its headline (written there too, from the same record)
README_TABLES = ("array_headline", "boards", "networks_headline", "sweep_headline")

#: name -> (report in build/reports/, or a committed record under docs/, renderer)
TABLES = {"area": ("area.json", area_table), "bench": ("bench.json", bench_table),
          "memory": ("memory.json", memory_table),
          "pe": ("pe.json", pe_table), "bitlet": ("pe.json", bitlet_table), "array": ("array.json", array_table),
          "array_headline": ("array.json", array_headline_table),
          "boards": (ROOT / "docs" / "boards.json", board_table),
          "board_fits": (ROOT / "docs" / "board_fits.json", board_fits_table),
          "networks": ("networks.json", networks_table),
          "networks_headline": ("networks.json", networks_headline_table),
          "sweep_pes": (ROOT / "build" / "sweep" / "pes" / "results.json", sweep_table),
          "sweep_headline": (ROOT / "build" / "sweep" / "pes" / "results.json", sweep_headline_table),
          "sweep_arrays": (ROOT / "build" / "sweep" / "arrays" / "results.json", sweep_table),
          "depthwise_cycles": ("depthwise.json", depthwise_cycles_table),
          "depthwise_area": ("depthwise.json", depthwise_area_table)}

#: tables written to a page other than docs/results.md
REPORT = ROOT / "docs" / "report.md"
SWEEP = ROOT / "docs" / "sweep.md"
ARRAY = ROOT / "docs" / "array.md"
TABLE_DOCS = {"networks": REPORT, "networks_headline": REPORT, "sweep_pes": SWEEP, "sweep_headline": SWEEP,
              "sweep_arrays": SWEEP, "depthwise_cycles": ARRAY, "depthwise_area": ARRAY}


def _make_target(name: str) -> str:
    if name.startswith("sweep"):
        return f"sweep SWEEP=sweeps/{'arrays' if name == 'sweep_arrays' else 'pes'}.toml"
    return ("bench" if name in ("bench", "memory") else "boards" if name.startswith("board") else
            "report" if name.startswith("networks") else "synth")


def replace_section(text: str, name: str, body: str, doc: str = "docs/results.md") -> str:
    pat = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pat.search(text):
        raise SystemExit(f"{doc} has no <!-- {name}:begin --> ... <!-- {name}:end --> section")
    return pat.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> int:
    for page in (RESULTS, REPORT, SWEEP, ARRAY):
        text = page.read_text()
        doc = page.relative_to(ROOT)
        for name, (fname, render) in TABLES.items():
            if TABLE_DOCS.get(name, RESULTS) != page:
                continue
            path = REPORTS / fname
            if path.exists():
                text = replace_section(text, name, render(json.loads(path.read_text())), str(doc))
                print(f"{doc}: {name} table from {path.relative_to(ROOT)}")
            else:
                print(f"{doc}: {name} table kept ({path.relative_to(ROOT)} not found; run make {_make_target(name)})")
        page.write_text(text)
    for plot in ("pareto", "luts_vs_lanes", "fmax"):           # the figures docs/sweep.md shows
        src = ROOT / "build" / "sweep" / "pes" / "img" / f"{plot}.png"
        if src.exists():
            (ROOT / "docs" / "img" / f"sweep_{plot}.png").write_bytes(src.read_bytes())
            print(f"docs/img/sweep_{plot}.png from {src.relative_to(ROOT)}")
    readme = ROOT / "README.md"
    for name in README_TABLES:
        fname, render = TABLES[name]
        path = REPORTS / fname
        if path.exists():
            readme.write_text(replace_section(readme.read_text(), name, render(json.loads(path.read_text())),
                                              "README.md"))
            print(f"README.md: {name} table from {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
