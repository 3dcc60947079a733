# Prediction export: the config's own model predicts (no wrapper,
# model=None) and its pred_sem_seg of a split is written as one label PNG
# per image (<img_id>.png, the VOC palette), resumable, with the manifest of
# every export. Used for the pseudo labels of one-step methods (RRM's
# two-step variant): add this file to the `_base_` of a model config, then
#   python tools/test.py CONFIG CHECKPOINT [--out-dir DIR] [--overwrite]
# and point a segmentation-stage config (configs/seg/, the dataset's
# `pseudo_label_dir`) at DIR.
export = dict(
    kind='png',
    split='train',
    # dataset=dict(...): an explicit dataset config instead of `split`
    out_dir='work_dirs/export/predictions',
    overwrite=False,
    batch_size=1,
    num_workers=2,
    pipeline=[
        dict(type='LoadWSSSImageFromFile', imdecode_backend='pillow'),
        dict(type='PackWSSSInputs'),
    ],
    model=None,
    writer=dict(palette='voc'))
