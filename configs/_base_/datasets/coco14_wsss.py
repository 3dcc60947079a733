# MS COCO 2014 for WSSS (81 classes: background + 80 categories), in the
# mmwsss folder layout written by tools/dataset_converters/coco2014.py:
#   python tools/dataset_converters/coco2014.py data/coco2014 \
#       data/coco2014_wsss --workers 8
# which gives images/, masks/ (0 bg, 1..80, 255 ignore), classes.txt,
# labels.json and splits/train.txt (= train2014, 82,081 images) /
# splits/val.txt (= val2014, 40,137 images).
#
# - train: `train` (train2014), image labels from labels.json only
#   [paper: RS+EPM trains on COCO train].
# - val: `val` (val2014) with GT masks and GT image labels: CAM quality
#   monitoring (IoUMetric + CAMSweepMetric 0.05..0.75) [inferred: the papers
#   give no COCO CAM-evaluation split; evaluate pseudo labels on `train`
#   with tools/cam/eval_cams.py --dataset train ... if needed].
# - test: `val` with label_source='none' (present classes predicted,
#   sigmoid >= model.test_cfg.conf_th [inferred]).
# Augmentation: the VOC / Puzzle-CAM recipe (long side U[320, 640] bicubic,
# flip, 512 container crop; voc12_aug_wsss.py) [inferred for COCO].
# Method configs must set model.data_preprocessor.size = crop_size.
dataset_type = 'COCOWSSSDataset'
data_root = 'data/coco2014_wsss'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomChoiceResize',
        scales=[(s, s) for s in range(320, 641)],
        resize_type='Resize',
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomContainerCrop', crop_size=crop_size),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        with_masks=False,
        label_source='json',
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
        label_source='json',
        pipeline=test_pipeline))
test_dataloader = dict(
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
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(
        type='CAMSweepMetric',
        thr_start=0.05,
        thr_end=0.75,
        thr_step=0.05,
        prefix='cam'),
]
test_evaluator = val_evaluator
