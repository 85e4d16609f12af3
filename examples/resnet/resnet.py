"""Small CIFAR-shaped ResNets and ResNet-18 in plain PyTorch (no torchvision), as people write them.

* ``ResNet(width)``: 32x32x3 input, a 3x3 convolution stem, one residual block at
  width ``w``, a residual block with a stride-2 convolution to ``2w`` (its shortcut
  a stride-2 1x1 convolution), BatchNorm after every convolution, global average
  pooling, and a linear head. ``slice_resnet.py`` builds it, saves its weights and
  slices it; the command line reads it back with
  ``--torch-module examples/resnet/resnet.py:ResNet``.
* ``SmallResNet(width)``: the network of issue 22 (a 3x3 conv stem, one residual
  block at ``width``, a separate stride-2 conv to ``2 * width``, a second residual
  block, global average pooling, a linear head; no BatchNorm; width 16: 28,554
  parameters); ``segment.py`` slices it.
* ``ResNet18()``: the standard CIFAR variant (3x3 stem, no max-pooling, BatchNorm,
  widths 64-512, 11.2M parameters).

``build(name)`` makes ``SmallResNet(int(name))`` or, for ``"resnet18"``,
``ResNet18()`` at a seeded initialisation in eval mode.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a residual addition (He et al., 2016)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """stem (3 -> w) -> block (w -> w) -> block (w -> 2w, stride 2) -> global average pool -> linear."""

    def __init__(self, width: int = 4, classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.layer1 = BasicBlock(width, width)
        self.layer2 = BasicBlock(width, 2 * width, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class Block(nn.Module):
    """Two 3x3 convs and a skip (a 1x1 conv when the shape changes), ReLU after the sum."""

    def __init__(self, cin: int, cout: int, stride: int = 1, bn: bool = False):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not bn)
        self.b1 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not bn)
        self.b2 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.short = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=not bn),
                                       nn.BatchNorm2d(cout) if bn else nn.Identity())

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.short(x))


class SmallResNet(nn.Module):
    def __init__(self, width: int = 16, classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.b1 = Block(width, width)
        self.down = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.b2 = Block(2 * width, 2 * width)
        self.head = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = self.b1(F.relu(self.stem(x)))
        x = self.b2(F.relu(self.down(x)))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ResNet18(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [Block(cin, cout, stride, bn=True), Block(cout, cout, 1, bn=True)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def build(name: str, seed: int = 0) -> nn.Module:
    """``"resnet18"`` or a width (``"16"``): the model at its seeded initialisation, in eval mode."""
    torch.manual_seed(seed)
    model = ResNet18() if name == "resnet18" else SmallResNet(int(name))
    return model.eval()


def random_segment(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two standard-normal inputs of shape (3, 32, 32)."""
    return tuple(np.random.default_rng(seed).normal(size=(2, 3, 32, 32)))
