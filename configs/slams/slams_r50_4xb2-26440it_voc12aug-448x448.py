# SLAMs-like (reconstruction) stage 2, PASCAL VOC 2012 aug (alias
# ../slams_r50_voc.py). Recipe [inferred, modelled on SemFormer's
# segmentor]: DeepLabV3+ (ResNet-50 OS16 + DepthwiseSeparableASPPHead 256 /
# c1 48) with the cosine semantic-conditioned head, the frozen stage-1
# encoder at 224 px; long side U[224, 896], flip, colour jitter, crop 448;
# global batch 8 (4 x 2), 20 epochs (10,582 / 8 = 1,322 iterations per
# epoch -> 26,440); SGD momentum 0.9, lr 5e-4, wd 5e-4, groups 1x / 2x /
# 10x / 20x (the head, phi, s and b count as new), poly 0.9.
#   bash tools/dist_train.sh configs/slams-encoder_r50_voc.py 4   # stage 1
#   bash tools/dist_train.sh configs/slams_r50_voc.py 4
# Activation maps (CAM format, multi-scale 0.5/1/1.5/2 x flip) of VOC train
# and their sweep 0.05-0.95:
#   python tools/test.py configs/slams/\
# slams_r50_4xb2-26440it_voc12aug-448x448_cams.py CKPT
#   python tools/cam/eval_cams.py configs/slams_r50_voc.py --dataset val \
#       --cam-dir work_dirs/export/slams_cams_voc_train --thr-end 0.95
# Not run here (no GPU, no VOC). SLAMs' own claims (about 71 mIoU on VOC val
# after the segmentation stage) are the paper's and unverified; this is not
# SLAMs.
_base_ = [
    '../_base_/models/slams.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
crop_size = (448, 448)
max_iters = 26440
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
    encoder_checkpoint='work_dirs/slams-encoder_r50_4xb16-4950it_'
    'voc12aug-224x224/iter_4950.pth')
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
