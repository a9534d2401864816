"""The bad-input catalogue of the command line, shared by its test and by docs/errors.md.

Each case: (id, spec text or None for the shipped LeNet, command, exit code, message regex). In the
command, SPEC is the case's spec file, LENET examples/lenet.yaml, OUT an output path in a fresh
folder and DIR the folder ``make_files`` fills with input arrays and weights files.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from symshape.cli import main

EXAMPLES = Path(__file__).parents[1] / "examples"
LENET = str(EXAMPLES / "lenet.yaml")

GOOD = """inputs:
  x: [B, 4]
layers:
  - {name: fc1, op: Linear, in_features: 4, out_features: 8}
  - {name: act, op: ReLU}
  - {name: fc2, op: LazyLinear, out_features: 2}
"""


def spec_with(layers: str, inputs: str = "  x: [B, 4]\n", extra: str = "") -> str:
    return f"inputs:\n{inputs}layers:\n{layers}{extra}"


BOMB = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\na1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\na2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\na3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\na4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]\na5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]\na6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]\na7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]\n"  # 7 levels of 9 aliases: 9**8 values from a few hundred bytes

# (id, spec text or None for LENET, command (SPEC/OUT/DIR are replaced), exit code, message regex)
CASES = [
    ("unknown-op", spec_with("  - {name: c1, op: Conv2D, in_channels: 4, out_channels: 2, kernel_size: 1}\n"),
     "check SPEC", 2, r"layers\[0\] \(c1\): key 'op': unknown op 'Conv2D'\. Did you mean Conv2d"),
    ("unknown-argument", spec_with("  - {name: fc, op: Linear, in_features: 4, out_feature: 2}\n"),
     "check SPEC", 2, r"layers\[0\] \(fc\): .*unknown argument 'out_feature'\. Did you mean out_features"),
    ("missing-argument", spec_with("  - {name: fc, op: Linear, in_features: 4}\n"),
     "check SPEC", 2, r"layers\[0\] \(fc\): .*missing a required argument: 'out_features'"),
    ("bool-as-string", spec_with("  - {name: fc, op: Linear, in_features: 4, out_features: 2, bias: 'yes'}\n"),
     "check SPEC", 2, r"layers\[0\] \(fc\): key 'bias': Linear: bias must be true or false, got 'yes'"),
    ("list-as-size", spec_with("  - {name: fc, op: Linear, in_features: 4, out_features: [2]}\n"),
     "check SPEC", 2, r"key 'out_features': .*out_features=\[2\] is not a size"),
    ("negative-size", spec_with("  - {name: fc, op: Linear, in_features: 4, out_features: -3}\n"),
     "check SPEC", 2, r"out_features must be a positive size, got -3"),
    ("zero-kernel", spec_with("  - {op: Conv1d, in_channels: 4, out_channels: 2, kernel_size: 0}\n", "  x: [B, 4, 9]\n"),
     "check SPEC", 2, r"layers\[0\] \(0\): key 'kernel_size': Conv1d: kernel_size must be positive"),
    ("fractional-size", spec_with("  - {op: Linear, in_features: 4, out_features: 2.5}\n"),
     "check SPEC", 2, r"out_features=2.5 is not a size"),
    ("same-padding-strided", spec_with("  - {op: Conv1d, in_channels: 4, out_channels: 2, kernel_size: 3, stride: 2, "
                                       "padding: same}\n", "  x: [B, 4, 9]\n"),
     "check SPEC", 2, r"padding='same' is not supported for strided convolutions"),
    ("duplicate-name", spec_with("  - {name: fc, op: Linear, in_features: 4, out_features: 4}\n"
                                 "  - {name: fc, op: ReLU}\n"),
     "check SPEC", 2, r"layers\[1\] \(fc\): name 'fc' is used twice"),
    ("dangling-in", spec_with("  - {name: fc1, op: Linear, in_features: 4, out_features: 4}\n"
                              "  - {name: fc2, op: ReLU, in: fc9}\n"),
     "check SPEC", 2, r"layers\[1\] \(fc2\): key 'in': 'fc9' names no input or layer\. Did you mean fc1"),
    ("cycle", spec_with("  - {name: a, op: ReLU, in: b}\n  - {name: b, op: ReLU, in: a}\n"),
     "check SPEC", 2, r"the layers form a cycle: a -> b -> a"),
    ("bad-input-shape", spec_with("  - {op: ReLU}\n", "  x: [B, 3x]\n"),
     "check SPEC", 2, r"inputs\.x: bad shape \['B', '3x'\]"),
    ("negative-input-size", spec_with("  - {op: ReLU}\n", "  x: [B, -4]\n"),
     "check SPEC", 2, r"inputs\.x: sizes are positive .*got -4"),
    ("bad-input-dtype", spec_with("  - {op: ReLU}\n", "  x: {shape: [B, 4], dtype: float8}\n"),
     "check SPEC", 2, r"inputs\.x\.dtype: 'float8' is not one of"),
    ("no-inputs", "layers:\n  - {op: ReLU}\n", "check SPEC", 2, r"a spec needs inputs"),
    ("no-layers", "inputs:\n  x: [B, 4]\nlayers: []\n", "check SPEC", 2, r"a spec needs a non-empty list of layers"),
    ("unknown-top-key", "inputs:\n  x: [B, 4]\nlayer:\n  - {op: ReLU}\n", "check SPEC", 2,
     r"key 'layer': unknown top-level key\. Did you mean layers"),
    ("yaml-syntax", "inputs:\n  x: [B, 4\nlayers: {}\n", "check SPEC", 2, r"not valid YAML \(line \d+, column \d+\)"),
    ("spec-not-mapping", "- {op: ReLU}\n", "check SPEC", 2, r"a spec is a mapping with inputs and layers, got list"),
    ("entry-not-mapping", spec_with("  - ReLU\n"), "check SPEC", 2, r"layers\[0\]: a layer entry is a mapping"),
    ("op-and-share", spec_with("  - {name: a, op: ReLU}\n  - {name: b, op: ReLU, share: a}\n"), "check SPEC", 2,
     r"layers\[1\] \(b\): an entry has exactly one of op, share or block \(it has op, share\)"),
    ("share-unknown", spec_with("  - {name: a, op: Linear, in_features: 4, out_features: 4}\n"
                                "  - {name: b, share: c}\n"), "check SPEC", 2,
     r"layers\[1\] \(b\): key 'share': 'c' names no layer with an op"),
    ("unknown-block", spec_with("  - {name: b, block: basic}\n"), "check SPEC", 2, r"key 'block': no block named 'basic'"),
    ("block-missing-arg", spec_with("  - {name: b, block: lin}\n", extra="blocks:\n  lin:\n    args: {width: null}\n"
                                    "    layers:\n      - {op: LazyLinear, out_features: $width}\n"),
     "check SPEC", 2, r"layers\[0\] \(b\): block 'lin' needs argument 'width'"),
    ("block-unknown-arg", spec_with("  - {name: b, block: lin, widht: 3}\n",
                                    extra="blocks:\n  lin:\n    args: {width: 2}\n"
                                    "    layers:\n      - {op: LazyLinear, out_features: $width}\n"),
     "check SPEC", 2, r"unknown block argument 'widht'\. Did you mean width"),
    ("bad-output-ref", GOOD + "outputs: [fc3]\n", "check SPEC", 2, r"outputs: 'fc3' names no input or layer"),
    ("output-index-out-of-range", GOOD + "outputs: ['fc2:1']\n", "check SPEC", 2, r"'fc2:1': 'fc2' has 1 output"),
    ("several-inputs-no-in", spec_with("  - {op: ReLU}\n", "  x: [B, 4]\n  y: [B, 4]\n"), "check SPEC", 2,
     r"the first layer needs `in` when the spec has several inputs"),
    ("add-one-input", spec_with("  - {op: Add}\n"), "check SPEC", 2, r"key 'in': Add takes two or more inputs, got 1"),
    ("missing-file", None, "check DIR/nope.yaml", 2, r"spec file .*nope\.yaml does not exist"),
    ("model-mismatch", spec_with("  - {name: fc, op: Linear, in_features: 5, out_features: 2}\n"),
     "check SPEC", 1, r"fc \(Linear\): in_features is 5 but its input \(B, 4\) from input x has 4\. "
                      r"Use in_features=4 or LazyLinear\(2\)"),
    ("groups-do-not-divide", spec_with("  - {op: LazyConv1d, out_channels: 6, kernel_size: 1, groups: 3}\n",
                                       "  x: [B, 4, 9]\n"),
     "check SPEC", 1, r"in_channels is 4, not a multiple of 3"),
    ("kernel-larger-than-input", spec_with("  - {op: Conv1d, in_channels: 4, out_channels: 2, kernel_size: 5}\n",
                                           "  x: [B, 4, 3]\n"),
     "check SPEC", 1, r"the output size on dim 2 is -1 \(must be at least 1\)"),
    ("bind-unknown-symbol", None, "check LENET --bind Q=3", 2, r"no size named 'Q'; its sizes are B"),
    ("bind-without-value", None, "check LENET --bind B", 2, r"--bind 'B': expected NAME=VALUE"),
    ("bind-zero", None, "check LENET --bind B=0", 2, r"B must be a positive integer, got '0'"),
    ("bind-contradiction", GOOD.replace("[B, 4]", "[B, D]"), "check SPEC --bind D=5", 1,
     r"fc1 \(Linear\): in_features is 4 but its input \(B, 5\) from input x has 5\. Use in_features=5 or LazyLinear\(8\)"),
    ("input-unknown-name", None, "check LENET --input y=B,1,28,28", 2, r"the spec has no input 'y'"),
    ("input-bad-dims", None, "check LENET --input x=B,1,28,2.5", 2, r"input 'x'"),
    ("bad-format", None, "check LENET --format xml", 2, r"invalid choice: 'xml'"),
    ("unknown-command", None, "frobnicate LENET", 2, r"invalid choice: 'frobnicate'"),
    ("seed-not-int", None, "init LENET --seed abc -o OUT.npz", 2, r"invalid int value: 'abc'"),
    ("init-unresolved", GOOD.replace("in_features: 4", "in_features: null").replace("[B, 4]", "[B, D]"),
     "init SPEC -o OUT.npz", 1, r"D is still symbolic: bind it first"),
    ("init-bad-extension", None, "init LENET -o OUT.pt", 2, r"a weights file ends in \.npz or \.safetensors"),
    ("init-missing-folder", None, "init LENET -o DIR/missing/w.npz", 2, r"the folder .*missing does not exist"),
    ("init-unknown-initializer", None, "init LENET --init xavier -o OUT.npz", 2,
     r"unknown initializer 'xavier'.*Did you mean xavier_normal or xavier_uniform"),
    ("graph-bad-extension", None, "graph LENET -o OUT.jpg", 2, r"the graph is written as \.dot, \.svg, \.png, \.graphml"),
    ("run-missing-array", None, "run LENET --seed 0 --input x=DIR/none.npy -o OUT.npy", 2, r"--input x=.*none\.npy: no such file"),
    ("run-unknown-input", None, "run LENET --seed 0 --input y=DIR/x.npy -o OUT.npy", 2, r"the spec's inputs are x; got y"),
    ("run-wrong-rank", None, "run LENET --seed 0 --input x=DIR/rank3.npy -o OUT.npy", 1,
     r"x \(input\): rank is 4 \(B, 1, 28, 28\) but the array has shape \(2, 28, 28\)"),
    ("run-wrong-size", None, "run LENET --seed 0 --input x=DIR/x32.npy -o OUT.npy", 1,
     r"x \(input\): shape is \(2, 1, 28, 28\) but the array has shape \(2, 1, 32, 32\)"),
    ("run-int-array", None, "run LENET --seed 0 --input x=DIR/int.npy -o OUT.npy", 2, r"expected a float array, got int64"),
    ("run-not-npy", None, "run LENET --seed 0 --input x=DIR/garbage.npy -o OUT.npy", 2, r"not a readable \.npy array"),
    ("run-corrupt-npz-weights", None, "run LENET --weights DIR/corrupt.npz --input x=DIR/x.npy -o OUT.npy", 2,
     r"weights file .*corrupt\.npz is damaged or not a \.npz file"),
    ("run-corrupt-safetensors", None, "run LENET --weights DIR/corrupt.safetensors --input x=DIR/x.npy -o OUT.npy", 2,
     r"weights file .*corrupt\.safetensors is damaged or not a \.safetensors file"),
    ("run-wrong-weights", None, "run LENET --weights DIR/wrong.npz --input x=DIR/x.npy -o OUT.npy", 2,
     r"does not fit the model \(3 differences\):\n  - missing conv1\.bias \(6,\)\n"
     r"  - fc1\.weight has shape \(120, 401\), the model needs \(120, 400\)\n  - unexpected conv1\.biass"),
    ("run-bad-output-extension", None, "run LENET --seed 0 --input x=DIR/x.npy -o OUT.txt", 2,
     r"the output file ends in \.npz or \.npy"),
    ("run-truncated-safetensors", None, "run LENET --weights DIR/truncated.safetensors --input x=DIR/x.npy -o OUT.npy",
     2, r"weights file .*truncated\.safetensors is damaged"),
    ("run-nan-and-inf-input", None, "run LENET --seed 0 --input x=DIR/nan.npy -o OUT.npy", 0,
     r"warning: input x has 3 NaN and 1 infinite values; the outputs will carry them"),
    ("non-utf8-spec", b"inputs:\n  x: [B, \xff\xfe]\n", "check SPEC", 2, r"is not UTF-8 text"),
    ("init-unwritable-path", None, "init LENET -o /proc/symshape-test.npz", 1,
     r"writing /proc/symshape-test\.npz needs 241\.0 KiB but only 0 bytes is free on disk in /proc"),
    ("run-unwritable-output", None, "run LENET --seed 0 --input x=DIR/x.npy -o /proc/symshape-out.npy", 2,
     r"cannot write /proc/symshape-out\.npy"),
    ("init-astronomical-model", spec_with("  - {op: Linear, in_features: 10000000, out_features: 10000000}\n",
                                          "  x: [B, 10000000]\n"),
     "init SPEC -o OUT.safetensors", 1, r"needs 363\.8 TiB but only .* free on disk"),
    ("check-astronomical-size", None, "check LENET --input x=B,1,H,W --bind H=10**30,W=28", 0,
     r"fc3: \(B, 10\)\nparameters: 2,399,999,999,999,999,999,999,999,999,994,506"),
    ("bind-fraction", None, "check LENET --bind B=2.5", 2, r"bind: B='2\.5': '2\.5' is not a size expression"),
    ("bind-negative", None, "check LENET --bind B=-3", 2, r"B must be a positive integer, got '-3'"),
    ("input-one-dim-short", None, "check LENET --input x=B,1,28", 1,  # read as unbatched (C, H, W), as torch does
     r"2 \(AvgPool2d\): the output size on dim 1 is 0 \(must be at least 1\).*\nSizes the model fixes: B = 1 "
     r"\(by conv1 \(Conv2d\) in_channels\)"),
    # hostile files and sizes (issue 17)
    ("zero-input-size", spec_with("  - {op: ReLU}\n", "  x: [B, 0]\n"),
     "check SPEC", 2, r"inputs\.x: sizes are positive .*got 0"),
    ("zero-size-by-input-option", GOOD, "check SPEC --input x=B,0", 2, r"input 'x': sizes are positive, got \(B, 0\)"),
    ("floor-division-by-zero", spec_with("  - {op: ReLU}\n", "  x: [B, 4//0]\n"),
     "check SPEC", 2, r"inputs\.x: bad shape .*'4//0': division by zero"),
    ("modulo-by-zero", spec_with("  - {op: ReLU}\n", "  x: [B, H % 0]\n"),
     "check SPEC", 2, r"inputs\.x: bad shape .*'H % 0': division by zero"),
    ("power-tower-size", spec_with("  - {op: ReLU}\n", "  x: [B, 9**9**9**9]\n"),
     "check SPEC", 2, r"'9\*\*9\*\*9\*\*9': the exponent of \*\* must be a whole number from 0 to 64"),
    ("power-tower-bind", None, "check LENET --bind B=9**9**9", 2,
     r"bind: B='9\*\*9\*\*9': .*the exponent of \*\* must be a whole number from 0 to 64"),
    ("dropout-not-a-number", spec_with("  - {op: Dropout, p: x}\n"),
     "check SPEC", 2, r"layers\[0\] \(0\): key 'p': Dropout: p must be a probability between 0 and 1, got 'x'"),
    ("cyclic-yaml-alias", "inputs:\n  x: [B, 4]\nlayers: &a\n  - {op: ReLU}\n  - *a\n",
     "check SPEC", 2, r"the spec contains itself \(a YAML alias refers to its own anchor\)"),
    ("yaml-alias-bomb", BOMB + "inputs:\n  x: *a7\nlayers:\n  - {op: ReLU}\n",
     "check SPEC", 2, r"the spec expands to more than 1,000,000 values"),
    ("spec-nested-a-million-deep", "[" * 10**6 + "]" * 10**6, "check SPEC", 2, r"nested too deeply to read"),
    ("input-header-claims-784-PiB", None, "run LENET --seed 0 --input x=DIR/huge-header.npy -o OUT.npy", 2,
     r"the header declares \(281474976710656, 1, 28, 28\) float32 \([0-9,]+ bytes\) but the file holds 64"),
    ("weights-npz-zip-bomb", None, "run LENET --weights DIR/bomb.npz --input x=DIR/x.npy -o OUT.npy", 2,
     r"conv1.weight has shape \(939524096,\), the model needs \(6, 1, 5, 5\)"),
    ("duplicate-yaml-key", "inputs:\n  x: [B, 4]\ninputs:\n  x: [B, 5]\nlayers:\n  - {op: ReLU}\n",
     "check SPEC", 2, r"key 'inputs' is given twice \(line 3\); each key may appear once"),
    ("duplicate-key-in-layer", spec_with("  - {name: a, op: ReLU, name: b}\n"),
     "check SPEC", 2, r"key 'name' is given twice \(line 4\)"),
    ("name-with-nul", spec_with('  - {name: "a\\0b", op: ReLU}\n'),
     "check SPEC", 2, r"layers\[0\]: name 'a\\x00b': names are non-empty and contain no ':', '/'"),
    ("name-with-parent-path", spec_with('  - {name: "../a", op: ReLU}\n'),
     "check SPEC", 2, r"name '\.\./a': names are non-empty and contain no ':', '/'"),
    ("input-name-with-slash", spec_with("  - {op: ReLU}\n", '  "x/y": [B, 4]\n'),
     "check SPEC", 2, r"name 'x/y': names are non-empty and contain no ':', '/'"),
    ("parameter-name-clash", spec_with("  - {name: m, op: MultiheadAttention, embed_dim: 4, num_heads: 2, in: [x, x, x]}\n"
                                       "  - {name: m.out_proj, op: Linear, in_features: 4, out_features: 4, in: 'm:0'}\n",
                                       "  x: [L, B, 4]\n"),
     "check SPEC", 2, r"layers\[1\] \(m\.out_proj\): its parameter 'm\.out_proj\.weight' is also a parameter of 'm'"),
    ("input-rank-two", None, "check LENET --input x=B,28", 1,
     r"conv1 \(Conv2d\): input rank is 3 or 4 \(\(N, C, H, W\) or without N\) but its input \(B, 28\) from input x "
     r"has rank 2"),
]




def zip_bomb(path: Path, member: str, values: int) -> None:
    """An .npz whose one member declares ``values`` float32 zeros, a few MB on disk (deflate runs of
    zeros; the stream is a repeated block, so making it costs no time). Sizes stay below zip64's."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (values,)})
    mib = bytes(2**20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(header.getvalue()) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(mib) + packer.flush(zlib.Z_FULL_FLUSH) == block  # history is reset at each flush
    data = head + block * (values * 4 // len(mib)) + packer.flush()
    size = len(header.getvalue()) + values * 4
    name = member.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, len(data), size, len(name), 0) + name
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, 0, len(data), size, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


def make_files(d: Path) -> Path:
    """The arrays and weights files the cases read, in folder ``d``."""
    rng = np.random.default_rng(0)
    np.save(d / "x.npy", rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
    np.save(d / "x32.npy", rng.standard_normal((2, 1, 32, 32)).astype(np.float32))
    np.save(d / "rank3.npy", rng.standard_normal((2, 28, 28)).astype(np.float32))
    np.save(d / "int.npy", np.zeros((2, 1, 28, 28), dtype=np.int64))
    (d / "garbage.npy").write_bytes(b"not an array at all")
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04 truncated")
    (d / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")
    import symshape as ss

    params = ss.load_spec(LENET).infer().materialize(seed=0)
    params["conv1.biass"] = params.pop("conv1.bias")
    params["fc1.weight"] = np.zeros((120, 401), dtype=np.float32)
    np.savez(d / "wrong.npz", **params)
    ss.save_weights(ss.load_spec(LENET).infer().materialize(seed=0), d / "full.safetensors")
    data = (d / "full.safetensors").read_bytes()
    (d / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    nan = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    nan.flat[[0, 5, 9]] = np.nan
    nan.flat[12] = np.inf
    np.save(d / "nan.npy", nan)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**48, 1, 28, 28)})
    (d / "huge-header.npy").write_bytes(header.getvalue() + bytes(64))  # declares 784 PiB
    zip_bomb(d / "bomb.npz", "conv1.weight.npy", 7 * 2**27)  # 3.5 GiB of zeros in 3.6 MB


    return d


def run_case(case: tuple, files: Path, workdir: Path) -> tuple[int, str, bool]:
    """(exit code, what it printed, whether a file was written) of one case, run in ``workdir``."""
    _, spec, command, _, _ = case
    spec_path = workdir / "spec.yaml"
    if isinstance(spec, bytes):
        spec_path.write_bytes(spec)
    elif spec is not None:
        spec_path.write_text(spec)
    out = workdir / "out"
    argv = [a.replace("SPEC", str(spec_path)).replace("LENET", LENET).replace("OUT", str(out))
            .replace("DIR", str(files)) for a in command.split()]
    before = set(os.listdir(workdir))
    import contextlib
    import io

    err, out_text = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out_text):
        code = main(argv)
    return code, out_text.getvalue() + err.getvalue(), set(os.listdir(workdir)) != before


def matches(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None
