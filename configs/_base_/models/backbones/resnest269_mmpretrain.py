# OPTIONAL: ResNeSt-269 at output stride 16 (official Puzzle-CAM backbone).
# MMSeg has no ResNeSt-269; this uses the MMPretrain architecture through the
# `mmpretrain.` registry scope (mmpretrain must be installed). There are NO
# OpenMMLab weights: `init_cfg` is None and the official ResNeSt-269 ImageNet
# weights must be converted to MMPretrain key names and passed as
# `init_cfg=dict(type='Pretrained', checkpoint=<converted .pth>)`
# [code] / [inferred].
# Difference to the official layout: MMPretrain's ResNet has no
# `contract_dilation`, so every layer4 block (also the first) uses dilation 2
# (official: first block dilation 1). Deep stem 128, radix 2, reduction 4,
# avg_down_stride, layer4 stride 1.
# Memory: batch 32 with two forwards (Puzzle-CAM) needs several large GPUs;
# AMP is allowed [inferred].
backbone = dict(
    type='mmpretrain.ResNeSt',
    depth=269,
    stem_channels=128,
    radix=2,
    reduction_factor=4,
    avg_down_stride=True,
    in_channels=3,
    num_stages=4,
    strides=(1, 2, 2, 1),
    dilations=(1, 1, 1, 2),
    out_indices=(0, 1, 2, 3),
    style='pytorch',
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    init_cfg=None)
backbone_channels = 2048  # channels of the last output (stride 16)
backbone_stride = 16
