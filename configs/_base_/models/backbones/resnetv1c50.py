# MMSeg's ResNetV1c-50 (3x conv3x3 deep stem, open-mmlab weights) at output
# stride 8 with dilations (1, 1, 2, 4): the backbone of MMSeg's own DeepLabV3+
# configs, offered for the segmentation stage trained on pseudo labels
# [inferred]. It is NOT the official WSSS CAM backbone (that is the
# torchvision ResNet-50 of resnet50_os16.py).
# Usage: see resnet50_os16.py.
backbone = dict(
    type='ResNetV1c',
    depth=50,
    in_channels=3,
    num_stages=4,
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    out_indices=(0, 1, 2, 3),
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    style='pytorch',
    contract_dilation=True,
    init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c'))
backbone_channels = 2048  # channels of the last output (stride 8)
backbone_stride = 8
