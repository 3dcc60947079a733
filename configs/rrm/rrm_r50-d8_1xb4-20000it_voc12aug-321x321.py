# RRM one-step, ResNet-50 (MMSeg ResNetV1c, open-mmlab ImageNet weights) at
# output stride 8 with every BN frozen, PASCAL VOC 2012 aug [inferred: the
# ResNet alternative to WideResNet-38; no RRM number exists for it]. F has
# 2048 channels; everything else is the WR38 recipe of
# ./rrm_wr38_1xb4-20000it_voc12aug-321x321.py (official preset), except the
# initialisation: ImageNet weights (`load_from` off), since no ResNet VOC
# classifier of ours is assumed. The backbone is the snippet
# ../_base_/models/backbones/resnetv1c50_os8_frozen.py.
_base_ = ['./rrm_wr38_1xb4-20000it_voc12aug-321x321.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=50,
        in_channels=3,
        num_stages=4,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    cam_head=dict(in_channels=2048),
    decode_head=dict(in_channels=2048))
load_from = None
