"""Initialize straight to disk, tensor by tensor, in chunks: peak memory stays far below the model.

Tensors whose initializer draws chunk by chunk (torch's defaults, uniform, normal, xavier, kaiming)
go to the file one chunk at a time; the others (orthogonal, trunc_normal, padded embeddings,
callables) are drawn whole first, so for them the peak is the largest such tensor.

``.safetensors`` files are written from their header (every shape is known before any value
exists) and then tensor after tensor; large models are split into torch-style shards
(``model-00001-of-00003.safetensors``) with a ``model.safetensors.index.json``. ``.npz`` files are
written entry by entry. Everything goes to temporary files that are renamed into place only when
complete: an interrupted or failed run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import arguments
from . import init as initializers
from .analysis import Analysis
from .dtypes import PARAM_DTYPES, TABLE, format_bytes
from .errors import ShapeError, SpecError
from .files import mode_for, temp_beside
from .params import ParamSpec


class ResourceError(ShapeError):
    """The machine lacks what a step needs (memory); the message says how to do it another way."""


def available_memory() -> int | None:
    """Bytes a new allocation may take, None when unknown: the least of the machine's available memory
    (Linux MemAvailable), what the address-space limit (``ulimit -v``) leaves and what the cgroup's
    memory limit leaves."""
    known = [n for n in (_meminfo_available(), _address_space_left(), _cgroup_left()) if n is not None]
    return max(0, min(known)) if known else None


def _meminfo_available() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _address_space_left() -> int | None:
    """RLIMIT_AS less the address space this process already maps (VmSize)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return soft - int(line.split()[1]) * 1024
    return soft


def _cgroup_left(table: Path = Path("/proc/self/cgroup"), cgroups: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The memory cgroup's limit less its usage (cgroup v2 memory.max/current, or v1), None without a limit.
    The cgroup's folder is looked up under the mount, then the mount itself (a container sees its own
    cgroup there)."""
    with contextlib.suppress(OSError):
        for line in table.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                mount, limit_file, usage_file = cgroups, "memory.max", "memory.current"
            elif "memory" in controllers.split(","):
                mount, limit_file, usage_file = cgroups / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
            else:
                continue
            for folder in (mount / path.lstrip("/"), mount):
                with contextlib.suppress(OSError, ValueError):
                    limit = (folder / limit_file).read_text().strip()
                    usage = int((folder / usage_file).read_text())
                    if limit == "max" or int(limit) >= 2**60:  # v1 writes "no limit" as a huge number
                        break
                    return int(limit) - usage
    return None


def tensor_bytes(spec: ParamSpec, dtype: str) -> int:
    return math.prod(int(d) for d in spec.shape) * np.dtype(spec.dtype or dtype).itemsize


SMALL = 16 * 2**20  # allocations below this are not checked: reading the limits costs more than they do


def check_memory(specs: dict[str, ParamSpec], dtype: str) -> None:
    """Refuse up front, with the figures, an allocation that does not fit in the available memory."""
    needed = sum(tensor_bytes(s, dtype) for s in specs.values())
    if needed < SMALL:
        return
    free = available_memory()
    if free is not None and needed > 0.9 * free:
        largest = max(tensor_bytes(s, dtype) for s in specs.values())
        raise ResourceError(
            f"materializing every parameter needs {format_bytes(needed)} but only {format_bytes(free)} of memory is "
            f"available. Write them to disk instead, tensor by tensor: `symshape init SPEC ... -o "
            f"model.safetensors` or symshape.stream.write_weights(graph, 'model.safetensors') (peak memory: a "
            f"chunk of each tensor, at most the largest one, {format_bytes(largest)})")



def materialize(graph: Analysis, seed: int | None = 0, init: Any = None, dtype: Any = "float32",
                only: list[str] | None = None, on_tensor: Any = None) -> dict[str, np.ndarray]:
    """Every parameter and buffer (or ``only`` some) in memory, after checking that they fit."""
    graph.require_concrete("materialize()", params_only=True)
    arguments.seed("materialize()", seed)
    dtype = arguments.choice("materialize()", "dtype", dtype if isinstance(dtype, str) else _dtype_name(dtype),
                             PARAM_DTYPES)
    specs = graph.param_specs
    if only is not None:
        specs = {k: specs[k] for k in arguments.names_of("materialize()", "only", only, specs)}
    check_memory(specs, dtype)
    return initializers.materialize(specs, seed=seed, init=init, dtype=dtype, on_tensor=on_tensor)


def _dtype_name(dtype: Any) -> Any:
    """numpy's name of a dtype object (``np.float64`` -> ``"float64"``), or the object itself if it is none."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return dtype


def _shards(specs: dict[str, ParamSpec], dtype: str, shard_bytes: int | None) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    size = 0
    for name, spec in specs.items():
        n = tensor_bytes(spec, dtype)
        if shard_bytes and groups[-1] and size + n > shard_bytes:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += n
    return groups


def _header(names: list[str], specs: dict[str, ParamSpec], dtype: str) -> bytes:
    entries: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in names:
        n = tensor_bytes(specs[name], dtype)
        entries[name] = {"dtype": TABLE[specs[name].dtype or dtype].safetensors,
                         "shape": [int(d) for d in specs[name].shape], "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text


def write_weights(graph: Analysis, path: str | Path, *, seed: int | None = 0, init: Any = None, dtype: str = "float32",
                  shard_size: int | None = None, on_tensor: Callable[[str, int], None] | None = None) -> list[Path]:
    """Materialize ``graph``'s parameters and buffers into ``path`` (.safetensors or .npz) one tensor at a
    time; with ``shard_size`` (bytes), safetensors shards plus an index. Returns the files written.
    The values are exactly those of ``graph.materialize(seed, init, dtype)``."""
    graph.require_concrete("init", params_only=True)
    specs = graph.param_specs
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".safetensors", ".npz"):
        raise SpecError(f"{target}: a weights file ends in .npz or .safetensors")
    if shard_size is not None and suffix != ".safetensors":
        raise SpecError("sharding writes .safetensors files: use -o NAME.safetensors with a shard size")
    if str(np.dtype(dtype)) not in ("float16", "float32", "float64"):
        raise SpecError(f"dtype must be float16, float32 or float64, got {dtype!r}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError(f"cannot write {target}: the folder {folder} does not exist")

    needed = sum(tensor_bytes(s, dtype) for s in specs.values())
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ResourceError(f"writing {target} needs {format_bytes(needed)} but only {format_bytes(free)} is free "
                            f"on disk in {folder}; choose another folder (-o) or a smaller dtype")

    def write_tensor(name: str, write: Callable[[np.ndarray], None]) -> None:
        """Draw one tensor into ``write``, chunk by chunk where its initializer allows."""
        little = np.dtype(specs[name].dtype or dtype).newbyteorder("<")
        emit = lambda a: write(np.ascontiguousarray(a, dtype=little).reshape(-1))  # noqa: E731
        with initializers.streaming_to(emit):
            array = initializers.materialize({name: specs[name]}, seed=seed, init=init, dtype=dtype)[name]
        if not isinstance(array, initializers.Streamed):
            emit(array)
        if on_tensor is not None:
            on_tensor(name, int(np.prod([int(d) for d in specs[name].shape])))

    groups = _shards(specs, dtype, shard_size) if suffix == ".safetensors" else [list(specs)]
    if len(groups) == 1:
        files = [target]
    else:
        stem = target.name[: -len(".safetensors")]
        files = [folder / f"{stem}-{i:05d}-of-{len(groups):05d}.safetensors" for i in range(1, len(groups) + 1)]
    temporary: list[Path] = []
    try:
        for names, final in zip(groups, files):
            tmp = temp_beside(final)
            temporary.append(tmp)
            if suffix == ".npz":
                with zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
                    for name in names:
                        spec = specs[name]
                        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(spec.dtype or dtype)),
                                  "fortran_order": False, "shape": tuple(int(d) for d in spec.shape)}
                        with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                            np.lib.format.write_array_header_1_0(entry, header)
                            write_tensor(name, lambda chunk, entry=entry: entry.write(chunk.data))
            else:
                with open(tmp, "wb") as f:
                    f.write(_header(names, specs, dtype))
                    for name in names:
                        write_tensor(name, lambda chunk: f.write(chunk.data))
        if len(files) > 1:
            index = {"metadata": {"total_size": sum(tensor_bytes(s, dtype) for s in specs.values())},
                     "weight_map": {name: final.name for names, final in zip(groups, files) for name in names}}
            tmp = temp_beside(folder / f"{target.name}.index.json")
            temporary.append(tmp)
            tmp.write_text(json.dumps(index, indent=2) + "\n")
            files.append(folder / f"{target.name}.index.json")
        for tmp, final in zip(temporary, files):
            os.chmod(tmp, mode_for(final))
            os.replace(tmp, final)
    except OSError as exc:
        raise SpecError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        for tmp in temporary:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return files
