# camvid_things with AFFINITY LABELS: training set of the boundary network
# of the CPU benchmark (benchmarks/pseudo_labels_camvid_things.py).
# Masks = tools/pseudo_labels/make_affinity_labels.py output in
# `affinity_label_dir` (default <repo>/work_dirs/pipeline_camvid/aff_labels,
# outside the shared dataset folder). No validation loop.
# Augmentation: random rescale 0.75..1.25 of 240x180, flip, container crop
# 176 (label padding 255); the model nearest-resizes the label to the
# stride-4 edge map.
dataset_type = 'WSSSFolderDataset'
data_root = '../shared/data/camvid_things'
affinity_label_dir = '{{ fileDirname }}/../../../work_dirs/pipeline_camvid/aff_labels'  # noqa
crop_size = (176, 176)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=5),
    dict(
        type='RandomResize',
        scale=(240, 180),
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
        data_root=data_root,
        split='train',
        mask_dir=affinity_label_dir,
        label_source='none',
        pipeline=train_pipeline))
# method configs also set val_cfg = None and test_cfg = None (the loops)
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
