# Random walk of the camvid_things train CAMs (export.cam_dir):
#   python tools/test.py THIS_CONFIG CHECKPOINT \
#       --cfg-options export.cam_dir=CAM_DIR [--out-dir DIR]
_base_ = [
    './boundary_effnet-lite0_1xb16-600it_camvid-things-176x176.py',
    '../_base_/export/random_walk.py'
]
export = dict(
    dataset=dict(
        type=_base_.dataset_type,
        data_root=_base_.data_root,
        split='train',
        with_masks=False,
        label_source='none'),
    cam_dir='work_dirs/export/cams_camvid_train',
    out_dir='work_dirs/export/rw_camvid_train')
