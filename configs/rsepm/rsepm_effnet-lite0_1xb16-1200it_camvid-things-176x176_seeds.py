# RS+EPM seeds of the camvid_things train split (GT image labels):
#   python tools/test.py THIS_CONFIG CHECKPOINT [--out-dir DIR]
_base_ = [
    './rsepm_effnet-lite0_1xb16-1200it_camvid-things-176x176.py',
    '../_base_/export/seeds.py'
]
export = dict(split='train', out_dir='work_dirs/export/seeds_camvid_train')
