# Dilated ResNet-50 (torchvision weights) at output stride 8: layer3/layer4
# stride 1 with dilations 2/4 (an [inferred] option, e.g. RRM's ResNet
# alternative).
# contract_dilation=True: the first block of a dilated stage uses half the
# dilation (1 in layer3, 2 in layer4), like torchvision's
# replace_stride_with_dilation and MMSeg's dilated ResNets [inferred]; set it
# to False to dilate every block of the stage.
# Usage: see resnet50_os16.py.
backbone = dict(
    type='ResNet',
    depth=50,
    in_channels=3,
    num_stages=4,
    style='pytorch',
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    out_indices=(0, 1, 2, 3),
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    contract_dilation=True,
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
backbone_channels = 2048  # channels of the last output (stride 8)
backbone_stride = 8
