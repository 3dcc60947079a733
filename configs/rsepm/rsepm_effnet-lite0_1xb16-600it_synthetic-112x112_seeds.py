# RS+EPM seeds of the synthetic test split:
#   python tools/test.py THIS_CONFIG CHECKPOINT [--out-dir DIR]
_base_ = [
    './rsepm_effnet-lite0_1xb16-600it_synthetic-112x112.py',
    '../_base_/export/seeds.py'
]
export = dict(split='test', out_dir='work_dirs/export/seeds_synthetic_test')
