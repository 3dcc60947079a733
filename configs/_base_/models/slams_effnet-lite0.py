# SLAMs-like (reconstruction) stage 2 on EfficientNet-Lite0 for the CPU
# configs [inferred: CPU-sized]: the network of the RS+EPM CPU configs
# (OS16, DeepLabV3+ head with 128 channels on the head conv, ASPP rates
# 1/3/6/9, low level = the stride-4 output) and the stage-1 encoder of
# ./slams_encoder_effnet-lite0.py (OS32, weights from its checkpoint).
# Method configs set the class counts, encoder_input and
# encoder_checkpoint.
_base_ = ['./slams.py', './backbones/efficientnet_lite0.py']
encoder = dict(
    type='SemanticEncoder',
    data_preprocessor=None,
    backbone=dict(_base_.backbone, output_stride=32, init_cfg=None),
    head=dict(
        type='SemanticEmbeddingHead',
        in_channels=1280,
        num_classes=20,
        embed_dim=256,
        sem_pool='mean'),
    sem_recon=False,
    recon_in_channels=[24, 40, 112, 320, 1280])
model = dict(
    backbone=dict(_base_.backbone, _delete_=True),
    decode_head=dict(
        in_channels=1280,
        in_index=4,
        channels=128,
        dilations=(1, 3, 6, 9),
        c1_in_channels=24,
        c1_channels=48),
    encoder=dict(encoder, _delete_=True))
