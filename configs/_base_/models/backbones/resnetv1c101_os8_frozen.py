# RRM's ResNet alternative [inferred]: MMSeg ResNetV1c-101
# (open-mmlab weights) at output stride 8, strides (1, 2, 1, 1) and
# dilations (1, 1, 2, 4) (contract_dilation: the first block of a dilated
# stage uses half the dilation, as MMSeg's d8 models). Every BN frozen:
# norm_eval=True (eval mode, running statistics kept) and
# requires_grad=False. F is the 2048-channel last output, so the
# segmentation branch input becomes 2048 channels; everything else is as
# with WideResNet-38. No RRM number exists for this variant.
# Usage: see resnet50_os16.py; with ../rrm.py
#   model = dict(backbone=_base_.backbone,
#                cam_head=dict(in_channels=_base_.backbone_channels, ...),
#                decode_head=dict(in_channels=_base_.backbone_channels, ...))
backbone = dict(
    type='ResNetV1c',
    depth=101,
    in_channels=3,
    num_stages=4,
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    out_indices=(0, 1, 2, 3),
    norm_cfg=dict(type='BN', requires_grad=False),
    norm_eval=True,
    style='pytorch',
    contract_dilation=True,
    init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet101_v1c'))
backbone_channels = 2048  # channels of F (the last output, stride 8)
backbone_stride = 8
