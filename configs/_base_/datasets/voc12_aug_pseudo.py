# PASCAL VOC 2012 aug with PSEUDO LABELS: the segmentation stage.
# - train: `train_aug` (10,582 images); masks = the pseudo-label PNGs of
#   tools/pseudo_labels/export_pseudo_labels.py in
#   data_root/<pseudo_label_dir>/<id>.png. No image labels
#   are needed (label_source='none').
# - val / test: VOC `val` (1,449 images) with the GT SegmentationClass masks;
#   IoUMetric (mIoU). The VOC `test` split has no public GT (server).
# Training augmentation [code]: long side U[256, 1024] (aspect
# kept; image bicubic with Pillow, label nearest), horizontal flip,
# normalisation (data_preprocessor), random 512 crop with the zero
# "container" (label padding 255; RandomContainerCrop).
# Test [code]: `tools/test.py --tta` runs scales 0.5/1/1.5/2
# (bicubic) x flip; the method config's `tta_model` merges the logits and
# runs the softmax-CRF (WSSSSegTTAModel).
dataset_type = 'VOCAugWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'
pseudo_label_dir = 'pseudo_labels'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=20),
    dict(
        type='RandomChoiceResize',
        scales=[(s, s) for s in range(256, 1025)],
        resize_type='Resize',
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomContainerCrop', crop_size=crop_size, seg_pad_val=255),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=20),
    dict(type='PackWSSSInputs'),
]
img_ratios = [0.5, 1.0, 1.5, 2.0]
tta_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale_factor=r,
                    keep_ratio=True,
                    interpolation='bicubic',
                    backend='pillow') for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadWSSSAnnotations', num_classes=20)],
            [dict(type='PackWSSSInputs')],
        ])
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train_aug',
        with_masks=True,
        mask_dir=pseudo_label_dir,
        label_source='none',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        with_masks=True,
        label_source='none',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
