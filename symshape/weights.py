"""Weights files: ``.npz`` and ``.safetensors`` by extension, torch state_dict names, atomic writes.

Loading against an analysed model checks every name, shape and dtype and reports all the
differences at once (missing, unexpected, wrong shape, wrong dtype).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import arguments, dims
from .analysis import Analysis
from .dtypes import format_bytes, numpy_kind
from .errors import SpecError
from .files import atomic_write, read_text, reading
from .stream import ResourceError, available_memory

FORMATS = (".npz", ".safetensors")


def _format(path: str | Path) -> str:
    if str(path).lower().endswith(".safetensors.index.json"):
        return ".index.json"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise SpecError(f"{path}: a weights file ends in .npz or .safetensors (or .safetensors.index.json for shards)")
    return suffix


def save_weights(params: dict[str, np.ndarray], path: str | Path) -> None:
    """Write ``{state_dict name: array}`` to ``path``; a failed write leaves no file."""
    arguments.arrays_by_name("save_weights()", "params", params)
    fmt = _format(arguments.path("save_weights()", path))
    arrays = {k: np.ascontiguousarray(v) if np.ndim(v) else np.asarray(v) for k, v in params.items()}

    def write(tmp: Path) -> None:
        if fmt == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        else:
            from safetensors.numpy import save_file

            save_file(arrays, str(tmp))

    atomic_write(path, write)


def npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an ``.npy`` stream declares, read from its header alone (no data is read)."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    return tuple(int(n) for n in shape), dtype


def declared_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def check_fits(what: str, needed: int) -> None:
    """Refuse, before reading it, data that would not fit in the memory this process may still take."""
    free = available_memory()
    if free is not None and needed > 0.9 * free:
        raise ResourceError(f"{what} declares {format_bytes(needed)} of arrays but only {format_bytes(free)} of "
                            "memory is available; it is not read")


def _npz_declared(archive: zipfile.ZipFile, p: Path, graph: Analysis | None) -> None:
    """Check an archive from its members' headers before anything is decompressed: the total against the
    memory left, and with ``graph`` every name and shape against the model (a zip bomb declares what it
    would become)."""
    headers = {}
    for info in archive.infolist():
        with archive.open(info) as member:
            shape, dtype = npy_header(member)
        if dtype.hasobject:
            raise SpecError(f"weights file {p}: {info.filename} holds Python objects (pickled); it is not loaded")
        headers[info.filename.removesuffix(".npy")] = (shape, dtype)
    if graph is not None:  # arrays of the declared shape and dtype that take no memory
        check_weights({k: np.broadcast_to(np.zeros((), dtype), shape) for k, (shape, dtype) in headers.items()},
                      graph, f"weights file {p}")
    check_fits(f"weights file {p}", sum(declared_bytes(*h) for h in headers.values()))


def read_weights(path: str | Path, graph: Analysis | None = None) -> dict[str, np.ndarray]:
    """Every array of a weights file, or a SpecError saying why the file cannot be read. Nothing is read
    that would not fit in memory, nor (with ``graph``) an ``.npz`` whose names and shapes do not fit the model."""
    fmt = _format(path)
    if fmt == ".index.json":
        return _read_shards(path)
    with reading(path, "weights file") as p:
        try:
            if fmt == ".npz":
                with zipfile.ZipFile(p) as archive:
                    _npz_declared(archive, p, graph)
                with np.load(p, allow_pickle=False) as data:
                    return {k: data[k] for k in data.files}
            from safetensors.numpy import load_file

            check_fits(f"weights file {p}", p.stat().st_size)  # its data is stored as is
            return load_file(str(p))
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
            raise SpecError(f"weights file {p} is damaged or not a {fmt} file ({exc})") from None
        except Exception as exc:  # safetensors raises its own SafetensorError
            if type(exc).__name__ == "SafetensorError":
                raise SpecError(f"weights file {p} is damaged or not a {fmt} file ({exc})") from None
            raise


def _read_shards(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a sharded checkpoint, from its ``.safetensors.index.json``."""
    try:
        index = json.loads(read_text(path, "weights index"))
        files = sorted(set(index["weight_map"].values()))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SpecError(f"weights index {path} is not a safetensors index (a JSON object with a weight_map)") from None
    params: dict[str, np.ndarray] = {}
    for name in files:
        params.update(read_weights(Path(path).parent / name))
    return params


def _same_values(a: Any, b: Any) -> bool:
    """Whether two tied tensors hold the same values: at once when they are one buffer seen twice (as
    torch's state_dict gives a tied embedding and head), else element by element."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.__array_interface__ == b.__array_interface__:
        return True  # the same data pointer, dtype, shape and strides
    return bool(np.array_equal(a, b))


def check_weights(params: dict[str, Any], graph: Analysis, origin: str = "weights") -> None:
    """Every parameter and buffer of ``graph`` present with its shape and a suitable dtype;
    all differences in one SpecError. The one checker of weights: files, ``forward()`` and exports."""
    specs = graph.param_specs
    problems = []
    for name, spec in specs.items():
        if name not in params and spec.tied_to in params:
            continue  # a tied tensor may be stored once, under its target's name
        if name not in params:
            problems.append(f"missing {name} {dims.format_shape(spec.shape)}")
            continue
        if spec.tied_to in params and not _same_values(params[name], params[spec.tied_to]):
            problems.append(f"{name} is tied to {spec.tied_to} but the two arrays differ")
        array = params[name]
        shape = tuple(int(d) if type(d) is int else d for d in spec.shape)
        if tuple(np.shape(array)) != shape:
            problems.append(f"{name} has shape {tuple(np.shape(array))}, the model needs {dims.format_shape(shape)}")
        wanted = spec.dtype or "float32"
        kind = numpy_kind(wanted)
        if np.asarray(array).dtype.kind != kind:
            need = "a float dtype" if kind == "f" else wanted
            problems.append(f"{name} has dtype {np.asarray(array).dtype}, the model needs {need}")
    for name in params:
        if name not in specs:
            close = [k for k in specs if k.split(".")[-1] == name.split(".")[-1]][:3]
            hint = f" (the model has {', '.join(close)})" if close else ""
            problems.append(f"unexpected {name}{hint}")
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise SpecError(f"{origin} does not fit the model ({len(problems)} difference"
                        f"{'s' if len(problems) > 1 else ''}):\n{listing}")


def load_weights(path: str | Path, graph: Analysis | None = None) -> dict[str, np.ndarray]:
    """Read a weights file; with ``graph``, check it against the analysed model first."""
    if graph is not None:
        graph.require_concrete("loading weights", params_only=True)
    params = read_weights(path, graph)
    if graph is not None:
        check_weights(params, graph, f"weights file {path}")
    return params
