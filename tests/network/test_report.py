"""network.report on real networks (few inputs): its figures recomputed from the JSON it writes, one
method's accuracy and one layer's cycles recomputed from the parts, the plots written, bad input refused."""

import json

import numpy as np
import pytest

from golden.cycles import layer_cycles
from network import report as rp
from network.compress import compress
from network.report import pass_length


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    entries = rp.report(["mnist", "fashion"], ["bbs_cons", "bitbalance_k3", "bitwave_n2"], out=out, limit=12,
                        log=lambda *_: None)
    return out, entries


def test_the_transformer_in_the_report(tmp_path):
    e, = rp.report(["minilm"], ["bbs_mod"], out=tmp_path, limit=6, log=lambda *_: None, draw=False)
    assert e["task"] == "embedding" and list(e["methods"]) == ["int8", "bbs_mod"]
    from network import minilm
    tokens = sum(len(ids) for ids in minilm.tokenize(minilm.SENTENCES[:6]))
    m = e["methods"]["bbs_mod"]
    first = compress(minilm.load_minilm().linear_weights(), "bbs_mod").layers[0]
    assert len(m["layers"]) == 36 and m["layers"][0]["cycles"] == layer_cycles(
        "bitvert", first.q, tokens=tokens, pruned=4, sensitive=first.sensitive, pe_length=16, array_rows=4,
        array_cols=4)
    q = m["quality"]
    assert set(q) == {"cosine", "cosine_min", "nn_agreement", "top5_overlap"} and 0.9 < q["cosine"] < 1


def test_the_json_holds_what_report_returned_and_its_totals_add_up(written):
    out, entries = written
    assert json.loads((out / "networks.json").read_text()) == json.loads(json.dumps(entries))
    for e in entries:
        assert list(e["methods"]) == ["int8", "bbs_cons", "bitbalance_k3", "bitwave_n2"]
        assert e["task"] == "classifier" and set(e["methods"]["int8"]["quality"]["accuracy"]) <= {
            "held-out", "MNIST train", "all"}
        for name, m in e["methods"].items():
            n = [np.prod(l["shape"]) for l in m["layers"]]
            bits = sum(l["bits_per_weight"] * k for l, k in zip(m["layers"], n))
            assert m["bits_per_weight"] == pytest.approx(bits / sum(n), rel=1e-12)
            assert m["compression"] == pytest.approx(8 / m["bits_per_weight"], rel=1e-12)
            assert m["stripes_cycles"] == sum(l["stripes_cycles"] for l in m["layers"])
            if m["cycles"] is None:
                assert name == "bitwave_n2"
                continue
            assert m["cycles"] == sum(l["cycles"] for l in m["layers"])
            assert m["speedup_vs_stripes"] == m["stripes_cycles"] / m["cycles"]
        assert e["methods"]["int8"]["speedup_vs_stripes"] == 1.0
        # Stripes' cycles do not depend on the weights: the same for every method at the same pass lengths
        assert e["methods"]["int8"]["stripes_cycles"] == e["methods"]["bitbalance_k3"]["stripes_cycles"]
        bv = e["methods"]["bbs_cons"]
        assert bv["speedup_vs_stripes_equal_lanes"] == bv["stripes_equal_lanes_cycles"] / bv["cycles"]
    mnist = entries[0]
    assert mnist["weights"] == 32 * 9 + 64 * 32 * 9 + 128 * 3136 + 10 * 128
    assert [l["policy"] for l in mnist["methods"]["bbs_cons"]["layers"]] == ["int8: C = 1", "method", "method",
                                                                            "method"]
    assert (out / "networks.md").read_text() == rp.markdown(entries)


def test_a_methods_accuracy_and_a_layers_cycles_from_the_parts(written):
    _, entries = written
    subject = rp.NETWORKS["mnist"](12)
    res = compress(subject.weights, "bitbalance_k3")
    logits = subject.run({l.name: (l.q, l.scales) for l in res.layers})
    held = slice(0, 12)
    acc = float(np.mean(logits[held].argmax(1) == subject.labels[held]))
    m = entries[0]["methods"]["bitbalance_k3"]
    assert m["quality"]["accuracy"]["held-out"] == acc
    assert m["quality"]["top1_agreement"] == float(np.mean(logits.argmax(1) == subject.reference.argmax(1)))
    fc = res.layers[2]                                     # classifier.0, [128, 3136]
    assert m["layers"][2]["cycles"] == layer_cycles("bitbalance", fc.q, tokens=1, k=3, pe_length=16,
                                                    array_rows=4, array_cols=4)
    conv = res.layers[1]                                   # features.3 on 14 x 14
    assert m["layers"][1]["cycles"] == layer_cycles("bitbalance", conv.q, out_size=(14, 14), k=3, pe_length=16,
                                                    array_rows=4, array_cols=4)


def test_the_plots_are_written(written):
    out, _ = written
    for name in ("networks_tradeoff.png", "networks_layer_speedup.png", "networks_bit_columns.png"):
        data = (out / "img" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_headline_lists_bbs_on_every_network_and_the_paper(written):
    _, entries = written
    lines = rp.headline(entries).splitlines()
    assert lines[0].startswith("| network | BBS | bits/weight")
    assert len(lines) == 2 + 2 * 1 + 2                     # bbs_cons per network, the paper's two rows
    m = entries[0]["methods"]["bbs_cons"]
    q0 = entries[0]["methods"]["int8"]["quality"]["accuracy"]["held-out"]
    assert lines[2] == (f"| mnist | cons | {m['bits_per_weight']:.2f} | {m['compression']:.2f}x | accuracy (held-out) "
                        f"{q0:.2%} -> {m['quality']['accuracy']['held-out']:.2%} | "
                        f"{m['speedup_vs_stripes_equal_lanes']:.2f}x | {m['speedup_vs_stripes']:.2f}x |")
    assert lines[-1] == "| BBS paper (7 models, average) | mod | | 1.66x | 0.45 % loss | 3.03x | |"


@pytest.mark.parametrize("c, group, expect", [(16, 0, 16), (64, 0, 16), (40, 0, 8), (24, 0, 8), (3, 0, 3),
                                              (1, 0, 1), (80, 16, 16), (40, 8, 8), (24, 24, 8), (12, 12, 12),
                                              (20, 20, 4)])
def test_pass_length(c, group, expect):
    assert pass_length(c, group) == expect


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="network must be one of efficientnet_lite0, mnist, fashion, minilm, got 'resnet'"):
        rp.report(["resnet"])
    with pytest.raises(ValueError, match="method must be one of int8, bbs_cons, bbs_mod, .*, got 'bbs'"):
        rp.report(["mnist"], ["bbs"])
    with pytest.raises(SystemExit):
        rp.main(["--limit", "0"])
