"""EfficientNet-Lite0 whole (network/efficientnet.py): its structure from the state dict, one photograph
through the float and the integer pass."""

import numpy as np

from golden.pretrained import efficientnet_lite0
from network.efficientnet import PHOTOGRAPHS, efficientnet_lite0_layers, efficientnet_lite0_network, photographs
from network.engine import Conv, Residual


def test_every_conv_and_linear_weight_of_the_checkpoint_is_a_layer():
    net = efficientnet_lite0_network()
    sd = efficientnet_lite0()
    expect = [k for k in sd if k.endswith(".weight") and ("conv" in k or k == "_fc.weight")]
    assert sorted(net.weight_keys()) == sorted(expect) and len(expect) == 50
    layers = efficientnet_lite0_layers()
    residuals = [s for s in layers if isinstance(s, Residual)]
    assert len(residuals) == 9                    # the blocks with stride 1 and equal channels
    depthwise = [s for s in layers for s in (s.body if isinstance(s, Residual) else [s])
                 if isinstance(s, Conv) and "_depthwise" in s.weight]
    assert len(depthwise) == 16 and all(s.groups == sd[s.weight].shape[0] for s in depthwise)
    assert [s.stride for s in depthwise if s.stride != 1] == [2, 2, 2, 2]


def test_photographs_are_normalized_batches():
    x = photographs(PHOTOGRAPHS[:2])
    assert x.shape == (2, 3, 224, 224) and x.dtype == np.float64
    # ImageNet normalization of values in [0, 1]
    assert x.min() >= (0 - 0.485) / 0.229 - 1e-9 and x.max() <= (1 - 0.406) / 0.225 + 1e-9


def test_one_photograph_float_and_integer():
    net = efficientnet_lite0_network()
    x = photographs(("chelsea",))
    y = net.forward(x)
    assert y.shape == (1, 1000)
    assert int(y.argmax()) in (281, 282, 283, 284, 285, 286, 287)     # ImageNet's cats (tabby .. lynx)
    q = net.quantize(x)
    assert int(q.run(x).argmax()) == int(y.argmax())
