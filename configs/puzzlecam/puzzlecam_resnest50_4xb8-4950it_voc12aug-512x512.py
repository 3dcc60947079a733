# Puzzle-CAM, ResNeSt-50 OS16 (layer4 stride 1, dilation 2;
# open-mmlab://resnest50 weights), PASCAL VOC 2012 aug. "Every backbone
# uses the same hyper-parameters" (official README) [code]: the recipe and
# the 'official' optimiser preset of
# puzzlecam_r50_4xb8-4950it_voc12aug-512x512.py.
# Reference: VOC train CAM mIoU 57.59 (paper Table 2). Not run on this
# machine.
_base_ = [
    '../_base_/models/puzzle_cam.py',
    '../_base_/models/backbones/resnest50_os16.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    backbone_stride=_base_.backbone_stride,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=20))
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=330, max_keep_ckpts=2, save_last=True))
custom_hooks = [
    dict(type='CAMVisualizationHook', max_samples=4),
    dict(
        type='PuzzleAlphaHook',
        alpha_max=_base_.alpha_max,
        alpha_ramp=_base_.alpha_ramp),
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
