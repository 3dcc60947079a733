"""tools/train.py, --resume, tools/test.py and tools/dist_train.sh (2 CPU
processes) end to end on a tiny generated synthetic set."""
import os.path as osp
import re
import sys

import pytest
from repo_commands import ROOT, run_repo

BASE_CFG = osp.join(ROOT, 'configs', 'cam',
                    'cam_effnet-lite0_1xb16-600it_synthetic-112x112.py')

TINY_CFG = '''
_base_ = [{base!r}]
crop_size = (48, 48)
ds = dict(data_root={root!r}, num_train=12, num_val=3, num_test=3,
          size=(48, 64), min_pixels=16)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomContainerCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(batch_size=4, **loader,
                        dataset=dict(**ds, pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(**ds))
test_dataloader = dict(**loader, dataset=dict(**ds))
model = dict(data_preprocessor=dict(size=crop_size))
train_cfg = dict(max_iters=4, val_interval=1000)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=5))
'''


def _run(cmd, cwd=ROOT, timeout=900, ok=True, env=None):
    """:func:`run_repo` without ``MASTER_PORT``."""
    return run_repo(cmd, ok=ok, timeout=timeout, cwd=cwd, env=env,
                    drop_env=('MASTER_PORT', ))


@pytest.fixture(scope='module')
def tiny_cfg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tools')
    cfg = tmp / 'tiny_cam.py'
    cfg.write_text(TINY_CFG.format(base=BASE_CFG, root=str(tmp / 'data')))
    return tmp, str(cfg)


def test_train_resume_test(tiny_cfg):
    tmp, cfg = tiny_cfg
    wd = str(tmp / 'wd')
    py = sys.executable
    _run([py, 'tools/train.py', cfg, '--work-dir', wd])
    assert osp.isfile(osp.join(wd, 'iter_4.pth'))

    # resume from the checkpoint of the first run and train 2 more iters
    out = _run([
        py, 'tools/train.py', cfg, '--work-dir', wd, '--resume',
        '--cfg-options', 'train_cfg.max_iters=6'
    ])
    assert 'resumed' in out.lower() or 'resume' in out.lower()
    iters = [int(m) for m in re.findall(r'Iter\(train\) \[\s*(\d+)/6\]', out)]
    assert iters and min(iters) == 5 and max(iters) == 6, iters
    assert osp.isfile(osp.join(wd, 'iter_6.pth'))

    # test.py loads the resumed checkpoint and reports both metrics
    out = _run([py, 'tools/test.py', cfg, osp.join(wd, 'iter_6.pth'),
                '--work-dir', str(tmp / 'wd_test')])
    assert re.search(r'mIoU: \d', out), out[-3000:]
    assert re.search(r'cam/mIoU: \d', out), out[-3000:]
    # CAMVisualizationHook drew CAM panels through the visualizer backend
    import glob
    panels = glob.glob(
        str(tmp / 'wd_test' / '*' / 'vis_data' / 'vis_image' /
            'test_cam_*.png'))
    assert len(panels) == 3, panels


def test_dist_train_two_cpu_processes(tiny_cfg):
    tmp, cfg = tiny_cfg
    wd = str(tmp / 'wd_dist')
    env_port = '29517'
    out = _run([
        'env', f'PORT={env_port}', f'PYTHON={sys.executable}', 'bash',
        'tools/dist_train.sh', cfg, '2', '--work-dir', wd, '--cfg-options',
        'train_cfg.max_iters=2'
    ])
    assert 'gloo process group for CPU distributed training, world size 2' \
        in out, out[-3000:]
    assert 'Distributed training: True' in out
    assert osp.isfile(osp.join(wd, 'iter_2.pth'))

    # dist_test.sh evaluates the checkpoint with 2 CPU processes
    out = _run([
        'env', f'PORT={env_port}', f'PYTHON={sys.executable}', 'bash',
        'tools/dist_test.sh', cfg,
        osp.join(wd, 'iter_2.pth'), '2', '--work-dir',
        str(tmp / 'wd_dist_test')
    ])
    assert 'world size 2' in out and re.search(r'cam/mIoU: \d', out), \
        out[-3000:]
