"""The host side without a board: the driver's refusals and link errors, and ``python -m host.run``'s
arguments and fit check (the runs themselves are in tests/sim/test_board.py, on the simulated board)."""

import pytest

from golden.array import ArrayConfig
from golden.link import Buffer
from host.driver import Board, Identity, LinkError, open_board
from host.run import fits, main
from hw.array.archs import ARCHS, engine
from sim.engine_vectors import real_layer_images


def identity(**over):
    eng = engine("stripes", ArrayConfig(rows=2, cols=2, weight_depth=512, act_depth=512, param_depth=8,
                                        out_depth=256))
    fields = dict(version=1, arch=list(ARCHS).index("stripes"), rows=2, cols=2, weight_depth=512, act_depth=512,
                  param_depth=8, out_depth=256, acc_width=eng.config.acc_width, weight_bits=eng.weight_bits,
                  act_bits=eng.act_bits, param_bits=eng.param_bits, desc_bits=eng.desc_layout.size,
                  clk_hz=12_000_000, divisor=12)
    return eng, Identity(**{**fields, **over})


class Silent:
    """A port that takes every byte and never answers."""
    in_waiting = 0

    def write(self, data):
        return len(data)

    def flush(self):
        pass

    def read(self, n):
        return b""

    def close(self):
        pass


def test_a_port_that_cannot_be_opened_names_itself():
    with pytest.raises(LinkError, match="cannot open /dev/no-such-board"):
        open_board("/dev/no-such-board")


def test_an_echo_is_not_a_board():
    with pytest.raises(LinkError, match="IDENT: unexpected response 0x01"):
        open_board("loop://", timeout=0.2)


def test_no_answer_fails_after_the_retries():
    board = Board("loop://", port=Silent(), timeout=0.05, retries=2)
    with pytest.raises(LinkError, match="STATUS: no valid response from loop:// after 3 tries"):
        board.status()
    assert board.resends == 2


def test_words_are_checked_before_anything_is_sent():
    _, ident = identity()
    board = Board("loop://", port=Silent(), timeout=0.05, retries=0)
    board.identity = ident
    with pytest.raises(ValueError, match="outside the WEIGHTS buffer .depth 512."):
        board.write(Buffer.WEIGHTS, 510, [0, 0, 0])
    with pytest.raises(ValueError, match=f"a PARAMS word must fit {ident.param_bits} bits, got 0x"):
        board.write(Buffer.PARAMS, 0, [1 << ident.param_bits])
    with pytest.raises(ValueError, match="buffer must be one of"):
        board.write(Buffer.OUTPUTS, 0, [0])
    with pytest.raises(ValueError, match=f"descriptor value must fit {ident.desc_bits} bits"):
        board.set_descriptor(-1)


def test_a_layer_that_does_not_fit_says_which_buffer():
    eng, ident = identity()
    images = dict(real_layer_images(eng, "stripes", seed=1))
    stem = images["_conv_stem"]
    assert fits(stem, ident) is None
    _, small = identity(out_depth=50)
    k, t = stem.expected.shape
    assert fits(stem, small) == f"needs {k * t} words of the OUTPUTS buffer, the board has 50"
    words = max(a for b, a, _ in stem.load if b == Buffer.WEIGHTS) + 1
    _, small = identity(weight_depth=words - 1)
    assert fits(stem, small) == f"needs {words} words of the WEIGHTS buffer, the board has {words - 1}"


def test_bad_arguments_name_themselves(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--url", "loop://", "--layers", "stem,conv9"])
    assert e.value.code == 2
    assert "--layers: unknown layer 'conv9'; allowed: fc, expand, stem" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--layers", "stem"])
    assert "one of the arguments --url --sim is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--sim", "bitnet"])
    assert "arch must be one of" in capsys.readouterr().err


def test_a_missing_board_is_an_error_not_a_traceback(capsys):
    assert main(["--url", "/dev/no-such-board"]) == 2
    assert "error: cannot open /dev/no-such-board" in capsys.readouterr().err
