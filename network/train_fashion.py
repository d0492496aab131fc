"""Train the Fashion-MNIST CNN and write ``network/weights/fashion_cnn.npz`` (docs/networks.md, "The
Fashion-MNIST CNN").

Needs PyTorch (the optional ``train`` extra: ``pip install -e '.[train]'``, or ``make train-fashion``)
and Debian's ``dataset-fashion-mnist``. From the repository root::

    python -m network.train_fashion            # or: python network/train_fashion.py
    python -m network.train_fashion --epochs 6 --seed 0 --threads 1 --out network/weights/fashion_cnn.npz

The network is :data:`network.fashion.FASHION_CNN` with a batch norm after each convolution (the
convolutions have no bias while training)::

    conv1 3x3 1->16 pad 1, BN, ReLU, maxpool 2   [N, 16, 14, 14]
    conv2 3x3 16->32 pad 1, BN, ReLU, maxpool 2  [N, 32, 7, 7]
    flatten, fc1 1568->64, ReLU, fc2 64->10

Recipe: input ``image / 255`` (nothing else, no augmentation), all 60,000 training images, mini-batches
of 128 reshuffled every epoch, Adam (learning rate 2e-3, no weight decay) with a cosine decay to 0 over
the run, cross-entropy loss, 6 epochs; ``torch.manual_seed(seed)`` (seed 0), deterministic algorithms,
one thread (on the shared 2-core machine two threads were several times slower per step: OpenMP threads
waiting for a core; the thread count also changes the order of float sums, so the same seed gives the
same weights only with the same count).
The script uses the 10,000 test images only after training. At export each batch norm (its running
statistics, eps 1e-5, PyTorch's default) is folded into its convolution in float64, and the weights are
written as float32 in a ``.npz`` whose bytes depend on the weights only (fixed zip timestamps, stored
uncompressed), so the same weights give the same SHA-256.

The script prints the float32 test accuracy of the exported (folded) network under PyTorch and under
the NumPy reference :func:`network.fashion.fashion_cnn_float` (float64), the file's SHA-256 (pin it in
:data:`network.fashion.FASHION_CNN_SHA256`) and the time taken.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
import zipfile
from pathlib import Path

if __package__ in (None, ""):            # python network/train_fashion.py: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from network.datasets import fashion_mnist
from network.fashion import FASHION_CNN_SHAPES, fashion_cnn_float

DEFAULT_OUT = Path(__file__).resolve().parent / "weights" / "fashion_cnn.npz"
BN_EPS = 1e-5


def build(torch):
    """The training network: FASHION_CNN with batch norm after the (bias-free) convolutions."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16, eps=BN_EPS), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32, eps=BN_EPS), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def export(model) -> dict[str, np.ndarray]:
    """Fold each batch norm into its convolution (float64), return the FASHION_CNN_SHAPES keys as float32."""
    m = [layer for layer in model]
    out = {}
    for name, conv, bn in (("conv1", m[0], m[1]), ("conv2", m[4], m[5])):
        w = conv.weight.detach().double().numpy()
        gamma, beta, mean, var = (t.detach().double().numpy() for t in
                                  (bn.weight, bn.bias, bn.running_mean, bn.running_var))
        s = gamma / np.sqrt(var + bn.eps)
        out[f"{name}.weight"] = (w * s[:, None, None, None]).astype(np.float32)
        out[f"{name}.bias"] = (beta - mean * s).astype(np.float32)
    for name, lin in (("fc1", m[9]), ("fc2", m[11])):
        out[f"{name}.weight"] = lin.weight.detach().numpy().astype(np.float32)
        out[f"{name}.bias"] = lin.bias.detach().numpy().astype(np.float32)
    for k, a in out.items():
        assert a.shape == FASHION_CNN_SHAPES[k], (k, a.shape)
    return {k: out[k] for k in FASHION_CNN_SHAPES}


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    """Write ``arrays`` as an ``.npz`` (readable by ``numpy.load``) with fixed timestamps; return the bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for k, a in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, member.getvalue())
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def folded_torch_correct(torch, weights, images, labels) -> int:
    """Correct test predictions of the exported weights in float32 PyTorch (the folded network)."""
    F = torch.nn.functional
    t = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}
    x = torch.from_numpy(images[:, None].astype(np.float32)) / 255.0
    with torch.no_grad():
        x = F.max_pool2d(F.relu(F.conv2d(x, t["conv1.weight"], t["conv1.bias"], padding=1)), 2)
        x = F.max_pool2d(F.relu(F.conv2d(x, t["conv2.weight"], t["conv2.bias"], padding=1)), 2)
        x = F.relu(F.linear(x.flatten(1), t["fc1.weight"], t["fc1.bias"]))
        x = F.linear(x, t["fc2.weight"], t["fc2.bias"])
    return int((x.argmax(1).numpy() == labels).sum())


def train(epochs: int = 6, seed: int = 0, batch_size: int = 128, lr: float = 2e-3, threads: int = 1,
          out: Path = DEFAULT_OUT, log=print) -> dict:
    import torch

    start = time.perf_counter()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(seed)

    train_x, train_y = fashion_mnist("train")
    test_x, test_y = fashion_mnist("test")
    x = torch.from_numpy(train_x[:, None].astype(np.float32)) / 255.0
    y = torch.from_numpy(train_y.astype(np.int64))

    model = build(torch)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            logits = model(x[idx])
            loss = loss_fn(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach().item() * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
            seen += len(idx)
        log(f"epoch {epoch + 1}/{epochs}: loss {total / seen:.4f}, training accuracy {correct / seen:.4f} "
            f"(running, in train mode), {time.perf_counter() - start:.0f} s")
    model.eval()
    train_time = time.perf_counter() - start

    weights = export(model)
    data = save_npz(Path(out), weights)
    digest = hashlib.sha256(data).hexdigest()
    torch_correct = folded_torch_correct(torch, weights, test_x, test_y)
    numpy_correct = int((fashion_cnn_float(test_x, weights).argmax(1) == test_y).sum())
    result = {"epochs": epochs, "seed": seed, "train_seconds": train_time, "out": str(out), "bytes": len(data),
              "sha256": digest, "test_correct_torch_float32": torch_correct,
              "test_correct_numpy_float64": numpy_correct, "test_images": len(test_y)}
    log(f"wrote {out} ({len(data):,} bytes), SHA-256 {digest}")
    log(f"test accuracy of the exported network: float32 PyTorch {torch_correct}/{len(test_y)} "
        f"({torch_correct / len(test_y):.2%}), float64 NumPy {numpy_correct}/{len(test_y)} "
        f"({numpy_correct / len(test_y):.2%})")
    log(f"training took {train_time:.0f} s with torch.set_num_threads({threads}) (torch {torch.__version__})")
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m network.train_fashion", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args(argv)
    return train(a.epochs, a.seed, a.batch_size, a.lr, a.threads, a.out)


if __name__ == "__main__":
    main()
