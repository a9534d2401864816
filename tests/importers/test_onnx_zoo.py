"""A bounded slice of the ONNX zoo round trip (tests/onnx_zoo.py, ``make onnx-zoo`` for every model):
torch.onnx.export with a dynamic batch, from_onnx, symbolic analysis, forward and ``symshape run``
against onnxruntime."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx_zoo import round_trip


@pytest.mark.parametrize("name", ["squeezenet1_1", "mobilenet_v3_small", "shufflenet_v2_x0_5", "vit_b_32"])
def test_torchvision_round_trip(name: str, tmp_path: Path) -> None:
    round_trip(name, tmp_path)
