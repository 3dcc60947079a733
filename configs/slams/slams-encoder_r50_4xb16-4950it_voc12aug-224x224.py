# SLAMs-like (reconstruction) stage 1, the semantic encoder, PASCAL VOC 2012
# aug (alias ../slams-encoder_r50_voc.py). Recipe [inferred, modelled on
# SemFormer's CAAE]: ResNet-50 OS32 (torchvision weights), 224 px
# RandomResizedCrop (0.25, 1), flip, colour jitter (0.3, 0.3, 0.3, 0.1),
# global batch 64 (4 x 16), 30 epochs of train_aug (10,582 / 64 = 165
# iterations per epoch -> 4,950), SGD momentum 0.9, lr 0.0025, wd 5e-4,
# groups 1x / 2x / 10x / 20x, poly 0.9.
#   bash tools/dist_train.sh configs/slams-encoder_r50_voc.py 4
# Not run here (no GPU, no VOC).
_base_ = [
    '../_base_/models/slams_encoder.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
crop_size = (224, 224)
max_iters = 4950
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
model = dict(data_preprocessor=dict(size=crop_size))
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
