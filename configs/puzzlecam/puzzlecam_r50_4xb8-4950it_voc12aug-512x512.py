# Puzzle-CAM, ResNet-50 OS16 (torchvision weights), PASCAL VOC 2012 aug: the
# paper recipe [code]: global batch 32 = 4 GPUs x 8 (BN
# statistics per GPU; the tile pass sees 32 tiles per GPU), 15 epochs x 330
# = 4,950 iterations, crop 512 (a multiple of 2 x 16: strict size mode),
# long side U[320, 640] + flip, poly 0.9 per iteration, lr 0.1, wd 1e-4,
# groups 1x/2x/10x/20x; L_cls + L_pcl + alpha_t * L_re with alpha ramped
# linearly to 4 over the first half of the iterations.
# OPTIMISER PRESET 'official': the official EFFECTIVE optimiser, SGD with
# momentum 1e-4 (= the weight decay, PolyOptimizer quirk)
# and nesterov=True. Variant: the *_momentum.py config (unverified).
# Reference: VOC train CAM mIoU 51.53 (paper Tables 1-2). Not run on this
# machine.
_base_ = [
    '../_base_/models/puzzle_cam.py',
    '../_base_/models/backbones/resnet50_os16.py',
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
