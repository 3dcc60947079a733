# SLAMs-like (reconstruction) stage 2 on MS COCO 2014 (80 foreground
# classes) [inferred]: the VOC recipe
# (./slams_r50_4xb2-26440it_voc12aug-448x448.py) for 20 epochs of the
# 82,081 labelled train images at batch 8 (10,260 iterations per epoch ->
# 205,200). Not run here (no GPU, no COCO).
#   bash tools/dist_train.sh \
#     configs/slams/slams-encoder_r50_4xb16-38460it_coco14-224x224.py 4
#   bash tools/dist_train.sh \
#     configs/slams/slams_r50_4xb2-205200it_coco14-448x448.py 4
_base_ = [
    '../_base_/models/slams.py',
    '../_base_/datasets/coco14_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
crop_size = (448, 448)
max_iters = 205200
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomChoiceResize',
        scales=[(s, s) for s in range(224, 897)],
        resize_type='Resize',
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='mmpretrain.ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    dict(type='RandomContainerCrop', crop_size=crop_size),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(size=crop_size),
    act_head=dict(num_classes=80),
    encoder=dict(head=dict(num_classes=80)),
    encoder_checkpoint='work_dirs/slams-encoder_r50_4xb16-38460it_'
    'coco14-224x224/iter_38460.pth')
log_processor = dict(
    type='TaggedLogProcessor', tags=dict(method_status=_base_.method_status))
optim_wrapper = dict(
    optimizer=dict(lr=5e-4, momentum=0.9, weight_decay=5e-4, nesterov=False))
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
default_hooks = dict(checkpoint=dict(interval=max_iters // 4))
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(
        type='CAMSweepMetric',
        thr_start=0.05,
        thr_end=0.95,
        thr_step=0.05,
        prefix='cam'),
]
test_evaluator = val_evaluator
