# Segmentation stage of the CPU benchmark
# (benchmarks/pseudo_labels_camvid_things.py): DeepLabV3+ on
# EfficientNet-Lite0 (../_base_/models/deeplabv3plus_gn_effnet-lite0.py),
# trained on the camvid train pseudo labels
# (<repo>/work_dirs/pipeline_camvid/pseudo_labels), tested on camvid test GT
# with IoUMetric. [inferred] CPU-sized: 1 x batch 16, crop 176, 800
# iterations (~8.7 epochs; measured 1.6 s per iteration on 2 CPU cores,
# 1,341 s in all); 'momentum' preset (mu 0.9, lr 0.01, wd 1e-4, groups
# 1x/2x/10x/20x) like the CAM benchmark config.
# `tools/test.py --tta`: scales 0.75/1/1.25 x flip, logit sum, softmax-CRF.
_base_ = [
    '../_base_/models/deeplabv3plus_gn_effnet-lite0.py',
    '../_base_/datasets/camvid_things_pseudo.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 800
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=6))
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
