"""``tools/dist_train.sh configs/rrm_wr38_voc.py 2``: two CPU processes
(gloo) train the RRM alias config (WideResNet-38, the official preset) on
a generated VOC fixture and write a checkpoint.

Only sizes are overridden: no initial checkpoint (``load_from=None``; the
backbone has no pretrained weights), crop 64 (energy grid 32 x 32), batch
2 per process, 2 iterations, 2 CRF processes per rank. Everything else (the
scale / flip / container-crop pipeline, frozen BN, the multi-scale CAM, the
two-CRF mining in a persistent pool, L_ce + the official-scale energy, the
four-group official optimiser, DDP) is the real config."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from mmwsss.datasets.testing import make_voc_fixture

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALIAS = 'configs/rrm_wr38_voc.py'
ITERS = 2


def _options(root):
    opts = [
        'load_from=None',
        # pipeline index 3 = RandomContainerCrop
        'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
        'model.data_preprocessor.size=(64,64)',
        'model.mining.crf_workers=2',
        'train_dataloader.batch_size=2',
        f'train_cfg.max_iters={ITERS}',
        f'train_cfg.val_interval={ITERS + 1}',
        f'param_scheduler.0.end={ITERS + 1}',
        f'default_hooks.checkpoint.interval={ITERS}',
        'default_hooks.logger.interval=1',
    ]
    for loader in ('train', 'val', 'test'):
        opts += [
            f'{loader}_dataloader.dataset.data_root={root}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False',
        ]
    return opts


def test_dist_train_rrm_alias_two_cpu_processes(tmp_path):
    pytest.importorskip('pydensecrf')
    root = str(tmp_path / 'VOC2012')
    make_voc_fixture(root, n=10, size=(64, 80), seed=2)
    wd = str(tmp_path / 'wd')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PORT='29533')
    env.pop('MASTER_PORT', None)
    cmd = [
        'env', f'PYTHON={sys.executable}', 'bash', 'tools/dist_train.sh',
        ALIAS, '2', '--work-dir', wd, '--cfg-options', *_options(root)
    ]
    res = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert 'world size 2' in out and 'Distributed training: True' in out
    lines = [
        m.group(0)
        for m in re.finditer(r'Iter\(train\) \[\d/%d\].*' % ITERS, out)
    ]
    assert len(lines) == ITERS, out[-3000:]
    for key in ('loss_cls: ', 'decode.loss_ce: ', 'decode.loss_energy: ',
                'time_mining: ', 'seed_fg_ratio: ', 'seed_ignore_ratio: '):
        assert all(key in line for line in lines), (key, lines)
    ckpt = torch.load(
        osp.join(wd, f'iter_{ITERS}.pth'),
        map_location='cpu',
        weights_only=False)
    sd = ckpt['state_dict']
    assert sd['decode_head.conv_seg.weight'].shape == (21, 512, 3, 3)
    assert sd['cam_head.classifier.weight'].shape == (20, 4096, 1, 1)
    # the frozen BN statistics did not move (init: mean 0, var 1)
    bn = [k for k in sd if k.startswith('backbone.') and
          k.endswith('running_mean')]
    assert bn and all(sd[k].abs().max() == 0 for k in bn)
