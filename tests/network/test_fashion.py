"""Fashion-MNIST (network/datasets.py) and the shipped Fashion-MNIST CNN (network/fashion.py)."""

import gzip
import hashlib

import numpy as np
import pytest

from network import datasets
from network import fashion as models
from network.datasets import fashion_mnist, read_idx


# ---------------------------------------------------------------------------------------------- IDX

def idx_bytes(a: np.ndarray, code: int) -> bytes:
    """An IDX file of ``a``, written here independently of the reader: magic, big-endian sizes, data."""
    header = bytes([0, 0, code, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, gz: bool):
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype, code, shape", [("u1", 0x08, (3, 4, 5)), ("u1", 0x08, (7,)), ("i1", 0x09, (2, 3)),
                                                ("i2", 0x0B, (4, 2)), ("i4", 0x0C, (5,)), ("f4", 0x0D, (2, 2, 2)),
                                                ("f8", 0x0E, (3, 1)), ("u1", 0x08, (0, 28, 28))])
def test_idx_round_trip(tmp_path, gz, dtype, code, shape):
    rng = np.random.default_rng(1)
    a = (rng.integers(-100, 200, size=shape) if dtype[0] in "iu" else rng.normal(size=shape)).astype(dtype)
    if dtype == "u1":
        a = rng.integers(0, 256, size=shape).astype(np.uint8)
    p = write(tmp_path / ("x.idx.gz" if gz else "x.idx"), idx_bytes(a, code), gz)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.shape == shape
    np.testing.assert_array_equal(a, b)
    assert b.flags.writeable and b.flags.c_contiguous


def test_idx_known_bytes(tmp_path):
    # a label file of 3 labels written byte by byte: magic 0x00000801, size 3, labels 7 0 9
    p = write(tmp_path / "l.idx", bytes.fromhex("00000801 00000003 070009"), gz=False)
    np.testing.assert_array_equal(read_idx(p), np.array([7, 0, 9], np.uint8))
    # a 2 x 2 int16 image, big-endian: 1, -2, 256, 0x7fff
    p = write(tmp_path / "s.idx", bytes.fromhex("00000b02 00000002 00000002 0001 fffe 0100 7fff"), gz=False)
    np.testing.assert_array_equal(read_idx(p), np.array([[1, -2], [256, 32767]], np.int16))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("data, message", [
    (bytes.fromhex("00000803 00000002 0000001c 0000001c") + bytes(2 * 28 * 28 - 1), "truncated: 1583 bytes"),
    (bytes.fromhex("00000803 00000002 0000001c"), "truncated header: 12 bytes, 3 dimensions need 16"),
    (bytes.fromhex("00000801 00000003 070009 00"), "1 bytes after the data"),
    (bytes.fromhex("08030000 00000003 070009"), "magic number 0x08030000 is not IDX"),
    (bytes.fromhex("1f8b0801 00000003 070009"), "magic number 0x1f8b0801 is not IDX"),
    (bytes.fromhex("00000a01 00000003 070009"), "unknown IDX type byte 0x0a"),
    (bytes.fromhex("00000800"), "0 dimensions"),
    (bytes.fromhex("0000"), "2 bytes, too short"),
    (b"", "0 bytes, too short"),
])
def test_idx_refused(tmp_path, gz, data, message):
    p = write(tmp_path / ("bad.idx.gz" if gz else "bad.idx"), data, gz)
    with pytest.raises(ValueError, match=message) as e:
        read_idx(p)
    assert str(e.value).startswith(str(p))


@pytest.mark.parametrize("cut", ["truncated", "corrupted", "not gzip"])
def test_idx_bad_gzip(tmp_path, cut):
    a = np.arange(600, dtype=np.uint8).reshape(6, 100) % 251
    z = gzip.compress(idx_bytes(a, 0x08), mtime=0)
    z = {"truncated": z[:len(z) // 2], "corrupted": z[:20] + bytes(b ^ 0x5A for b in z[20:40]) + z[40:],
         "not gzip": idx_bytes(a, 0x08)}[cut]
    p = write(tmp_path / "bad-images-idx3-ubyte.gz", z, gz=False)
    with pytest.raises(ValueError, match="not a valid gzip file") as e:
        read_idx(p)
    assert str(e.value).startswith(str(p))


# ---------------------------------------------------------------------------------------------- data set

def fake_split(root, n_images, image_shape=(28, 28), n_labels=None, label_max=9):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_images, *image_shape)).astype(np.uint8)
    labels = (np.arange(n_labels if n_labels is not None else n_images) % (label_max + 1)).astype(np.uint8)
    write(root / "t10k-images-idx3-ubyte.gz", idx_bytes(images, 0x08), gz=True)
    write(root / "t10k-labels-idx1-ubyte.gz", idx_bytes(labels, 0x08), gz=True)
    return root


@pytest.mark.parametrize("kw, message", [
    ({"n_images": 10}, r"uint8 \(10, 28, 28\), Fashion-MNIST's test split is uint8 \(10000, 28, 28\)"),
    ({"n_images": 10_000, "image_shape": (28, 27)}, r"\(10000, 28, 27\)"),
    ({"n_images": 10_000, "n_labels": 9_999}, r"\(9999,\), Fashion-MNIST's test split is uint8 \(10000,\)"),
    ({"n_images": 10_000, "label_max": 10}, "label 10, Fashion-MNIST's labels are 0..9"),
])
def test_fashion_mnist_refuses_other_data(tmp_path, kw, message):
    fake_split(tmp_path, **kw)
    with pytest.raises(ValueError, match=message):
        fashion_mnist("test", root=tmp_path)


def test_fashion_mnist_fake_root(tmp_path):
    fake_split(tmp_path, 10_000)
    x, y = fashion_mnist("test", root=tmp_path)
    assert x.shape == (10_000, 28, 28) and y.shape == (10_000,) and np.bincount(y).tolist() == [1000] * 10


def test_fashion_mnist_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as e:
        fashion_mnist("test", root=tmp_path)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in str(e.value)
    with pytest.raises(ValueError, match="split must be one of"):
        fashion_mnist("validation")


def test_fashion_mnist_test_split():
    x, y = fashion_mnist("test")
    assert x.dtype == np.uint8 and x.shape == (10_000, 28, 28)
    assert y.dtype == np.uint8 and y.shape == (10_000,)
    assert np.bincount(y, minlength=10).tolist() == [1000] * 10
    assert x.min() == 0 and x.max() == 255
    assert len(datasets.FASHION_MNIST_CLASSES) == 10 and datasets.FASHION_MNIST_CLASSES[9] == "Ankle boot"
    # the files' first labels (the data set's t10k order): Ankle boot, Pullover, Trouser, Trouser, Shirt
    assert y[:5].tolist() == [9, 2, 1, 1, 6]


def test_fashion_mnist_train_split():
    x, y = fashion_mnist("train")
    assert x.dtype == np.uint8 and x.shape == (60_000, 28, 28) and y.shape == (60_000,)
    assert np.bincount(y, minlength=10).tolist() == [6000] * 10
    assert y[:5].tolist() == [9, 0, 0, 3, 0]


# ---------------------------------------------------------------------------------------------- the CNN

def test_weights_file():
    path = models.fashion_cnn_path()
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == models.FASHION_CNN_SHA256
    assert len(data) < 1_000_000
    w = models.fashion_cnn_weights()
    assert list(w) == list(models.FASHION_CNN_SHAPES)
    for k, a in w.items():
        assert a.dtype == np.float32 and a.shape == models.FASHION_CNN_SHAPES[k] and not a.flags.writeable
        assert np.isfinite(a).all()
    assert models.fashion_cnn_weights() is not w           # a new dict, the same read-only arrays


def test_weights_checksum_refused(tmp_path, monkeypatch):
    bad = tmp_path / "fashion_cnn.npz"
    data = bytearray(models.fashion_cnn_path().read_bytes())
    data[-100] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(models, "fashion_cnn_path", lambda: bad)
    models._weights_cached.cache_clear()
    try:
        with pytest.raises(ValueError, match=f"{bad}: SHA-256 [0-9a-f]{{64}}, expected {models.FASHION_CNN_SHA256}"):
            models.fashion_cnn_weights()
    finally:
        models._weights_cached.cache_clear()


def test_architecture_description():
    layers = [op[1] for op in models.FASHION_CNN if op[0] in ("conv2d", "linear")]
    assert [f"{n}.{p}" for n in layers for p in ("weight", "bias")] == list(models.FASHION_CNN_SHAPES)
    assert {op[0] for op in models.FASHION_CNN} == {"conv2d", "relu", "maxpool", "flatten", "linear"}
    for op in models.FASHION_CNN:
        assert isinstance(op, tuple) and (not isinstance(op[-1], dict) or len(op) >= 2)


def direct_forward(w, image):
    """The CNN on one image with explicit loops over output positions (no im2col), float64."""
    def conv(x, wk, b):
        c, h, wd = x.shape
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        y = np.empty((wk.shape[0], h, wd))
        for i in range(h):
            for j in range(wd):
                y[:, i, j] = np.tensordot(wk, xp[:, i:i + 3, j:j + 3], axes=3) + b
        return y

    def pool(x):
        c, h, wd = x.shape
        return np.array([[[x[k, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(wd // 2)]
                          for i in range(h // 2)] for k in range(c)])

    f = {k: v.astype(np.float64) for k, v in w.items()}
    x = image[None].astype(np.float64) / 255
    x = pool(np.maximum(conv(x, f["conv1.weight"], f["conv1.bias"]), 0))
    x = pool(np.maximum(conv(x, f["conv2.weight"], f["conv2.bias"]), 0))
    x = np.maximum(f["fc1.weight"] @ x.reshape(-1) + f["fc1.bias"], 0)
    return f["fc2.weight"] @ x + f["fc2.bias"]


def test_float_model_matches_direct_loops():
    x, _ = fashion_mnist("test")
    w = models.fashion_cnn_weights()
    got = models.fashion_cnn_float(x[:3])
    for i in range(3):
        np.testing.assert_allclose(got[i], direct_forward(w, x[i]), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(models.fashion_cnn_float(x[:3, None]), got)
    np.testing.assert_allclose(models.fashion_cnn_float(x[:3], batch=2), got, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="images must be uint8"):
        models.fashion_cnn_float(x[:3].astype(np.float32))


def test_float_model_test_accuracy():
    x, y = fashion_mnist("test")
    logits = models.fashion_cnn_float(x)
    assert logits.shape == (10_000, 10) and logits.dtype == np.float64
    correct = int((logits.argmax(1) == y).sum())
    assert correct == models.FASHION_CNN_TEST_CORRECT
