# Segmentation stage with the official Puzzle-CAM backbone [code]:
# DeepLabV3+ ResNeSt-101 OS16 (layer4 stride 1, dilation 2,
# open-mmlab://resnest101 weights), frozen BN statistics, GN(4) head; recipe
# and test as the R101 config
# (deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py).
# Reported (Puzzle-CAM paper, Table 3): val 66.9, test 67.7. Not run here.
_base_ = ['./deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py']
backbone = dict(
    type='ResNeSt',
    depth=101,
    stem_channels=128,
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
    norm_eval=True,
    init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnest101'))
model = dict(backbone=dict(_delete_=True, **backbone))
