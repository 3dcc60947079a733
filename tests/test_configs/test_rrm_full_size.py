"""The full-size RRM VOC config (WideResNet-38, crop 321, batch 4, 4 CAM
scales up to 642 px, energy grid 161 x 161, two CRFs per image) builds and
trains one iteration with tools/train.py on a generated VOC fixture
(weights off: ``load_from=None``; data root and loop length overridden,
nothing else)."""
import os.path as osp
import re
import sys

import pytest
from repo_commands import run_repo

from mmwsss.datasets.testing import make_voc_fixture


def test_rrm_wr38_voc_full_size_one_iteration(tmp_path):
    pytest.importorskip('pydensecrf')
    root = str(tmp_path / 'VOC2012')
    make_voc_fixture(root, n=6, size=(300, 400), seed=3)
    wd = str(tmp_path / 'wd')
    opts = [
        'load_from=None', 'train_cfg.max_iters=1', 'train_cfg.val_interval=2',
        'param_scheduler.0.end=2', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1', 'model.mining.crf_workers=2'
    ]
    for loader in ('train', 'val', 'test'):
        opts += [
            f'{loader}_dataloader.dataset.data_root={root}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False',
        ]
    out = run_repo([
        sys.executable, 'tools/train.py', 'configs/rrm_wr38_voc.py',
        '--work-dir', wd, '--cfg-options', *opts
    ],
                   timeout=1800,
                   threads=2)
    line = re.search(r'Iter\(train\) \[1/1\].*', out)
    assert line, out[-3000:]
    for key in ('loss_cls: ', 'decode.loss_ce: ', 'decode.loss_energy: ',
                'time_mining: '):
        assert key in line.group(0), line.group(0)
    assert osp.isfile(osp.join(wd, 'iter_1.pth'))
