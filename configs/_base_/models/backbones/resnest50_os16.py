# ResNeSt-50 at output stride 16 (official Puzzle-CAM backbone) [code]:
# deep stem with 64 output channels, radix 2, reduction factor 4,
# avg_down_stride, layer4 stride 1 and dilation 2.
# contract_dilation=True: like the official ResNeSt layer construction, the
# first block of the dilation-2 layer4 uses dilation 1 and the other blocks
# dilation 2 [code: official ResNeSt `_make_layer`].
# Weights: the official ResNeSt ImageNet weights converted by OpenMMLab.
# Usage: see resnet50_os16.py.
backbone = dict(
    type='ResNeSt',
    depth=50,
    stem_channels=64,
    radix=2,
    reduction_factor=4,
    avg_down_stride=True,
    in_channels=3,
    num_stages=4,
    strides=(1, 2, 2, 1),
    dilations=(1, 1, 1, 2),
    contract_dilation=True,
    out_indices=(0, 1, 2, 3),
    style='pytorch',
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnest50'))
backbone_channels = 2048  # channels of the last output (stride 16)
backbone_stride = 16
