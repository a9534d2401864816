"""Writes docs/errors.md: typical shape mistakes, torch's message beside symshape's.

Both messages are produced by running the mistake, in torch and in symshape, when this script
runs (a test keeps the page current). Run: python docs/make_errors.py > docs/errors.md
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

import symshape as ss


def _lenet_torch() -> None:
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Sigmoid(),
                        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120))
    net(torch.zeros(1, 1, 32, 32))


def _lenet_ss() -> None:
    net = ss.Sequential(ss.Conv2d(1, 6, 5, padding=2), ss.Sigmoid(), ss.AvgPool2d(2), ss.Conv2d(6, 16, 5), ss.Sigmoid(),
                        ss.AvgPool2d(2), ss.Flatten(), ss.Linear(400, 120))
    net.infer("B, 1, H, W").bind(H=32, W=32)


def _branches(lib):  # a residual block whose shortcut has the wrong width
    if lib is torch:
        conv_a, conv_b = nn.Conv2d(3, 64, 3, padding=1), nn.Conv2d(3, 32, 1)
        x = torch.zeros(1, 3, 8, 8)
        return lambda: conv_a(x) + conv_b(x)
    x = ss.Input("B, 3, H, W", name="x")
    out = ss.Add()(ss.Conv2d(3, 64, 3, padding=1)(x, name="conv"), ss.Conv2d(3, 32, 1)(x, name="shortcut"), name="add")
    return lambda: ss.Model(x, out).infer()


def _unet(lib):
    if lib is torch:
        down, up = nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ConvTranspose2d(8, 8, 2, stride=2)
        x = torch.zeros(1, 8, 31, 32)
        return lambda: torch.cat([x, up(down(x))], 1)
    x = ss.Input("B, 8, H, W", name="x")
    up = ss.ConvTranspose2d(8, 8, 2, stride=2)(ss.Conv2d(8, 8, 3, stride=2, padding=1)(x, name="down"), name="up")
    model = ss.Model(x, ss.Concat(1)(x, up, name="skip"))
    return lambda: model.infer().bind(H=31, W=32)


def _run(lib, layer_args: Callable, shape) -> Callable[[], None]:
    def run() -> None:
        layer = layer_args(lib)
        if lib is torch:
            layer(torch.zeros(shape, dtype=torch.long if isinstance(layer, nn.Embedding) else torch.float32))
        else:
            ss.Sequential(layer).infer(shape)
    return run


MISTAKES: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
    ("A fixed Linear after the convolutions, fed a larger image", _lenet_torch, _lenet_ss),
    ("An RGB model fed a grayscale image",
     _run(torch, lambda lib: nn.Conv2d(3, 64, 7, stride=2, padding=3), (1, 1, 224, 224)),
     _run(ss, lambda lib: ss.Conv2d(3, 64, 7, stride=2, padding=3), (1, 1, 224, 224))),
    ("A kernel larger than the feature map",
     _run(torch, lambda lib: nn.Conv2d(8, 8, 3), (1, 8, 2, 2)), _run(ss, lambda lib: ss.Conv2d(8, 8, 3), (1, 8, 2, 2))),
    ("A residual connection whose branches differ in width", _branches(torch), _branches(ss)),
    ("A U-Net skip connection on a size the down-sampling does not divide", _unet(torch), _unet(ss)),
    ("BatchNorm with the wrong number of channels",
     _run(torch, lambda lib: nn.BatchNorm2d(3).eval(), (2, 8, 4, 4)),
     _run(ss, lambda lib: ss.BatchNorm2d(3), (2, 8, 4, 4))),
    ("Attention heads that do not divide the embedding",
     lambda: nn.MultiheadAttention(30, 4),
     lambda: ss.Model((x := ss.Input((5, 2, 30), name="x")), list(ss.MultiheadAttention(30, 4)(x, x, x))).infer()),
    ("An LSTM declared for other features than it gets",
     _run(torch, lambda lib: nn.LSTM(32, 64), (7, 2, 64)), _run(ss, lambda lib: ss.LSTM(32, 64), (7, 2, 64))),
    ("A reshape that does not preserve the element count",
     lambda: torch.zeros(2, 3, 4).reshape(2, -1, 5), _run(ss, lambda lib: ss.Reshape([2, -1, 5]), (2, 3, 4))),
    ("LayerNorm over the wrong feature size",
     _run(torch, lambda lib: nn.LayerNorm(8), (2, 5, 6)), _run(ss, lambda lib: ss.LayerNorm(8), (2, 5, 6))),
    ("A grouped convolution whose groups do not divide the channels",
     lambda: nn.Conv2d(6, 8, 3, groups=4), _run(ss, lambda lib: ss.LazyConv2d(8, 3, groups=4), (1, 6, 5, 5))),
]


def _message(fn: Callable[[], None]) -> str:
    try:
        fn()
    except Exception as exc:  # the point is to show whatever each library says
        return f"{type(exc).__name__}: {exc}".strip()
    return "(no error)"


def catalogue() -> list[str]:
    """The command line's bad-input catalogue (tests/bad_inputs.py), each case run for its message."""
    import re
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from bad_inputs import CASES, make_files, run_case

    lines = ["## The bad-input catalogue of the command line", "",
             "Every case runs in the tests (tests/bad_inputs.py), which check the exit code, the message, that no",
             "traceback is printed and that no file is left behind. SPEC is the case's spec file, LENET",
             "examples/lenet.yaml, DIR a folder of input arrays and weights files, OUT an output path.", "",
             "| case | command | exit | message |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp))
        for case in CASES:
            with tempfile.TemporaryDirectory() as work:
                code, text, _ = run_case(case, files, Path(work))
                text = text.replace(tmp, "DIR").replace(work + "/spec.yaml", "SPEC").replace(work + "/out", "OUT")
                text = text.replace(work, ".")
            text = re.sub(r"only [0-9.,]+ (bytes|[KMGT]iB) is free", "only (free space) is free", text)
            text = text.replace(str(Path(__file__).parents[1] / "examples" / "lenet.yaml"), "LENET")
            message = " ".join(text.split()).replace("|", "\\|")
            lines.append(f"| {case[0]} | `symshape {case[2]}` | {code} | {message} |")
    return lines + [""]


def render() -> str:
    lines = ["# Errors: torch's message beside symshape's", "",
             "Generated by `python docs/make_errors.py`, which makes each mistake in torch (by running it) and in",
             "symshape (by analysing it, no data) and records what each says. symshape finds these before any",
             "data exists, names the layer, the dimension and both sides, and says what to do.", ""]
    for i, (title, torch_fn, ss_fn) in enumerate(MISTAKES, 1):
        lines += [f"## {i}. {title}", "", "torch:", "", "```", _message(torch_fn), "```", "", "symshape:", "",
                  "```", _message(ss_fn), "```", ""]
    return "\n".join(lines + catalogue())


if __name__ == "__main__":
    print(render(), end="")
