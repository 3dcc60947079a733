# Decoder swap by config: DeepLabV3 (mmseg ASPPHead: 1x1 + 3x3 rates
# 6/12/18 + image pooling, no low-level decoder) on the same R101 OS16
# backbone, pseudo labels, recipe and test as
# deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py
# [inferred]. Not run here.
_base_ = ['./deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=_base_.head_norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
            avg_non_ignore=True)))
