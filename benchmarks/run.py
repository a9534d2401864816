"""symshape beside PyTorch, in one process: medians and ratios, written to benchmarks/results.json.

Run: make bench  (or python benchmarks/run.py [--quick]). The machine is shared and noisy: quote the
ratios (symshape / torch, lower is better), not the absolute times. Each timing starts after a pause, so
that neither library's spinning idle threads slow the other's. JAX is not installed by the
project, so its figures are not measured here.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import workloads as w

import symshape as ss

RESULTS = Path(__file__).with_name("results.json")
ROOT = Path(__file__).parents[1]
GOALS = {  # issue 16: ratio symshape / peer, or an absolute time where the goal is one
    "resnet50 shapes, concrete": "<= 0.03x", "resnet50 shapes, concrete vs ONNX": "<= 2.0x",
    "resnet50 materialize": "<= 0.6x", "resnet50 forward b=1 224": "<= 1.0x",
    "d2l MLP lazy cycle": "<= 0.5x", "LeNet-5 forward b=8": "<= 1.0x", "bi-LSTM 2x256 forward b=4 T=32": "<= 1.0x",
    "GPT-2 small forward B=1 T=128": "<= 1.0x", "ViT-B/16 forward b=1 224": "<= 1.0x",
    "CLI symshape --help": "<= 0.6 s", "CLI symshape check lenet.yaml": "<= 0.6 s",
    "resnet50 summary --costs, symbolic": "<= 0.1 s", "materialize GPT-2 small": "<= 0.6x",
    **{f"{name} import + symbolic analysis": "<= 0.05x" for name in (
        "resnet18", "resnet50", "mobilenet_v2", "densenet121", "efficientnet_b0", "convnext_tiny", "vit_b_16",
        "GPT-2 (transformers)")},
}


SETTLE_S = 0.5  # after numpy's BLAS calls its idle threads spin for a while and halve torch's speed on 2 cores


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """The median of ``repeat`` timed calls, started once the other library's idle threads have gone to sleep:
    on 2 cores a torch forward right after numpy matmuls ran at half speed, and one 0.3 s later at full speed."""
    time.sleep(SETTLE_S)
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def warm_median_time(fn: Callable[[], object], repeat: int) -> float:
    """median_time after one untimed call: the first import of a model pays sympy's caches."""
    fn()
    return median_time(fn, repeat)


def onnx_infer_shapes_time(module: torch.nn.Module, repeat: int) -> float:
    """ONNX's C++ shape inference on the module's graph at 1x3x224x224, the weights left out (they are
    inputs with their shapes), so that only the shape work is timed."""
    import io

    import onnx
    from onnx import helper, shape_inference

    buffer = io.BytesIO()
    torch.onnx.export(module.eval(), (torch.randn(1, 3, 224, 224),), buffer, dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    graph = model.graph
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in graph.initializer)
    del graph.initializer[:]
    del graph.value_info[:]
    return median_time(lambda: shape_inference.infer_shapes(model), repeat)


def torch_meta_dry_run(factory: Callable[[], torch.nn.Module], *shapes: tuple, dtype=torch.float32) -> Callable:
    def run() -> None:
        with torch.device("meta"):
            model = factory().eval()
            with torch.no_grad():
                model(*[torch.empty(s, dtype=dtype) for s in shapes])
    return run


def bench(quick: bool) -> list[dict]:
    repeat = 3 if quick else 7
    rows: list[dict] = []

    def row(workload: str, ours: float, theirs: float | None, peer: str, note: str = "") -> None:
        ratio = ours / theirs if theirs else None
        goal = GOALS.get(workload)
        rows.append({"workload": workload, "symshape_s": ours, "peer": peer, "peer_s": theirs, "ratio": ratio,
                     "goal": goal, "note": note})
        shown = f"{ratio:6.3f}x" if ratio is not None else "   n/a "
        print(f"{workload:<38} symshape {ours * 1e3:10.2f} ms   {peer:<34} "
              f"{(theirs or 0) * 1e3:10.2f} ms   ratio {shown} (goal {goal or '-'})  {note}", flush=True)

    # 1. ResNet-50 shapes, concrete input
    r50 = w.resnet50()
    ours = median_time(lambda: r50.infer(x=(1, 3, 224, 224)), repeat)
    theirs = median_time(torch_meta_dry_run(w.torch_resnet50, (1, 3, 224, 224)), repeat)
    row("resnet50 shapes, concrete", ours, theirs, "torch dry run on meta")
    try:
        row("resnet50 shapes, concrete vs ONNX", ours, onnx_infer_shapes_time(w.torch_resnet50(), repeat),
            "onnx.shape_inference (C++), no weights")
    except Exception as exc:  # onnx missing or the export refusing: say so, keep the other rows
        print(f"  ONNX shape inference failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")

    # 2. ResNet-50 shapes, symbolic B, H, W (with the constraint reasoning)
    ours = median_time(lambda: r50.infer(), repeat)
    theirs = None
    try:
        from torch.export import Dim, export

        # torch.export rejects plain H and W Dims for ResNet-50 (its guards need H and W to be multiples of
        # 32, which it cannot express as a range): give it H = 32*h, W = 32*w, as its error suggests
        model, x = w.torch_resnet50(), torch.randn(2, 3, 224, 224)
        h, wd = Dim("h", min=1, max=32), Dim("w", min=1, max=32)
        shapes = {"x": {0: Dim("B", min=1, max=64), 2: 32 * h, 3: 32 * wd}}
        theirs = median_time(lambda: export(model, (x,), dynamic_shapes=shapes), 1 if quick else 3)
    except Exception as exc:  # torch.export may refuse the dynamic dims: say so instead of failing the run
        print(f"  torch.export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    row("resnet50 shapes, symbolic B,H,W", ours, theirs, "torch.export with Dims")

    # 3. deep MLPs of lazy Linear + ReLU blocks: linear growth, and N = 5000 against torch
    sizes = [100, 1000, 5000] if quick else [100, 1000, 5000, 10000]
    times = {n: median_time(lambda n=n: w.deep_mlp(n).infer((1, 64)), 3) for n in sizes}
    exponent = np.polyfit(np.log(sizes), np.log([times[n] for n in sizes]), 1)[0]
    theirs = median_time(torch_meta_dry_run(lambda: w.torch_deep_mlp(5000), (1, 64)), 1)
    row("deep MLP N=5000 (build + infer)", times[5000], theirs, "torch lazy dry run on meta",
        f"time ~ N^{exponent:.3f} over N={sizes}")

    # 4. ResNet-50 materialize with torch's default init
    g = r50.infer(x=(1, 3, 224, 224))
    ours = median_time(lambda: g.materialize(seed=0), repeat)
    theirs = median_time(w.torch_resnet50, repeat)
    n = int(g.num_params) + sum(int(np.prod(s)) for s in g.buffer_shapes.values())
    floor = median_time(lambda: np.random.default_rng(0).random(n, dtype=np.float32), repeat)
    row("resnet50 materialize", ours, theirs, "torch construct + init", f"numpy fill floor {floor * 1e3:.1f} ms "
        f"(1 thread) -> {ours / floor:.2f}x the floor")

    # 5. ResNet-50 forward, batch 1, 224x224, float32, same threads
    params = g.materialize(seed=0)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    module = w.torch_resnet50()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    got = g.forward(params, x)
    ok = np.allclose(got, expected, rtol=1e-4, atol=1e-4)
    ours = median_time(lambda: g.forward(params, x), repeat)
    with torch.no_grad():
        theirs = median_time(lambda: module(torch.from_numpy(x)), repeat)
    row("resnet50 forward b=1 224", ours, theirs, f"torch eager ({torch.get_num_threads()} threads)",
        f"outputs within rtol 1e-4: {ok}")

    # 6. small models: the whole lazy cycle (infer, init, forward)
    X = np.random.default_rng(0).random((2, 20), dtype=np.float32)
    ours = median_time(lambda: w.d2l_mlp()(X), repeat)  # each side builds only its own model
    theirs = median_time(lambda: w.torch_d2l_mlp()(torch.from_numpy(X)), repeat)
    row("d2l MLP lazy cycle", ours, theirs, "torch LazyLinear first call")
    lenet, torch_lenet = w.lenet()
    images = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    gl = lenet.infer()
    pl = gl.materialize(seed=0)
    ours = median_time(lambda: gl.forward(pl, images), repeat)
    with torch.no_grad():
        theirs = median_time(lambda: torch_lenet.eval()(torch.from_numpy(images)), repeat)
    row("LeNet-5 forward b=8", ours, theirs, "torch eager")

    # 7. GPT-2-small-shaped transformer: symbolic analysis against torch's meta dry run
    gpt, _ = w.gpt2_small()
    ours = median_time(lambda: gpt.infer(), repeat)
    theirs = median_time(torch_meta_dry_run(lambda: w.gpt2_small()[1], (1, 128), (1, 128), dtype=torch.long),
                         max(1, repeat // 2))
    row("GPT-2-small shapes, symbolic B,T", ours, theirs, "torch dry run on meta")

    # 8. bidirectional LSTM forward
    lstm, torch_lstm = w.bilstm()
    gb = lstm.infer(x=(4, 32, 128))
    pb = gb.materialize(seed=0)
    seq = np.random.default_rng(0).standard_normal((4, 32, 128)).astype(np.float32)
    ours = median_time(lambda: gb.forward(pb, seq), repeat)
    torch_lstm.load_state_dict({k: torch.from_numpy(v) for k, v in pb.items()})
    with torch.no_grad():
        theirs = median_time(lambda: torch_lstm(torch.from_numpy(seq)), repeat)
    row("bi-LSTM 2x256 forward b=4 T=32", ours, theirs, "torch eager (fused kernel)")

    # 9. LLaMA-70B-shaped analysis, no allocation
    ours = median_time(lambda: w.llama70b_shaped().infer(), 1 if quick else 3)
    params = w.llama70b_shaped().infer().num_params
    row("LLaMA-70B-shaped build + analysis", ours, None, "-", f"{params:,} parameters, nothing allocated")

    # 10. start-up of the command line, as subprocesses, beside the import of torch
    symshape_cli = str(Path(sys.executable).with_name("symshape"))
    # as installed: bytecode cached (a sandbox's PYTHONDONTWRITEBYTECODE=1 recompiles every module each start)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    peer = median_time(lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True, env=env), repeat)
    for name, argv in (("CLI symshape --help", ["--help"]),
                       ("CLI symshape check lenet.yaml", ["check", str(ROOT / "examples" / "lenet.yaml")])):
        ours = median_time(lambda argv=argv: subprocess.run([symshape_cli, *argv], check=True, capture_output=True,
                                                            env=env), repeat)
        row(name, ours, peer, 'python -c "import torch"', "wall time of the subprocess")

    # 11. symbolic costs of ResNet-50 (what summary --costs computes)
    from symshape.costs import costs

    symbolic = r50.infer()
    ours = median_time(lambda: costs(symbolic), 1)
    row("resnet50 summary --costs, symbolic", ours, None, "-", "costs() of the symbolic B, H, W analysis")
    for workload in (import_rows, transformer_rows):
        try:
            workload(row, quick, repeat)
        except Exception as exc:  # an optional package missing or refusing: say so, keep the other rows
            print(f"  {workload.__name__} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    return rows


def import_rows(row: Callable, quick: bool, repeat: int) -> None:
    """ss.from_torch + symbolic analysis against torch.export with dynamic dims, on torchvision models and
    Hugging Face GPT-2 (symshape traces it with its fx eager tracer, torch.export with TorchDynamo)."""
    from symshape.importers._torchvision import ensure_torchvision

    ensure_torchvision()
    import torchvision
    import transformers
    from torch.export import Dim, export

    times = 1 if quick else 3
    batch = Dim("B", min=1, max=64)
    names = ("resnet18",) if quick else ("resnet18", "resnet50", "mobilenet_v2", "densenet121", "efficientnet_b0",
                                         "convnext_tiny", "vit_b_16")
    for name in names:
        model = getattr(torchvision.models, name)().eval()
        ours = warm_median_time(lambda m=model: ss.from_torch(m, {"x": "B, 3, H, W"}).infer(), times)
        h, wd = Dim("h", min=1, max=32), Dim("w", min=1, max=32)
        # torchvision's ViT asserts H == W == 224: only its batch can be dynamic
        shapes = {"x": {0: batch}} if name.startswith("vit") else {"x": {0: batch, 2: 32 * h, 3: 32 * wd}}
        theirs = median_time(lambda m=model, d=shapes: export(m, (torch.randn(2, 3, 224, 224),), dynamic_shapes=d), 1)
        row(f"{name} import + symbolic analysis", ours, theirs, "torch.export with Dims")
    if quick:
        return
    transformers.logging.set_verbosity_error()
    gpt = transformers.GPT2Model(transformers.GPT2Config()).eval()
    ours = warm_median_time(lambda: ss.from_torch(gpt, {"input_ids": "B, T"}).infer(), times)
    ids = torch.zeros(2, 16, dtype=torch.long)
    dynamic = {"input_ids": {0: batch, 1: Dim("T", min=2, max=1024)}, "use_cache": None}
    theirs = median_time(lambda: export(gpt, (), {"input_ids": ids, "use_cache": False}, dynamic_shapes=dynamic), 1)
    row("GPT-2 (transformers) import + symbolic analysis", ours, theirs, "torch.export with Dims",
        "symshape: fx eager tracer; torch.export: TorchDynamo")


def transformer_rows(row: Callable, quick: bool, repeat: int) -> None:
    """GPT-2 small (examples/gpt2.yaml, transformers' weights) and ViT-B/16 against their torch models."""
    from symshape.importers._torchvision import ensure_torchvision

    ensure_torchvision()
    import torchvision
    import transformers

    transformers.logging.set_verbosity_error()
    times = 1 if quick else 3
    torch.manual_seed(0)
    start = time.perf_counter()
    gpt = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
    construct = time.perf_counter() - start
    spec = ss.load_spec(ROOT / "examples" / "gpt2.yaml")
    g = spec.infer(input_ids=(1, 128))
    ours = median_time(lambda: g.materialize(seed=0), times)
    row("materialize GPT-2 small", ours, construct, "transformers construct + init")
    params = {k: v.numpy() for k, v in gpt.state_dict().items() if k in g.param_specs}
    ids = np.random.default_rng(0).integers(0, 50257, (1, 128))
    with torch.no_grad():
        expected = gpt(torch.from_numpy(ids), use_cache=False).logits.numpy()
        theirs = median_time(lambda: gpt(torch.from_numpy(ids), use_cache=False), times)
    ok = np.allclose(g.forward(params, ids), expected, rtol=1e-4, atol=1e-4)
    ours = median_time(lambda: g.forward(params, ids), times)
    row("GPT-2 small forward B=1 T=128", ours, theirs, "transformers eager", f"logits within rtol 1e-4: {ok}")

    vit = torchvision.models.vit_b_16().eval()
    g = ss.load_spec(ROOT / "examples" / "vit_b_16.yaml").infer(x=(1, 3, 224, 224))
    params = {k: v.numpy() for k, v in vit.state_dict().items()}
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        expected = vit(torch.from_numpy(x)).numpy()
        theirs = median_time(lambda: vit(torch.from_numpy(x)), times)
    ok = np.allclose(g.forward(params, x), expected, rtol=1e-4, atol=1e-4)
    ours = median_time(lambda: g.forward(params, x), times)
    row("ViT-B/16 forward b=1 224", ours, theirs, "torchvision eager", f"outputs within rtol 1e-4: {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"symshape {ss.__version__}, {platform.machine()}, torch threads {torch.get_num_threads()}")
    rows = bench(args.quick)
    RESULTS.write_text(json.dumps({"platform": platform.platform(), "torch": torch.__version__,
                                   "results": rows}, indent=2, default=lambda v: None if v != v else v) + "\n")
    geo = math.exp(statistics.mean(math.log(r["ratio"]) for r in rows if r["ratio"]))
    print(f"geometric mean of the ratios: {geo:.3f}; written to {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
