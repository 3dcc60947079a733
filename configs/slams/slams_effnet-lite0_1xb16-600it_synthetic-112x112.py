# SLAMs-like (reconstruction) stage 2 on the built-in synthetic set (4
# classes): the CPU test / demo config [inferred: CPU-sized], with the
# budget of ../cam/cam_effnet-lite0_1xb16-600it_synthetic-112x112.py
# (EfficientNet-Lite0 OS16, crop 112, batch 16, 600 iterations, momentum
# preset). The encoder sees 112 x 112 (encoder_input).
# Stage 1 first:
#   python tools/train.py \
#     configs/slams/slams-encoder_effnet-lite0_1xb16-300it_synthetic-112x112.py
# (its last checkpoint is `model.encoder_checkpoint` below).
_base_ = [
    '../_base_/models/slams_effnet-lite0.py',
    '../_base_/datasets/synthetic_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 600
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    act_head=dict(num_classes=4, encoder_input=112),
    encoder=dict(head=dict(num_classes=4)),
    encoder_checkpoint='work_dirs/'
    'slams-encoder_effnet-lite0_1xb16-300it_synthetic-112x112/iter_300.pth')
log_processor = dict(
    type='TaggedLogProcessor', tags=dict(method_status=_base_.method_status))
optim_wrapper = dict(optimizer=dict(lr=0.01))
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
