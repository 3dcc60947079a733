"""Tiny CAM models for the CAM inference tests (not a test module)."""
import torch
import torch.nn.functional as F
from torch import nn


class PoolConvCAM(nn.Module):
    """avg-pool (stride ``stride``) + fixed 1x1 conv: translation- and
    flip-equivariant when the input size is a multiple of the stride."""

    def __init__(self, num_classes=3, stride=8, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.stride = stride
        self.conv = nn.Conv2d(3, num_classes, 1, bias=True)
        with torch.no_grad():
            self.conv.weight.copy_(
                torch.randn(num_classes, 3, 1, 1, generator=g))
            self.conv.bias.copy_(torch.randn(num_classes, generator=g) * 0.1)

    def extract_cam(self, x):
        x = F.avg_pool2d(x, self.stride, self.stride, ceil_mode=True)
        return self.conv(x)


class RampCAM(PoolConvCAM):
    """Adds a left-to-right ramp: NOT flip-equivariant."""

    def extract_cam(self, x):
        a = super().extract_cam(x)
        ramp = torch.linspace(-1, 2, a.shape[-1], device=a.device)
        return a + ramp


class NoCAM(nn.Module):

    def forward(self, x):
        return x
