# Random walk of VOC train_aug CAMs (export.cam_dir) with the boundary net:
#   tools/dist_test.sh THIS_CONFIG CHECKPOINT 4 \
#       --cfg-options export.cam_dir=CAM_DIR [--out-dir DIR]
_base_ = [
    './boundary_r50_4xb8-990it_voc12aug-512x512.py',
    '../_base_/export/random_walk.py'
]
export = dict(
    dataset=dict(
        type=_base_.dataset_type,
        data_root=_base_.data_root,
        split='train_aug',
        with_masks=False,
        label_source='none'),
    cam_dir='work_dirs/export/cams_voc12aug_train_aug',
    out_dir='work_dirs/export/rw_voc12aug_train_aug')
