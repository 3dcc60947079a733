"""tools/train.py configs/puzzlecam_r50_voc.py builds the Puzzle-CAM model
and runs training iterations on a tiny generated VOC fixture (real recipe:
XML labels, ResNet-50 OS16, strict size mode, alpha ramp; pretrained weights
off, crop 64 = a multiple of 2 x 16)."""
import os.path as osp
import re
import sys

from mmengine import Config
# helpers of the CAM config smoke tests (crop (64, 64), tiny loaders)
from test_config_smoke import ROOT, _run, _tiny_options

from mmwsss.datasets.testing import make_voc_fixture

PUZZLE_VOC_CFG = osp.join(ROOT, 'configs', 'puzzlecam_r50_voc.py')


def test_puzzlecam_r50_voc_trains_on_fixture(tmp_path):
    cfg = Config.fromfile(PUZZLE_VOC_CFG)
    assert cfg.model.type == 'PuzzleCAM'
    assert cfg.model.puzzle_size_mode == 'strict'
    assert cfg.optim_preset == 'official'
    assert cfg.train_dataloader.dataset.split == 'train_aug'
    root = str(tmp_path / 'VOC2012')
    make_voc_fixture(root, n=8, size=(64, 80), seed=0)
    wd = str(tmp_path / 'wd')
    out = _run([
        sys.executable, 'tools/train.py', PUZZLE_VOC_CFG, '--work-dir', wd,
        '--cfg-options',
        *_tiny_options(PUZZLE_VOC_CFG, root, max_iters=2, val_interval=1000)
    ])
    lines = re.findall(r'Iter\(train\) \[\d/2\].*', out)
    assert len(lines) == 2, out[-3000:]
    for line in lines:
        for key in ('loss_cls: ', 'loss_pcl: ', 'loss_re: ', 'alpha: '):
            assert key in line, (key, line)
    assert osp.isfile(osp.join(wd, 'iter_2.pth'))


def test_camvid_recipe_puts_l_re_on_the_normalised_cams():
    """Issue 16: the camvid CPU config uses the official ``re_level='cam'``
    switch (chosen on camvid val); the VOC recipe keeps the paper's raw
    logits. Built models carry it (the head computes L_pcl on the
    normalised merged map with it)."""
    from mmseg.registry import MODELS
    camvid = Config.fromfile(
        osp.join(ROOT, 'configs', 'puzzlecam',
                 'puzzlecam_effnet-lite0_1xb16-1200it_camvid-things-'
                 '176x176.py'))
    voc = Config.fromfile(PUZZLE_VOC_CFG)
    assert voc.model.cam_head.loss_re.re_level == 'feature'
    assert voc.alpha_max == camvid.alpha_max == 4.0
    camvid.model.backbone.init_cfg = None
    model = MODELS.build(camvid.model)
    assert model.cam_head.loss_re.re_level == 'cam'
