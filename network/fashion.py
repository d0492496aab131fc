"""The Fashion-MNIST CNN, the network this project trained itself: its weights, architecture and float
reference (docs/networks.md, "The Fashion-MNIST CNN").

**The Fashion-MNIST CNN** is, a small convolutional network trained on the 60,000
training images of Fashion-MNIST (:func:`network.datasets.fashion_mnist`) by ``network/train_fashion.py``
and shipped as ``network/weights/fashion_cnn.npz``. Batch norm was folded into the convolutions at export,
so the file holds only convolution and linear weights and biases, float32:

* ``conv1.weight`` ``[16, 1, 3, 3]``, ``conv1.bias`` ``[16]``: 3 x 3 convolution, 1 -> 16 channels;
* ``conv2.weight`` ``[32, 16, 3, 3]``, ``conv2.bias`` ``[32]``: 3 x 3 convolution, 16 -> 32 channels;
* ``fc1.weight`` ``[64, 1568]``, ``fc1.bias`` ``[64]``: linear, 32 * 7 * 7 -> 64;
* ``fc2.weight`` ``[10, 64]``, ``fc2.bias`` ``[10]``: linear, 64 -> 10 (the logits)

(convolutions ``[K, C, kh, kw]``, linear layers ``[K, C]``, PyTorch's layout; 105,866 parameters.)
:func:`fashion_cnn_weights` reads the file and checks its SHA-256 against :data:`FASHION_CNN_SHA256`.

:data:`FASHION_CNN` describes the architecture as plain data, one tuple per operation in the order they
run, for any engine to interpret. The format:

* the first item is the operation: ``"conv2d"``, ``"relu"``, ``"maxpool"``, ``"flatten"`` or
  ``"linear"``;
* a layer with weights (``"conv2d"``, ``"linear"``) has the layer's name second: its weights are
  ``<name>.weight`` and ``<name>.bias`` in the weights dict;
* the last item, when the operation has parameters, is a dict of them: ``"conv2d"`` ``stride`` and
  ``padding`` (the same for height and width; zero padding); ``"maxpool"`` ``kernel`` and ``stride``
  (square window, no padding, floor of the output size); ``"relu"``, ``"flatten"`` and ``"linear"`` have
  none;
* tensors between operations are ``[N, C, H, W]`` (NCHW) until ``"flatten"``, which turns ``[N, C, H, W]``
  into ``[N, C * H * W]`` in C order (index ``c * H * W + h * W + w``, PyTorch's ``flatten(1)``); then
  ``[N, features]``. A convolution computes ``y[n, k] = sum_c w[k, c] (*) x[n, c] + b[k]`` (a correlation,
  as PyTorch's), a linear layer ``y = x @ w.T + b``.

The network's input is :data:`FASHION_CNN_INPUT`: ``x = image / 255`` as ``[N, 1, 28, 28]``, each pixel
in ``[0, 1]`` (0 black background, 1 white), no mean subtracted and no division by a standard deviation:
exactly what training used, and an input that an integer engine takes as the uint8 image itself with
scale 1/255 and zero point 0.

:func:`fashion_cnn_network` is the network as a :class:`network.engine.Network` (the architecture's
operations as the engine's layer specs) and :func:`fashion_cnn_float` its float64 pass (the engine's
reference pass, no PyTorch); on the 10,000 test images it predicts 9,150 correctly (91.50 %,
:data:`FASHION_CNN_TEST_CORRECT`), as the training script's float32 PyTorch evaluation does.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from types import MappingProxyType

import numpy as np

__all__ = ["FASHION_CNN", "FASHION_CNN_INPUT", "FASHION_CNN_SHAPES", "FASHION_CNN_SHA256",
           "FASHION_CNN_TEST_CORRECT", "fashion_cnn_path", "fashion_cnn_weights", "fashion_cnn_network",
           "fashion_images", "fashion_cnn_float"]

FASHION_CNN = (
    ("conv2d", "conv1", {"stride": 1, "padding": 1}),   # [N, 1, 28, 28] -> [N, 16, 28, 28]
    ("relu",),
    ("maxpool", {"kernel": 2, "stride": 2}),            # -> [N, 16, 14, 14]
    ("conv2d", "conv2", {"stride": 1, "padding": 1}),   # -> [N, 32, 14, 14]
    ("relu",),
    ("maxpool", {"kernel": 2, "stride": 2}),            # -> [N, 32, 7, 7]
    ("flatten",),                                       # -> [N, 1568]
    ("linear", "fc1"),                                  # -> [N, 64]
    ("relu",),
    ("linear", "fc2"),                                  # -> [N, 10], the logits
)
"""The Fashion-MNIST CNN's operations in order (format in the module docstring)."""

FASHION_CNN_INPUT = {"shape": (1, 28, 28), "scale": 1 / 255, "zero_point": 0}
"""The input: ``x = image / 255`` (scale 1/255, zero point 0), ``image`` the uint8 pixels as
``[N, 1, 28, 28]``."""

FASHION_CNN_SHAPES = {
    "conv1.weight": (16, 1, 3, 3), "conv1.bias": (16,),
    "conv2.weight": (32, 16, 3, 3), "conv2.bias": (32,),
    "fc1.weight": (64, 32 * 7 * 7), "fc1.bias": (64,),
    "fc2.weight": (10, 64), "fc2.bias": (10,),
}
"""Every key of the weights file and its shape, in the file's order."""

FASHION_CNN_SHA256 = "2785d06732cab43e5fe93f166e5a417d4c2db0c89ea3ac6de87a63f23dcfe469"
"""SHA-256 of ``network/weights/fashion_cnn.npz`` as shipped (``python -m network.train_fashion`` prints
the digest of the file it writes)."""

FASHION_CNN_TEST_CORRECT = 9150
"""Test images (of Fashion-MNIST's 10,000) that :func:`fashion_cnn_float` classifies correctly with the
shipped weights (91.50 %): measured with this module (float64 NumPy, ``python -m network.train_fashion``
prints it too, with the float32 PyTorch count, also 9,150) and recorded here; the smallest gap between an
image's two largest logits is 5.6e-4, so the count does not depend on the BLAS or the batch size."""


def fashion_cnn_path() -> Path:
    """Path of the shipped weights, ``network/weights/fashion_cnn.npz`` (package data)."""
    return Path(__file__).resolve().parent / "weights" / "fashion_cnn.npz"


@functools.lru_cache(maxsize=1)
def _weights_cached() -> MappingProxyType:
    path = fashion_cnn_path()
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != FASHION_CNN_SHA256:
        raise ValueError(f"{path}: SHA-256 {digest}, expected {FASHION_CNN_SHA256} (not the shipped "
                         f"Fashion-MNIST CNN; after retraining, pin the new digest in network/fashion.py)")
    with np.load(path, allow_pickle=False) as npz:
        weights = {k: npz[k] for k in npz.files}
    if list(weights) != list(FASHION_CNN_SHAPES):
        raise ValueError(f"{path}: keys {list(weights)}, expected {list(FASHION_CNN_SHAPES)}")
    for k, a in weights.items():
        if a.dtype != np.float32 or a.shape != FASHION_CNN_SHAPES[k]:
            raise ValueError(f"{path}: {k} is {a.dtype} {a.shape}, expected float32 {FASHION_CNN_SHAPES[k]}")
        a.flags.writeable = False
    return MappingProxyType(weights)


def fashion_cnn_weights() -> dict[str, np.ndarray]:
    """The shipped Fashion-MNIST CNN weights: ``{key: float32 array}`` as in :data:`FASHION_CNN_SHAPES`.

    Read once (then cached), after checking the file's SHA-256 against :data:`FASHION_CNN_SHA256`, its
    keys, dtypes and shapes. A new dict on every call; its arrays are the cached ones, read-only.
    """
    return dict(_weights_cached())


# ---- the network --------------------------------------------------------------------------------------

def fashion_cnn_network(weights=None):
    """The Fashion-MNIST CNN as a :class:`network.engine.Network`: :data:`FASHION_CNN`'s operations as the
    engine's layer specs, ``weights`` (default the shipped ones) as its parameters. Its input is
    ``image / 255``, ``[N, 1, 28, 28]``."""
    from .engine import Conv, Flatten, Linear, MaxPool, Network, ReLU
    specs = []
    for op in FASHION_CNN:
        kind, params = op[0], (op[-1] if isinstance(op[-1], dict) else {})
        if kind == "conv2d":
            specs.append(Conv(f"{op[1]}.weight", f"{op[1]}.bias", stride=params["stride"], padding=params["padding"]))
        elif kind == "linear":
            specs.append(Linear(f"{op[1]}.weight", f"{op[1]}.bias"))
        elif kind == "relu":
            specs.append(ReLU())
        elif kind == "maxpool":
            specs.append(MaxPool(params["kernel"], params["stride"]))
        else:
            specs.append(Flatten())
    return Network(specs, fashion_cnn_weights() if weights is None else weights)


def fashion_images(images) -> np.ndarray:
    """uint8 ``images`` ``[N, 28, 28]`` (or ``[N, 1, 28, 28]``) as the network's input, float64
    ``image / 255`` ``[N, 1, 28, 28]``."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or images.shape[-2:] != (28, 28) \
            or (images.ndim == 4 and images.shape[1] != 1):
        raise ValueError(f"images must be uint8 [N, 28, 28] or [N, 1, 28, 28], got {images.dtype} {images.shape}")
    return images.reshape(images.shape[0], 1, 28, 28).astype(np.float64) / 255.0


def fashion_cnn_float(images, weights=None, batch: int = 1000) -> np.ndarray:
    """Float64 logits ``[N, 10]`` of the Fashion-MNIST CNN for uint8 ``images`` (:func:`fashion_images`),
    the engine's float pass in batches of ``batch`` images; ``weights`` defaults to the shipped ones."""
    x = fashion_images(images)
    net = fashion_cnn_network(weights)
    out = [net.forward(x[i:i + batch]) for i in range(0, x.shape[0], batch)]
    return np.concatenate(out) if out else np.zeros((0, 10))
