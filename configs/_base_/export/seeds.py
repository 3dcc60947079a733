# RS+EPM seed export: RSEPM.predict_seed (multi-scale x flip softmax of the
# decoder, present classes max-normalised, defaults from the model's
# test_cfg) of a split, written in the CAM-file format (<img_id>.npz with
# keys, cam = the seed area-resized to stride 4, hr_cam = the seed), so the
# CAM evaluation and the pseudo-label stages read it unchanged. Add this file
# to the `_base_` of an RS+EPM config, then
#   python tools/test.py CONFIG CHECKPOINT [--out-dir DIR] [--overwrite]
export = dict(
    kind='seed',
    split='train',
    # dataset=dict(...): an explicit dataset config instead of `split`
    out_dir='work_dirs/export/seeds',
    overwrite=False,
    batch_size=1,
    num_workers=2,
    pipeline=[
        dict(type='LoadWSSSImageFromFile', imdecode_backend='pillow'),
        dict(type='PackWSSSInputs'),
    ],
    model=dict(
        type='MultiScaleCAM',
        source='seed',
        scales=None,  # None: the model's test_cfg.scales (1.0, 0.5, 1.5, 2.0)
        flip=None,  # None: test_cfg.flip
        use_gt_labels=True,
        conf_th=None,  # None: test_cfg.conf_th (0.34)
        cam_resize='area',  # stride-4 `cam`: area / bilinear / nearest
        amp=False),
    writer=dict(map_dtype='float32', compress=False))
