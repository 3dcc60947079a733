# OPTIONAL: Puzzle-CAM, ResNeSt-269 OS16 through MMPretrain
# (../_base_/models/backbones/resnest269_mmpretrain.py: `mmpretrain.ResNeSt`,
# deep stem 128, layer4 stride 1 / dilation 2), PASCAL VOC 2012 aug, the
# recipe and 'official' optimiser preset of
# puzzlecam_r50_4xb8-4950it_voc12aug-512x512.py.
# WEIGHTS: there are no OpenMMLab ResNeSt-269 weights. Convert the official
# ResNeSt-269 ImageNet weights to MMPretrain key names and pass them with
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=<converted .pth>
# (without them the backbone starts from random weights: not the paper run).
# Differences to the official layout: MMPretrain's ResNeSt has no
# contract_dilation (every layer4 block uses dilation 2).
# Memory: batch 32 with two forwards needs several large GPUs; AMP is
# allowed [inferred]: add
#   --cfg-options optim_wrapper.type=AmpOptimWrapper \
#       optim_wrapper.dtype=bfloat16
# (AmpOptimWrapper needs a GPU in MMEngine 0.10). Gradient accumulation
# changes the BN statistics and is NOT equivalent.
# Reference: VOC train CAM mIoU 62.45 (paper Table 2). Not run on this
# machine.
_base_ = [
    '../_base_/models/puzzle_cam.py',
    '../_base_/models/backbones/resnest269_mmpretrain.py',
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
