# EfficientNet-Lite0 at output stride 8: efficientnet_lite0.py with the last
# two stride-2 stages (layer4, layer6) at stride 1 without dilation
# (`EfficientNetLite(output_stride=8)`); outputs at strides 4, 8, 8, 8 and
# the 1280-ch head conv at stride 8. Weights and normalisation as in
# efficientnet_lite0.py (the strides do not change the parameters, so the
# ImageNet weights load unchanged). A CAM at stride 8 has 4x the cells of
# the stride-16 one and costs ~3x the CPU time of a training step
# (camvid, crop 176: 3.5-3.7 vs 1.06-1.15 s per iteration of batch 16).
_base_ = ['./efficientnet_lite0.py']
backbone = dict(output_stride=8)
backbone_stride = 8
