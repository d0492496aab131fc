"""Weights files in, NumPy arrays out: PyTorch checkpoints, safetensors and ONNX (docs/networks.md).

:func:`load_weights` reads one file into an ordered ``{name: numpy array}`` mapping, whatever its format:

* **PyTorch** checkpoints (``torch.save`` of a state dict, zip or legacy format) with
  :func:`golden.pretrained.load_state_dict`, whose restricted unpickler never runs code named by the file;
  the file's order;
* **safetensors** with ``safetensors.numpy.load_file``. The format keeps no module order (its writer lays
  the tensors out by dtype, then name), so the names come back in *natural* order, numbers compared as
  numbers (``features.2`` before ``features.10``), which is the module order of ``nn.Sequential`` names;
* **ONNX** with the ``onnx`` package: every graph initializer, then every ``Constant`` node's value
  (named by the node's output), each converted by ``onnx.numpy_helper.to_array``; graph order.

The format is recognised by content first (a zip archive or a pickle is PyTorch; eight bytes of
little-endian header length followed by ``{`` is safetensors), then by suffix (``.onnx``; ``.pt``,
``.pth``, ``.bin``, ``.ckpt``; ``.safetensors``), then an ONNX model's first byte (the protobuf tag of
``ir_version``). Anything else is refused as an unknown format.

Every array has a NumPy dtype that holds the file's values exactly (float16/32/64, the integer types,
bool, complex). Element types NumPy has no dtype for (bfloat16, float8, 4-bit integers, ONNX strings)
are refused, not widened, as golden.pretrained refuses them in PyTorch checkpoints.

Every problem is an ``OSError`` (missing file, a directory) or a ``ValueError`` whose message starts
with the path and says what is wrong; the exceptions of zipfile, pickle, protobuf, onnx and safetensors
never escape unexplained. :func:`read_onnx` gives the parsed, checked ONNX model, which
:func:`network.layers.layers_from_onnx` reads the convolution attributes from.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile

import numpy as np

from golden.pretrained import load_state_dict

__all__ = ["load_weights", "detect_format", "read_onnx", "onnx_tensors", "FORMATS"]

FORMATS = ("pytorch", "safetensors", "onnx")

_SUFFIXES = {".pt": "pytorch", ".pth": "pytorch", ".bin": "pytorch", ".ckpt": "pytorch",
             ".safetensors": "safetensors", ".onnx": "onnx"}


def _check_path(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r} of type {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not a weights file")
    return path


def _looks_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    n = struct.unpack("<Q", head[:8])[0]
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def detect_format(path) -> str:
    """The format of the weights file ``path``: ``"pytorch"``, ``"safetensors"`` or ``"onnx"``.

    Content first (zip archive or pickle: PyTorch; a safetensors header), then the suffix, then an ONNX
    model's first byte. ``FileNotFoundError``/``IsADirectoryError`` for a missing file or a directory,
    ``ValueError`` for an empty file or an unknown format.
    """
    path = _check_path(path)
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"{path}: empty file, not a weights file")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04") or zipfile.is_zipfile(path):
        return "pytorch"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:  # PROTO opcode: a pickle
        return "pytorch"
    if _looks_safetensors(head, size):
        return "safetensors"
    suffix = os.path.splitext(path)[1].lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if head[:1] == b"\x08":  # ModelProto field 1 (ir_version), varint: how every ONNX file starts
        return "onnx"
    raise ValueError(f"{path}: unknown weights format (first bytes {head[:8]!r}): not a PyTorch checkpoint "
                     f"(zip or pickle), a safetensors file or an ONNX model; known suffixes: "
                     f"{', '.join(sorted(_SUFFIXES))}")


def _check_dtype(path, name: str, a: np.ndarray, what: str) -> np.ndarray:
    """``a`` if its dtype is a NumPy built-in numeric dtype, else ``ValueError`` naming the tensor."""
    dt = a.dtype
    if dt.isbuiltin != 1 or dt.kind not in "biufc":
        raise ValueError(f"{path}: {what} {name!r} (shape {tuple(a.shape)}) has element type {dt}, which has no "
                         f"exact NumPy dtype: not supported (convert the file to float32 or float16)")
    return a


def _natural_key(name: str):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name)]


# safetensors element types NumPy holds exactly; the others (BF16, F8_*, ...) are refused
_SAFETENSORS_NUMPY = {"F64", "F32", "F16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
                      "C64", "C128"}


def _safetensors_dtypes(path) -> dict[str, str]:
    """``{tensor name: dtype string}`` from a safetensors header; ``{}`` if the header does not parse
    (safetensors then says what is wrong)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return {}
        n = struct.unpack("<Q", head)[0]
        if n > os.path.getsize(path) - 8:
            return {}
        try:
            header = json.loads(f.read(n))
        except ValueError:
            return {}
    if not isinstance(header, dict):
        return {}
    return {k: v["dtype"] for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and isinstance(v.get("dtype"), str)}


def _load_safetensors(path) -> dict[str, np.ndarray]:
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(f"{path}: reading safetensors needs the safetensors package "
                          f"(a test dependency: pip install -e '.[test]')") from e
    for name, dtype in _safetensors_dtypes(path).items():
        if dtype not in _SAFETENSORS_NUMPY:
            what = "bfloat16" if dtype == "BF16" else dtype
            raise ValueError(f"{path}: tensor {name!r} has element type {what}, which has no exact NumPy "
                             f"dtype: not supported (convert the file to float32 or float16)")
    try:
        raw = safetensors.numpy.load_file(path)
    except Exception as e:  # SafetensorError (truncated, bad header, bad offsets), OSError, ...
        raise ValueError(f"{path}: not a valid safetensors file: {e}") from e
    out = {}
    for name in sorted(raw, key=_natural_key):
        a = _check_dtype(path, name, raw[name], "tensor")
        out[name] = np.array(a, dtype=a.dtype.newbyteorder("="), order="C", copy=True)
    return out


def read_onnx(path):
    """The ONNX model in ``path`` (an ``onnx.ModelProto``), parsed and checked by ``onnx.checker``.

    ``ValueError`` naming the file when it does not parse (truncated, not protobuf), fails the checker
    (no graph, no opset, nodes referring to missing inputs, ...) or has external data that cannot be read.
    """
    path = _check_path(path)
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f"{path}: reading ONNX needs the onnx package "
                          f"(a test dependency: pip install -e '.[test]')") from e
    try:
        model = onnx.load(path)
    except Exception as e:  # google.protobuf DecodeError, external-data errors, ...
        raise ValueError(f"{path}: not a valid ONNX model: {type(e).__name__}: {e}") from e
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # onnx.checker.ValidationError
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a valid ONNX model: the ONNX checker says: {first}") from e
    if not model.graph.node and not model.graph.initializer:
        raise ValueError(f"{path}: not a valid ONNX model: the graph is empty")
    return model


def _constant_value(path, node):
    """The array of a ``Constant`` node's one attribute."""
    from onnx import helper, numpy_helper
    if len(node.attribute) != 1:
        raise ValueError(f"{path}: Constant node {node.name or node.output[0]!r} has "
                         f"{len(node.attribute)} attributes, expected one")
    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    if attr.name in ("value_float", "value_floats"):
        return np.asarray(helper.get_attribute_value(attr), dtype=np.float32)
    if attr.name in ("value_int", "value_ints"):
        return np.asarray(helper.get_attribute_value(attr), dtype=np.int64)
    raise ValueError(f"{path}: Constant node {node.name or node.output[0]!r} holds a {attr.name!r}: "
                     f"only dense numeric constants are supported")


def onnx_tensors(model, path="<onnx model>") -> dict[str, np.ndarray]:
    """Every initializer of ``model``'s graph, then every ``Constant`` node's value, as NumPy arrays."""
    from onnx import numpy_helper
    out = {}

    def add(name, get, what):
        if not name:
            raise ValueError(f"{path}: an ONNX {what} has no name")
        if name in out:
            raise ValueError(f"{path}: the tensor name {name!r} is defined twice")
        try:
            a = np.asarray(get())
        except ValueError:
            raise
        except Exception as e:
            raise ValueError(f"{path}: cannot read the {what} {name!r}: {type(e).__name__}: {e}") from e
        a = _check_dtype(path, name, a, what)
        out[name] = np.array(a, dtype=a.dtype.newbyteorder("="), order="C", copy=True)

    for t in model.graph.initializer:
        add(t.name, lambda t=t: numpy_helper.to_array(t), "initializer")
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            add(node.output[0] if node.output else "", lambda n=node: _constant_value(path, n), "Constant node")
    return out


def load_weights(path) -> dict[str, np.ndarray]:
    """Read the weights file ``path`` (PyTorch, safetensors or ONNX) into ``{name: numpy array}``.

    Parameters
    ----------
    path : str or os.PathLike
        A PyTorch checkpoint (a state dict, as ``torch.save(model.state_dict(), path)`` writes it), a
        safetensors file or an ONNX model; :func:`detect_format` says which.

    Returns
    -------
    dict of str to ndarray
        Ordered: a PyTorch file's order; safetensors names in natural order; ONNX initializers, then
        ``Constant`` nodes, in graph order. Each array is a fresh C-contiguous copy in native byte order,
        with the dtype the file stores.

    Raises
    ------
    TypeError
        ``path`` is not a str or path.
    FileNotFoundError, IsADirectoryError
        No such file; a directory. The message starts with the path.
    ValueError
        An empty, truncated or malformed file, an unknown format, a pickle that names a global other than
        the few a checkpoint needs (``os.system`` ...), an element type NumPy cannot hold exactly
        (bfloat16, float8). The message starts with the path and says what is wrong.
    ImportError
        A safetensors or ONNX file without the safetensors or onnx package installed.
    """
    fmt = detect_format(path)
    path = os.fspath(path)
    if fmt == "pytorch":
        try:
            return load_state_dict(path)
        except ValueError:
            raise
        except Exception as e:  # anything golden.pretrained does not already turn into a ValueError
            raise ValueError(f"{path}: cannot read the PyTorch checkpoint: {type(e).__name__}: {e}") from e
    if fmt == "safetensors":
        return _load_safetensors(path)
    return onnx_tensors(read_onnx(path), path)
