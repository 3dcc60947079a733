# Multi-scale x flip CAMs of VOC train_aug with a Puzzle-CAM checkpoint:
#   tools/dist_test.sh THIS_CONFIG CHECKPOINT 4 [--out-dir DIR]
_base_ = [
    './puzzlecam_r50_4xb8-4950it_voc12aug-512x512.py',
    '../_base_/export/cams.py'
]
export = dict(
    split='train',
    batch_size=4,
    out_dir='work_dirs/export/puzzlecam_cams_voc12aug_train_aug')
