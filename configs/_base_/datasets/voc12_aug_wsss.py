# PASCAL VOC 2012 + SBD ("aug") for WSSS from image-level labels.
#
# - train: `train_aug` (10,582 images), image labels only (no masks read).
#   Labels from the XML annotations: every object incl. *difficult*, boxes
#   of zero area skipped [code: Puzzle-CAM]. Alternatives:
#   label_source='cls_file' (cls_labels.json / .npy) or 'mask'
#   (SegmentationClassAug, needs with_masks=True or the masks on disk).
# - val: VOC `train` (1,464 images with SegmentationClass GT) = the CAM
#   evaluation split of the papers, GT image labels.
#   Metrics: IoUMetric (CAM + constant bg threshold test_cfg.bg_threshold)
#   and CAMSweepMetric (thresholds 0.05..0.75, step 0.05). NOTE: this val
#   loop is the single-scale *monitoring* CAM of CAMClassifier.predict; the
#   reportable "CAM (%)" number is the multi-scale x flip hr_cam of
#   tools/cam/infer_cams.py + tools/cam/eval_cams.py (configs/cam/README.md).
#   The last checkpoint is used; selecting checkpoints on this split (the
#   official trainer does) leaks pixel labels and is off [inferred].
# - test: VOC `val` (1,449 images) with label_source='none': present
#   classes come from the classifier (sigmoid >= model.test_cfg.conf_th)
#   [inferred]. Use label_source='xml' for GT-label CAMs on val.
#
# Training augmentation (the Puzzle-CAM recipe) [code]:
#   (1) resize so that the long side is a uniform integer in [320, 640],
#       aspect kept, bicubic (Pillow, like the official PIL resize): mmcv's
#       RandomChoiceResize over the 321 square scales (L, L) with
#       keep_ratio=True gives exactly long side = L;
#   (2) horizontal flip p = 0.5;
#   (3) ImageNet normalisation (model.data_preprocessor);
#   (4) random 512 crop with a zero "container" (RandomContainerCrop pads
#       with the mean colour = 0 after normalisation and adds `valid`).
#   Colour jitter / RandAugment: OFF in the official recipe [code]; to add
#   it, insert dict(type='PhotoMetricDistortion') after the resize.
# Method configs must set model.data_preprocessor.size = crop_size.
dataset_type = 'VOCAugWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'
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
# global batch 32 = 4 GPUs x 8 (BN statistics per GPU like the official
# DataParallel run); method configs name it `4xb8`.
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train_aug',
        with_masks=False,
        label_source='xml',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        with_masks=True,
        label_source='xml',
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
