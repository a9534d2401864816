"""Spec files (YAML or JSON) in and out, validated with messages that name file, entry and key.

A spec is ``{name?, inputs, layers, outputs?, blocks?}`` (see docs/spec-format.md). Blocks are
named sub-graphs with arguments, instantiated by ``{name: layer1.0, block: basic, channels: 64}``;
their layers are named under the instance (``layer1.0.conv1``), as torchvision names them.
"""

from __future__ import annotations

import difflib
import heapq
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import arguments, dims
from .dtypes import INPUT_DTYPES
from .errors import SpecError
from .files import atomic_write, read_text
from .layers import LAYERS, Layer
from .wiring import InputSpec, Model, NodeSpec, owning_node, parse_ref, ref_name, source_of, state_name

TOP_KEYS = ("name", "inputs", "layers", "outputs", "blocks")
BLOCK_KEYS = ("args", "inputs", "layers", "outputs")
ENTRY_KEYS = ("name", "op", "in", "share", "block", "tie")


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. (YAML 1.1 reads N, Y, on, off as booleans, and N is a size.)"""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """A YAML mapping that refuses a key given twice (PyYAML keeps the last one silently); keys merged
    in by ``<<: *anchor`` may be overridden, as YAML intends."""
    seen: set = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (str, int, float, bool)) and key in seen:
            mark = key_node.start_mark
            raise SpecError(f"key {key!r} is given twice (line {mark.line + 1}); each key may appear once")
        if isinstance(key, (str, int, float, bool)):
            seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                        lambda loader, node: _mapping_data(loader, node))


def _mapping_data(loader: _Loader, node: yaml.MappingNode) -> Any:
    data: dict = {}
    yield data
    data.update(_mapping(loader, node))


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise SpecError(f"key {key!r} is given twice in one object; each key may appear once")
        data[key] = value
    return data


MAX_VALUES = 10**6  # values in a spec once its YAML aliases are expanded


def _check_expansion(data: Any) -> None:
    """Refuse a spec that refers to itself (a cyclic alias) or expands to more than MAX_VALUES values
    (an alias bomb: a few hundred bytes naming each other's anchors)."""
    count, stack = 0, [(data, ())]
    while stack:
        value, path = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise SpecError(f"the spec expands to more than {MAX_VALUES:,} values (YAML aliases repeated within "
                            "each other?); write the values out or use blocks")
        if isinstance(value, (dict, list)):
            if id(value) in path:
                raise SpecError("the spec contains itself (a YAML alias refers to its own anchor)")
            inner = path + (id(value),)
            stack.extend((v, inner) for v in (value.values() if isinstance(value, dict) else value))


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(close)}?" if close else ""


# ---------------------------------------------------------------------------------------------
# reading


NAME_RULE = "names are non-empty and contain no ':', '/', '\\' or control characters (NUL, newline...)"


def _good_name(name: str) -> bool:
    return bool(name) and not any(c in ":/\\" or ord(c) < 32 or ord(c) == 127 for c in name)


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or JSON spec file into a dict (no validation beyond the syntax)."""
    text = read_text(path, "spec file")
    p = Path(path)
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text, object_pairs_hook=_json_object)
        else:
            data = yaml.load(text, Loader=_Loader)  # noqa: S506
    except SpecError as exc:
        raise SpecError(f"{p}: {exc}") from None
    except RecursionError:
        raise SpecError(f"{p}: nested too deeply to read") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{p}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{p}: a spec is a mapping with inputs and layers, got {type(data).__name__}")
    try:
        _check_expansion(data)
    except SpecError as exc:
        raise SpecError(f"{p}: {exc}") from None
    return data


def load_spec(source: str | Path | dict[str, Any]) -> Model:
    """A Model from a spec file (``.yaml``, ``.yml`` or ``.json``) or an already parsed dict."""
    if isinstance(source, dict):
        return _Builder(source, "spec").build()
    return _Builder(read_spec_file(arguments.path("load_spec()", source)), str(source)).build()


@dataclass
class _Entry:
    name: str  # full name
    where: str
    data: dict[str, Any]
    scope: _Scope
    inputs: list[str] = field(default_factory=list)  # global refs (may be block aliases)


@dataclass
class _Scope:
    """One list of layers: the top level or a block instance."""

    prefix: str
    where: str
    inputs: dict[str, str]  # local input name -> global ref
    locals: dict[str, str] = field(default_factory=dict)  # local name -> global name
    outputs_of: dict[str, int] = field(default_factory=dict)  # global name -> number of outputs


class _Builder:
    def __init__(self, data: dict[str, Any], origin: str):
        self.data, self.origin = data, origin
        self.entries: list[_Entry] = []
        self.aliases: dict[str, list[str]] = {}  # block instance -> its output refs
        self.block_kinds: dict[str, str] = {}  # block instance -> the block's name
        self.n_outputs: dict[str, int] = {}
        self.layers: dict[str, Layer] = {}
        self.problems: list[SpecError] = []  # collected, so that one run reports every malformed entry

    def fail(self, where: str, message: str, key: str | None = None) -> SpecError:
        return SpecError(message, file=self.origin, entry=where, key=key)

    # --- top level ------------------------------------------------------------------------------
    def build(self) -> Model:
        data = self.data
        for key in data:
            if key not in TOP_KEYS:
                self.problems.append(self.fail(f"key {key!r}", f"unknown top-level key.{_suggest(key, TOP_KEYS)} "
                                               f"A spec has {', '.join(TOP_KEYS)}."))
        inputs = self._inputs(data.get("inputs"), "inputs")
        if len(inputs) < len(data["inputs"]):  # the layers cannot be read without every input
            self._report()
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            self.problems.append(self.fail("layers", "a spec needs a non-empty list of layers"))
        blocks = data.get("blocks") or {}
        if not isinstance(blocks, dict):
            self.problems.append(self.fail("blocks", "blocks is a mapping from block name to {args, inputs, layers, "
                                           "outputs}"))
        if not isinstance(layers, list) or not layers or not isinstance(blocks, dict):
            self._report()
        self.blocks = blocks
        scope = _Scope("", "layers", {i.name: i.name for i in inputs})
        last_outputs = self._expand(layers, scope, [], default_input=inputs[0].name if len(inputs) == 1 else None)
        self._report()
        outputs = data.get("outputs")
        if outputs is None:
            out_refs = last_outputs
        else:
            outputs = [outputs] if isinstance(outputs, str) else outputs
            if not isinstance(outputs, list) or not outputs:
                raise self.fail("outputs", "outputs is a layer name or a list of them (name or name:k)")
            out_refs = [self._resolve_ref(str(o), scope, "outputs") for o in outputs]
        nodes = self._nodes()
        refs = [self._final(r, "outputs") for r in out_refs]
        names = [str(o) for o in outputs] if outputs is not None else refs
        model = Model._from_parts(inputs, nodes, refs, data.get("name"), names, self._ties())
        model.block_kinds = dict(self.block_kinds)
        return model

    def _report(self) -> None:
        """Raise the errors collected so far: one as itself, several in one SpecError, one a line."""
        if len(self.problems) == 1:
            raise self.problems[0]
        if self.problems:
            raise SpecError(f"{len(self.problems)} errors in the spec:\n" + "\n".join(f"  {p}" for p in self.problems))

    def _ties(self) -> dict[str, str]:
        """``tie: {weight: transformer.wte.weight}`` on an entry: its parameter is that tensor."""
        tied: dict[str, str] = {}
        for e in self.entries:
            tie = e.data.get("tie")
            if tie is None:
                continue
            if "op" not in e.data or not isinstance(tie, dict) or not tie or \
                    not all(isinstance(k, str) and isinstance(v, str) for k, v in tie.items()):
                raise self.fail(e.where, key="tie", message="tie maps a parameter of this layer to the state_dict "
                                "name of the tensor it is, e.g. tie: {weight: transformer.wte.weight}")
            tied.update({f"{e.name}.{local}": target for local, target in tie.items()})
        return tied

    def _inputs(self, raw: Any, where: str) -> list[InputSpec]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(where, "a spec needs inputs: a mapping from input name to shape, e.g. x: [B, 3, H, W]")
        specs = []
        for name, value in raw.items():
            try:
                specs.append(self._input(name, value))
            except SpecError as exc:
                self.problems.append(exc)
        return specs

    def _input(self, name: Any, value: Any) -> InputSpec:
        if not _good_name(str(name)):
            raise self.fail(f"inputs.{name!r}", f"name {str(name)!r}: {NAME_RULE}")
        dtype = "float32"
        if isinstance(value, dict):
            unknown = set(value) - {"shape", "dtype"}
            if unknown:
                raise self.fail(f"inputs.{name}", f"unknown key {sorted(unknown)[0]!r}; an input has shape "
                                "and dtype")
            dtype = value.get("dtype", "float32")
            if dtype not in INPUT_DTYPES:
                raise self.fail(f"inputs.{name}.dtype", f"{dtype!r} is not one of {', '.join(INPUT_DTYPES)}")
            value = value.get("shape")
        if not isinstance(value, (list, str)):
            raise self.fail(f"inputs.{name}", f"a shape is a list such as [B, 3, H, W], got {value!r}")
        try:
            shape = dims.parse_shape(value)
        except (dims.DimSyntaxError, TypeError) as exc:
            raise self.fail(f"inputs.{name}", f"bad shape {value!r}: {exc}") from None
        for d in shape:
            if type(d) is int and d < 1:
                raise self.fail(f"inputs.{name}", f"sizes are positive (torch tensors of size 0 have no values to "
                                f"analyse), got {d}")
        return InputSpec(str(name), shape, dtype)

    # --- expansion of layer lists and blocks ----------------------------------------------------
    def _expand(self, layers: list[Any], scope: _Scope, stack: list[str], default_input: str | None) -> list[str]:
        """Add the entries of ``layers`` (in ``scope``); returns the refs of the last entry's outputs."""
        raw_entries = []
        for i, raw in enumerate(layers):
            where = f"{scope.where}[{i}]"
            if not isinstance(raw, dict):
                self.problems.append(self.fail(where, f"a layer entry is a mapping such as {{op: ReLU}}, got {raw!r}"))
                continue
            local = str(raw.get("name", i))
            where = f"{where} ({local})" if _good_name(local) else where
            if not _good_name(local):
                self.problems.append(self.fail(where, f"name {local!r}: {NAME_RULE}"))
                continue
            if local in scope.locals or local in scope.inputs:
                self.problems.append(self.fail(where, f"name {local!r} is used twice; names must be unique"))
                continue
            scope.locals[local] = scope.prefix + local
            raw_entries.append((where, local, raw))
        previous = default_input
        last: list[str] = []
        for index, (where, local, raw) in enumerate(raw_entries):
            full = scope.prefix + local
            try:
                last = self._entry(raw, full, local, where, index, previous, scope, stack)
            except SpecError as exc:  # reported with the others once every entry has been read
                self.problems.append(exc)
                last = [full]
            previous = full
        return last

    def _entry(self, raw: dict[str, Any], full: str, local: str, where: str, index: int, previous: str | None,
               scope: _Scope, stack: list[str]) -> list[str]:
        """Add one entry of a layer list; returns the refs of its outputs."""
        kinds = [k for k in ("op", "share", "block") if k in raw]
        if len(kinds) != 1:
            raise self.fail(where, "an entry has exactly one of op, share or block"
                            + (f" (it has {', '.join(kinds)})" if kinds else " (it has none)"))
        ins = raw.get("in")
        if ins is None and _takes_no_input(raw):
            in_refs = []
        elif ins is None:
            if previous is None:
                raise self.fail(where, key="in", message="the first layer needs `in` when the spec has several "
                                "inputs" if index == 0 else "it is missing")
            in_refs = [previous]
        else:
            ins = [ins] if isinstance(ins, (str, int)) else ins
            if not isinstance(ins, list):  # [] is no input (Parameter, Arange)
                raise self.fail(where, key="in", message=f"a layer name or a list of names, got {raw.get('in')!r}")
            in_refs = [self._resolve_ref(str(r), scope, f"{where}: key 'in'", exclude=local) for r in ins]
        if "block" in raw:
            last = self._instantiate(raw, full, where, in_refs, stack)
        else:
            entry = _Entry(full, where, raw, scope, in_refs)
            self.entries.append(entry)
            if "op" in raw:
                self.layers[full] = self._make_layer(entry)
            self.n_outputs[full] = self.layers[full].n_outputs if "op" in raw else 1
            last = [ref_name(full, k) for k in range(self.n_outputs[full])]
        return last

    def _instantiate(self, raw: dict[str, Any], full: str, where: str, in_refs: list[str],
                     stack: list[str]) -> list[str]:
        name = raw["block"]
        if name not in self.blocks:
            raise self.fail(where, key="block", message=f"no block named {name!r}.{_suggest(name, self.blocks)}")
        if name in stack:
            raise self.fail(where, key="block",
                            message=f"block {name!r} contains itself ({' -> '.join(stack + [name])})")
        block = self.blocks[name]
        bwhere = f"blocks.{name}"
        if not isinstance(block, dict) or not isinstance(block.get("layers"), list):
            raise self.fail(bwhere, "a block is a mapping with layers (and optional args, inputs, outputs)")
        for key in block:
            if key not in BLOCK_KEYS:
                raise self.fail(bwhere, f"unknown key {key!r}.{_suggest(key, BLOCK_KEYS)}")
        declared = block.get("args") or {}
        given = {k: v for k, v in raw.items() if k not in ENTRY_KEYS}
        for key in given:
            if key not in declared:
                raise self.fail(where, f"unknown block argument {key!r}.{_suggest(key, declared)} "
                                f"Block {name!r} takes {', '.join(declared) or 'no arguments'}.")
        values = {**declared, **given}
        missing = [k for k, v in values.items() if v is None and k not in given]
        if missing:
            raise self.fail(where, f"block {name!r} needs argument {missing[0]!r}")
        block_inputs = block.get("inputs") or ["x"]
        if len(block_inputs) != len(in_refs):
            raise self.fail(where, f"block {name!r} takes {len(block_inputs)} input(s) "
                            f"({', '.join(map(str, block_inputs))}), got {len(in_refs)}")
        layers = _substitute_args(block["layers"], values, lambda m: self.fail(f"{bwhere}: {where}", m))
        scope = _Scope(full + ".", f"{bwhere}.layers (instance {full})",
                       {str(k): r for k, r in zip(block_inputs, in_refs)})
        last = self._expand(layers, scope, stack + [name], default_input=in_refs[0])
        outputs = block.get("outputs")
        if outputs is not None:
            outputs = [outputs] if isinstance(outputs, str) else outputs
            last = [self._resolve_ref(str(o), scope, f"{bwhere}.outputs") for o in outputs]
        self.aliases[full] = last
        self.block_kinds[full] = name
        return last

    def _resolve_ref(self, ref: str, scope: _Scope, where: str, exclude: str = "") -> str:
        """A local reference (``conv1``, ``lstm:1``) as a global one."""
        base, index = parse_ref(ref)
        if base in scope.inputs:
            if index:
                raise self.fail(where, f"input {base!r} has one output; {ref!r} does not exist")
            return scope.inputs[base]
        if base in scope.locals:
            return ref_name(scope.locals[base], index)
        known = [k for k in list(scope.inputs) + list(scope.locals) if k != exclude]
        raise self.fail(where, f"{ref!r} names no input or layer.{_suggest(base, known)}")

    def _final(self, ref: str, where: str, depth: int = 0) -> str:
        """Follow block aliases to the node output a reference stands for; check the output index."""
        base, index = parse_ref(ref)
        if base in self.aliases:
            outs = self.aliases[base]
            if index >= len(outs):
                raise self.fail(where, f"{ref!r}: block instance {base!r} has {len(outs)} output(s)")
            return self._final(outs[index], where, depth + 1)
        if base in self.n_outputs and index >= self.n_outputs[base]:
            raise self.fail(where, f"{ref!r}: {base!r} has {self.n_outputs[base]} output(s) "
                            f"(refer to them as {base}, {base}:1, ...)")
        return ref

    # --- layers and order -----------------------------------------------------------------------
    def _nodes(self) -> list[NodeSpec]:
        by_name = {e.name: e for e in self.entries}
        layers = self.layers
        owners: dict[str, str] = {}
        for e in self.entries:
            if "share" in e.data:
                target = e.data["share"]
                scope_name = e.scope.locals.get(str(target))
                if scope_name is None or scope_name not in layers:
                    known = [k for k, v in e.scope.locals.items() if v in layers]
                    raise self.fail(e.where, key="share", message=f"{target!r} names no layer with an op in this list."
                                    f"{_suggest(target, known)}")
                extra = set(e.data) - {"name", "in", "share"}
                if extra:
                    raise self.fail(e.where, f"key {sorted(extra)[0]!r}: a share entry takes only name, in and "
                                    "share (the layer's arguments are those of the shared layer)")
                layers[e.name] = layers[scope_name]
                owners[e.name] = scope_name
                self.n_outputs[e.name] = layers[scope_name].n_outputs
        for e in self.entries:
            e.inputs = [self._final(r, f"{e.where}: key 'in'") for r in e.inputs]
            layer = layers[e.name]
            problem = layer.arity_problem(len(e.inputs))
            if problem:
                raise self.fail(e.where, key="in", message=f"{layer.op} {problem}")
        self._check_state_names(layers, owners, by_name)
        order = self._order(by_name)
        return [NodeSpec(name, layers[name], tuple(by_name[name].inputs), owners.get(name)) for name in order]

    def _check_state_names(self, layers: dict[str, Layer], owners: dict[str, str], by_name: dict[str, _Entry]) -> None:
        """Two layers may not give one state_dict name (MultiheadAttention ``m`` has ``m.out_proj.weight``,
        as does a Linear named ``m.out_proj``)."""
        owner_of: dict[str, str] = {}
        for name, layer in layers.items():
            if name in owners:
                continue
            try:
                locals_ = list(layer.param_specs())
            except Exception:  # noqa: BLE001  (sizes needed to list them: the analysis reports it)
                continue
            for local in locals_:
                full = state_name(name, local)
                if full in owner_of:
                    raise self.fail(by_name[name].where, f"its parameter {full!r} is also a parameter of "
                                    f"{owner_of[full]!r}; rename one of the layers")
                owner_of[full] = name

    def _make_layer(self, e: _Entry) -> Layer:
        op = e.data["op"]
        cls = LAYERS.get(op) if isinstance(op, str) and not op.startswith("_") else None
        if cls is None:
            raise self.fail(e.where, key="op", message=f"unknown op {op!r}.{_suggest(op, LAYERS)} "
                            "See docs/layers.md for the catalogue.")
        args = {k: v for k, v in e.data.items() if k not in ENTRY_KEYS}
        try:
            return cls(**args)
        except SpecError as exc:
            # a layer names the argument it refuses (key=), or says "Op: argument ..." by convention
            words = exc.message.removeprefix(f"{op}: ").split()
            named = next((k for k in args if words and words[0].split("=")[0].rstrip(":,") == k), None)
            raise exc.located(file=self.origin, entry=e.where, key=named) from None

    def _order(self, by_name: dict[str, _Entry]) -> list[str]:
        order = _file_order({name: {source_of(r) for r in e.inputs} & by_name.keys() for name, e in by_name.items()})
        if order is None:
            raise self._cycle(by_name)
        return order

    def _cycle(self, by_name: dict[str, _Entry]) -> SpecError:
        """The error naming a cycle among the entries."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(by_name)
        for name, e in by_name.items():
            g.add_edges_from((base, name) for base in map(source_of, e.inputs) if base in by_name)
        cycle = [u for u, _ in nx.find_cycle(g)]
        return self.fail(by_name[cycle[0]].where, "the layers form a cycle: " + " -> ".join(cycle + [cycle[0]]))


def _file_order(reads: dict[str, set[str]]) -> list[str] | None:
    """The names of ``reads`` (name -> the names it reads) with each after those it reads, the earliest
    first: networkx's lexicographical topological sort by position, without importing networkx. None
    if they form a cycle."""
    names = list(reads)
    position = {name: i for i, name in enumerate(names)}
    readers: dict[str, list[str]] = {name: [] for name in names}
    for name, sources in reads.items():
        for source in sources:
            readers[source].append(name)
    waiting = {name: len(sources) for name, sources in reads.items()}
    ready = [position[name] for name in names if not waiting[name]]  # a heap of positions
    order = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for reader in readers[name]:
            waiting[reader] -= 1
            if not waiting[reader]:
                heapq.heappush(ready, position[reader])
    return order if len(order) == len(names) else None


def _takes_no_input(raw: dict[str, Any]) -> bool:
    """An entry whose op takes no tensor (Parameter, Arange): it reads nothing unless ``in`` says so."""
    op = raw.get("op")
    return isinstance(op, str) and getattr(LAYERS.get(op), "n_inputs", None) == 0


def _substitute_args(value: Any, args: dict[str, Any], fail: Any) -> Any:
    """Replace ``$name`` strings by block argument values, recursively."""
    if isinstance(value, str) and "$" in value:
        def lookup(key: str) -> Any:
            if key not in args:
                raise fail(f"{value!r}: ${key} names no block argument.{_suggest(key, args)}")
            return args[key]

        whole = re.fullmatch(r"\$(\w+)", value)
        if whole:
            return lookup(whole.group(1))
        return re.sub(r"\$(\w+)", lambda m: f"({lookup(m.group(1))})", value)  # inside an expression
    if isinstance(value, list):
        return [_substitute_args(v, args, fail) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_args(v, args, fail) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# writing


def _plain(value: Any) -> Any:
    if isinstance(value, Layer):  # a layer-valued argument (encoder_layer): a nested {op: ..., ...} mapping
        return {"op": value.op, **{k: _plain(v) for k, v in value.config.items()}}
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return dims.python(value)  # a size expression in the syntax specs are read in: floor((H + 24) / 28), H % 7


def spec_dict(model: Model, input_shapes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec of a model: blocks are written out, so loading it gives the same graph."""
    inputs: dict[str, Any] = {}
    for spec in model.inputs:
        shape = (input_shapes or {}).get(spec.name, spec.shape)
        if shape is None:
            raise SpecError(f"save_spec: input {spec.name!r} has no shape; pass input_shapes={{{spec.name!r}: ...}}")
        shape = [_plain(d) for d in dims.parse_shape(shape)]
        inputs[spec.name] = shape if spec.dtype in ("float32", None) else {"shape": shape, "dtype": spec.dtype}
    layers = []
    previous = model.inputs[0].name if len(model.inputs) == 1 else None
    ties: dict[str, dict[str, str]] = {}
    for name, target in model.tied.items():
        node_name = owning_node(name, (n.name for n in model.nodes if n.owner is None))
        if node_name is None:
            raise SpecError(f"save_spec: the tied name {name!r} names no parameter of a layer of the model")
        ties.setdefault(node_name, {})[name[len(node_name) + 1:]] = target
    for node in model.nodes:
        entry: dict[str, Any] = {"name": node.name}
        if node.owner:
            entry["share"] = node.owner
        else:
            entry["op"] = node.layer.op
            entry.update({k: _plain(v) for k, v in node.layer.config.items()})
            if node.name in ties:
                entry["tie"] = ties[node.name]
        if list(node.inputs) != [previous]:
            entry["in"] = node.inputs[0] if len(node.inputs) == 1 else list(node.inputs)
        layers.append(entry)
        previous = node.name
    out: dict[str, Any] = {}
    if model.name:
        out["name"] = model.name
    out["inputs"] = inputs
    out["layers"] = layers
    out["outputs"] = list(model.outputs)
    return out


def save_spec(model: Model, path: str | Path, input_shapes: dict[str, Any] | None = None) -> None:
    """Write the model as a YAML (``.yaml``/``.yml``) or JSON (``.json``) spec, atomically."""
    if not isinstance(model, Model):
        raise SpecError(f"save_spec(): expected a symshape Model, got {type(model).__name__}")
    data = spec_dict(model, input_shapes)
    p = Path(path)
    if p.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    elif p.suffix.lower() in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)
    else:
        raise SpecError(f"save_spec: {p} must end in .yaml, .yml or .json")
    atomic_write(p, lambda tmp: tmp.write_text(text, encoding="utf-8"))
