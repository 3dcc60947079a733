# Multi-scale x flip CAMs of the synthetic test split (the demo's CAMs):
#   python tools/test.py THIS_CONFIG work_dirs/demo/iter_600.pth \
#       --out-dir work_dirs/demo/cams_test
#   python tools/cam/eval_cams.py \
#       configs/cam/cam_effnet-lite0_1xb16-600it_synthetic-112x112.py \
#       --dataset test --cam-dir work_dirs/demo/cams_test
_base_ = [
    './cam_effnet-lite0_1xb16-600it_synthetic-112x112.py',
    '../_base_/export/cams.py'
]
export = dict(split='test', out_dir='work_dirs/export/cams_synthetic_test')
