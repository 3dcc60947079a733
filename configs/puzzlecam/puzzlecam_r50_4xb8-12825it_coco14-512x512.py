# Puzzle-CAM, ResNet-50 OS16 (torchvision weights), MS COCO 2014 (80
# foreground classes; configs/_base_/datasets/coco14_wsss.py).
# The paper gives no COCO Puzzle-CAM schedule. [inferred]: the VOC recipe
# (batch 32 = 4 x 8, crop 512, long side U[320, 640] + flip, poly 0.9,
# lr 0.1, wd 1e-4, groups 1x/2x/10x/20x, 'official' optimiser preset =
# effective momentum 1e-4 + nesterov, alpha ramp to 4 over the first half)
# for 5 epochs: floor(82,081 / 32) = 2,565 iterations x 5 = 12,825 (same
# reading as configs/cam/cam_r50_4xb8-12825it_coco14-512x512.py).
# Not run on this machine.
_base_ = [
    '../_base_/models/puzzle_cam.py',
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
    backbone_stride=_base_.backbone_stride,
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
custom_hooks = [
    dict(type='CAMVisualizationHook', max_samples=4),
    dict(
        type='PuzzleAlphaHook',
        alpha_max=_base_.alpha_max,
        alpha_ramp=_base_.alpha_ramp),
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
