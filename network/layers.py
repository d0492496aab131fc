"""Layer records: the convolutions and fully connected layers of a network's weights (docs/networks.md).

A :class:`Layer` is one convolution or linear layer as an inference engine needs it: the weight (float64,
output channels first), the bias (or ``None``), the stride, padding and dilation per spatial axis, the
group count, and ``C``, the input channels each output channel sees (``weight.shape[1]``). A batch norm
that follows the layer is folded in with :func:`golden.pretrained.fold_batch_norm`.

Two sources:

* :func:`layers_from_state_dict` reads a ``{name: array}`` mapping (a PyTorch state dict or a
  safetensors file). Tensors are grouped by module (the name up to its last dot); a module's
  ``weight`` of 2, 3 or 4 dimensions is a linear, 1-D or 2-D convolution layer, its ``bias`` (1-D, one
  per output) the layer's bias. The file does not store strides, padding or groups: they default to
  stride 1, no padding, dilation 1 and ``groups = 1``, except that a weight of shape ``(K, 1, ...)``
  right after a convolution with ``K`` outputs is a depthwise convolution (``groups = K``); the
  ``overrides`` argument sets them per layer. A module with ``running_mean`` and ``running_var`` is a
  batch norm; it is folded into the layer just before it (in the mapping's order) when that layer has as
  many outputs as the batch norm has channels. The epsilon is not stored either: ``bn_eps`` (PyTorch's
  default 1e-5).
* :func:`layers_from_onnx` reads an ONNX graph: ``Conv`` nodes (``strides``, ``pads``, ``dilations``,
  ``group`` from the node's attributes), ``Gemm`` and ``MatMul`` (with a following ``Add`` of a constant
  vector as its bias) whose weight is a constant, and ``BatchNormalization`` nodes that read a layer's
  output, folded with their own ``epsilon``.

Everything else is *skipped* and listed, name and reason, in :attr:`LoadedLayers.skipped`: batch norms
that follow no layer, 1-D weights of other normalisation layers (layer norm, group norm), embedding
tables (a 2-D ``weight`` of a module whose name contains ``embed``, or is ``wte`` / ``wpe``), tensors not
named ``weight`` or ``bias`` (``in_proj_weight``, ``cls_token``, ...), scalars such as
``num_batches_tracked``, weights of 5 or more dimensions (3-D convolutions), and, in ONNX, every constant
no ``Conv`` / ``Gemm`` / ``MatMul`` / ``BatchNormalization`` reads as its weights (shapes of ``Reshape``
...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from golden.pretrained import fold_batch_norm

from .load import detect_format, load_weights, onnx_tensors, read_onnx

__all__ = ["Layer", "LoadedLayers", "KINDS", "layers_from_state_dict", "layers_from_onnx", "load_layers"]

KINDS = ("conv1d", "conv2d", "depthwise", "grouped", "linear")

PYTORCH_BN_EPS = 1e-5
"""PyTorch's ``nn.BatchNorm*d`` default epsilon, the default of :func:`layers_from_state_dict`."""

_OVERRIDE_FIELDS = ("stride", "padding", "dilation", "groups", "batch_norm", "skip")


@dataclass(frozen=True, eq=False)
class Layer:
    """One convolution or linear layer, ready for an inference engine.

    ``weight`` is float64: ``[K, C]`` (linear), ``[K, C, k]`` (1-D convolution) or ``[K, C, kh, kw]``
    (2-D), with any batch norm folded in; ``bias`` is float64 ``[K]`` or ``None``. ``stride`` and
    ``dilation`` hold one int per spatial axis, ``padding`` one ``(before, after)`` pair per spatial axis
    (``((top, bottom), (left, right))`` for 2-D, the order ``numpy.pad`` takes), all ``()`` for a linear
    layer. ``groups`` divides the input channels and ``K``; ``C = weight.shape[1]`` is the input channels
    per group, so the layer reads ``groups * C`` channels.

    ``kind``: ``"linear"``; ``"depthwise"`` (``groups > 1`` and ``C == 1``: each output channel reads one
    input channel); ``"grouped"`` (``groups > 1``, ``C > 1``); otherwise ``"conv1d"`` or ``"conv2d"``.
    ``batch_norm`` names the batch norm folded in (``None`` if none).
    """
    name: str
    kind: str
    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    C: int
    batch_norm: str | None = None

    @property
    def K(self) -> int:
        """Output channels (features)."""
        return self.weight.shape[0]

    @property
    def kernel(self) -> tuple:
        """Kernel size per spatial axis (``()`` for a linear layer)."""
        return tuple(self.weight.shape[2:])

    @property
    def in_channels(self) -> int:
        """Channels (features) the layer reads: ``groups * C``."""
        return self.groups * self.C


@dataclass(frozen=True, eq=False)
class LoadedLayers:
    """What :func:`layers_from_state_dict`, :func:`layers_from_onnx` and :func:`load_layers` return.

    ``layers``: the :class:`Layer` records in the source's order; ``skipped``: ``(tensor name, reason)``
    for every tensor that is in no layer; ``source``: the file (or ``"<state dict>"``).
    """
    layers: tuple
    skipped: tuple
    source: str = "<state dict>"
    by_name: dict = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "by_name", {layer.name: layer for layer in self.layers})

    def __getitem__(self, name: str) -> Layer:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"{self.source}: no layer {name!r}; layers: {', '.join(self.by_name)}") from None

    @property
    def skipped_names(self) -> tuple:
        return tuple(n for n, _ in self.skipped)


def _kind(ndim: int, groups: int, C: int) -> str:
    if ndim == 2:
        return "linear"
    if groups > 1:
        return "depthwise" if C == 1 else "grouped"
    return "conv1d" if ndim == 3 else "conv2d"


def _int(where, what, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{where}: {what} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _per_axis(where, what, v, n, lo):
    """An int or ``n`` ints as a tuple of ``n`` ints >= lo."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (_int(where, what, v, lo),) * n
    if isinstance(v, (tuple, list)) and len(v) == n:
        return tuple(_int(where, what, x, lo) for x in v)
    raise ValueError(f"{where}: {what} must be an integer or {n} integers (one per spatial axis), got {v!r}")


def _padding(where, v, n):
    """An int, ``n`` ints (symmetric per axis) or ``n`` (before, after) pairs as ``n`` pairs."""
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(p, (tuple, list)) for p in v):
        if not all(len(p) == 2 for p in v):
            raise ValueError(f"{where}: padding pairs must be (before, after), got {v!r}")
        return tuple((_int(where, "padding", a, 0), _int(where, "padding", b, 0)) for a, b in v)
    return tuple((p, p) for p in _per_axis(where, "padding", v, n, 0))


def _make_layer(where, name, w, b, *, stride=1, padding=0, dilation=1, groups=1, bn=None, bn_eps=None):
    """A :class:`Layer` from weight ``w``, bias ``b`` (or None) and batch norm ``bn`` (gamma, beta, mean,
    var, name; gamma/beta may be None), checking every field."""
    if w.dtype == np.bool_ or w.dtype.kind not in "iuf":
        raise ValueError(f"{where}: weight {name!r} has dtype {w.dtype}, not a real number type")
    nsp = w.ndim - 2
    K, C = w.shape[0], w.shape[1]
    if w.size == 0:
        raise ValueError(f"{where}: weight {name!r} has shape {w.shape}, with no elements")
    groups = _int(where, f"layer {name!r}: groups", groups, 1)
    if K % groups:
        raise ValueError(f"{where}: layer {name!r}: groups {groups} does not divide the {K} output channels "
                         f"of weight {w.shape}")
    if nsp == 0 and groups != 1:
        raise ValueError(f"{where}: layer {name!r} is linear, groups must be 1, got {groups}")
    stride = _per_axis(where, f"layer {name!r}: stride", stride, nsp, 1)
    dilation = _per_axis(where, f"layer {name!r}: dilation", dilation, nsp, 1)
    padding = _padding(f"{where}: layer {name!r}", padding, nsp)
    if b is not None and b.shape != (K,):
        raise ValueError(f"{where}: layer {name!r}: bias has shape {b.shape}, expected ({K},) for weight {w.shape}")
    wf = w.astype(np.float64)
    bf = None if b is None else b.astype(np.float64)
    bn_name = None
    if bn is not None:
        gamma, beta, mean, var, bn_name = bn
        gamma = np.ones(K) if gamma is None else gamma
        beta = np.zeros(K) if beta is None else beta
        mean = np.asarray(mean, dtype=np.float64)
        if bf is not None:  # gamma * (conv + b - mean) * ... : the bias shifts the mean
            mean = mean - bf
        try:
            wf, bf = fold_batch_norm(wf, gamma, beta, mean, var, eps=bn_eps)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: cannot fold batch norm {bn_name!r} into layer {name!r}: {e}") from e
    for a in (wf, bf):
        if a is not None:
            a.flags.writeable = False
    return Layer(name, _kind(w.ndim, groups, C), wf, bf, stride, padding, dilation, groups, C, bn_name)


def _check_overrides(where, overrides, names):
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise TypeError(f"overrides must be a dict of layer name to dict of fields, got {type(overrides).__name__}")
    for lname, fields in overrides.items():
        if lname not in names:
            raise ValueError(f"{where}: overrides names {lname!r}, which is not a module with a weight; "
                             f"modules: {', '.join(names)}")
        if not isinstance(fields, dict):
            raise TypeError(f"overrides[{lname!r}] must be a dict of fields, got {type(fields).__name__}")
        bad = sorted(set(fields) - set(_OVERRIDE_FIELDS))
        if bad:
            raise ValueError(f"{where}: overrides[{lname!r}] has unknown fields {bad}; allowed: "
                             f"{', '.join(_OVERRIDE_FIELDS)}")
    return overrides


_BN_LEAVES = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def _is_embedding(prefix: str) -> bool:
    last = prefix.rsplit(".", 1)[-1].lower()
    return "embed" in prefix.lower() or last in ("wte", "wpe")


def layers_from_state_dict(weights, overrides=None, *, bn_eps: float = PYTORCH_BN_EPS,
                           fold_bn: bool = True, source: str = "<state dict>") -> LoadedLayers:
    """The convolution and linear layers of a ``{name: array}`` state dict, batch norms folded in.

    Parameters
    ----------
    weights : mapping of str to ndarray
        A PyTorch state dict (``load_weights`` of a ``.pth``, a safetensors file), in module order.
    overrides : dict, optional
        ``{module name: {field: value}}`` for what the file does not store. Fields: ``stride``,
        ``dilation`` (an int or one per spatial axis), ``padding`` (an int, one per axis, or one
        ``(before, after)`` pair per axis), ``groups``, ``batch_norm`` (the module name of the batch norm
        to fold, or ``None`` for none; default: the batch norm right after the layer), ``skip`` (True:
        not a layer, e.g. an embedding table that looks like a linear weight). The module name is the
        weight's name without ``.weight`` (``features.0``).
    bn_eps : float
        Batch-norm epsilon (PyTorch's default 1e-5; EfficientNet-Lite's is 1e-3).
    fold_bn : bool
        False: fold no batch norm (they are skipped).
    source : str
        The file the weights came from, for messages.

    Returns
    -------
    LoadedLayers
        The layers in the mapping's order and the skipped tensors with reasons.

    Depthwise convolutions are recognised by shape: a weight ``(K, 1, ...)`` whose previous layer is a
    convolution with ``K`` output channels gets ``groups = K``; otherwise ``(K, 1, ...)`` is an ordinary
    convolution of a one-channel input (a grayscale image's first layer). Grouped convolutions (1 <
    groups, C > 1) and depthwise convolutions with a channel multiplier cannot be told from the shape:
    set their ``groups`` in ``overrides``.
    """
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a dict of name to array, got {type(weights).__name__}")
    groups_of: dict[str, dict] = {}
    for key, a in weights.items():
        if not isinstance(key, str) or not isinstance(a, np.ndarray):
            raise TypeError(f"{source}: weights must map names to numpy arrays, got {key!r}: {type(a).__name__}")
        prefix, _, leaf = key.rpartition(".")
        groups_of.setdefault(prefix, {})[leaf] = key
    layer_mods = [p for p, leaves in groups_of.items() if "weight" in leaves
                  and 2 <= weights[leaves["weight"]].ndim <= 4
                  and not ("running_mean" in leaves and "running_var" in leaves)]
    overrides = _check_overrides(source, overrides, layer_mods)

    def is_bn(leaves):
        return "running_mean" in leaves and "running_var" in leaves and set(leaves) <= _BN_LEAVES

    bn_mods = {p for p, leaves in groups_of.items() if is_bn(leaves)}
    for lname, fields in overrides.items():
        bn = fields.get("batch_norm")
        if bn is not None and bn not in bn_mods:
            raise ValueError(f"{source}: overrides[{lname!r}]['batch_norm'] = {bn!r} is not a batch norm "
                             f"module (one with running_mean and running_var)")

    layers, skipped, used = [], [], set()
    order = list(groups_of)
    prev = None
    for i, prefix in enumerate(order):
        leaves = groups_of[prefix]
        if prefix not in layer_mods:
            continue
        fields = overrides.get(prefix, {})
        w = weights[leaves["weight"]]
        if fields.get("skip"):
            continue
        if w.ndim == 2 and _is_embedding(prefix) and prefix not in overrides:
            continue
        extra = set(leaves) - {"weight", "bias"}
        if extra:
            continue  # a module with other tensors too (an LSTM's, a norm's): not a plain conv / linear
        b = weights[leaves["bias"]] if "bias" in leaves else None
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"{source}: {leaves['bias']} has shape {b.shape}, expected ({w.shape[0]},) to "
                             f"match {leaves['weight']} {w.shape}")
        if "groups" in fields:
            groups = fields["groups"]
        elif w.ndim >= 3 and w.shape[1] == 1 and prev is not None and prev.kind != "linear" \
                and prev.K == w.shape[0]:
            groups = w.shape[0]
        else:
            groups = 1
        bn = None
        if "batch_norm" in fields:
            bn_name = fields["batch_norm"]
        elif fold_bn and i + 1 < len(order) and order[i + 1] in bn_mods:
            bn_name = order[i + 1]
        else:
            bn_name = None
        if bn_name is not None:
            bl = groups_of[bn_name]
            mean = weights[bl["running_mean"]]
            if mean.shape == (w.shape[0],) and bn_name not in used:
                bn = (*(weights[bl[k]] if k in bl else None for k in ("weight", "bias")), mean,
                      weights[bl["running_var"]], bn_name)
                used.add(bn_name)
            elif "batch_norm" in fields:
                raise ValueError(f"{source}: batch norm {bn_name!r} has {mean.shape} channels, layer "
                                 f"{prefix!r} has {w.shape[0]} outputs (or it is folded twice)")
        layer = _make_layer(source, prefix, w, b, groups=groups, bn=bn, bn_eps=bn_eps,
                            **{k: fields[k] for k in ("stride", "padding", "dilation") if k in fields})
        layers.append(layer)
        prev = layer

    in_layer = set()
    for layer in layers:
        in_layer |= {groups_of[layer.name]["weight"]} | ({groups_of[layer.name]["bias"]}
                                                          if "bias" in groups_of[layer.name] else set())
        if layer.batch_norm:
            in_layer |= {k for leaf, k in groups_of[layer.batch_norm].items() if leaf != "num_batches_tracked"}
    for key, a in weights.items():
        if key in in_layer:
            continue
        prefix, _, leaf = key.rpartition(".")
        leaves = groups_of[prefix]
        if prefix in bn_mods:
            why = "batch norm not folded (no layer of its width right before it)" if fold_bn else \
                "batch norm not folded (fold_bn=False)"
            if leaf == "num_batches_tracked":
                why = "batch-norm step counter"
        elif overrides.get(prefix, {}).get("skip"):
            why = "skipped by overrides"
        elif a.ndim == 0:
            why = "scalar"
        elif leaf not in ("weight", "bias"):
            why = f"not a module's weight or bias ({leaf!r})"
        elif leaf == "weight" and a.ndim == 2 and _is_embedding(prefix):
            why = "embedding table"
        elif leaf == "weight" and a.ndim == 1:
            why = "1-D weight of a normalisation layer (layer norm, group norm, ...)"
        elif a.ndim >= 5:
            why = f"{a.ndim}-D weight (3-D convolutions are not supported)"
        elif set(leaves) - {"weight", "bias"}:
            why = f"a module with other tensors too ({', '.join(sorted(set(leaves) - {'weight', 'bias'}))})"
        else:
            why = "bias of no layer" if leaf == "bias" else f"{a.ndim}-D tensor"
        skipped.append((key, why))
    return LoadedLayers(tuple(layers), tuple(skipped), source)


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def layers_from_onnx(path) -> LoadedLayers:
    """The layers of the ONNX model ``path``: ``Conv``, ``Gemm``, ``MatMul`` with constant weights.

    ``Conv``: stride, pads (ONNX ``[begin..., end...]`` becomes one ``(before, after)`` pair per axis),
    dilations and group from the node; ``auto_pad`` other than ``NOTSET``/``VALID`` (padding that depends
    on the input size) is refused. ``Gemm`` (``transA = 0``): weight ``alpha * B`` (transposed unless
    ``transB``), bias ``beta * C``. ``MatMul`` by a constant 2-D ``B``: weight ``B.T``; a single ``Add``
    of a constant ``[K]`` vector to its output is its bias. A ``BatchNormalization`` whose input is a
    layer's output (read by nothing else) is folded into it with the node's ``epsilon``. Layer names are
    the weight's tensor name without a trailing ``.weight``.
    """
    model = read_onnx(path)
    path = os.fspath(path)
    tensors = onnx_tensors(model, path)
    graph = model.graph
    alias = {}  # Identity of a constant: the output names the constant
    for node in graph.node:
        if node.op_type == "Identity" and node.input and node.input[0] in tensors:
            alias[node.output[0]] = node.input[0]

    def const(name):
        name = alias.get(name, name)
        return (name, tensors[name]) if name in tensors else (None, None)

    consumers: dict[str, list] = {}
    for node in graph.node:
        for inp in node.input:
            consumers.setdefault(inp, []).append(node)

    def only_consumer(out, op):
        c = consumers.get(out, [])
        graph_out = {o.name for o in graph.output}
        return c[0] if len(c) == 1 and c[0].op_type == op and out not in graph_out else None

    layers, used = [], set()
    for node in graph.node:
        where = f"{path}: {node.op_type} node {node.name or node.output[0]!r}"
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        wname, w = const(node.input[1])
        if w is None:
            continue  # weights computed at run time: not a layer of stored weights
        attrs = _attrs(node)
        bname, b = const(node.input[2]) if len(node.input) > 2 and node.input[2] else (None, None)
        out = node.output[0]
        kw = {}
        if node.op_type == "Conv":
            if w.ndim not in (3, 4):
                raise ValueError(f"{where}: weight {wname!r} has shape {w.shape}; only 1-D and 2-D "
                                 f"convolutions are supported")
            nsp = w.ndim - 2
            auto = attrs.get("auto_pad", b"NOTSET")
            auto = auto.decode() if isinstance(auto, bytes) else auto
            if auto not in ("NOTSET", "VALID"):
                raise ValueError(f"{where}: auto_pad {auto} makes the padding depend on the input size; "
                                 f"only explicit pads are supported (export with explicit padding)")
            pads = list(attrs.get("pads", [0] * (2 * nsp)))
            if len(pads) != 2 * nsp:
                raise ValueError(f"{where}: pads {pads} needs {2 * nsp} values for a {nsp}-D convolution")
            kw = dict(stride=tuple(attrs.get("strides", [1] * nsp)), dilation=tuple(attrs.get("dilations", [1] * nsp)),
                      padding=tuple((pads[i], pads[i + nsp]) for i in range(nsp)), groups=attrs.get("group", 1))
            ks = attrs.get("kernel_shape")
            if ks is not None and tuple(ks) != w.shape[2:]:
                raise ValueError(f"{where}: kernel_shape {tuple(ks)} differs from weight {wname!r} {w.shape}")
        elif node.op_type == "Gemm":
            if w.ndim != 2:
                raise ValueError(f"{where}: weight {wname!r} has shape {w.shape}, Gemm needs 2-D")
            if attrs.get("transA", 0):
                raise ValueError(f"{where}: transA = 1 (a transposed input) is not a linear layer")
            w = (w if attrs.get("transB", 0) else w.T).astype(np.float64) * float(attrs.get("alpha", 1.0))
            if b is not None:
                try:
                    b = np.broadcast_to(b, (1, w.shape[0])).reshape(w.shape[0]).astype(np.float64) \
                        * float(attrs.get("beta", 1.0))
                except ValueError:
                    raise ValueError(f"{where}: bias {bname!r} of shape {b.shape} does not broadcast to "
                                     f"[{w.shape[0]}]") from None
        else:  # MatMul
            if w.ndim != 2:
                continue  # a batched MatMul is not a linear layer
            w = w.T
            add = only_consumer(out, "Add")
            if add is not None:
                other = add.input[1] if add.input[0] == out else add.input[0]
                aname, a = const(other)
                if a is not None and a.size == w.shape[0] and a.shape[-1:] == (w.shape[0],):
                    bname, b, out = aname, a.reshape(w.shape[0]), add.output[0]
        bn = None
        bnode = only_consumer(out, "BatchNormalization")
        if bnode is not None and bnode.input[0] == out:
            parts = [const(n) for n in bnode.input[1:5]]
            if all(a is not None for _, a in parts):
                (sn, s), (bbn, bb), (mn, m), (vn, v) = parts
                bn = (s, bb, m, v, bnode.name or bnode.output[0])
                kw["bn_eps"] = float(_attrs(bnode).get("epsilon", 1e-5))
                used |= {sn, bbn, mn, vn}
        name = wname[:-len(".weight")] if wname.endswith(".weight") else wname
        used |= {wname} | ({bname} if bname else set())
        layers.append(_make_layer(where, name, np.ascontiguousarray(w), b, bn=bn, **kw))
    names = [layer.name for layer in layers]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"{path}: several layers share the weight tensors {sorted(dup)}")
    skipped = tuple((n, "not the weights of a Conv, Gemm, MatMul or BatchNormalization")
                    for n in tensors if n not in used)
    return LoadedLayers(tuple(layers), skipped, path)


def load_layers(path, overrides=None, *, bn_eps: float = PYTORCH_BN_EPS, fold_bn: bool = True) -> LoadedLayers:
    """The layers of a weights file: :func:`layers_from_onnx` for ONNX, else :func:`layers_from_state_dict`
    of :func:`network.load.load_weights` (``overrides``, ``bn_eps`` and ``fold_bn`` apply to those only;
    an ONNX file stores all three)."""
    if detect_format(path) == "onnx":
        if overrides:
            raise ValueError(f"{os.fspath(path)}: an ONNX model stores its strides, padding and groups; "
                             f"overrides apply to state dicts only")
        return layers_from_onnx(path)
    return layers_from_state_dict(load_weights(path), overrides, bn_eps=bn_eps, fold_bn=fold_bn,
                                  source=os.fspath(path))
