# RS+EPM seeds of VOC train_aug (GT image labels, scales / flip of the model's
# test_cfg), the CAM files of the multi-stage path:
#   tools/dist_test.sh THIS_CONFIG CHECKPOINT 4 [--out-dir DIR]
_base_ = [
    './rsepm_r50_4xb4-13220it_voc12aug-512x512.py', '../_base_/export/seeds.py'
]
export = dict(
    split='train', out_dir='work_dirs/export/seeds_voc12aug_train_aug')
