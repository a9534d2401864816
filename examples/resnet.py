"""ResNet-18 with symshape's functional API, named as torchvision names it.

Run it to see the symbolic analysis: every feature-map size as a formula of H and W, the
branch sizes proven equal, and the parameter count (11,689,512 for 1000 classes).
"""

from __future__ import annotations

import symshape as ss


def basic_block(x: ss.SymbolicTensor, name: str, channels: int, stride: int) -> ss.SymbolicTensor:
    """torchvision's BasicBlock: two 3x3 convolutions and a shortcut (1x1 conv when the shape changes)."""
    h = ss.LazyConv2d(channels, 3, stride=stride, padding=1, bias=False)(x, name=f"{name}.conv1")
    h = ss.BatchNorm2d(channels)(h, name=f"{name}.bn1")
    h = ss.ReLU()(h, name=f"{name}.relu1")
    h = ss.Conv2d(channels, channels, 3, padding=1, bias=False)(h, name=f"{name}.conv2")
    h = ss.BatchNorm2d(channels)(h, name=f"{name}.bn2")
    shortcut = x
    if stride != 1:
        shortcut = ss.LazyConv2d(channels, 1, stride=stride, bias=False)(x, name=f"{name}.downsample.0")
        shortcut = ss.BatchNorm2d(channels)(shortcut, name=f"{name}.downsample.1")
    return ss.ReLU()(ss.Add()(h, shortcut, name=f"{name}.add"), name=f"{name}.relu2")


def resnet18(num_classes: int = 1000, input_shape: str = "B, 3, H, W") -> ss.Model:
    x = ss.Input(input_shape, name="x")
    h = ss.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)(x, name="conv1")
    h = ss.BatchNorm2d(64)(h, name="bn1")
    h = ss.ReLU()(h, name="relu")
    h = ss.MaxPool2d(3, stride=2, padding=1)(h, name="maxpool")
    for stage, (channels, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
        h = basic_block(h, f"layer{stage}.0", channels, stride)
        h = basic_block(h, f"layer{stage}.1", channels, 1)
    h = ss.AdaptiveAvgPool2d(1)(h, name="avgpool")
    h = ss.Flatten()(h, name="flatten")
    return ss.Model(x, ss.Linear(512, num_classes)(h, name="fc"))


if __name__ == "__main__":
    graph = resnet18().infer()
    print(graph)
    for name in ["conv1", "maxpool", "layer2.0.add", "layer4.1.relu2", "fc"]:
        print(f"{name:>16}: {ss.dims.format_shape(graph.node(name)['output_shapes'][0])}")
    print("conditions on the input:", ", ".join(map(str, graph.constraints)) or "none (any H, W >= 1)")
    print("parameters:", graph.num_params)
