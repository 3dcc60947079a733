# ResNet-101 (torchvision weights, 7x7 stem) at output stride 16: layer4 has
# stride 1 and NO dilation. Same layout as the official ResNet-50 CAM backbone
# (resnet50_os16.py) with depth 101 [inferred].
# Not ResNetV1c: that has a deep stem and different weights.
# Trainable BN (as the Puzzle-CAM classifier); use
# norm_eval=True for "FixedBatchNorm" and requires_grad=False for frozen BN.
# Usage in a method config:
#   _base_ = ['../_base_/models/backbones/resnet101_os16.py', ...]
#   model = dict(backbone=_base_.backbone,
#                cam_head=dict(in_channels=_base_.backbone_channels))
backbone = dict(
    type='ResNet',
    depth=101,
    in_channels=3,
    num_stages=4,
    style='pytorch',
    strides=(1, 2, 2, 1),
    dilations=(1, 1, 1, 1),
    out_indices=(0, 1, 2, 3),
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    contract_dilation=False,
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101'))
backbone_channels = 2048  # channels of the last output (stride 16)
backbone_stride = 16
