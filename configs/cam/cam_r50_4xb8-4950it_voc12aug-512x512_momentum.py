# CAM baseline, ResNet-50 OS16, VOC 2012 aug: OPTIMISER PRESET 'momentum'
# [inferred]: SGD momentum 0.9, nesterov, lr 0.01
# (= official lr 0.1 x 0.1, "effective-step matching"), otherwise identical
# to cam_r50_4xb8-4950it_voc12aug-512x512.py (batch 32 = 4 x 8, 4,950 iters,
# crop 512, groups 1x/2x/10x/20x, wd 1e-4).
# UNVERIFIED alternative: the papers' numbers come from the 'official'
# preset (effective momentum 1e-4); nothing here has been run on VOC.
_base_ = [
    '../_base_/models/cam_classifier.py',
    '../_base_/models/backbones/resnet50_os16.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 4950
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=20))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_iters + 1,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=330, max_keep_ckpts=2, save_last=True))
auto_scale_lr = dict(enable=False, base_batch_size=32)
