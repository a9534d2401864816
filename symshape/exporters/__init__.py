"""Exporters: symshape models out (``to_onnx``)."""
