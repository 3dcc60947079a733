"""benchmarks/pseudo_labels_camvid_things.py: the seg-stage class weights
(``--seg-class-weight inv-sqrt``) from hand-worked pixel counts. The
end-to-end run is the smoke case of test_smoke.py."""
import numpy as np
import pytest
from PIL import Image
from repo_commands import load_benchmark


def _module():
    return load_benchmark('pseudo_labels_camvid_things')


def test_inv_sqrt_class_weights_by_hand():
    mod = _module()
    # p = .81 / .09 / .09 / .01 / 0: sqrt p = .9 / .3 / .3 / .1, sum 1.6;
    # w = (1 / sqrt p) / 1.6; a class without pixels gets 0
    w = mod.inv_sqrt_class_weights([81, 9, 9, 1, 0])
    np.testing.assert_allclose(
        w, [1 / .9 / 1.6, 2.0833, 2.0833, 6.25, 0.0], atol=1e-4)
    # the pixel-weighted mean weight is 1
    assert abs(.81 * w[0] + .09 * w[1] + .09 * w[2] + .01 * w[3] - 1) < 1e-3
    with pytest.raises(ValueError, match='no labelled pixel'):
        mod.inv_sqrt_class_weights([0, 0])


def test_class_counts_skip_255(tmp_path):
    mod = _module()
    Image.fromarray(np.array([[0, 0, 1], [255, 2, 2]],
                             np.uint8)).save(tmp_path / 'a.png')
    Image.fromarray(np.array([[2, 7], [255, 0]],
                             np.uint8)).save(tmp_path / 'b.png')
    # class 7 is outside num_classes 3: not counted, like 255
    assert mod.class_counts(str(tmp_path), 3).tolist() == [3, 1, 3]


def test_train_passes_seed_and_resumes(tmp_path):
    """``--seed`` reaches tools/train.py as ``randomness.seed``; no seed
    leaves MMEngine's own draw; a work dir with ``last_checkpoint`` resumes
    and one with the final checkpoint does not train."""
    mod = _module()
    config = ('configs/seg/deeplabv3plus_effnet-lite0_1xb16-800it_'
              'camvid-things-pseudo-176x176.py')
    cmds = []
    wd = tmp_path / 'seg'
    ckpt = mod._train(cmds.append, config, str(wd), 40, ['a=1'], seed=3)
    assert ckpt == str(wd / 'iter_40.pth')
    cmd = cmds.pop()
    assert cmd[cmd.index('--cfg-options') + 1:] == [
        'train_cfg.max_iters=40', 'param_scheduler.0.end=41',
        'default_hooks.checkpoint.interval=40',
        'default_hooks.checkpoint.max_keep_ckpts=-1', 'a=1',
        'randomness.seed=3'
    ]
    wd.mkdir()
    (wd / 'last_checkpoint').write_text('x')
    mod._train(cmds.append, config, str(wd), 40, [], every=20)
    cmd = cmds.pop()
    assert not any(c.startswith('randomness.seed') for c in cmd)
    assert 'default_hooks.checkpoint.interval=20' in cmd
    assert cmd[-1] == '--resume'
    (wd / 'iter_40.pth').write_text('x')
    mod._train(cmds.append, config, str(wd), 40, [], seed=3)
    assert cmds == []
