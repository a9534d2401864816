"""The lazy-initialization chapter, done symbolically: shapes before data, then weights and a forward pass.

PyTorch learns a LazyLinear's weight shape on the first forward pass. symshape derives it with no
data at all, as a formula of the input's sizes, and materializes the weights once a size is known.
Run: python examples/lazy_initialization.py
"""

from __future__ import annotations

import numpy as np

import symshape as ss


def section(title: str) -> None:
    print(f"\n== {title} ==")


# --- The network, declared without input sizes ------------------------------------------------
net = ss.Sequential(ss.LazyLinear(256), ss.ReLU(), ss.LazyLinear(10))

section("Before any data: the parameters do not exist yet")
print("net[0].weight ->", net[0].weight)

section("Symbolic analysis: every shape as a formula of the input sizes B, D")
graph = net.infer("B, D")
print("output shapes:", graph.output_shapes)
for name, shape in graph.param_shapes.items():
    print(f"  {name:<9} {ss.dims.format_shape(shape)}")
print("number of parameters:", graph.num_params)

section("Binding one size resolves every parameter shape")
bound = graph.bind(D=20)
print("bind(D=20):", bound.param_shapes, "->", bound.num_params, "parameters")

section("Materialize (torch's default initializations) and run the numpy forward pass")
params = bound.materialize(seed=0)
X = np.random.default_rng(0).random((2, 20), dtype=np.float32)
print("forward(X).shape:", bound.forward(params, X).shape)

section("The eager lazy cycle, as in torch: net(X) infers, initializes and runs")
net(X)
print("net[0].weight.shape:", net[0].weight.shape)

section("A custom initialization, chosen by pattern")
custom = bound.materialize(seed=0, init={"*.weight": "xavier_uniform", "*.bias": "zeros"})
biases_zero = all(not custom[k].any() for k in custom if "bias" in k)
print(f"0.weight std {custom['0.weight'].std():.4f} (xavier bound {np.sqrt(6 / (20 + 256)):.4f}), "
      f"biases all zero: {biases_zero}")

# --- Exercise 1 -------------------------------------------------------------------------------
section("Exercise 1: input size given to the first layer only -> immediate resolution")
fixed = ss.Sequential(ss.Linear(20, 256), ss.ReLU(), ss.LazyLinear(10)).infer("B, D")
print("sizes fixed by the model:", fixed.fixed_sizes)
print("parameters:", fixed.param_shapes)
print("materialized with no data:", {k: v.shape for k, v in fixed.materialize(seed=0).items()})

# --- Exercise 2 -------------------------------------------------------------------------------
section("Exercise 2: mismatching dimensions -> a static error, every one of them")
broken = ss.Sequential(ss.Linear(20, 256), ss.ReLU(), ss.Linear(100, 10), ss.ReLU(), ss.Linear(7, 3))
try:
    broken.infer("B, D")
except ss.ShapeMismatchError as error:
    print(error)

# --- Exercise 3 -------------------------------------------------------------------------------
section("Exercise 3: inputs of varying size -> symbolic dims and parameter tying")
image = ss.Input("B, 3, H, W", name="image")
features = ss.LazyConv2d(16, 3, padding=1)(image, name="conv")
pooled = ss.Flatten()(ss.AdaptiveAvgPool2d(1)(features, name="pool"), name="flat")
classifier = ss.Model(image, ss.LazyLinear(10)(pooled, name="fc"))
g = classifier.infer()
print("any image size:", g.output_shapes, "with", g.num_params, "parameters; conditions:", g.constraints or "none")

query, passage = ss.Input("B, Q, D", name="query"), ss.Input("B, P, E", name="passage")
encoder = ss.LazyLinear(64)  # one layer, applied twice: one set of weights
tied = ss.Model([query, passage], [encoder(query, name="encode_query"), encoder(passage, name="encode_passage")])
t = tied.infer()
print("tied outputs:", t.output_shapes)
print("parameters stored once:", list(t.param_shapes), "; tying forces", t.fixed_sizes)
