# CAM classifier, WideResNet-38 OS8, PASCAL VOC 2012 aug: the VOC
# image-label WR38 that initialises RRM (../rrm/, `load_from`) [inferred:
# the official RRM starts from PSA's WR38 classifier, whose training code is
# not part of RRM; here the CAM recipe of
# cam_r50_4xb8-4950it_voc12aug-512x512.py with the RRM classification head:
# Dropout2d 0.5 before GAP, Xavier fc8].
# BN frozen and conv1a frozen as in RRM (../_base_/models/backbones/
# wide_resnet38.py). Starting weights: none offline (Kaiming init); set
# model.backbone.init_cfg to the converted ImageNet WR38
# (tools/model_converters/wr38_mxnet_to_mmwsss.py) for a real run.
_base_ = [
    '../_base_/models/cam_classifier.py',
    '../_base_/models/backbones/wide_resnet38.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    cam_head=dict(
        in_channels=_base_.backbone_channels,
        num_classes=20,
        dropout_ratio=0.5,
        init_std_mode='xavier'))
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=330, max_keep_ckpts=2, save_last=True))
auto_scale_lr = dict(enable=False, base_batch_size=32)
