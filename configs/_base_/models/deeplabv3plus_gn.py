# DeepLabV3+ for the segmentation stage trained on pseudo labels (MMSeg
# mapping of the Puzzle-CAM DeepLabV3+) [inferred]: EncoderDecoder +
# DepthwiseSeparableASPPHead (ASPP 1x1 + 3x3 rates 6/12/18 + image pooling,
# 2048 -> 256; decoder with the layer1 feature 256 -> 48), GN(4) in the
# head, bilinear upsampling with align_corners=True (Puzzle-CAM DeepLabV3+).
# Documented approximations of the official head: depthwise-separable 3x3
# convolutions, and mmseg's single Dropout(0.1) before the classifier instead
# of Dropout 0.5 after the ASPP bottleneck / first decoder conv.
# CE with ignore 255 at full resolution (mmseg resizes the logits to the
# label size). Method configs fill `backbone` (2048-ch last stage, 256-ch
# first stage) and `num_classes` (K + 1).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
head_norm_cfg = dict(type='GN', num_groups=4, requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(),  # filled by the method config
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=head_norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
