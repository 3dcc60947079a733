# PASCAL VOC 2012 aug with AFFINITY LABELS: training set of the boundary
# network (IRN style).
# - train: `train_aug`; masks = the affinity labels (values 0..20, 255) of
#   tools/pseudo_labels/make_affinity_labels.py in
#   data_root/<affinity_label_dir>/<id>.png.
# - no validation loop (the boundary net is judged by the random-walk
#   pseudo labels; evaluate those with tools/cam/eval_cams.py).
# Augmentation [code]: long side U[320, 640] (image bicubic,
# label nearest), hflip, normalisation, random 512 crop (label padding 255);
# the model nearest-resizes the label to the 128x128 edge map.
dataset_type = 'VOCAugWSSSDataset'
data_root = 'data/VOCdevkit/VOC2012'
affinity_label_dir = 'aff_labels'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='LoadWSSSAnnotations', num_classes=20),
    dict(
        type='RandomChoiceResize',
        scales=[(s, s) for s in range(320, 641)],
        resize_type='Resize',
        keep_ratio=True,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomContainerCrop', crop_size=crop_size, seg_pad_val=255),
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
        split='train_aug',
        with_masks=True,
        mask_dir=affinity_label_dir,
        label_source='none',
        pipeline=train_pipeline))
# method configs also set val_cfg = None and test_cfg = None (the loops)
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
