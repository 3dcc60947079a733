# WideResNet-38 (mmwsss `WideResNet38`, pre-activation units) at output
# stride 8: b5 dilation 2, b6 / b7 bottlenecks dilation 4 with Dropout2d
# 0.3 / 0.5 (active in train mode), bn7 -> F with 4096 channels [code].
# Every BN is frozen (eval mode, gamma / beta without gradient, also after
# model.train()) and conv1a is frozen [code].
# Weights (none work offline, so init_cfg is None = Kaiming init):
#   - recommended: our WR38 CAM classifier,
#     configs/cam/cam_wr38_4xb8-4950it_voc12aug-512x512.py, loaded by the
#     method config (`load_from`);
#   - ImageNet: the MXNet `ilsvrc-cls_rna-a1` parameters converted by
#     tools/model_converters/wr38_mxnet_to_mmwsss.py, then
#     init_cfg=dict(type='Pretrained', checkpoint=<converted .pth>).
# Usage: see resnet50_os16.py.
backbone = dict(
    type='WideResNet38',
    out_indices=(6, ),
    frozen_bn=True,
    frozen_stem=True,
    drop_rates=(0.3, 0.5),
    norm_cfg=dict(type='BN'),
    init_cfg=None)
backbone_channels = 4096  # channels of F (stride 8)
backbone_stride = 8
