"""The ``symshape`` command line: parse, call the library, print. Exit 0 ok, 1 model error, 2 bad input."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from . import __version__
from .errors import ShapeError, ShapeMismatchError, SpecError, UnresolvedShapeError

if TYPE_CHECKING:  # the library is imported by the commands that need it: --help stays fast
    import numpy as np

EXAMPLES = {
    "check": "symshape check examples/lenet.yaml\n"
             "  symshape check examples/resnet18.yaml --bind H=224,W=224 --format json",
    "summary": "symshape summary examples/lenet.yaml --input x=B,1,H,W --costs\n"
               "  symshape summary examples/resnet50.yaml --bind B=1,H=224,W=224 --depth 2\n"
               "  symshape summary examples/resnet18.yaml --bind B=1,H=224,W=224 --format markdown",
    "init": "symshape init examples/lenet.yaml --seed 0 -o lenet.safetensors\n"
            "  symshape init examples/vgg11.yaml --bind H=224,W=224 --shard-size 200MB -o vgg11.safetensors\n"
            "  symshape init examples/gru_classifier.yaml --bind D=20 --init xavier_uniform --dtype float64 -o gru.npz",
    "run": "python -c \"import numpy as np; np.save('digits.npy', np.zeros((2, 1, 28, 28), np.float32))\"\n"
           "  symshape run examples/lenet.yaml --weights lenet.safetensors --input x=digits.npy -o logits.npy",
    "explain": "symshape explain examples/lenet.yaml fc1.weight --input x=B,1,H,W",
    "graph": "symshape graph examples/resnet50.yaml -o resnet50.html   (pan, zoom, search, bind sizes)\n"
             "  symshape graph examples/lenet.yaml -o lenet.svg\n"
             "  symshape graph examples/resnet18.yaml --bind H=64 -o r.dot",
    "import": "symshape import model.onnx -o model.yaml --weights model.safetensors\n"
              "  symshape import torchvision.models:resnet18 --input x=B,3,H,W -o resnet18.yaml",
    "export": "symshape export examples/lenet.yaml -o lenet.onnx\n"
              "  symshape export examples/resnet18.yaml --weights resnet18.safetensors -o resnet18.onnx",
    "ops": "symshape ops\n  symshape ops conv",
    "schema": "symshape schema -o symshape.schema.json\n"
              "  (then, in a spec: # yaml-language-server: $schema=symshape.schema.json)",
}
NO_SPEC = ("import", "ops", "schema")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one paragraph, exit 2, as every user error
        self.exit(2, f"symshape: {message}\n{self.format_usage()}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symshape", description="Symbolic shape analysis, initialization and a numpy reference "
                     "forward pass for neural-network specs.")
    parser.add_argument("--version", action="version", version=f"symshape {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog=f"example:\n  {EXAMPLES[name]}", formatter_class=argparse.RawDescriptionHelpFormatter)
        if name not in NO_SPEC:
            p.add_argument("spec", help="the model spec (.yaml, .yml or .json) or an ONNX model (.onnx)")
        return p

    def sizes(p: argparse.ArgumentParser, inputs: bool = True) -> None:
        p.add_argument("--bind", action="append", default=[], metavar="N=V",
                       help="fix sizes: --bind B=2 --bind H=32 or --bind B=2,H=32")
        if inputs:
            p.add_argument("--input", action="append", default=[], metavar="NAME=DIMS",
                           help="override an input's shape: --input x=B,3,64,64")

    p = command("check", "Analyse the spec: print the output shapes and conditions, or every shape error (exit 1).")
    sizes(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p = command("summary", "Per-layer table: shapes, parameter shapes and counts, totals.")
    sizes(p)
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--dtype", choices=["float16", "float32", "float64"], default="float32", help="for the byte totals")
    p.add_argument("--costs", action="store_true",
                   help="add mult-adds (torch.utils.flop_counter's FLOPs / 2), activations, peak activation memory")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="show blocks (dotted names: layer1.0.conv1) down to N levels, deeper layers folded into them")
    p.add_argument("--width", type=int, default=None, metavar="COLUMNS",
                   help="the text table's width (default: the terminal's)")
    p = command("init", "Materialize and initialize every parameter and buffer; write a weights file.")
    sizes(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None, metavar="NAME",
                   help="initializer for weights (default: torch's per-layer scheme), e.g. xavier_uniform")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--shard-size", metavar="SIZE", help="split .safetensors output into shards of at most SIZE "
                   "(e.g. 2GB, 500MB), with a torch-style index json")
    p.add_argument("-o", "--output", required=True, help="FILE.npz or FILE.safetensors (written tensor by tensor)")
    p = command("run", "Numpy reference forward pass (eval mode); sizes are bound from the input arrays.")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", help="a weights file (.npz or .safetensors); an .onnx model's default: "
                        "its initializers")
    source.add_argument("--seed", type=int, help="initialize with torch's defaults from this seed instead")
    p.add_argument("--input", action="append", default=[], metavar="NAME=X.npy", required=True,
                   help="an input array: --input x=batch.npy")
    p.add_argument("-o", "--output", required=True, help="OUT.npz (one array per output) or OUT.npy (one output)")
    p = command("explain", "Show how a parameter's or a layer output's shape was derived from the input dims.")
    p.add_argument("name", help="a parameter (fc1.weight), a layer output (conv2, lstm:1) or an input")
    sizes(p)
    p = command("graph", "Write the computation graph with shapes on its edges.")
    sizes(p)
    p.add_argument("-o", "--output", required=True, help="FILE.html (an interactive page), FILE.dot, FILE.svg, "
                   "FILE.png or FILE.graphml")
    p = command("import", "Write an ONNX model or a torch.nn.Module factory as a spec file.")
    p.add_argument("source", help="MODEL.onnx, or package.module:factory (called with no arguments)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=DIMS",
                   help="an input of the torch module and its shape: --input x=B,3,H,W")
    p.add_argument("--weights", metavar="FILE", help="also write an ONNX model's initializers (.npz or .safetensors)")
    p.add_argument("-o", "--output", required=True, help="the spec file (.yaml, .yml or .json)")
    p = command("export", "Write the model as ONNX: symbolic sizes as dim_params, parameters as initializers.")
    sizes(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", help="a weights file (.npz or .safetensors); default: initialized from --seed")
    source.add_argument("--seed", type=int, default=0, help="the seed of the default initialization (default 0)")
    p.add_argument("--opset", type=int, default=None, help="the ONNX opset (default: symshape's)")
    p.add_argument("-o", "--output", required=True, help="FILE.onnx")
    p = command("ops", "List the layer catalogue: each op with its shape rule (docs/layers.md has examples).")
    p.add_argument("filter", nargs="?", help="only ops whose name contains this (case-insensitive)")
    p = command("schema", "Print (or write) a JSON Schema for spec files, so that editors complete and validate them.")
    p.add_argument("-o", "--output", help="FILE.json (default: standard output)")
    return parser


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        parts = item.split(",") if what == "--bind" else [item]
        for part in parts:
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise SpecError(f"{what} {item!r}: expected NAME=VALUE")
            out[key.strip()] = value.strip()
    return out


def _load(path: str) -> tuple[Any, dict[str, np.ndarray] | None]:
    """The model of a spec file or an ``.onnx`` file, and the ONNX initializers (None for a spec)."""
    from .spec import load_spec

    if Path(path).suffix.lower() == ".onnx":
        from .importers.onnx import read_onnx

        imported = read_onnx(path)
        return imported.model, imported.weights
    return load_spec(path), None


def _analyse(args: argparse.Namespace) -> Any:
    model, _ = _load(args.spec)
    shapes = _pairs(getattr(args, "input", []), "--input")
    names = [i.name for i in model.inputs]
    for name in shapes:
        if name not in names:
            raise SpecError(f"--input {name}=...: the spec has no input {name!r}; its inputs are {', '.join(names)}")
    graph = model.infer(strict=False, **shapes)
    binds = _pairs(args.bind, "--bind")
    if binds:  # the bound analysis is redone from the inputs: it stands on its own
        graph = graph.bind(strict=False, **binds)
    return graph


def _exit_with_errors(graph: Any) -> int:
    """Print every error of the graph on stderr; the exit code: 1 with errors, else 0."""
    if graph.errors:
        print(str(ShapeMismatchError(graph.errors, graph.pinned_note())), file=sys.stderr)
        return 1
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from . import report

    graph = _analyse(args)
    if args.format == "json":  # the errors are in the JSON object
        print(json.dumps(report.to_json(graph), indent=2))
        return 1 if graph.errors else 0
    for name, shape in graph.outputs.items():
        print(f"{name}: {report._fmt(shape)}")
    for line in report.totals(graph):
        print(line)
    return _exit_with_errors(graph)


def _cmd_summary(args: argparse.Namespace) -> int:
    from . import report

    if args.depth is not None and args.depth < 1:
        raise SpecError(f"--depth {args.depth}: the depth is 1 or more")
    graph = _analyse(args)
    with_costs = args.costs and not graph.errors
    if args.format == "json":
        print(json.dumps(report.to_json(graph, with_costs, args.dtype), indent=2))
    elif args.format == "markdown":
        print(report.render_markdown(graph, args.dtype, with_costs, depth=args.depth), end="")
    else:
        print(report.render_text(graph, args.dtype, width=args.width, with_costs=with_costs, depth=args.depth),
              end="")
    return _exit_with_errors(graph)


def _cmd_init(args: argparse.Namespace) -> int:
    import numpy as np

    from . import report
    from .stream import write_weights

    graph = _analyse(args)
    if graph.errors:
        raise ShapeMismatchError(graph.errors, graph.pinned_note())
    graph.require_concrete("init", params_only=True)
    shard = _byte_size(args.shard_size) if args.shard_size else None
    total = sum(int(np.prod([int(d) for d in s])) for s in graph.state_shapes.values())
    with _progress(total) as advance:
        files = write_weights(graph, args.output, seed=args.seed, init=args.init, dtype=args.dtype,
                              shard_size=shard, on_tensor=lambda name, n: advance(n))
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {', '.join(str(f) for f in files)}: {len(graph.state_shapes)} tensors, "
          f"{report._count(graph.num_params)} parameters, {report.format_bytes(size)}")
    return 0


def _byte_size(text: str) -> int:
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20,
             "GIB": 2**30, "TIB": 2**40}
    number = text.strip().upper().rstrip("S")
    digits = number.rstrip("KMGTIB")
    unit = number[len(digits):]
    try:
        value = float(digits) * units[unit]
    except (ValueError, KeyError):
        raise SpecError(f"--shard-size {text!r}: expected a size such as 2GB or 500MB") from None
    if value < 1:
        raise SpecError(f"--shard-size {text!r} must be positive")
    return int(value)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal for large models; silent otherwise."""
    if not sys.stderr.isatty() or total < 5_000_000:
        yield lambda n: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("initializing"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), transient=True) as progress:
        task = progress.add_task("init", total=total)
        yield lambda n: progress.advance(task, n)


def _load_array(name: str, path: str) -> np.ndarray:
    import numpy as np

    from .weights import check_fits, declared_bytes, npy_header

    p = Path(path)
    if not p.is_file():
        raise SpecError(f"--input {name}={path}: no such file")
    try:
        with open(p, "rb") as f:
            if f.read(6) == b"\x93NUMPY":  # an .npy array: its header's claim is checked before any data is read
                f.seek(0)
                shape, dtype = npy_header(f)
                stored = p.stat().st_size - f.tell()
                if not dtype.hasobject and declared_bytes(shape, dtype) > stored:
                    raise SpecError(f"--input {name}={path}: the header declares {shape} {dtype} "
                                    f"({declared_bytes(shape, dtype):,} bytes) but the file holds {stored:,}")
                check_fits(f"--input {name}={path}", declared_bytes(shape, dtype))
        array = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SpecError(f"--input {name}={path}: not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise SpecError(f"--input {name}={path}: expected one .npy array, got an archive")
    return array


def _cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    from .files import atomic_write
    from .weights import check_weights, read_weights

    model, initializers = _load(args.spec)
    if args.weights is None and args.seed is None and initializers is None:
        raise SpecError("run: give --weights FILE or --seed N (an .onnx model uses its initializers by default)")
    given = _pairs(args.input, "--input")
    names = [i.name for i in model.inputs]
    unknown = [n for n in given if n not in names]
    if unknown or len(given) != len(names):
        raise SpecError(f"--input: the spec's inputs are {', '.join(names)}; got {', '.join(given) or 'none'}")
    suffix = Path(args.output).suffix.lower()
    if suffix not in (".npz", ".npy"):
        raise SpecError(f"-o {args.output}: the output file ends in .npz or .npy")
    arrays = {n: _load_array(n, p) for n, p in given.items()}
    graph = model.infer(strict=False).bind_from_arrays(arrays)
    if args.weights:
        params = read_weights(args.weights, graph)
        check_weights(params, graph, f"weights file {args.weights}")
    elif args.seed is not None:
        params = graph.materialize(seed=args.seed)
    else:
        params = initializers
    dtype = next((v.dtype for v in params.values() if v.dtype.kind == "f"), np.dtype(np.float32))
    for spec in model.inputs:
        a = arrays[spec.name]
        if spec.dtype == "bool":  # masks
            if a.dtype != np.bool_:
                raise SpecError(f"--input {spec.name}: the spec declares bool, the array is {a.dtype}")
        elif spec.dtype.startswith("int"):
            if a.dtype.kind not in "iu":
                raise SpecError(f"--input {spec.name}: the spec declares {spec.dtype}, the array is {a.dtype}")
        elif a.dtype.kind == "f":
            arrays[spec.name] = a.astype(dtype, copy=False)
        else:
            raise SpecError(f"--input {spec.name}: expected a float array, got {a.dtype}")
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            nans, infs = int(np.isnan(a).sum()), int(np.isinf(a).sum())
            print(f"symshape run: warning: input {name} has {nans} NaN and {infs} infinite values; "
                  "the outputs will carry them", file=sys.stderr)
    result = graph.forward(params, **arrays)
    outputs = result if isinstance(result, tuple) else (result,)
    named = dict(zip(model.output_names, outputs))
    if suffix == ".npy" and len(named) != 1:
        raise SpecError(f"-o {args.output}: the model has {len(named)} outputs ({', '.join(named)}); use .npz")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            if suffix == ".npy":
                np.save(f, outputs[0])
            else:
                np.savez(f, **named)

    atomic_write(args.output, write)
    for name, out in named.items():
        print(f"{name}: {out.shape} {out.dtype}")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    graph = _analyse(args)
    print(graph.explain(args.name))
    return _exit_with_errors(graph)


def _cmd_graph(args: argparse.Namespace) -> int:
    from .draw import write_graph

    graph = _analyse(args)
    write_graph(graph, args.output)
    print(f"wrote {args.output}: {graph.graph.number_of_nodes()} nodes, {graph.graph.number_of_edges()} edges")
    return _exit_with_errors(graph)


def _cmd_import(args: argparse.Namespace) -> int:
    from .spec import save_spec

    if Path(args.output).suffix.lower() not in (".yaml", ".yml", ".json"):
        raise SpecError(f"-o {args.output}: the spec file ends in .yaml, .yml or .json")
    weights = None
    if Path(args.source).suffix.lower() == ".onnx":
        if args.input:
            raise SpecError("import: --input is for torch factories; an .onnx model declares its inputs")
        model, weights = _load(args.source)
    elif ":" in args.source:
        from .importers import import_factory

        if args.weights:
            raise SpecError("import: --weights writes an .onnx model's initializers; a factory's module has its own "
                            "state_dict")
        if not args.input:
            raise SpecError(f"import {args.source}: give the input shapes, e.g. --input x=B,3,H,W")
        model = import_factory(args.source, _pairs(args.input, "--input"))
    else:
        raise SpecError(f"import: {args.source!r} is neither an .onnx file nor package.module:factory")
    if args.weights:
        from .weights import save_weights

        save_weights(weights, args.weights)
    save_spec(model, args.output)
    extra = f" and {args.weights} ({len(weights)} tensors)" if args.weights else ""
    print(f"wrote {args.output}: {len(model.inputs)} input(s), {len(model.nodes)} layers{extra}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from . import report
    from .exporters.onnx import to_onnx
    from .weights import read_weights

    if Path(args.output).suffix.lower() != ".onnx":
        raise SpecError(f"-o {args.output}: the ONNX file ends in .onnx")
    graph = _analyse(args)
    if graph.errors:
        raise ShapeMismatchError(graph.errors, graph.pinned_note())
    weights = read_weights(args.weights) if args.weights else None
    to_onnx(graph, args.output, weights=weights, seed=args.seed, opset=args.opset)
    print(f"wrote {args.output}: {len(graph.model.nodes)} layers, {report._count(graph.num_params)} parameters")
    return 0


def _cmd_ops(args: argparse.Namespace) -> int:
    from .layers import LAYERS
    from .schema import summary_line

    names = [n for n in LAYERS if not n.startswith("_") and n != "Layer"
             and (args.filter is None or args.filter.lower() in n.lower())]
    if not names:
        raise SpecError(f"ops: no op name contains {args.filter!r}")
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {summary_line(LAYERS[name])}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from .schema import spec_schema

    text = json.dumps(spec_schema(), indent=1) + "\n"
    if args.output is None:
        print(text, end="")
        return 0
    from .files import atomic_write

    atomic_write(args.output, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(f"wrote {args.output}")
    return 0


COMMANDS = {"check": _cmd_check, "summary": _cmd_summary, "init": _cmd_init, "run": _cmd_run, "graph": _cmd_graph,
            "explain": _cmd_explain, "import": _cmd_import, "export": _cmd_export, "ops": _cmd_ops,
            "schema": _cmd_schema}


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every writer's cleanup runs and removes its temp files."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: Any) -> None:
    for s in (signal.SIGTERM, signal.SIGHUP):  # a second signal must not cut the cleanup short
        signal.signal(s, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _terminating() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP end it as SIGINT does (signals reach the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _terminate) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _import_library() -> None:
    """Import the analysis (sympy's ~650 modules, numpy) with the cyclic garbage collector paused: imports
    allocate much and free little, so its passes over them are wasted (about 0.1 s of a 0.7 s start-up).
    What they made is then frozen out of later collections."""
    if "symshape.analysis" in sys.modules:
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from . import analysis  # noqa: F401
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a bad command line (already explained by argparse)
        return int(exc.code or 0)
    try:
        with _terminating():
            _import_library()
            return COMMANDS[args.command](args)
    except SpecError as exc:
        print(f"symshape {args.command}: {exc}", file=sys.stderr)
        return 2
    except (ShapeMismatchError, UnresolvedShapeError, ShapeError) as exc:
        print(f"symshape {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
        how = f"stopped by {signal.Signals(signum).name}" if isinstance(exc, Terminated) else "interrupted"
        print(f"symshape {args.command}: {how}; no file was written", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        return 0
    except MemoryError:  # past the up-front checks (another process took the memory meanwhile)
        print(f"symshape {args.command}: out of memory; free some memory, raise the limit (ulimit -v, the "
              "container's) or use a smaller dtype", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still no traceback for the user, but a way to report it
        print(f"symshape {args.command}: internal error ({type(exc).__name__}: {exc}). "
              "Please report it with the spec and the command line.", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
