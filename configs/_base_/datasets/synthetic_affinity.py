# Synthetic demo set with AFFINITY LABELS (boundary network of the demo
# pipeline, docs/pipeline.md): masks = tools/pseudo_labels/
# make_affinity_labels.py output in `affinity_label_dir` (default
# <repo>/work_dirs/pipeline_synthetic/aff_labels). No validation loop.
dataset_type = 'SyntheticWSSSDataset'
affinity_label_dir = '{{ fileDirname }}/../../../work_dirs/pipeline_synthetic/aff_labels'  # noqa
crop_size = (112, 112)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=4),
    dict(
        type='RandomResize',
        scale=(128, 128),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomContainerCrop', crop_size=crop_size, seg_pad_val=255),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        split='train',
        mask_dir=affinity_label_dir,
        label_source='none',
        pipeline=train_pipeline))
# method configs also set val_cfg = None and test_cfg = None (the loops)
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
