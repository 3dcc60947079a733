# Multi-scale x flip CAMs of the camvid_things train split (GT image labels),
# the input of the pseudo-label stage:
#   python tools/test.py THIS_CONFIG CHECKPOINT [--out-dir DIR]
_base_ = [
    './cam_effnet-lite0_1xb16-1200it_camvid-things-176x176.py',
    '../_base_/export/cams.py'
]
export = dict(split='train', out_dir='work_dirs/export/cams_camvid_train')
