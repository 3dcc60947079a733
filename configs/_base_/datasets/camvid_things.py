# camvid_things (CamVid tiles, 5 thing classes, 240x180) in the mmwsss folder
# layout. Point data_root at your copy (research-use licence: not shipped).
dataset_type = 'WSSSFolderDataset'
data_root = '../shared/data/camvid_things'
crop_size = (176, 176)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomResize',
        scale=(240, 180),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomContainerCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
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
        pipeline=test_pipeline))
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='CAMSweepMetric', prefix='cam'),
]
test_evaluator = val_evaluator
