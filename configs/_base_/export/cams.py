# CAM export: multi-scale x flip CAMs of a split, one <img_id>.npz per image
# (keys, cam at stride 4, hr_cam at full size; max-normalised per present
# class). Add this file to the `_base_` of a CAM model config, then
#   python tools/test.py CONFIG CHECKPOINT [--out-dir DIR] [--overwrite]
#   tools/dist_test.sh CONFIG CHECKPOINT 4 [--out-dir DIR]
# Resumable (finished images are skipped); a folder written by another
# checkpoint or other options is refused (its manifest.json differs).
export = dict(
    kind='cam',
    split='train',  # train / val / test dataloader, or a dataset config key
    # dataset=dict(...): an explicit dataset config instead of `split`
    out_dir='work_dirs/export/cams',
    overwrite=False,
    batch_size=1,  # images per forward (same-size images only)
    num_workers=2,
    pipeline=[
        # PIL decoding, as the official code reads the images
        dict(type='LoadWSSSImageFromFile', imdecode_backend='pillow'),
        dict(type='PackWSSSInputs'),
    ],
    model=dict(
        type='MultiScaleCAM',
        source='cam',
        scales=[0.5, 1.0, 1.5, 2.0],
        flip=True,
        resize_backend='pil',  # 'torch': bilinear on the tensor (RS+EPM)
        size_rounding='round',  # 'int': truncation (RS+EPM)
        use_gt_labels=True,  # False: classes with probability >= conf_th
        conf_th=0.5,
        amp=False),
    writer=dict(map_dtype='float32', compress=False))
