# Segmentation stage on pseudo labels (Puzzle-CAM recipe): DeepLabV3+
# with ResNet-101 (torchvision weights) at OS16 (layer4 stride 1, dilation
# 2), backbone BN statistics frozen ("fix" mode: norm_eval=True, affine
# trainable), GN(4) in the head (DepthwiseSeparableASPPHead, see
# configs/_base_/models/deeplabv3plus_gn.py for the approximations).
# The official Puzzle-CAM run uses ResNeSt-101 (the *_resnest101-d16_*
# config); ResNet-101 is the RS+EPM multi-stage backbone.
# Data: VOC train_aug with the pseudo-label PNGs of
# tools/pseudo_labels/export_pseudo_labels.py in data_root/pseudo_labels;
# validation on VOC val (GT) with IoUMetric.
# Recipe [code]: global batch 32 (= 4 GPUs x 8), 50 epochs = 50 x
# floor(10582 / 32) = 16,500 iterations (drop_last reading [inferred]),
# crop 512, long side U[256, 1024] + flip, poly 0.9 per iteration, lr 0.007,
# groups 1x / 2x / 10x / 20x, wd 4e-5, nesterov.
# OPTIMISER PRESET 'official': the PolyOptimizer quirk gives an effective
# momentum of 4e-5 (= wd). Variant *_momentum.py: mu 0.9,
# lr 7e-4 [inferred, unverified].
# Test [code]: `tools/test.py CONFIG CKPT --tta` = scales 0.5/1/1.5/2
# (bicubic) x flip, logits SUMMED then softmax, softmax-CRF (3/3, 80/13/10,
# 10 iterations), argmax (tta_model below). Plain `tools/test.py` is the
# single-scale test without CRF.
# Reported (Puzzle-CAM paper, Table 3, ResNeSt-101): val 66.9, test 67.7.
# Not run on this machine.
_base_ = [
    '../_base_/models/deeplabv3plus_gn.py',
    '../_base_/models/backbones/resnet101_os16.py',
    '../_base_/datasets/voc12_aug_pseudo.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
max_iters = 16500  # 50 epochs x floor(10582 / 32)
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(
        _base_.backbone,
        dilations=(1, 1, 1, 2),
        contract_dilation=True,
        norm_eval=True),
    decode_head=dict(num_classes=21))
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.007, momentum=4e-5, weight_decay=4e-5,
        nesterov=True))
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
    logger=dict(interval=50),
    checkpoint=dict(interval=1650, max_keep_ckpts=2, save_last=True))
custom_hooks = []
# official test-time merge + softmax-CRF post-processing (tools/test.py --tta)
tta_model = dict(
    type='WSSSSegTTAModel',
    merge='logit_sum',
    crf=dict(type='DenseCRF', preset='softmax'))
auto_scale_lr = dict(enable=False, base_batch_size=32)
