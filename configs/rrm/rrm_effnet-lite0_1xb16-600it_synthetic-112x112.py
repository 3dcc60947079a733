# RRM one-step on the built-in synthetic set (4 classes): the CPU test /
# demo config, with the budget of ../cam/cam_effnet-lite0_1xb16-600it_
# synthetic-112x112.py (EfficientNet-Lite0 OS16, crop 112, batch 16, 600
# iterations, momentum preset) + the RRM branch (dilation 1 on the 7 x 7
# map), mining (2 CRF processes) and losses [inferred].
_base_ = [
    '../_base_/models/rrm.py',
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
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=4),
    decode_head=dict(
        in_channels=_base_.backbone_channels,
        channels=128,
        dilation=1,
        num_classes=5),
    mining=dict(crf_workers=2))
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
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CAMSweepMetric', mode='png', prefix='seg'),
]
test_evaluator = val_evaluator
