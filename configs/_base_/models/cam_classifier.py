# CAM classifier: backbone + CAM head (1x1 conv, no bias, GAP, MLSM loss).
# Method configs fill `backbone` (from configs/_base_/models/backbones/) and
# `cam_head.in_channels` / `num_classes`.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(),  # filled by the method config
    cam_head=dict(
        type='CAMHead',
        in_channels=2048,
        num_classes=20,
        init_std_mode='kaiming',
        loss_cls=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0)),
    # predict(): CAM-based segmentation for tools/test.py + IoUMetric
    test_cfg=dict(
        bg_threshold=0.15, use_gt_labels=True, conf_th=0.5, flip=False,
        with_cam=True))
