# RRM one-step, WideResNet-38 OS8, PASCAL VOC 2012 aug: the official
# recipe initialised from a VOC image-label WR38 classifier [code].
# Model keys and their tags: ../_base_/models/rrm.py.
#
# Recipe [code] (paper: scale 0.7-1.3, flip, crop 321):
# - 1 GPU x batch 4, crop 321 (RandomContainerCrop pads with the mean
#   colour and adds the ROI `valid`), scale U(0.7, 1.3) of the image's own
#   size (bilinear; drawn per image here, per batch in the official loader
#   [inferred]), hflip 0.5, ImageNet normalisation;
# - 20,000 iterations, poly 0.9 per iteration;
# - optimiser preset 'official': the official PolyOptimizer passes the
#   weight decay as SGD's momentum, so momentum = wd = 1e-5, lr 7e-4,
#   nesterov False; groups 1x / 2x / 10x / 20x (backbone w / b, new w / b;
#   new = fc8 and the segmentation convolutions), frozen BN / conv1a not
#   optimised. With it the energy at the official scale:
#   normalize='none', weight 5.8e-8 (= 1e-7 x 0.58, the measured bias of
#   the official permutohedral filter against the exact Gaussian).
#   The 'momentum' preset (mu 0.9, lr 7e-5, normalised energy) is the
#   *_momentum.py config [inferred].
# - init: the WR38 CAM classifier of
#   ../cam/cam_wr38_4xb8-4950it_voc12aug-512x512.py (`load_from`, every key
#   of the classifier; the segmentation branch starts from Xavier).
# Test [code]: single scale, softmax of Sg, argmax; add
#   --cfg-options model.test_cfg.crf=rrm_test (a DenseCRF preset) for the
#   paper's "with CRF" numbers. val = VOC `train` (1,464 masks), test = VOC
#   `val`; IoUMetric + FP/FN of pred_sem_seg.
# Paper: VOC val 62.6 / test 62.9 (one step, with CRF). Not run here (no
# GPU, no VOC).
#   bash tools/dist_train.sh configs/rrm_wr38_voc.py 1   (batch 4 per GPU)
_base_ = [
    '../_base_/models/rrm.py',
    '../_base_/models/backbones/wide_resnet38.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
crop_size = (321, 321)
max_iters = 20000
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
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=20),
    decode_head=dict(
        in_channels=_base_.backbone_channels,
        num_classes=21,
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
default_hooks = dict(checkpoint=dict(interval=max_iters))
load_from = ('work_dirs/cam_wr38_4xb8-4950it_voc12aug-512x512/'
             'iter_4950.pth')
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CAMSweepMetric', mode='png', prefix='seg'),
]
test_evaluator = val_evaluator
