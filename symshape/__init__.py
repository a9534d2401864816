"""symshape: symbolic shape propagation, lazy initialization without data, a numpy reference forward."""

from .dims import parse_dim, parse_shape, sym
from .errors import ShapeError, ShapeMismatchError, SpecError, UnresolvedShapeError
from .exporters.onnx import to_onnx
from .graph import ShapeGraph
from .importers import from_torch, import_factory
from .importers.onnx import from_onnx
from .init import INITIALIZERS
from .layers import *  # noqa: F403
from .layers import __all__ as _layer_names
from .params import ParamSpec, UninitializedParameter
from .spec import load_spec, save_spec
from .stream import write_weights
from .weights import load_weights, save_weights
from .wiring import Input, Model, Sequential, SymbolicTensor

__version__ = "0.1.0"

__all__ = [
    "Input", "Model", "Sequential", "SymbolicTensor", "ShapeGraph",
    "ShapeError", "ShapeMismatchError", "SpecError", "UnresolvedShapeError",
    "ParamSpec", "UninitializedParameter", "INITIALIZERS",
    "parse_dim", "parse_shape", "sym", "load_spec", "save_spec",
    "load_weights", "save_weights", "write_weights", "from_torch", "import_factory", "from_onnx", "to_onnx",
    *_layer_names,
]
