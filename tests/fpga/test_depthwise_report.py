"""fpga.depthwise_report: the whole real depthwise layer's cycles on 4 x 4 engines (docs/array.md)."""

import pytest

from fpga import depthwise_report as dr


def test_stripes_cycles_by_hand():
    """Stripes takes 8 steps a pass, one pass per tap: 120 channel tiles x 56 token tiles (14 output rows of
    ceil(14 / 4) tiles), 25 passes of 8 steps each (200 >= 16 outputs: the write-back is hidden), latency 1."""
    c = dr.depthwise_cycles("stripes")
    tiles, per_tile = 120 * 14 * 4, 25 * 8
    assert c["cycles"] == 1 + (per_tile + 1 + 16 + 3) + (tiles - 1) * (per_tile + 1 + 2) == 1_364_178
    assert c["compute_only"] == tiles * per_tile
    assert c["macs"] == 480 * 25 * 14 * 14 and c["steps_per_pass"] == 8.0


def test_sparse_methods_skip_the_zero_lanes():
    """A depthwise pass holds one weight per row and zeros elsewhere: the bit-parallel MAC takes one step,
    Bitlet and Pragmatic far fewer than Stripes' 8; BitVert keeps the layer INT8 (8 steps)."""
    c = {a: dr.depthwise_cycles(a) for a in ("parallel", "bitlet", "pragmatic", "bitvert")}
    assert c["parallel"]["steps_per_pass"] == 1.0 and c["bitvert"]["steps_per_pass"] == 8.0
    assert c["bitlet"]["cycles"] < c["pragmatic"]["cycles"] < c["bitvert"]["cycles"]
    md = dr.markdown({"layer": "L", "layer_shape": "s", "macs": c["parallel"]["macs"], "cycles": c})
    assert "| parallel | 188,178 | 1.00 |" in md and "n/a" in md       # no Stripes row: no ratio


def test_bad_arch_named():
    with pytest.raises(ValueError, match="arch must be one of"):
        dr.depthwise_cycles("stripez")


@pytest.mark.parametrize("arch", ["stripes", "pragmatic", "bitbalance"])
def test_compute_only_is_the_network_reports_count(arch):
    """The engine's passes without tile changes and write-back are the count the network report gives a
    depthwise layer: golden.cycles.layer_cycles at a pass of one weight."""
    from golden.cycles import layer_cycles
    from golden.pretrained import pretrained_depthwise
    from hw.array.archs import ARCHS
    layer = pretrained_depthwise()
    q = ARCHS[arch].prepare_depthwise(layer.q)
    extra = {"k": 3} if arch == "bitbalance" else {}
    want = layer_cycles(arch, q, array_rows=4, array_cols=4, out_size=layer.out_size, pe_length=1, **extra)
    assert dr.depthwise_cycles(arch)["compute_only"] == want
