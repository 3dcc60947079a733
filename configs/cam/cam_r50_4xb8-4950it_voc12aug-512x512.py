# CAM baseline ("AffinityNet baseline CAM" of the Puzzle-CAM paper, Tables
# 1/2: L_cls only), ResNet-50 OS16 (torchvision weights), PASCAL VOC 2012 aug.
# Recipe = the Puzzle-CAM classifier recipe [code]: global batch 32 = 4 GPUs x
# 8 (BN statistics per GPU), 15 epochs x 330 iterations = 4,950 iterations,
# crop 512, long side U[320, 640] + flip, poly 0.9 per iteration, lr 0.1, wd
# 1e-4, parameter groups 1x / 2x / 10x / 20x.
# OPTIMISER PRESET 'official': reproduces the official EFFECTIVE optimiser,
# SGD with momentum 1e-4 (= the weight decay, PolyOptimizer quirk) and
# nesterov=True. The papers' numbers were produced with it.
# Variant with a conventional momentum 0.9 / lr 0.01: the *_momentum.py
# config next to this one (unverified).
# Reference: VOC train CAM mIoU 47.82 (Puzzle-CAM paper, Table 2,
# multi-scale x flip hr_cam, best threshold, no CRF). Not run on this machine.
_base_ = [
    '../_base_/models/cam_classifier.py',
    '../_base_/models/backbones/resnet50_os16.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=20))
# one (logged-only) evaluation on VOC train at the end; the last checkpoint
# is the result (selecting on the VOC train GT would leak pixel labels)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=330, max_keep_ckpts=2, save_last=True))
# lr 0.1 is for the global batch 32; with a different GPU count enable
# linear scaling (mmengine auto_scale_lr) or keep 4 GPUs x 8.
auto_scale_lr = dict(enable=False, base_batch_size=32)
