# CAM baseline (L_cls only), ResNeSt-50 OS16 (layer4 stride 1, dilation 2,
# open-mmlab://resnest50 weights), PASCAL VOC 2012 aug.
# Same recipe as cam_r50_4xb8-4950it_voc12aug-512x512.py: the Puzzle-CAM
# classifier recipe (official README: "every backbone uses the same
# hyper-parameters") with the 'official' optimiser preset (effective
# momentum 1e-4, nesterov, lr 0.1).
# No paper number exists for a ResNeSt-50 *baseline* CAM (the paper reports
# Puzzle-CAM ResNeSt-50: 57.59 CAM). Not run on this machine.
_base_ = [
    '../_base_/models/cam_classifier.py',
    '../_base_/models/backbones/resnest50_os16.py',
    '../_base_/datasets/voc12_aug_wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_poly_iters.py',
    '../_base_/schedules/wsss_official_sgd.py',
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels, num_classes=20))
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=330, max_keep_ckpts=2, save_last=True))
auto_scale_lr = dict(enable=False, base_batch_size=32)
