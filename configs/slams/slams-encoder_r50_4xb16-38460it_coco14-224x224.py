# SLAMs-like (reconstruction) stage 1 on MS COCO 2014 (80 foreground
# classes, configs/_base_/datasets/coco14_wsss.py) [inferred]: the VOC
# recipe (./slams-encoder_r50_4xb16-4950it_voc12aug-224x224.py) for 30
# epochs of the 82,081 labelled train images at batch 64 (1,282 iterations
# per epoch -> 38,460). Not run here (no GPU, no COCO).
_base_ = [
    '../_base_/models/slams_encoder.py',
    '../_base_/datasets/coco14_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
crop_size = (224, 224)
max_iters = 38460
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=crop_size[0],
        crop_ratio_range=(0.25, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='mmpretrain.ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(size=crop_size), head=dict(num_classes=80))
log_processor = dict(
    type='TaggedLogProcessor', tags=dict(method_status=_base_.method_status))
optim_wrapper = dict(
    optimizer=dict(
        lr=0.0025, momentum=0.9, weight_decay=5e-4, nesterov=False))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_iters + 1,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_hooks = []
