"""The ccexam digit classifiers (MNIST, USPS, SVHN): weights, checksums and architectures (docs/networks.md).

The ``ccexam`` wheel (``ccexam==1.0.0``, installed with ``--no-deps``: its own dependencies are torch and
torchvision, which this project does not use) ships three small trained CNNs as PyTorch state dicts,
``ccexam/weights/{mnist,usps,svhn}.pth`` (zip format). :func:`ccexam_checkpoint` finds a file through
the package's installed-files record (``importlib.metadata``; ccexam itself is never imported) and
checks its SHA-256 against :data:`CCEXAM_SHA256`; :func:`ccexam_layers` gives its layers with the
strides and padding of the network definition (the file stores neither), batch norm folded (eps 1e-5,
PyTorch's default, which ccexam's ``nn.BatchNorm2d`` modules use).

The architectures come from ccexam's ``models.py`` (``MNISTNet``, ``USPSNet``, ``SVHNNet``) and the
input transform from its ``constants.py`` and ``inference.py``; each is written down in
:data:`CCEXAM_NETWORKS` as a **sequential spec**: a tuple of steps applied in order to one ``(C, H, W)``
float image, each step a tuple whose first element names the operation:

=====================================  =================================================================
step                                   meaning
=====================================  =================================================================
``("conv2d", name, stride, padding)``  2-D convolution by the :class:`~network.layers.Layer` ``name``
                                       (its weight ``[K, C, kh, kw]``, bias, and batch norm folded in);
                                       ``stride`` and ``padding`` ints, the same on both axes and on
                                       every side (zeros)
``("linear", name)``                   ``y = W x + b`` by the layer ``name`` (``W`` ``[K, C]``)
``("relu",)``                          ``max(x, 0)`` element-wise
``("maxpool", kernel, stride)``        max over ``kernel x kernel`` windows, ``stride`` apart, no padding,
                                       output size ``floor((size - kernel) / stride) + 1``
``("flatten",)``                       ``(C, H, W)`` to a vector in C, H, W order (row-major), as PyTorch's
                                       ``flatten(start_dim=1)`` does
=====================================  =================================================================

Dropout (identity at inference) is not a step; a batch norm is not a step either, since it is folded
into the convolution before it (``Layer.batch_norm`` names it). The output of the last step is the 10
logits; the predicted digit is their argmax (class ``i`` is digit ``i``, SVHN's included).
:func:`spec_shapes` runs a spec's shapes through the layers and checks they fit.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import math
import os
from dataclasses import dataclass

from .layers import LoadedLayers, layers_from_state_dict
from .load import load_weights

__all__ = ["CcexamNetwork", "CCEXAM_NETWORKS", "CCEXAM_SHA256", "CCEXAM_VERSION", "SPEC_OPS",
           "ccexam_checkpoint", "ccexam_layers", "ccexam_network", "spec_shapes"]

CCEXAM_VERSION = "1.0.0"

CCEXAM_SHA256 = {
    "mnist": "0e58754afd96763e49f52c14877b8441cc0fff38e04adce2d2247eab68a30e8a",
    "usps": "dcd3faeef1505ba8c990e1a2b0ca964124eb1326f49ff8b86b0888a352244ea3",
    "svhn": "736abbe21faf27f1cc91848f7f1071cfcd6ffc1dd742d25237c100f16b4ce8dd",
}
"""SHA-256 of ``ccexam/weights/<name>.pth`` in the ccexam 1.0.0 wheel (1,689,969, 612,453 and 3,276,797 bytes)."""

SPEC_OPS = {"conv2d": 3, "linear": 1, "relu": 0, "maxpool": 2, "flatten": 0}
"""Operations of a sequential spec and the number of arguments each takes after its name."""


@dataclass(frozen=True)
class CcexamNetwork:
    """One ccexam network: its input and its sequential spec.

    ``input_shape`` is ``(C, H, W)``. The image is prepared as ccexam's ``build_transform`` does:
    converted to grayscale (``grayscale``) or RGB, resized to ``H x W``, scaled to ``[0, 1]`` (``/ 255``)
    and normalised per channel, ``(x - mean[c]) / std[c]``. ``model`` is the ccexam class it comes from.
    """
    name: str
    model: str
    input_shape: tuple
    grayscale: bool
    mean: tuple
    std: tuple
    spec: tuple
    classes: int = 10


def _svhn_block(i: int) -> tuple:
    # models.SVHNNet.block: Conv 3x3 pad 1, BN, ReLU, Conv 3x3 pad 1, BN, ReLU, MaxPool2d(2)
    return (("conv2d", f"features.{i}.0", 1, 1), ("relu",),
            ("conv2d", f"features.{i}.3", 1, 1), ("relu",), ("maxpool", 2, 2))


CCEXAM_NETWORKS = {
    # models.DigitCNN: Conv(1, 32, 3, padding=1), ReLU, MaxPool2d(2), Conv(32, 64, 3, padding=1), ReLU,
    # MaxPool2d(2); flatten; Linear(64*7*7, 128), ReLU, Linear(128, 10)
    "mnist": CcexamNetwork(
        "mnist", "MNISTNet", (1, 28, 28), True, (0.1307,), (0.3081,),
        (("conv2d", "features.0", 1, 1), ("relu",), ("maxpool", 2, 2),
         ("conv2d", "features.3", 1, 1), ("relu",), ("maxpool", 2, 2),
         ("flatten",), ("linear", "classifier.0"), ("relu",), ("linear", "classifier.2"))),
    # models.USPSNet: the same with BatchNorm2d after each conv (features.1, features.5) and
    # Dropout(0.3) before each Linear (classifier.0, classifier.3)
    "usps": CcexamNetwork(
        "usps", "USPSNet", (1, 16, 16), True, (0.2471,), (0.2994,),
        (("conv2d", "features.0", 1, 1), ("relu",), ("maxpool", 2, 2),
         ("conv2d", "features.4", 1, 1), ("relu",), ("maxpool", 2, 2),
         ("flatten",), ("linear", "classifier.1"), ("relu",), ("linear", "classifier.4"))),
    # models.SVHNNet: three blocks (3 -> 32, 32 -> 64, 64 -> 128 channels; 32 -> 16 -> 8 -> 4 pixels),
    # flatten, Dropout, Linear(128*4*4, 256), ReLU, Dropout, Linear(256, 10)
    "svhn": CcexamNetwork(
        "svhn", "SVHNNet", (3, 32, 32), False, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970),
        _svhn_block(0) + _svhn_block(1) + _svhn_block(2)
        + (("flatten",), ("linear", "classifier.1"), ("relu",), ("linear", "classifier.4"))),
}


def _check_name(name) -> str:
    if name not in CCEXAM_NETWORKS:
        raise ValueError(f"ccexam network must be one of {', '.join(map(repr, CCEXAM_NETWORKS))}, got {name!r}")
    return name


@functools.lru_cache(maxsize=None)
def ccexam_checkpoint(name: str) -> str:
    """Path of ``ccexam/weights/<name>.pth`` (``name`` ``"mnist"``, ``"usps"`` or ``"svhn"``) in the
    installed ccexam wheel, its SHA-256 checked against :data:`CCEXAM_SHA256`.

    ``ImportError`` saying how to install it when ccexam 1.0.0 is not installed; ``ValueError`` when
    the file's SHA-256 differs.
    """
    _check_name(name)
    hint = (f"pip install --no-deps ccexam=={CCEXAM_VERSION} (without its dependencies torch and "
            f"torchvision; make test installs it)")
    try:
        dist = importlib.metadata.distribution("ccexam")
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(f"the ccexam network weights need the wheel ccexam=={CCEXAM_VERSION}: {hint}") from None
    if dist.version != CCEXAM_VERSION:
        raise ImportError(f"ccexam {dist.version} is installed, the pinned weights are those of "
                          f"{CCEXAM_VERSION}: {hint}")
    rel = f"ccexam/weights/{name}.pth"
    files = [f for f in (dist.files or ()) if str(f).replace(os.sep, "/") == rel]
    if not files:
        raise ImportError(f"the installed ccexam {dist.version} lists no {rel}: {hint}")
    path = os.fspath(dist.locate_file(files[0]))
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        raise ImportError(f"{path}: cannot read ccexam's {name} weights ({e}): {hint}") from e
    if digest != CCEXAM_SHA256[name]:
        raise ValueError(f"{path}: SHA-256 {digest}, expected {CCEXAM_SHA256[name]} "
                         f"(not the {name} weights of ccexam {CCEXAM_VERSION})")
    return path


def ccexam_layers(name: str) -> LoadedLayers:
    """The layers of ccexam's ``name`` network: the checkpoint's state dict with the strides and padding
    of :data:`CCEXAM_NETWORKS` (``name``'s spec), batch norms folded (eps 1e-5)."""
    net = CCEXAM_NETWORKS[_check_name(name)]
    path = ccexam_checkpoint(name)
    overrides = {step[1]: {"stride": step[2], "padding": step[3]} for step in net.spec if step[0] == "conv2d"}
    return layers_from_state_dict(load_weights(path), overrides, bn_eps=1e-5, source=path)


def spec_shapes(spec, layers: LoadedLayers, input_shape) -> list:
    """The shape after each step of the sequential ``spec`` on an input of ``input_shape`` ``(C, H, W)``.

    Checks every step: a known operation with its number of arguments, a layer that exists and has the
    step's kind (a ``conv2d`` step takes a layer of kind ``conv2d``, ``depthwise`` or ``grouped`` whose
    stride and padding are the step's), input channels or features that match the layer's. ``ValueError``
    naming the step otherwise.
    """
    shape = tuple(input_shape)
    out = []
    for i, step in enumerate(spec):
        where = f"step {i} {step!r}"
        if not (isinstance(step, tuple) and step and step[0] in SPEC_OPS and len(step) == 1 + SPEC_OPS[step[0]]):
            raise ValueError(f"{where}: not a spec step; operations (arguments): "
                             f"{', '.join(f'{k} ({n})' for k, n in SPEC_OPS.items())}")
        op = step[0]
        if op in ("conv2d", "linear"):
            layer = layers[step[1]]
            if op == "conv2d":
                if layer.kind not in ("conv2d", "depthwise", "grouped"):
                    raise ValueError(f"{where}: layer {layer.name!r} is a {layer.kind} layer")
                if layer.stride != (step[2],) * 2 or layer.padding != ((step[3], step[3]),) * 2:
                    raise ValueError(f"{where}: layer {layer.name!r} has stride {layer.stride} and padding "
                                     f"{layer.padding}")
                if len(shape) != 3 or shape[0] != layer.in_channels:
                    raise ValueError(f"{where}: input of shape {shape}, layer {layer.name!r} reads "
                                     f"{layer.in_channels} channels")
                hw = [(s + 2 * step[3] - d * (k - 1) - 1) // step[2] + 1
                      for s, k, d in zip(shape[1:], layer.kernel, layer.dilation)]
                if min(hw) < 1:
                    raise ValueError(f"{where}: input {shape} is smaller than the kernel {layer.kernel}")
                shape = (layer.K, *hw)
            else:
                if layer.kind != "linear" or shape != (layer.C,):
                    raise ValueError(f"{where}: input of shape {shape}, layer {layer.name!r} is a "
                                     f"{layer.kind} layer reading {layer.C} features")
                shape = (layer.K,)
        elif op == "maxpool":
            k, s = step[1], step[2]
            if len(shape) != 3 or min(shape[1:]) < k:
                raise ValueError(f"{where}: input of shape {shape}")
            shape = (shape[0], (shape[1] - k) // s + 1, (shape[2] - k) // s + 1)
        elif op == "flatten":
            shape = (math.prod(shape),)
        out.append(shape)
    return out


def ccexam_network(name: str):
    """The ccexam network ``name`` as a :class:`network.engine.Network`: its sequential spec's steps as the
    engine's layer specs, its layers' weights (batch norm folded) as the parameters
    (``<layer>.weight``, ``<layer>.bias``)."""
    from .engine import Conv, Flatten, Linear, MaxPool, Network, ReLU

    net = CCEXAM_NETWORKS[_check_name(name)]
    layers = ccexam_layers(name)
    params, specs = {}, []
    for step in net.spec:
        op = step[0]
        if op in ("conv2d", "linear"):
            layer = layers[step[1]]
            params[f"{layer.name}.weight"] = layer.weight
            bias = None
            if layer.bias is not None:
                bias = f"{layer.name}.bias"
                params[bias] = layer.bias
            specs.append(Conv(f"{layer.name}.weight", bias, stride=step[2], padding=step[3]) if op == "conv2d"
                         else Linear(f"{layer.name}.weight", bias))
        elif op == "relu":
            specs.append(ReLU())
        elif op == "maxpool":
            specs.append(MaxPool(step[1], step[2]))
        else:
            specs.append(Flatten())
    return Network(specs, params)
