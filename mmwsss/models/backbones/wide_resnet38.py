"""WideResNet-38 ("ResNet-38") backbone of RRM / PSA at output stride 8.

Layout (the RRM paper's ResNet-38 and its official code). Every residual
unit is *pre-activation*: ``y = ReLU(BN(x))``, the branch runs on ``y`` and the
projection shortcut (when the shape changes) also takes ``y``; an identity
shortcut takes ``x``.

=======  =====  ==========================================  ===============
stage    units  unit (mid, out)                             stride/dilation
=======  =====  ==========================================  ===============
conv1a   \\-     3x3 conv 3->64, pad 1, no bias              1
b2       3      basic 3x3-3x3 (128, 128)                    first unit s 2
b3       3      basic (256, 256)                            first unit s 2
b4       6      basic (512, 512)                            first unit s 2
b5       3      basic (512, 1024)                           dilation 2 (*)
b6       1      bottleneck 1x1(512)-3x3(1024)-1x1(2048)     dilation 4
b7       1      bottleneck 1x1(1024)-3x3(2048)-1x1(4096)    dilation 4
bn7      \\-     BN + ReLU -> 4096 channels                   output stride 8
=======  =====  ==========================================  ===============

(*) the first conv of b5's first unit uses dilation 1.

**Strides and padding.** A strided unit puts the stride on its first conv
(3x3, padding 1) and on its 1x1 projection shortcut (padding 0). Both give
``ceil(H / 2)`` rows for any ``H`` (``floor((H - 1) / 2) + 1``), so the
output of b4..bn7 has ``ceil(ceil(ceil(H / 2) / 2) / 2) = ceil(H / 8)`` rows:
41 for a 321 crop. Every 3x3 conv pads by its dilation (size-preserving).

**Dropout.** b6 / b7 have a ``Dropout2d`` (0.3 / 0.5) before their 3x3 conv
and before their last 1x1 conv. It is an ordinary ``nn.Dropout2d``: active
whenever the module is in train mode -- so also in the extra-scale CAM passes
of RRM that run under ``torch.no_grad()`` while the model trains (the
official behaviour) -- and inactive in eval mode.

**Frozen parts.** With ``frozen_bn`` every BN layer stays in eval mode (its
running statistics are used and never updated) and its gamma/beta have
``requires_grad=False``, also after ``model.train()``; ``frozen_stem``
freezes conv1a the same way. A frozen SyncBN therefore never synchronises.

**MXNet names.** The ImageNet weights (``ilsvrc-cls_rna-a1``) name unit ``u``
of stage ``s`` ``res{s}{u}`` / ``bn{s}{u}`` with ``u = a, b1, b2, ...``.
:func:`wr38_mxnet_key` maps this module's state-dict keys 1:1 onto them
(``tools/model_converters/wr38_mxnet_to_mmwsss.py`` converts a file):

=====================  ===========================================
mmwsss key             MXNet key
=====================  ===========================================
conv1a.weight          arg:conv1a_weight
b{s}.{i}.norm1.*       bn{s}{u}_branch2a_* (BN of the unit input)
b{s}.{i}.conv1.weight  arg:res{s}{u}_branch2a_weight
b{s}.{i}.norm2.*       bn{s}{u}_branch2b1_*
b{s}.{i}.conv2.weight  arg:res{s}{u}_branch2b1_weight
b{s}.{i}.norm3.*       bn{s}{u}_branch2b2_* (bottleneck only)
b{s}.{i}.conv3.weight  arg:res{s}{u}_branch2b2_weight (bottleneck)
b{s}.{i}.shortcut.*    arg:res{s}{u}_branch1_weight
bn7.*                  bn7_*
=====================  ===========================================

with ``u = 'a'`` for ``i = 0`` and ``'b{i}'`` otherwise, and BN parameters
``weight -> arg:..._gamma``, ``bias -> arg:..._beta``, ``running_mean ->
aux:..._moving_mean``, ``running_var -> aux:..._moving_var``
(``num_batches_tracked`` has no MXNet counterpart and is set to 0).
"""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'WideResNet38', 'PreActBasicUnit', 'PreActBottleneckUnit', 'WR38_STAGES',
    'WR38_OUT_NAMES', 'wr38_mxnet_key', 'wr38_mxnet_key_map',
    'convert_wr38_mxnet_params', 'WR38_MXNET_DROPPED'
]

#: Stages of WR38: (name, units, kind, channels, first-unit stride,
#: dilation, dilation of the first unit's first conv, dropout index).
#: ``channels`` is (mid, out) for basic units and (mid1, mid2, out) for
#: bottlenecks; the dropout index selects an entry of ``drop_rates``.
WR38_STAGES: Tuple[tuple, ...] = (
    ('b2', 3, 'basic', (128, 128), 2, 1, 1, None),
    ('b3', 3, 'basic', (256, 256), 2, 1, 1, None),
    ('b4', 6, 'basic', (512, 512), 2, 1, 1, None),
    ('b5', 3, 'basic', (512, 1024), 1, 2, 1, None),
    ('b6', 1, 'bottleneck', (512, 1024, 2048), 1, 4, 4, 0),
    ('b7', 1, 'bottleneck', (1024, 2048, 4096), 1, 4, 4, 1),
)

#: Outputs selectable with ``out_indices`` (index -> module).
WR38_OUT_NAMES = ('b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'bn7')

#: MXNet keys of the ImageNet file that are not backbone weights (the
#: 1000-class classifier); the converter drops exactly these.
WR38_MXNET_DROPPED = ('arg:linear1000_weight', 'arg:linear1000_bias')

_MX_BRANCH = {
    'norm1': 'branch2a',
    'conv1': 'branch2a',
    'norm2': 'branch2b1',
    'conv2': 'branch2b1',
    'norm3': 'branch2b2',
    'conv3': 'branch2b2',
    'shortcut': 'branch1',
}
_MX_BN = {
    'weight': 'arg:{}_gamma',
    'bias': 'arg:{}_beta',
    'running_mean': 'aux:{}_moving_mean',
    'running_var': 'aux:{}_moving_var',
}


def _conv3x3(cin: int, cout: int, stride: int = 1,
             dilation: int = 1) -> nn.Conv2d:
    """3x3 conv without bias, padded by its dilation."""
    return nn.Conv2d(
        cin,
        cout,
        3,
        stride=stride,
        padding=dilation,
        dilation=dilation,
        bias=False)


class PreActBasicUnit(nn.Module):
    """Pre-activation basic unit: ``BN-ReLU -> 3x3 -> BN-ReLU -> 3x3``.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Channels of the first 3x3 conv.
        out_channels (int): Output channels.
        stride (int): Stride of the first conv and of the shortcut.
        dilation (int): Dilation of the second conv.
        first_dilation (int): Dilation of the first conv.
        norm_cfg (dict): Norm layer config.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 first_dilation: int = 1,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = _conv3x3(in_channels, mid_channels, stride,
                              first_dilation)
        self.norm2 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.conv2 = _conv3x3(mid_channels, out_channels, 1, dilation)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward function."""
        y = F.relu(self.norm1(x), inplace=True)
        identity = x if self.shortcut is None else self.shortcut(y)
        out = self.conv1(y)
        out = self.conv2(F.relu(self.norm2(out), inplace=True))
        return out + identity


class PreActBottleneckUnit(nn.Module):
    """Pre-activation bottleneck unit with dropout.

    ``BN-ReLU -> 1x1 -> BN-ReLU -> Dropout2d -> 3x3 -> BN-ReLU -> Dropout2d
    -> 1x1``.

    Args:
        in_channels (int): Input channels.
        mid_channels (Sequence[int]): Output channels of the 1x1 and of the
            3x3 conv.
        out_channels (int): Output channels.
        stride (int): Stride of the first 1x1 conv and of the shortcut.
        dilation (int): Dilation of the 3x3 conv.
        drop_rate (float): Rate of both ``Dropout2d`` layers.
        norm_cfg (dict): Norm layer config.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: Sequence[int],
                 out_channels: int,
                 stride: int = 1,
                 dilation: int = 1,
                 drop_rate: float = 0.0,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        mid1, mid2 = mid_channels
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(
            in_channels, mid1, 1, stride=stride, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, mid1)[1]
        self.drop1 = nn.Dropout2d(drop_rate)
        self.conv2 = _conv3x3(mid1, mid2, 1, dilation)
        self.norm3 = build_norm_layer(norm_cfg, mid2)[1]
        self.drop2 = nn.Dropout2d(drop_rate)
        self.conv3 = nn.Conv2d(mid2, out_channels, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward function."""
        y = F.relu(self.norm1(x), inplace=True)
        identity = x if self.shortcut is None else self.shortcut(y)
        out = self.conv1(y)
        out = self.conv2(self.drop1(F.relu(self.norm2(out), inplace=True)))
        out = self.conv3(self.drop2(F.relu(self.norm3(out), inplace=True)))
        return out + identity


@MODELS.register_module()
class WideResNet38(BaseModule):
    """WideResNet-38 backbone (pre-activation, output stride 8).

    See the module docstring for the layout, the padding that gives
    ``ceil(H / 8)`` output rows and the MXNet key mapping.

    Args:
        out_indices (Sequence[int]): Outputs to return, indices into
            ``('b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'bn7')`` (channels 128,
            256, 512, 1024, 2048, 4096, 4096; strides 2, 4, 8, 8, 8, 8, 8).
            b2..b7 are the raw residual sums (pre-activation units apply BN
            at the start of the next unit); bn7 is the BN-ReLU'd feature F.
            Defaults to ``(6,)`` (only F).
        frozen_bn (bool): Keep every BN layer in eval mode with gamma/beta
            ``requires_grad=False``, also after ``train()``. Defaults to True.
        frozen_stem (bool): Freeze conv1a (``requires_grad=False``).
            Defaults to True.
        drop_rates (Sequence[float]): ``Dropout2d`` rates of b6 and b7.
            Defaults to ``(0.3, 0.5)``.
        norm_cfg (dict): Norm layer config, e.g. ``dict(type='SyncBN')``
            (with ``frozen_bn`` it always runs in eval mode). Defaults to
            ``dict(type='BN')`` (eps 1e-5, the PyTorch default the official
            PyTorch port uses).
        init_cfg (dict | list, optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint='wr38_imagenet.pth')`` for a
            file written by ``tools/model_converters/wr38_mxnet_to_mmwsss.py``.
            None: Kaiming-normal (fan-out) convs, BN weight 1 and bias 0.
    """

    stem_channels = 64

    def __init__(self,
                 out_indices: Sequence[int] = (6, ),
                 frozen_bn: bool = True,
                 frozen_stem: bool = True,
                 drop_rates: Sequence[float] = (0.3, 0.5),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Union[dict, List[dict], None] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        super().__init__(init_cfg)
        out_indices = tuple(int(i) for i in out_indices)
        if not out_indices or any(not 0 <= i < len(WR38_OUT_NAMES)
                                  for i in out_indices):
            raise ValueError(f'out_indices must be non-empty indices into '
                             f'{WR38_OUT_NAMES} (0..6), got {out_indices}')
        if len(drop_rates) != 2 or any(not 0 <= r < 1 for r in drop_rates):
            raise ValueError(f'drop_rates must be two rates in [0, 1) (b6, '
                             f'b7), got {tuple(drop_rates)}')
        self.out_indices = out_indices
        self.frozen_bn = frozen_bn
        self.frozen_stem = frozen_stem
        self.drop_rates = tuple(float(r) for r in drop_rates)
        self.norm_cfg = dict(norm_cfg)

        self.conv1a = nn.Conv2d(
            3, self.stem_channels, 3, padding=1, bias=False)
        in_ch = self.stem_channels
        channels, strides = [], []
        stride = 1
        for (name, units, kind, chans, first_stride, dilation, first_dil,
             drop_idx) in WR38_STAGES:
            blocks = []
            for i in range(units):
                s = first_stride if i == 0 else 1
                if kind == 'basic':
                    blocks.append(
                        PreActBasicUnit(
                            in_ch,
                            chans[0],
                            chans[1],
                            stride=s,
                            dilation=dilation,
                            first_dilation=first_dil if i == 0 else dilation,
                            norm_cfg=self.norm_cfg))
                else:
                    blocks.append(
                        PreActBottleneckUnit(
                            in_ch,
                            chans[:2],
                            chans[2],
                            stride=s,
                            dilation=dilation,
                            drop_rate=self.drop_rates[drop_idx],
                            norm_cfg=self.norm_cfg))
                in_ch = chans[-1]
            self.add_module(name, nn.Sequential(*blocks))
            stride *= first_stride
            channels.append(in_ch)
            strides.append(stride)
        self.bn7 = build_norm_layer(self.norm_cfg, in_ch)[1]
        channels.append(in_ch)
        strides.append(stride)
        self.out_channels = [channels[i] for i in out_indices]
        self.out_strides = [strides[i] for i in out_indices]
        self._freeze()

    def _freeze(self) -> None:
        """Put the frozen modules in eval mode without gradients."""
        if self.frozen_stem:
            self.conv1a.eval()
            for p in self.conv1a.parameters():
                p.requires_grad = False
        if self.frozen_bn:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
                    for p in m.parameters():
                        p.requires_grad = False

    def train(self, mode: bool = True) -> 'WideResNet38':
        """Set train mode, keeping the frozen BN layers (and conv1a) in
        eval mode with ``requires_grad=False``."""
        super().train(mode)
        self._freeze()
        return self

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward function.

        Args:
            x (Tensor): Images ``(B, 3, H, W)``.

        Returns:
            tuple[Tensor]: The outputs selected by ``out_indices``; the
            4096-channel F (index 6) is ``(B, 4096, ceil(H/8), ceil(W/8))``.
        """
        x = self.conv1a(x)
        outs = []
        for i, name in enumerate(WR38_OUT_NAMES):
            if i == len(WR38_OUT_NAMES) - 1:
                x = F.relu(self.bn7(x), inplace=True)
            else:
                x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
            if i >= max(self.out_indices):
                break
        return tuple(outs)


def wr38_mxnet_key(key: str) -> Optional[str]:
    """MXNet (``ilsvrc-cls_rna-a1``) name of a :class:`WideResNet38` key.

    Args:
        key (str): A state-dict key, e.g. ``'b4.3.conv2.weight'``.

    Returns:
        str | None: E.g. ``'arg:res4b3_branch2b1_weight'``; None for
        ``num_batches_tracked`` (no MXNet counterpart).

    Raises:
        KeyError: ``key`` is not a WR38 key.
    """
    parts = key.split('.')
    if parts[-1] == 'num_batches_tracked':
        return None
    if key == 'conv1a.weight':
        return 'arg:conv1a_weight'
    if len(parts) == 2 and parts[0] == 'bn7' and parts[1] in _MX_BN:
        return _MX_BN[parts[1]].format('bn7')
    if (len(parts) == 4 and parts[0] in WR38_OUT_NAMES[:-1]
            and parts[1].isdigit() and parts[2] in _MX_BRANCH):
        idx = int(parts[1])
        unit = f'{parts[0][1:]}{"a" if idx == 0 else f"b{idx}"}'
        branch = _MX_BRANCH[parts[2]]
        if parts[2].startswith('norm') and parts[3] in _MX_BN:
            return _MX_BN[parts[3]].format(f'bn{unit}_{branch}')
        if not parts[2].startswith('norm') and parts[3] == 'weight':
            return f'arg:res{unit}_{branch}_weight'
    raise KeyError(f'"{key}" is not a WideResNet38 state-dict key')


def wr38_mxnet_key_map(keys: Sequence[str]) -> 'OrderedDict[str, str]':
    """``{mmwsss key: MXNet key}`` for the keys with an MXNet counterpart.

    Args:
        keys (Sequence[str]): State-dict keys of a :class:`WideResNet38`.

    Returns:
        OrderedDict: In the order of ``keys``.
    """
    out = OrderedDict()
    for k in keys:
        mx_key = wr38_mxnet_key(k)
        if mx_key is not None:
            out[k] = mx_key
    return out


def _base_name(key: str) -> str:
    """A key without its ``arg:`` / ``aux:`` prefix."""
    return key[4:] if key[:4] in ('arg:', 'aux:') else key


def _listed(keys: Sequence[str], show: int = 6) -> str:
    more = f', ... ({len(keys) - show} more)' if len(keys) > show else ''
    return ', '.join(keys[:show]) + more


def convert_wr38_mxnet_params(
    params: Mapping[str, np.ndarray],
    backbone: Optional[nn.Module] = None,
    prefix: str = ''
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Convert MXNet WR38 parameters into a :class:`WideResNet38` state
    dict.

    Every backbone key must be present, every given key must be a backbone
    key or one of :data:`WR38_MXNET_DROPPED`, and every shape must match;
    otherwise nothing is converted. Keys are matched without their
    ``arg:`` / ``aux:`` prefix (Gluon files have none), which therefore
    must not make two keys equal.

    Args:
        params (Mapping[str, ndarray]): MXNet name -> array (anything
            ``np.asarray`` accepts).
        backbone (nn.Module, optional): The :class:`WideResNet38` whose keys
            and shapes are expected. None: a default one built on the
            ``meta`` device (no memory).
        prefix (str): Prepended to every output key (e.g. ``'backbone.'``).

    Returns:
        tuple: The state dict (float32 tensors; ``num_batches_tracked`` 0)
        and the sorted list of dropped MXNet keys.

    Raises:
        KeyError: Backbone keys are missing, or keys are not mapped.
        ValueError: Shapes differ.
    """
    if backbone is None:
        with torch.device('meta'):
            backbone = WideResNet38()
    own = backbone.state_dict()
    key_map = wr38_mxnet_key_map(list(own))
    by_base: Dict[str, str] = {}
    dups = []
    for k in params:
        base = _base_name(k)
        if base in by_base:
            dups.append(f'{by_base[base]} / {k}')
        by_base[base] = k
    if dups:
        raise KeyError(f'MXNet parameters name the same weight twice: '
                       f'{_listed(dups)}')
    expected = {_base_name(v) for v in key_map.values()}
    dropped_base = {_base_name(k) for k in WR38_MXNET_DROPPED}
    missing = [v for v in key_map.values() if _base_name(v) not in by_base]
    unmapped = sorted(k for k in params if _base_name(k) not in expected
                      and _base_name(k) not in dropped_base)
    if missing or unmapped:
        parts = []
        if missing:
            parts.append(f'{len(missing)} WR38 key(s) missing from the '
                         f'MXNet parameters ({_listed(missing)})')
        if unmapped:
            parts.append(f'{len(unmapped)} MXNet key(s) not mapped to WR38 '
                         f'({_listed(unmapped)})')
        raise KeyError('; '.join(parts) + '; is it the ilsvrc-cls_rna-a1 '
                       'WideResNet-38 file?')
    out = OrderedDict()
    bad = []
    for k, v in own.items():
        if k not in key_map:  # num_batches_tracked
            out[prefix + k] = torch.zeros((), dtype=v.dtype)
            continue
        src = by_base[_base_name(key_map[k])]
        arr = np.asarray(params[src])
        if tuple(arr.shape) != tuple(v.shape):
            bad.append(f'{src}: {list(arr.shape)} vs {k}: {list(v.shape)}')
            continue
        out[prefix + k] = torch.from_numpy(
            np.ascontiguousarray(arr, dtype=np.float32))
    if bad:
        raise ValueError(f'{len(bad)} shape mismatch(es) between the MXNet '
                         f'parameters and WR38 ({_listed(bad, 3)})')
    dropped = sorted(k for k in params if _base_name(k) in dropped_base)
    return out, dropped
