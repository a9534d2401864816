"""Every layer family; importing this package fills the registry ``LAYERS``."""

from .activation import GELU, Dropout, ReLU, Sigmoid, Softmax, Tanh
from .base import LAYERS, Layer, RuleContext
from .conv import Conv1d, Conv2d, LazyConv1d, LazyConv2d
from .linear import Identity, LazyLinear, Linear
from .merge import Add, Concat, Mul
from .norm import BatchNorm1d, BatchNorm2d, LazyBatchNorm1d, LazyBatchNorm2d
from .pool import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .shape_ops import Flatten

__all__ = [
    "LAYERS", "Layer", "RuleContext",
    "Linear", "LazyLinear", "Identity",
    "Conv1d", "Conv2d", "LazyConv1d", "LazyConv2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "BatchNorm1d", "BatchNorm2d", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "Dropout",
    "Flatten", "Add", "Mul", "Concat",
]
