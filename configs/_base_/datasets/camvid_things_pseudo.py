# camvid_things with PSEUDO LABELS (segmentation stage of the CPU benchmark,
# benchmarks/pseudo_labels_camvid_things.py).
# - train: `train` tiles; masks = pseudo-label PNGs of
#   tools/pseudo_labels/export_pseudo_labels.py in `pseudo_label_dir`
#   (default: <repo>/work_dirs/pipeline_camvid/pseudo_labels; the pseudo
#   labels must not be written into the shared, licensed dataset folder).
# - val / test: GT masks, IoUMetric; report `test` (val is one short clip).
# Augmentation like the CAM stage (camvid_things.py): random rescale
# 0.75..1.25 of 240x180, container crop 176 (label padding 255), flip.
dataset_type = 'WSSSFolderDataset'
data_root = '../shared/data/camvid_things'
pseudo_label_dir = '{{ fileDirname }}/../../../work_dirs/pipeline_camvid/pseudo_labels'  # noqa
crop_size = (176, 176)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=5),
    dict(
        type='RandomResize',
        scale=(240, 180),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomContainerCrop', crop_size=crop_size, seg_pad_val=255),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=5),
    dict(type='PackWSSSInputs'),
]
img_ratios = [0.75, 1.0, 1.25]
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
            [dict(type='LoadWSSSAnnotations', num_classes=5)],
            [dict(type='PackWSSSInputs')],
        ])
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        mask_dir=pseudo_label_dir,
        label_source='none',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        label_source='none',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        label_source='none',
        pipeline=test_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
