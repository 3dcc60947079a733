# Random-walk export: the class-boundary random walk of saved CAMs / seeds
# (export.cam_dir, their stride-4 `cam`) with a trained boundary network,
# one <img_id>.npz per image (keys, rw: full size, divided by its global
# maximum). Add this file to the `_base_` of a boundary-network config, then
#   python tools/test.py CONFIG CHECKPOINT --cfg-options export.cam_dir=CAMS \
#       [--out-dir DIR] [--overwrite]
# beta / exp_times / radius default to the model's test_cfg (rw_beta,
# rw_exp_times, rw_radius); override them in export.model.refiner, where
# compute_dtype='float32' halves the memory traffic (error <= 3e-4 of the
# map maximum; default 'float64').
export = dict(
    kind='rw',
    split='train',
    # dataset=dict(...): an explicit dataset config instead of `split`
    cam_dir=None,  # required: the CAM / seed files to propagate
    out_dir='work_dirs/export/rw',
    overwrite=False,
    batch_size=1,
    num_workers=2,
    pipeline=[
        dict(type='LoadWSSSImageFromFile', imdecode_backend='pillow'),
        # LoadMapFile(map_dir=export.cam_dir) is inserted here
        dict(type='PackWSSSInputs'),
    ],
    model=dict(type='RandomWalkMaps', refiner=dict()),
    writer=dict(map_dtype='float32', compress=False))
