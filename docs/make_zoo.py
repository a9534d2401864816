"""Writes docs/zoo.md: every torchvision classification model, and Hugging Face ``transformers`` models
built from their published configurations (no weights downloaded), imported with ``ss.from_torch``.

For each constructor (``weights=None``): import and symbolic analysis time, parameters (a formula where
symbolic), mult-adds at 1x3x224x224, the conditions on the input sizes, and the status: "ok" when the
parameter names and shapes equal ``state_dict()`` and the numpy forward with the module's own weights
equals torch's eval output (rtol 1e-4) at the smallest square size of 32, 64, 96, 128, 224 that
symshape accepts (transformers: batch 2, sequence length 7); otherwise the reason.
``python docs/make_zoo.py [NAME ...] > docs/zoo.md``; ``python docs/make_zoo.py --update docs/zoo.md NAME ...
> new.md`` recomputes the named rows of a written page.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

import symshape as ss
from symshape.importers._torchvision import ensure_torchvision

SIZES = (32, 64, 96, 128, 224)
LIMIT = int(os.environ.get("ZOO_LIMIT", "90"))  # seconds per model; a row says when one did not finish


class OutOfTime(BaseException):
    """Raised by the alarm; a BaseException, so that no ``except Exception`` on the way turns it into an error."""


def _alarm(signum: int, frame: Any) -> None:
    raise OutOfTime


def within_limit(name: str, make: Any) -> Row:
    """``make(name)``, or a row saying it did not finish within LIMIT seconds."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT)
    try:
        return make(name)
    except OutOfTime:
        return Row(name, status=f"not finished in {LIMIT} s (import + check)")
    finally:
        signal.alarm(0)


@dataclass
class Row:
    name: str
    params: str = ""
    macs: str = ""
    conditions: str = ""
    import_s: float = 0.0
    analysis_s: float = 0.0
    status: str = ""


def square(graph: ss.ShapeGraph, size: int) -> dict[str, int]:
    """B=1, H=W=size for the sizes still free (an import may have fixed some: ViT's H = W = 224)."""
    return {k: v for k, v in {"B": 1, "H": size, "W": size}.items() if k in graph.symbols}


def check(module, model: ss.Model) -> tuple[ss.ShapeGraph, float, str]:
    """The analysis, its time, and the input shape the forward was compared at (AssertionError on a difference)."""
    import torch

    start = time.perf_counter()
    graph = model.infer()
    seconds = time.perf_counter() - start
    if graph.errors:
        raise AssertionError(f"analysis errors: {graph.errors[0]}")
    size = next((s for s in SIZES if graph.valid(**square(graph, s))), None)
    if size is None:
        raise AssertionError(f"no square size in {SIZES} is valid")
    bound = graph.bind(**square(graph, size))
    state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    expected = {k: tuple(v.shape) for k, v in state.items()}
    got = {k: tuple(v) for k, v in bound.state_shapes.items()}
    if got != expected:
        diff = sorted(set(got) ^ set(expected)) or [k for k in got if got[k] != expected[k]]
        raise AssertionError(f"state_dict differs: {diff[:3]}")
    x = np.random.default_rng(0).standard_normal(bound.inputs["x"]).astype(np.float32)
    size = "x".join(map(str, x.shape))
    y = bound.forward(state, x)
    with torch.no_grad():
        ref = module(torch.from_numpy(x))
    y = y if isinstance(y, np.ndarray) else y[0]
    ref = (ref if isinstance(ref, torch.Tensor) else ref[0]).numpy()
    if not np.allclose(y, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max())):
        raise AssertionError(f"forward differs from torch at {size}: max |diff| {np.abs(y - ref).max():.3g}")
    return graph, seconds, size


def zoo_row(name: str) -> Row:
    import torch
    import torchvision.models as tvm

    row = Row(name)
    torch.manual_seed(0)
    module = tvm.get_model(name, weights=None).eval()
    try:
        start = time.perf_counter()
        model = ss.from_torch(module, {"x": "B, 3, H, W"})
        row.import_s = time.perf_counter() - start
        graph, row.analysis_s, size = check(module, model)
        row.params = str(graph.num_params)
        at224 = square(graph, 224)
        row.macs = f"{graph.bind(**at224).costs().macs / 1e9:.2f} G" if graph.valid(**at224) else "(224 invalid)"
        row.conditions = "; ".join(str(c) for c in graph.constraints) or "none"  # a size torch fixes: H == 224
        row.status = f"ok (forward at {size})"
    except ss.SpecError as exc:
        lines = str(exc).splitlines()
        row.status = "import fails: " + " / ".join(line.strip() for line in lines[:4])
    except AssertionError as exc:
        row.status = f"differs: {exc}"
    except Exception as exc:  # noqa: BLE001 - the table reports every failure
        row.status = f"error: {type(exc).__name__}: {exc} ({traceback.extract_tb(exc.__traceback__)[-1].name})"
    return row


def hugging_face_models() -> dict[str, tuple[Any, dict[str, str]]]:
    """Name -> (constructor, inputs): published configurations, the LLaMA one shrunk to fit in memory."""
    import transformers as t

    ids = {"input_ids": "B, T"}
    return {
        "gpt2 (GPT2Model, 124M config)": (lambda: t.GPT2Model(t.GPT2Config()), ids),
        "bert-base-uncased (BertModel)": (lambda: t.BertModel(t.BertConfig()), ids),
        "llama (LlamaModel, 4 layers, d=256, GQA 8/4)": (lambda: t.LlamaModel(t.LlamaConfig(
            num_hidden_layers=4, hidden_size=256, num_attention_heads=8, num_key_value_heads=4,
            intermediate_size=688, vocab_size=32000)), ids),
        "vit-base-patch16-224 (ViTModel)": (lambda: t.ViTModel(t.ViTConfig()), {"pixel_values": "B, 3, H, W"}),
        "t5-small (T5Model)": (lambda: t.T5Model(t.T5Config(decoder_start_token_id=0)),
                               {"input_ids": "B, T", "decoder_input_ids": "B, S"}),
    }


def hf_row(name: str) -> Row:
    """A transformers model's row: sequence models are compared at B=2, T=S=7, and costed at T=S=128."""
    import torch

    factory, inputs = hugging_face_models()[name]
    row = Row(name)
    torch.manual_seed(0)
    module = factory().eval()
    try:
        start = time.perf_counter()
        model = ss.from_torch(module, inputs=inputs)
        row.import_s = time.perf_counter() - start
        start = time.perf_counter()
        graph = model.infer()
        row.analysis_s = time.perf_counter() - start
        if graph.errors:
            raise AssertionError(f"analysis errors: {graph.errors[0]}")
        row.params = str(graph.num_params)
        at = {k: v for k, v in {"B": 1, "T": 128, "S": 128, "H": 224, "W": 224}.items() if k in graph.symbols}
        row.macs = f"{graph.bind(**at).costs().macs / 1e9:.2f} G at {', '.join(f'{k}={v}' for k, v in at.items())}"
        row.conditions = "; ".join(str(c) for c in graph.constraints) or "none"
        rng = np.random.default_rng(0)
        arrays = {k: rng.standard_normal((2, 3, 224, 224)).astype(np.float32) if k == "pixel_values"
                  else rng.integers(0, 100, (2, 7)) for k in inputs}
        bound = graph.bind_from_arrays(arrays)
        state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
        if {k: tuple(v) for k, v in bound.state_shapes.items()} != {k: v.shape for k, v in state.items()}:
            raise AssertionError("state_dict names or shapes differ")
        y = bound.forward(state, **arrays)
        with torch.no_grad():
            ref = module(**{k: torch.from_numpy(v) for k, v in arrays.items()})[0].numpy()
        y = y if isinstance(y, np.ndarray) else (y[0] if isinstance(y, (list, tuple)) else next(iter(y.values())))
        if not np.allclose(y, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max())):
            raise AssertionError(f"forward differs from torch: max |diff| {np.abs(y - ref).max():.3g}")
        row.status = "ok (forward at " + ", ".join("x".join(map(str, v.shape)) for v in arrays.values()) + ")"
    except ss.SpecError as exc:
        row.status = "import fails: " + " / ".join(line.strip() for line in str(exc).splitlines()[:4])
    except AssertionError as exc:
        row.status = f"differs: {exc}"
    except Exception as exc:  # noqa: BLE001 - the table reports every failure
        row.status = f"error: {type(exc).__name__}: {exc} ({traceback.extract_tb(exc.__traceback__)[-1].name})"
    return row


def _table(rows: list[Row], header: str) -> list[str]:
    lines = [header, "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.name, r.params, r.macs, r.conditions, f"{r.import_s:.2f}", f"{r.analysis_s:.2f}", r.status]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def render(rows: list[Row], hf_rows: list[Row]) -> str:
    ok = sum(r.status.startswith("ok") for r in rows)
    lines = ["# Model zoo: torchvision classification models through `ss.from_torch`", "",
             "Generated by `make zoo` (`docs/make_zoo.py`): every constructor of `torchvision.models` "
             "(`weights=None`), imported with `ss.from_torch(module, inputs={\"x\": \"B, 3, H, W\"})`. "
             "*ok* means the parameter names and shapes equal `state_dict()` and the numpy forward with the "
             "module's own weights equals torch's eval output (rtol 1e-4) at the smallest accepted square size. "
             "Mult-adds at 1x3x224x224 (`graph.costs()`: torch.utils.flop_counter's convention, FLOPs / 2); "
             "times on this machine.", "",
             f"**{ok} of {len(rows)} models pass.**", ""]
    lines += _table(rows, "| model | parameters | mult-adds at 224 | conditions on B, H, W | import (s) "
                          "| analysis (s) | status |")
    hf_ok = sum(r.status.startswith("ok") for r in hf_rows)
    lines += ["", "## Hugging Face transformers", "",
              "Built from their configurations with random weights (`transformers`' defaults for GPT-2, "
              "BERT-base, ViT-B/16 and T5-small; a shrunk LLaMA), imported with the inputs named as forward "
              "names them (`input_ids: B, T`, `pixel_values: B, 3, H, W`); compared with torch at batch 2.", "",
              f"**{hf_ok} of {len(hf_rows)} models pass.**", ""]
    lines += _table(hf_rows, "| model | parameters | mult-adds | conditions on the sizes | import (s) "
                             "| analysis (s) | status |")
    return "\n".join(lines) + "\n"


def read_rows(text: str) -> tuple[list[Row], list[Row]]:
    """The rows of a written page (torchvision's, then Hugging Face's), to update some of them."""
    tables: list[list[Row]] = [[], []]
    for line in text.splitlines():
        if line.startswith("| model ") and tables[0]:
            tables.reverse()  # the second table's header: later rows go to the other list
        if not line.startswith("| ") or line.startswith(("| model ", "|---")):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        name, params, macs, conditions, import_s, analysis_s, status = cells
        tables[0].append(Row(name, params, macs, conditions, float(import_s), float(analysis_s), status))
    if tables[1] and not tables[0]:
        tables.reverse()
    return tables[1], tables[0]


def main(names: list[str], update: str | None = None) -> None:
    ensure_torchvision()
    import torchvision.models as tvm

    rows: list[Row] = []
    hf_rows: list[Row] = []
    if update is not None:
        with open(update) as f:
            rows, hf_rows = read_rows(f.read())
    else:
        names = names or sorted(tvm.list_models(module=tvm)) + list(hugging_face_models())
    for name in names:
        into, make = (hf_rows, hf_row) if name in hugging_face_models() else (rows, zoo_row)
        row = within_limit(name, make)
        at = next((i for i, r in enumerate(into) if r.name == name), None)
        into.insert(len(into) if at is None else at, row)
        if at is not None:
            del into[at + 1]
        print(f"{name}: {row.status}", file=sys.stderr, flush=True)
    sys.stdout.write(render(rows, hf_rows))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--update"]:  # --update PAGE NAME ...: recompute these rows of PAGE, keep the rest
        main(sys.argv[3:], update=sys.argv[2])
    else:
        main(sys.argv[1:])
