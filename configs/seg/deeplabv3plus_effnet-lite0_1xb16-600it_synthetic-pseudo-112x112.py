# Segmentation stage of the synthetic demo pipeline (docs/pipeline.md):
# DeepLabV3+ on EfficientNet-Lite0
# (../_base_/models/deeplabv3plus_gn_effnet-lite0.py) trained on the
# synthetic train pseudo labels
# (<repo>/work_dirs/pipeline_synthetic/pseudo_labels), tested on the
# synthetic test GT. 600 iterations x batch 16, crop 112, 'momentum' preset.
_base_ = [
    '../_base_/models/deeplabv3plus_gn_effnet-lite0.py',
    '../_base_/datasets/synthetic_pseudo.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 600
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=5))
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
