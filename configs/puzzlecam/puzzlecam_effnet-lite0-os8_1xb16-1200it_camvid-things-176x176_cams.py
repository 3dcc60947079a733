# Multi-scale x flip CAMs of the camvid_things train split (Puzzle-CAM):
#   python tools/test.py THIS_CONFIG CHECKPOINT [--out-dir DIR]
_base_ = [
    './puzzlecam_effnet-lite0-os8_1xb16-1200it_camvid-things-176x176.py',
    '../_base_/export/cams.py'
]
export = dict(
    split='train', out_dir='work_dirs/export/puzzlecam_cams_camvid_train')
