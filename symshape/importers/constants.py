"""Tensors a module holds outside its state_dict (non-persistent buffers, constants), rebuilt from ops.

symshape stores no tensor values besides the state_dict, so such a tensor is recognised as one of a
few generated patterns and rebuilt from size-only ops: a constant fill (``Full``), a range
(``Arange``; BERT's ``position_ids``), or a geometric sequence ``a * r**i`` (rotary embeddings'
``inv_freq``, as ``exp(log a + i log r)``), with leading 1-dims restored by a Reshape. The rebuilt
values are checked against the tensor's own (float32 rounding); anything else is unsupported.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .convert import Converter, Unsupported


def rebuild(c: Converter, name: str, tensor: Any) -> Any:
    """The model tensor equal to ``tensor``, named after ``name``; Unsupported if no pattern fits."""
    values = tensor.detach().cpu().numpy()
    dtype = str(values.dtype)
    shape = list(values.shape)
    flat = values.reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        return c.op("Full", [], name, size=shape, fill_value=flat[0].item(), dtype=dtype)
    if values.ndim == 0 or sum(d != 1 for d in shape) != 1:
        raise Unsupported(f"the constant tensor {name!r} of shape {tuple(shape)} is not a fill, range or "
                          "geometric sequence; symshape holds no tensor values outside the state_dict")
    n = flat.size
    if np.array_equal(flat, np.arange(n, dtype=flat.dtype)):
        out = c.op("Arange", [], name, start=0, end=n, dtype=dtype)
    elif values.dtype.kind == "f" and np.all(flat > 0):
        log_a, log_r = math.log(float(flat[0])), math.log(float(flat[1] / flat[0]))
        steps = c.op("Arange", [], name, start=0, end=n, dtype="float32")
        exponent = c.op("Add", [c.op("Mul", [steps], name, other=log_r)], name, other=log_a)
        out = c.op("Exp", [exponent], name)
        rebuilt = np.exp(log_a + np.arange(n, dtype=np.float32) * np.float32(log_r)).astype(values.dtype)
        if not np.allclose(rebuilt, flat, rtol=1e-5, atol=0):
            raise Unsupported(f"the constant tensor {name!r} is not a fill, range or geometric sequence")
    else:
        raise Unsupported(f"the constant tensor {name!r} is not a fill, range or geometric sequence")
    return out if len(shape) == 1 else c.op("Reshape", [out], name, shape=shape)
