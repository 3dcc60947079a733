# RRM one-step, WideResNet-38 OS8, COCO 2014 (80 classes) [inferred: the
# paper reports no COCO number; the VOC recipe with the COCO data, 81-class
# segmentation branch, and 100,000 iterations (about 5 epochs of the 82,783
# train2014 images at batch 4)]. Initialisation: set `load_from` to a COCO
# WR38 CAM classifier (the COCO CAM recipe of
# ../cam/cam_r50_4xb8-12825it_coco14-512x512.py with the WR38 backbone, as
# ../cam/cam_wr38_4xb8-4950it_voc12aug-512x512.py does for VOC); None:
# Kaiming init.
_base_ = [
    '../_base_/models/rrm.py',
    '../_base_/models/backbones/wide_resnet38.py',
    '../_base_/datasets/coco14_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
crop_size = (321, 321)
max_iters = 100000
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.7, 1.3)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomContainerCrop', crop_size=crop_size),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=80),
    decode_head=dict(
        in_channels=_base_.backbone_channels,
        num_classes=81,
        loss_decode=[
            dict(type='BgFgCrossEntropyLoss', loss_weight=1.0),
            dict(
                type='DenseEnergyLoss',
                normalize='none',
                loss_weight=5.8e-8,
                energy_scale=0.5,
                sigma_xy=100.0,
                sigma_rgb=15.0,
                include_self=None,
                grad_mode='autograd'),
        ]))
optim_wrapper = dict(
    optimizer=dict(lr=7e-4, momentum=1e-5, weight_decay=1e-5,
                   nesterov=False))
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
default_hooks = dict(checkpoint=dict(interval=10000, max_keep_ckpts=2))
load_from = None
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CAMSweepMetric', mode='png', prefix='seg'),
]
test_evaluator = val_evaluator
