# Boundary network ("AffinityNet" of Puzzle-CAM; IRN class-boundary branch)
# on PASCAL VOC 2012 aug with the affinity labels
# of tools/pseudo_labels/make_affinity_labels.py (data_root/aff_labels).
# Backbone: ResNet-50 OS16 (layer4 stride 1, no dilation), torchvision
# ImageNet weights (NOT the CAM classifier), fully frozen (eval mode,
# detached outputs); only the edge head is trained [code].
# Recipe [code]: train_aug, global batch 32 (= 4 GPUs x 8), 3 epochs =
# 3 x floor(10582 / 32) = 990 iterations, crop 512, long side U[320, 640] +
# flip, poly 0.9 per iteration, ONE parameter group (the edge head) with
# lr 0.1 and wd 1e-4 on all its parameters, nesterov.
# OPTIMISER PRESET 'official': the official PolyOptimizer momentum quirk
# gives an effective momentum of 1e-4 (= wd). Variant:
# *_momentum.py (mu 0.9, lr 0.01) [inferred].
# Random-walk parameters used by tools/pseudo_labels/random_walk.py:
# model.test_cfg (radius 5, beta 10, exp_times 8; edge padding 512 + flip).
# Not run on this machine.
_base_ = [
    '../_base_/models/boundary_net.py',
    '../_base_/models/backbones/resnet50_os16.py',
    '../_base_/datasets/voc12_aug_affinity.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
max_iters = 990  # 3 epochs x floor(10582 / 32) [code]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    # frozen BN statistics ("FixedBatchNorm"); the whole backbone is frozen
    backbone=dict(_base_.backbone, norm_eval=True))
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=1e-4, weight_decay=1e-4, nesterov=True),
    paramwise_cfg=dict(single_group=True))
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
test_cfg = None
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=330, max_keep_ckpts=2, save_last=True))
custom_hooks = []
auto_scale_lr = dict(enable=False, base_batch_size=32)
