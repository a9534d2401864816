"""One conformance check used by every layer test: symshape against torch as the oracle.

``check_layer`` compares, for one layer and input shape: the output shape, the state_dict names,
shapes and dtypes in order, the default-initialization distribution of every tensor, and the
eval-mode forward output after loading symshape's arrays into torch with ``strict=True``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

import symshape as ss

RTOL, ATOL = 1e-4, 1e-5


def to_torch_state(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.array(v)) for k, v in params.items()}


def torch_forward(module: torch.nn.Module, *arrays: np.ndarray) -> Any:
    module.eval()
    with torch.no_grad():
        out = module(*[torch.from_numpy(a) for a in arrays])
    if isinstance(out, tuple):
        return tuple(o.numpy() for o in out)
    return out.numpy()


def assert_same_state_layout(graph: ss.ShapeGraph, module: torch.nn.Module) -> None:
    """Names (in torch's order), shapes and dtypes of every parameter and buffer."""
    expected = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in module.state_dict().items()}
    specs = graph.param_specs
    got = {k: (tuple(int(d) for d in s.shape), s.dtype or "float32") for k, s in specs.items()}
    assert list(got) == list(expected), f"state_dict names differ:\n symshape {list(got)}\n torch    {list(expected)}"
    assert got == expected
    torch_params = {k for k, _ in module.named_parameters()}
    assert {k for k, s in specs.items() if not s.buffer} == torch_params


def _torch_init_samples(module: torch.nn.Module, name: str, rounds: int) -> np.ndarray:
    """torch's default initialization of one tensor, drawn ``rounds`` times (reset_parameters of its module)."""
    owner, _, local = name.rpartition(".")  # "class_token": a parameter of the root module
    sub = module.get_submodule(owner)
    # as at construction: the owner initializes itself, then parents that re-initialize their children
    # (MultiheadAttention zeroes out_proj.bias) do so
    parts = owner.split(".")
    chain = [sub] + [module.get_submodule(".".join(parts[:i])) for i in range(len(parts) - 1, 0, -1)]
    draws = []
    for _ in range(rounds):
        for i, m in enumerate(chain):
            reset = (getattr(m, "reset_parameters", None) if i == 0 else None) or getattr(m, "_reset_parameters", None)
            if reset is not None:
                reset()
        draws.append(sub.state_dict()[local].double().numpy().ravel())
    return np.concatenate(draws)


def assert_same_init_distribution(graph: ss.ShapeGraph, module: torch.nn.Module) -> None:
    """Constant tensors equal exactly; random ones agree in mean, spread and range, over at least
    4000 draws per side (several seeds of symshape, several resets of torch)."""
    for name, shape in graph.state_shapes.items():
        size = max(int(np.prod([int(d) for d in shape])), 1)
        rounds = min(max(4000 // size, 1), 400)
        t = _torch_init_samples(module, name, rounds)
        s = np.concatenate([graph.materialize(seed=i, only=[name])[name].astype(np.float64).ravel()
                            for i in range(rounds)])
        if np.all(t == t[0]):
            np.testing.assert_array_equal(s, np.full_like(s, t[0]), err_msg=name)
            continue
        tol = 7 / np.sqrt(min(t.size, s.size))  # about five standard errors of two sample statistics
        assert abs(s.std() / t.std() - 1) < max(0.1, tol), f"{name}: std {s.std()} vs torch {t.std()}"
        assert abs(s.mean() - t.mean()) < tol * t.std(), f"{name}: mean {s.mean()} vs {t.mean()}"
        ratio = np.abs(s).max() / np.abs(t).max()
        assert 0.8 < ratio < 1.25, f"{name}: range {np.abs(s).max()} vs torch {np.abs(t).max()}"


def check_model(model: ss.Model, module: torch.nn.Module, *arrays: np.ndarray, seed: int = 0,
                check_init: bool = True, rtol: float = RTOL, atol: float = ATOL,
                ) -> tuple[ss.ShapeGraph, dict[str, np.ndarray]]:
    """Full parity of a model on concrete input arrays; returns the graph and parameters used."""
    torch.manual_seed(seed)
    expected = torch_forward(module, *arrays)  # also materializes torch's lazy modules
    graph = model.infer(*[a.shape for a in arrays])
    outs = expected if isinstance(expected, tuple) else (expected,)
    assert [tuple(s) for s in graph.output_shapes] == [o.shape for o in outs]
    assert_same_state_layout(graph, module)
    if check_init:
        assert_same_init_distribution(graph, module)
    params = graph.materialize(seed=seed)
    module.load_state_dict(to_torch_state(params), strict=True)
    expected = torch_forward(module, *arrays)
    got = graph.forward(params, *arrays)
    got_outs = got if isinstance(got, tuple) else (got,)
    exp_outs = expected if isinstance(expected, tuple) else (expected,)
    for g, e in zip(got_outs, exp_outs):
        assert g.shape == e.shape
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return graph, params


class Named(torch.nn.Module):
    """One torch module as child ``name``, called with every input: the torch twin of a lone symshape node of
    that name (its state_dict names are then ``name.weight``, ...)."""

    def __init__(self, name: str, module: torch.nn.Module):
        super().__init__()
        self.name = name
        self.add_module(name, module)

    def forward(self, *xs):
        out = getattr(self, self.name)(*xs)
        return tuple(out) if isinstance(out, tuple) else out


class _Wrap(torch.nn.Module):
    """A torch module computing ``fn(*inputs)`` around an optional inner module."""

    def __init__(self, fn: Callable[..., torch.Tensor]):
        super().__init__()
        self.fn = fn

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.fn(*xs)


def check_layer(layer: ss.Layer, module: torch.nn.Module | Callable[..., torch.Tensor], *shapes: tuple[int, ...],
                seed: int = 0, check_init: bool = True) -> tuple[ss.ShapeGraph, dict[str, np.ndarray]]:
    """Parity of one layer (named ``"0"``, as in torch.nn.Sequential) on random inputs of ``shapes``."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if len(shapes) == 1:
        model = ss.Sequential(layer)
        torch_model = torch.nn.Sequential(module)
    else:
        xs = [ss.Input(s, name=f"x{i}") for i, s in enumerate(shapes)]
        model = ss.Model(xs, layer(*xs))
        torch_model = module if isinstance(module, torch.nn.Module) else _Wrap(module)
    return check_model(model, torch_model, *arrays, seed=seed, check_init=check_init)


def check_shape(layer: ss.Layer, module: torch.nn.Module, shape: tuple[int, ...]) -> None:
    """Shapes only: symshape accepts iff torch runs, and then the output shapes agree."""
    torch_ok = True
    try:
        with torch.no_grad():
            expected = tuple(module(torch.zeros(shape)).shape)
    except (RuntimeError, ValueError, IndexError):
        torch_ok = False
    try:
        graph = ss.Sequential(layer).infer(shape)
        got = tuple(graph.output_shapes[0])
        ok = True
    except ss.ShapeMismatchError:
        ok = False
    assert ok == torch_ok, f"symshape {'accepts' if ok else 'rejects'} {shape}, torch {'runs' if torch_ok else 'fails'}"
    if ok:
        assert got == expected


class TorchAttention(torch.nn.Module):
    """torch.nn.MultiheadAttention as child ``attn``, called as (query, key, value), as symshape's layer is."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(*args, **kwargs)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.attn(q, k, v)
