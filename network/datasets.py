"""Data sets read from files a Debian package installs (docs/networks.md, "The Fashion-MNIST CNN").

:func:`fashion_mnist` returns Fashion-MNIST (Zalando's 28 x 28 grey-level images of clothing, 10 classes)
as NumPy arrays. The data come from Debian's package ``dataset-fashion-mnist`` (``apt-get install
dataset-fashion-mnist``; ``make test`` installs it when it runs as root), which puts the four files of
the original distribution in :data:`FASHION_MNIST_DIR`, ``/usr/share/datasets/fashion-mnist/``:

=============================== ======================= ===========================
file                            holds                   header dimensions
=============================== ======================= ===========================
``train-images-idx3-ubyte.gz``  60,000 training images  ``60000, 28, 28``
``train-labels-idx1-ubyte.gz``  their labels            ``60000``
``t10k-images-idx3-ubyte.gz``   10,000 test images      ``10000, 28, 28``
``t10k-labels-idx1-ubyte.gz``   their labels            ``10000``
=============================== ======================= ===========================

Nothing is downloaded. Each file is gzip-compressed **IDX** (the format of LeCun's MNIST files), read by
:func:`read_idx`:

* a 4-byte magic number: two zero bytes, a type byte (``0x08`` unsigned byte, ``0x09`` signed byte,
  ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64) and the number of dimensions;
* one big-endian unsigned 32-bit size per dimension;
* the elements, big-endian, in C order (last dimension fastest), exactly as many as the sizes multiply
  to: no more, no fewer.

Fashion-MNIST's files are type ``0x08`` with 3 dimensions (images, magic ``0x00000803``) or 1 dimension
(labels, ``0x00000801``); a pixel is 0 (background) to 255 (the image is white on black, like MNIST's).
Labels are 0..9 and name the classes of :data:`FASHION_MNIST_CLASSES` in order.

A file that is not IDX (a wrong magic number, an unknown type byte), is truncated or has bytes left over,
is not valid gzip, or holds other dimensions or labels than Fashion-MNIST's raises a ``ValueError`` whose
message starts with the file's path. A missing file raises ``FileNotFoundError`` saying which package
to install.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["fashion_mnist", "read_idx", "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES", "FASHION_MNIST_FILES",
           "IDX_TYPES"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package installs the four files."""

FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}
"""Per split: image file, label file, number of examples."""

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
"""Class names of labels 0..9 (the data set's README)."""

IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
"""IDX type byte -> element type (big-endian)."""


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the name ends in ``.gz``; a bad gzip stream is a ValueError."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: not a valid gzip file ({type(e).__name__}: {e}); "
                         f"a truncated or corrupted download?") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip-compressed when its name ends in ``.gz``) into a NumPy array.

    Returns a fresh array of the header's dimensions in native byte order (``uint8`` for type ``0x08``).
    The magic number, the type byte, the header's length and the data's length are all checked: a file
    that fails a check raises ``ValueError`` naming the file and what is wrong.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: {len(data)} bytes, too short for an IDX magic number (4 bytes)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: magic number 0x{data[:4].hex()} is not IDX (its first two bytes must be 0)")
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        raise ValueError(f"{path}: magic number 0x{data[:4].hex()}: unknown IDX type byte 0x{code:02x} "
                         f"(known: {', '.join(f'0x{c:02x}' for c in IDX_TYPES)})")
    if ndim == 0:
        raise ValueError(f"{path}: magic number 0x{data[:4].hex()}: 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated header: {len(data)} bytes, {ndim} dimensions need {header}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(data) < expected:
        raise ValueError(f"{path}: truncated: {len(data)} bytes, dimensions {shape} of "
                         f"{dtype.itemsize}-byte elements need {expected}")
    if len(data) > expected:
        raise ValueError(f"{path}: {len(data) - expected} bytes after the data (dimensions {shape} of "
                         f"{dtype.itemsize}-byte elements need {expected} bytes in all)")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def fashion_mnist(split: str = "train", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's ``"train"`` (60,000) or ``"test"`` (10,000) split as ``(images, labels)``.

    ``images`` is ``uint8 [N, 28, 28]`` (0..255, white on black), ``labels`` ``uint8 [N]`` (0..9, see
    :data:`FASHION_MNIST_CLASSES`), in the files' order. ``root`` defaults to :data:`FASHION_MNIST_DIR`
    (Debian's ``dataset-fashion-mnist``). Each call reads the files again (about 0.3 s for the test
    split, 2 s for the training split, mostly gunzip) and returns fresh arrays.
    """
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(FASHION_MNIST_FILES)}, got {split!r}")
    root = FASHION_MNIST_DIR if root is None else Path(root)
    image_name, label_name, n = FASHION_MNIST_FILES[split]
    paths = root / image_name, root / label_name
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(
                f"{p} not found: Fashion-MNIST comes from Debian's package 'dataset-fashion-mnist' "
                f"(apt-get install dataset-fashion-mnist; make test installs it when run as root)")
    images, labels = (read_idx(p) for p in paths)
    for p, a, shape in ((paths[0], images, (n, 28, 28)), (paths[1], labels, (n,))):
        if a.dtype != np.uint8 or a.shape != shape:
            raise ValueError(f"{p}: {a.dtype} {a.shape}, Fashion-MNIST's {split} split is uint8 {shape}")
    if labels.max() >= len(FASHION_MNIST_CLASSES):
        raise ValueError(f"{paths[1]}: label {int(labels.max())}, Fashion-MNIST's labels are 0..9")
    return images, labels
