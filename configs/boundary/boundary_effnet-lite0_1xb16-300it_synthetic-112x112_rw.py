# Random walk of synthetic test CAMs (export.cam_dir):
#   python tools/test.py THIS_CONFIG CHECKPOINT \
#       --cfg-options export.cam_dir=CAM_DIR [--out-dir DIR]
_base_ = [
    './boundary_effnet-lite0_1xb16-300it_synthetic-112x112.py',
    '../_base_/export/random_walk.py'
]
export = dict(
    dataset=dict(type='SyntheticWSSSDataset', split='test'),
    cam_dir='work_dirs/export/cams_synthetic_test',
    out_dir='work_dirs/export/rw_synthetic_test')
