"""golden.membench (make bench): every method runs in a child process and reports its peak above the input."""

import json

from golden import membench
from golden.chunks import WORK_BYTES


def test_membench_small_run(tmp_path, capsys):
    out = tmp_path / "memory.json"
    assert membench.main(["--weights", "50000", "--only", "quantize,encode,dot_fixed,cycles_pragmatic",
                          "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [r["name"] for r in records] == ["quantize", "encode", "dot_fixed", "cycles_pragmatic"]
    for r in records:
        assert r["weights"] > 40000 and r["input_bytes"] >= 8 * r["weights"]
        assert r["bound_bytes"] == r["output_bytes"] + WORK_BYTES
        assert 0 <= r["peak_bytes"] <= r["bound_bytes"] and r["cpu_seconds"] >= 0
    assert records[0]["output_bytes"] == 8 * records[0]["weights"] + 8 * (records[0]["weights"] // 2304)
    text = capsys.readouterr().out
    assert "| quantize | 48,384 |" in text and membench.table(records) in text
