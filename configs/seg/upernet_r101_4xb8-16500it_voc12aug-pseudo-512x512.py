# Decoder swap by config: UPerNet (mmseg UPerHead, PPM + FPN over the four
# ResNet stages) with ResNet-101 at the usual output stride 32 (torchvision
# weights, frozen BN statistics), GN(4) head; pseudo labels, recipe and
# test as deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py
# [inferred]. Not run here.
_base_ = ['./deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py']
model = dict(
    backbone=dict(strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1)),
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[256, 512, 1024, 2048],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=_base_.head_norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
            avg_non_ignore=True)))
