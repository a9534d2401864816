"""Every layer family; importing this package fills the registry ``LAYERS``."""

from .activation import (
    ELU,
    GELU,
    SELU,
    Dropout,
    Dropout1d,
    Dropout2d,
    Hardsigmoid,
    Hardswish,
    LeakyReLU,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .attention import MultiheadAttention, TransformerDecoderLayer, TransformerEncoderLayer
from .base import LAYERS, Layer, RuleContext
from .conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyConvTranspose3d,
)
from .embedding import Embedding
from .linear import Identity, LazyLinear, Linear
from .merge import Add, Concat, MatMul, Mul
from .norm import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LocalResponseNorm,
)
from .pool import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from .recurrent import GRU, LSTM, RNN
from .resize import Upsample
from .shape_ops import Chunk, Flatten, Mean, Permute, Reshape, Split, Sum, Transpose, Unflatten

__all__ = [
    "LAYERS", "Layer", "RuleContext",
    "Linear", "LazyLinear", "Identity",
    "Conv1d", "Conv2d", "LazyConv1d", "LazyConv2d", "Conv3d", "LazyConv3d",
    "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "Upsample",
    "BatchNorm1d", "BatchNorm2d", "LazyBatchNorm1d", "LazyBatchNorm2d", "BatchNorm3d", "LazyBatchNorm3d",
    "InstanceNorm1d", "InstanceNorm2d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LayerNorm", "GroupNorm",
    "LocalResponseNorm",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "Dropout",
    "ReLU6", "LeakyReLU", "ELU", "SELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "Softplus", "LogSoftmax",
    "PReLU", "Dropout1d", "Dropout2d",
    "Flatten", "Add", "Mul", "Concat",
    "Embedding", "RNN", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "MatMul", "Reshape", "Permute", "Transpose", "Unflatten", "Mean", "Sum", "Split", "Chunk",
]
