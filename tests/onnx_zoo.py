"""ONNX zoo round trip: each torchvision classification model (weights=None, eval mode) is written by
torch.onnx.export with a dynamic batch, read back with ``ss.from_onnx``, analysed symbolically (the
output keeps the batch symbol), and both ``graph.forward`` and ``symshape run model.onnx`` are compared
with onnxruntime at batch 2. ``python tests/onnx_zoo.py [MODEL ...]`` prints one line per model and
the counts; ``make onnx-zoo`` runs them all."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import symshape as ss
from symshape.cli import main
from symshape.importers._torchvision import ensure_torchvision
from symshape.importers.onnx import read_onnx

# the input size each model needs (Inception's stem, ViT's fixed patch grid; torch exports AdaptiveAvgPool2d(7)
# of AlexNet and VGG only where the feature map is a multiple of 7)
SIZES = {"alexnet": 224, **{f"vgg{n}{bn}": 224 for n in (11, 13, 16, 19) for bn in ("", "_bn")}, "inception_v3": 299, "vit_b_16": 224, "vit_b_32": 224, "vit_l_16": 224, "vit_l_32": 224, "vit_h_14": 224,
         "swin_t": 224, "swin_s": 224, "swin_b": 224, "swin_v2_t": 256, "swin_v2_s": 256, "swin_v2_b": 256,
         "maxvit_t": 224}
DEFAULT_SIZE = 64


def assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    """rtol 1e-4, atol 1e-4 scaled by the output's magnitude (test_from_torch's rule): float32 sums over
    deep untrained nets (resnet101's logits reach 1e4) drift by more than 1e-4 in absolute terms."""
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(expected).max())))


def classification_models() -> list[str]:
    """torchvision's classification model names (quantized, detection, video and segmentation left out)."""
    ensure_torchvision()
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def export(name: str, path: Path) -> int:
    """Write torchvision model ``name`` to ``path`` with a dynamic batch; the image size it was traced at."""
    ensure_torchvision()
    import torchvision

    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("inception_v3", "googlenet") else {}
    module = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    size = SIZES.get(name, DEFAULT_SIZE)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # its IR dumps
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(1, 3, size, size),), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    return size


def round_trip(name: str, folder: Path) -> None:
    """Export, import, analyse and compare model ``name``; raises AssertionError or the first error."""
    path = folder / f"{name}.onnx"
    size = export(name, path)
    imported = read_onnx(path)
    graph = imported.model.infer()
    (out,) = graph.output_shapes
    assert out[0] == ss.sym("batch"), f"the output shape {out} lost the batch symbol"
    x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    expected = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert_close(graph.forward(imported.weights, x), expected)
    np.save(folder / "x.npy", x)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["run", str(path), "--input", f"x={folder / 'x.npy'}", "-o", str(folder / "y.npz")])
    assert code == 0, f"symshape run exited {code}: {err.getvalue().strip()}"
    assert_close(np.load(folder / "y.npz")["y"], expected)


def main_sweep(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="torchvision model names (default: every classification model)")
    names = parser.parse_args(argv).models or classification_models()
    failures = []
    for name in names:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            try:
                round_trip(name, Path(folder))
                status = "ok"
            except Exception as exc:  # noqa: BLE001 - the sweep reports every model's failure and goes on
                status = f"FAIL {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                failures.append(name)
        print(f"{name:24s} {time.perf_counter() - start:6.1f}s  {status}", flush=True)
    print(f"{len(names) - len(failures)}/{len(names)} models round-trip; failures: {', '.join(failures) or 'none'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main_sweep())
