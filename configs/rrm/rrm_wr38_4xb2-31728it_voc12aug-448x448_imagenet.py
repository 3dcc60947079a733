# RRM one-step, WideResNet-38, VOC 2012 aug, trained from ImageNet weights
# (the official "from init" script) [code]:
# - ImageNet WR38 converted from MXNet (ilsvrc-cls_rna-a1) by
#   tools/model_converters/wr38_mxnet_to_mmwsss.py into
#   pretrain/wr38_ilsvrc-cls_rna-a1.pth (model.backbone.init_cfg);
# - 4 GPUs, global batch 8 (2 per GPU), 24 epochs = 24 x floor(10582 / 8)
#   = 31,728 iterations;
# - augmentation: long side U[256, 512], hflip, colour jitter (0.3, 0.3,
#   0.3, 0.1), container crop 448;
# - optimiser 'official': lr 0.01, wd 5e-4, momentum = wd (the quirk),
#   nesterov False, groups 1x / 2x / 10x / 20x;
# - first half (15,864 iterations): L_cls only, poly from lr 0.01; second
#   half: joint losses, lr restarted at 7e-4 x poly for *every* group (the
#   official hard-coded value: RRMScheduleHook.second_half_lr, set it to
#   None to keep the multipliers) [code];
# - energy at the official scale (normalize='none', weight 5.8e-8).
_base_ = ['./rrm_wr38_1xb4-20000it_voc12aug-321x321.py']
crop_size = (448, 448)
iters_per_epoch = 1322  # floor(10582 / 8)
max_iters = 24 * iters_per_epoch  # 31,728
joint_start_iter = max_iters // 2
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomChoiceResize',
        scales=[(s, s) for s in range(256, 513)],
        resize_type='Resize',
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='mmpretrain.ColorJitter',
        brightness=0.3,
        contrast=0.3,
        saturation=0.3,
        hue=0.1),
    dict(type='RandomContainerCrop', crop_size=crop_size),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='pretrain/wr38_ilsvrc-cls_rna-a1.pth')))
load_from = None
optim_wrapper = dict(
    optimizer=dict(lr=0.01, momentum=5e-4, weight_decay=5e-4,
                   nesterov=False))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=joint_start_iter + 1,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=iters_per_epoch * 4))
custom_hooks = [
    dict(
        type='RRMScheduleHook',
        joint_start_iter=joint_start_iter,
        second_half_lr=7e-4,
        power=0.9)
]
