"""Reference torch models, written out by hand (torchvision does not install beside torch 2.13 here)."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        h = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(h + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision.models.resnet18's layout and state_dict names."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for i, (width, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(c, width, stride), BasicBlock(width, width, 1)))
            c = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def lenet5() -> nn.Sequential:
    """d2l's LeNet-5 (sigmoid, average pooling)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or c_in != 4 * width:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, 4 * width, 1, stride, bias=False),
                                            nn.BatchNorm2d(4 * width))

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return self.relu(h + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    """torchvision.models.resnet50's layout and state_dict names."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for i, (width, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], start=1):
            stage = [Bottleneck(c, width, stride)] + [Bottleneck(4 * width, width, 1) for _ in range(blocks - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*stage))
            c = 4 * width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class VGG11(nn.Module):
    """torchvision.models.vgg11's layout and state_dict names."""

    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
                                        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class LeNetSpec(nn.Module):
    """examples/lenet.yaml in torch: the contract's LeNet with named layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        pool, act = nn.functional.avg_pool2d, torch.sigmoid
        x = pool(act(self.conv2(pool(act(self.conv1(x)), 2, 2))), 2, 2).flatten(1)
        return self.fc3(act(self.fc2(act(self.fc1(x)))))


class DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()


class Up(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.upconv = nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
        self.conv = DoubleConv(2 * c_out, c_out)

    def forward(self, x, skip):
        return self.conv(torch.cat([skip, self.upconv(x)], 1))


class UNet(nn.Module):
    """examples/unet.yaml in torch."""

    def __init__(self):
        super().__init__()
        self.enc1, self.enc2, self.bottleneck = DoubleConv(1, 16), DoubleConv(16, 32), DoubleConv(32, 64)
        self.up2, self.up1 = Up(64, 32), Up(32, 16)
        self.head = nn.Conv2d(16, 2, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(nn.functional.max_pool2d(e1, 2))
        b = self.bottleneck(nn.functional.max_pool2d(e2, 2))
        return self.head(self.up1(self.up2(b, e2), e1))


class LSTMTagger(nn.Module):
    """examples/lstm_tagger.yaml in torch."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 32, padding_idx=0)
        self.lstm = nn.LSTM(32, 48, num_layers=2, batch_first=True, bidirectional=True)
        self.tags = nn.Linear(96, 12)

    def forward(self, tokens):
        return torch.log_softmax(self.tags(self.lstm(self.embed(tokens))[0]), -1)


class TransformerClassifier(nn.Module):
    """examples/transformer_encoder.yaml in torch."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.TransformerEncoderLayer(64, 4, 128, batch_first=True) for _ in range(2)])
        self.head = nn.Linear(64, 5)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.head(x.mean(1))


class GRUClassifier(nn.Module):
    """examples/gru_classifier.yaml in torch (with D = 10)."""

    def __init__(self, d: int = 10):
        super().__init__()
        self.gru = nn.GRU(d, 32, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(64, 4)

    def forward(self, x):
        return self.head(self.gru(x)[0].mean(1))


class Separable(nn.Module):
    def __init__(self, c: int, out: int, stride: int = 1):
        super().__init__()
        self.depthwise = nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.act1 = nn.Hardswish()
        self.pointwise = nn.Conv2d(c, out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.act2 = nn.Hardswish()

    def forward(self, x):
        return self.act2(self.bn2(self.pointwise(self.act1(self.bn1(self.depthwise(x))))))


class MobileNetish(nn.Module):
    """examples/mobilenet.yaml in torch."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.blocks = nn.Sequential(Separable(16, 32), Separable(32, 64, 2), Separable(64, 64), Separable(64, 128, 2))
        self.classifier = nn.Linear(128, 10)

    def forward(self, x):
        x = self.blocks(nn.functional.hardswish(self.stem_bn(self.stem(x))))
        return self.classifier(x.mean((2, 3)))
