# Decoder swap by config: SegFormer (mmseg MixVisionTransformer MiT-B2 +
# SegformerHead; pure PyTorch, works with mmcv-lite) on the pseudo labels,
# data / schedule length / test as
# deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py.
# Optimiser [inferred]: the transformer needs AdamW (mmseg's SegFormer
# recipe: lr 6e-5, wd 0.01, head lr x10, no decay on biases); the
# WSSSOptimWrapperConstructor groups give head x10, biases without decay.
# MiT-B2 ImageNet weights converted by OpenMMLab. Not run here.
_base_ = ['./deeplabv3plus_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py']
optim_preset = 'adamw'
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2_20220624-66e8bf70.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[3, 4, 6, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(
        _delete_=True,
        type='SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=_base_.head_norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
            avg_non_ignore=True)))
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=6e-5,
        betas=(0.9, 0.999),
        weight_decay=0.01),
    paramwise_cfg=dict(
        new_lr_mult=10.0, bias_lr_mult=1.0, bias_decay_mult=0.0))
