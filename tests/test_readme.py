"""The README and docs/: their Python examples run and print what they show, their links resolve, the
README's "what is where" table matches the tree, and the measured tables live in docs/results.md."""

import contextlib
import io
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
# a python block, optionally followed by "prints" and the block of its exact output
EXAMPLE = re.compile(r"```python\n(.*?)```\n(?:\nprints\n\n```\n(.*?)```)?", re.S)


def run_block(code: str, name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), {})
    return out.getvalue()


def test_readme_python_blocks_run():
    blocks = EXAMPLE.findall(README.read_text())
    assert blocks, "README.md has no python example"
    out = "".join(run_block(code, "README.md") for code, _ in blocks)
    assert "BBS mod bits/weight: 4.25" in out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_examples_print_what_they_show(page):
    for code, shown in EXAMPLE.findall(page.read_text()):
        out = run_block(code, page.name)
        if shown:
            assert out == shown, f"{page.name}: the example prints\n{out}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_what_is_where_matches_the_tree():
    text = README.read_text().split("## What is where", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)/` \|", text, re.M)
    assert listed, "README.md: no 'what is where' table"
    for folder in listed:
        if folder == "build":                     # generated and git-ignored: a clone has it once make has run
            assert "build/" in (ROOT / ".gitignore").read_text().split(), ".gitignore does not ignore build/"
            continue
        assert (ROOT / folder).is_dir(), f"README.md lists {folder}/, which does not exist"
    hw = re.search(r"^\| `hw/` \|(.*)$", text, re.M).group(1)
    subpackages = {p.parent.name for p in (ROOT / "hw").glob("*/__init__.py")}
    assert subpackages == set(re.findall(r"`(\w+)/`", hw)), "README.md: hw/ row does not match hw/*/"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if tracked:                                   # a source tree without git metadata skips this part
        folders = {Path(f).parts[0] for f in tracked if len(Path(f).parts) > 1 and not f.startswith(".")}
        assert folders <= set(listed), f"README.md does not list {sorted(folders - set(listed))}"


def test_measured_tables_live_in_docs_results():
    from fpga.readme import README_TABLES, RESULTS, TABLE_DOCS, TABLES, replace_section
    readme = README.read_text()
    for name in TABLES:
        results = TABLE_DOCS.get(name, RESULTS).read_text()
        assert f"<!-- {name}:begin -->" in results and f"<!-- {name}:end -->" in results, name
        if name in README_TABLES:                # the headline copy, written by the same script
            assert replace_section(readme, name, "x\n").count("<!-- ") == readme.count("<!-- ")
            continue
        assert f"<!-- {name}:begin -->" not in readme, f"README.md still holds the {name} table"
        assert replace_section(results, name, "x\n").count("<!-- ") == results.count("<!-- ")
