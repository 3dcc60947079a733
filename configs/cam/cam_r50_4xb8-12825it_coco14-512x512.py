# CAM baseline (L_cls only), ResNet-50 OS16 (torchvision weights), MS COCO
# 2014 (80 foreground classes), folder layout of
# tools/dataset_converters/coco2014.py (configs/_base_/datasets/
# coco14_wsss.py).
# The papers give NO COCO CAM schedule. [inferred]: the VOC / Puzzle-CAM
# classifier recipe (batch 32 = 4 x 8, crop 512, long side U[320, 640] +
# flip, poly 0.9, lr 0.1, wd 1e-4, groups 1x/2x/10x/20x, 'official'
# optimiser preset = effective momentum 1e-4 + nesterov)
# for 5 epochs: floor(82,081 / 32) = 2,565 iterations per epoch x 5 =
# 12,825 iterations. For another reading change max_iters, the PolyLR `end`
# (= max_iters + 1) and the checkpoint interval together
# (schedule_poly_iters.py).
# Not run on this machine.
_base_ = [
    '../_base_/models/cam_classifier.py',
    '../_base_/models/backbones/resnet50_os16.py',
    '../_base_/datasets/coco14_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
max_iters = 12825  # [inferred] 5 epochs x 2,565
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=80))
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=1e-4, weight_decay=1e-4, nesterov=True))
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
    checkpoint=dict(interval=2565, max_keep_ckpts=2, save_last=True))
auto_scale_lr = dict(enable=False, base_batch_size=32)
