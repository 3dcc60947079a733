"""Every benchmark script's ``--smoke`` mode end to end: the same code path
as a real run on a tiny generated set (a few minutes each on 2 CPU cores,
1 torch thread), printing its result lines.

Run times are not asserted (a timed unit test fails on a busy machine);
a hung script is stopped by the subprocess timeout."""
import glob
import json
import os
import os.path as osp
import re
import sys

import pytest
from repo_commands import run_repo

SMOKE_NOTE = '(smoke run: numbers are meaningless)'
#: script -> (extra arguments so that every part runs, the file it writes
#: into the work dir, regexes of the key result lines)
CASES = {
    'cam_camvid_things': ([], 'cam_eval_test.json', [
        r'CAM mIoU \(sweep best\) : \d+\.\d+ % at t=\d', r'FP / FN +: \d',
        r'prior-only baseline +: \d'
    ]),
    'compare_methods':
    (['--methods', 'cam,puzzlecam,rs,rsepm,rrm,slams'], 'summary.json', [
        r'\| cam \| CAMs \| \d+\.\d+ \| 0\.\d\d \| 0\.\d+ \| 0\.\d+ \|',
        r'\| puzzlecam \| CAMs \| \d', r'\| rs \| seeds, \(1-max\)\^2 \| \d',
        r'\| rsepm \| seeds, sweep \| \d', r'\| rrm \| seg branch \| \d',
        r'\| slams \| sigma-maps \| \d'
    ]),
    'cpu_malloc': ([], 'summary.json', [
        r'\| default glibc \| \d+\.\d+ \|', r'\| tuned \| \d+\.\d+ \|',
        r'\| tuned / default \| \d+\.\d+ \|'
    ]),
    'crf_throughput_bench': ([], 'summary.json', [
        r'workers 1: .* images/s, speed-up 1\.00x',
        r'workers 2: .* images/s, speed-up \d'
    ]),
    'energy_loss_bench': ([], 'summary.json', [
        r'torch +8x8 +64 .* measured, chunk \d+ rows',
        r'brute +12x12 +144 .* measured, float64 N x N',
        r'12x12: G v rel\. error max \d\.\d+e-\d+, mean .*; loss rel\. '
        r'error \d.*; gradient rel\. error max \d',
        r'torch +time ~ N\^-?\d+\.\d+, memory ~ N\^'
    ]),
    'pseudo_labels_camvid_things': ([
        '--tta', '--gt-labels', '--rw=--exp-times=4', '--ignore-margin',
        '0.05', '--seg-curve', '1', '--tag', 'sweep'
    ], 'summary_sweep.json', [
        r'CAM  \(train GT, sweep best\) : mIoU \d',
        r'\+RW  \(train GT, sweep best\) : mIoU \d',
        r'\+dCRF PNGs \(train GT\) +: mIoU \d.*255 share 0\.\d{4}',
        r'seg stage curve \(test mIoU % by iteration\): 1 \d+\.\d+, 2 \d',
        r'seg_test +: mIoU \d+\.\d+ % \(test split\)',
        r'seg_test_tta +: mIoU \d+\.\d+ % \(test split\)',
        r'seg_test_tta_gt +: mIoU \d+\.\d+ % \(test split\)'
    ]),
    'puzzlecam_camvid_things':
    (['--step-time', '--train'], 'cam_eval_test.json', [
        r'step-time ratio Puzzle-CAM / CAM \[configs\]: \d',
        r'step-time ratio Puzzle-CAM / CAM \[divisible\]: \d',
        r'Puzzle-CAM CAM mIoU \(test, sweep best\): \d',
        r'CAM baseline mIoU \(test, sweep best\) +: \d',
        r'difference +: [+-]\d'
    ]),
    'random_walk_bench': ([], 'summary.json', [
        r'ours +8x8 .* measured', r'dense +16x16 .* extrapolated from 8',
        r'ratio at 8x8 \(measured\): time \d', r'ratio at 16x16: time \d',
        r'same argmax on \d'
    ]),
    'rrm_camvid_things': ([], 'summary.json', [
        r'step time \(batch 2 x \(176, 176\)\): CAM \d.*RRM / CAM \d',
        r'RRM step breakdown: mining \d.*energy \d.*forward/backward',
        r'mining throughput: 1 CRF process \d.*2 processes \d',
        r'\| RRM one-step, single scale +\| +\d',
        r'\| RRM one-step \+ CRF \(rrm_test\) +\| +\d'
    ]),
    'rs_seed_stages':
    (['--variants', 'default,pamr_off,scg8'], 'rs_seed_stages.json', [
        r'\| default \| cam \| \d+\.\d+ \| \d+\.\d+ \| - \| '
        r'\d+\.\d+ \(0\.\d\d\)',
        r'\| pamr_off \| cf \| \d+\.\d+ \| \d+\.\d+ \| \d+\.\d+',
        r'\| scg8 \| rs \| \d'
    ]),
    'slams_camvid_things': ([], 'summary.json', [
        r'step time \(batch 2 x \(176, 176\)\): CAM \d.*stage 2 / CAM \d',
        r'encoder: \d+ \(image, class\) pairs -> \d+ images',
        r'\| SLAMs-like \(reconstruction\) sigma-maps +\| +\d'
    ]),
    'rsepm_camvid_things': (['--step-time', '--train'], 'summary.json', [
        r'step time \(batch 2 x \(176, 176\)\): CAM \d.*RS\+EPM / CAM \d',
        r'\| model +\| CAM mIoU \(sweep\) \|', r'\| RS +\| +\d',
        r'\| RS\+EPM +\| +\d'
    ]),
}


def _run(cmd, timeout=900):
    """Run ``cmd`` in the repo root (1 torch thread); assert it succeeds;
    return stdout + stderr."""
    return run_repo(cmd, timeout=timeout)


@pytest.mark.parametrize('name', sorted(CASES))
def test_smoke(name, tmp_path):
    extra, written, patterns = CASES[name]
    script = osp.join('benchmarks', f'{name}.py')
    out = _run(
        [sys.executable, script, '--smoke', '--work-dir',
         str(tmp_path)] + extra)
    assert out.count(SMOKE_NOTE) == 1, out[-3000:]
    for pattern in patterns:
        assert re.search(pattern, out), (pattern, out[-3000:])
    # the output (and the generated set, if any) is in the given work dir
    assert (tmp_path / written).is_file(), sorted(os.listdir(tmp_path))


def test_pseudo_labels_until_stops_after_the_stage(tmp_path):
    """``--until rw`` ends after the RW sweep (no PNGs, no seg stage);
    ``--until pseudo_labels`` in the same work dir reuses the CAMs, the
    boundary net and the RW maps and ends after the PNGs; a tag without
    ``--rw`` (an export setting) makes the default RW maps once and reuses
    them."""
    script = osp.join('benchmarks', 'pseudo_labels_camvid_things.py')
    base = [sys.executable, script, '--smoke', '--work-dir', str(tmp_path)]
    rw_a = ['--tag', 'a', '--rw=--exp-times=2', '--rw=--beta=7']
    out = _run(base + rw_a + ['--until', 'rw'])
    # both --rw settings reach the random walk (its manifest)
    with open(tmp_path / 'rw_train_a' / 'manifest.json') as f:
        refiner = json.load(f)['options']['model']['refiner']
    assert refiner == {'exp_times': 2, 'beta': 7.0}, refiner
    assert re.search(r'\+RW  \(train GT, sweep best\) : mIoU \d', out)
    assert 'PNGs (train GT)' not in out and 'seg_test' not in out
    assert 'stopped after the rw stage (--until)' in out
    made = set(os.listdir(tmp_path))
    assert {'rw_train_a', 'boundary', 'cams_train'} <= made, made
    assert not made & {'pseudo_labels_a', 'seg_a'}, made
    with open(tmp_path / 'summary_a.json') as f:
        assert sorted(json.load(f)['results']) == ['cam', 'rw']
    # a tagged run writes its own summary only
    assert 'summary.json' not in made, made
    kept = {
        p: os.stat(p).st_mtime_ns
        for p in glob.glob(str(tmp_path / 'boundary' / 'iter_*.pth')) +
        glob.glob(str(tmp_path / 'rw_train_a' / '*'))
    }
    assert kept
    out = _run(base + rw_a + ['--until', 'pseudo_labels'])
    assert re.search(r'PNGs \(train GT\) +: mIoU \d.*255 share', out)
    assert 'seg_test' not in out
    made = set(os.listdir(tmp_path))
    assert 'pseudo_labels_a' in made and 'seg_a' not in made, made
    assert {p: os.stat(p).st_mtime_ns for p in kept} == kept
    with open(tmp_path / 'summary_a.json') as f:
        assert sorted(
            json.load(f)['results']) == ['cam', 'pseudo_labels', 'rw']
    # export settings: the RW maps of no --rw, made by the first of them
    out = _run(
        base +
        ['--tag', 'b', '--export=--crf=none', '--until', 'pseudo_labels'])
    assert "export ['--crf=none']" in out, out[-2000:]
    made = set(os.listdir(tmp_path))
    assert {'rw_train', 'pseudo_labels_b'} <= made, made
    assert 'rw_train_b' not in made, made
    rw = {
        p: os.stat(p).st_mtime_ns
        for p in glob.glob(str(tmp_path / 'rw_train' / '*'))
    }
    assert rw
    # --cam-classes: every class from the stage-1 maps (no CRF), so each
    # PNG is argmax([bg, CAMs]) at the RW's background threshold
    out = _run(base + [
        '--tag', 'c', '--until', 'pseudo_labels', '--export=--crf=none',
        '--cam-classes', '1', '2', '3', '4', '5'
    ])
    assert 'classes [1, 2, 3, 4, 5] from the stage-1 maps' in out, out[-2000:]
    made = set(os.listdir(tmp_path))
    assert 'pseudo_labels_c' in made and 'rw_train_c' not in made, made
    assert {p: os.stat(p).st_mtime_ns for p in rw} == rw
    import numpy as np

    from mmwsss.utils.fileio import load_cam, read_label_png
    with open(tmp_path / 'summary_c.json') as f:
        bg = json.load(f)['args']['rw_bg_th']
    pngs = sorted(glob.glob(str(tmp_path / 'pseudo_labels_c' / '*.png')))
    assert pngs
    fg = 0
    for png in pngs:
        i = osp.splitext(osp.basename(png))[0]
        cam = load_cam(str(tmp_path / 'cams_train' / f'{i}.npz'))
        scores = np.concatenate(
            [np.full((1, ) + cam['hr_cam'].shape[1:], bg), cam['hr_cam']])
        want = cam['keys'][scores.argmax(0)]
        got = read_label_png(png)
        np.testing.assert_array_equal(got, want)
        fg += int((got > 0).sum())
    assert fg > 0


def test_pseudo_labels_seg_tag_class_weights(tmp_path):
    """``--seg-tag cw --seg-class-weight inv-sqrt`` trains a seg stage of
    its own (``seg_<tag>_cw/``) on the pseudo labels of ``--tag`` with the
    cross-entropy weights computed from those PNGs (in its dumped config)."""
    script = osp.join('benchmarks', 'pseudo_labels_camvid_things.py')
    out = _run([
        sys.executable, script, '--smoke', '--work-dir',
        str(tmp_path), '--tag', 'a', '--seg-tag', 'cw', '--seg-class-weight',
        'inv-sqrt', '--seg-val'
    ])
    m = re.search(r'seg class weights \(inv-sqrt.*\): (\[.*\])', out)
    assert m, out[-2000:]
    weights = json.loads(m.group(1))
    made = set(os.listdir(tmp_path))
    assert {'seg_a_cw', 'pseudo_labels_a'} <= made and 'seg_a' not in made
    assert re.search(r'seg_test +: mIoU \d', out)
    # --seg-val tests the same checkpoint on the val split (2 smoke images;
    # test has 3)
    assert re.search(r'seg_val +: mIoU \d+\.\d+ % \(val split\)', out)
    for name, n in (('seg_val_a_cw', 2), ('seg_test_a_cw', 3)):
        log = glob.glob(str(tmp_path / name / '*' / '*.log'))
        assert log, sorted(made)
        with open(log[0]) as f:
            assert f'Iter(test) [{n}/{n}]' in f.read(), name
    import numpy as np
    from mmengine.config import Config
    from PIL import Image
    counts = np.zeros(len(weights))
    for path in glob.glob(str(tmp_path / 'pseudo_labels_a' / '*.png')):
        label = np.asarray(Image.open(path))
        counts += [(label == c).sum() for c in range(len(weights))]
    p = counts / counts.sum()
    # every labelled class: w_c = p_c^-1/2 / sum_k p_k^1/2
    ref = [x**-0.5 / (p**0.5).sum() if x > 0 else 0.0 for x in p]
    assert weights == pytest.approx(ref, abs=1e-4)
    cfg = Config.fromfile(glob.glob(str(tmp_path / 'seg_a_cw' / '*.py'))[0])
    assert cfg.model.decode_head.loss_decode.class_weight == weights
    with open(tmp_path / 'summary_a_cw.json') as f:
        assert json.load(f)['results']['seg_class_weight'] == weights


def test_pseudo_labels_from_rsepm_seeds(tmp_path):
    """``--maps seeds``: the pipeline starts from the RS+EPM seeds of an
    RS+EPM checkpoint (``tools/rsepm/infer_seeds.py`` into
    ``seeds_train/``); a later run in that work dir from another source
    (CAMs) stops with a one-line error naming the work dir and writes
    nothing."""
    script = osp.join('benchmarks', 'pseudo_labels_camvid_things.py')
    rsepm = osp.join(
        'configs', 'rsepm', 'rsepm_effnet-lite0_1xb16-1200it_camvid-things-'
        '176x176.py')
    base = [sys.executable, script, '--smoke', '--work-dir', str(tmp_path)]
    out = _run(
        base +
        ['--maps', 'seeds', '--cam-config', rsepm, '--until', 'pseudo_labels'])
    assert re.search(r'maps: seeds of .*rsepm_effnet-lite0', out), out[-2000:]
    assert re.search(r'PNGs \(train GT\) +: mIoU \d', out)
    made = set(os.listdir(tmp_path))
    assert {'seeds_train', 'rw_train', 'pseudo_labels'} <= made, made
    assert 'cams_train' not in made, made
    with open(tmp_path / 'seeds_train' / 'manifest.json') as f:
        manifest = json.load(f)
    # the maps are the RS+EPM seeds of the checkpoint trained for the smoke
    # run (its work dir 'cam/': the first stage's model)
    assert manifest['kind'] == 'seed', manifest['kind']
    assert manifest['checkpoint'] == str(tmp_path / 'cam' / 'iter_2.pth')
    with open(tmp_path / 'source.json') as f:
        assert json.load(f)['maps'] == 'seeds'
    ckpt = str(tmp_path / 'cam' / 'iter_2.pth')
    # --no-rw: the PNGs straight from the seeds (no CRF here), at the seeds'
    # sweep-best threshold: keys[argmax([t, hr_cam])] of every npz
    out = _run(base + [
        '--maps', 'seeds', '--cam-config', rsepm, '--no-rw', '--tag', 'direct',
        '--export=--crf=none', '--until', 'pseudo_labels'
    ])
    assert '+RW  skipped (--no-rw)' in out, out[-2000:]
    made_direct = set(os.listdir(tmp_path)) - made
    assert made_direct == {
        'pseudo_labels_direct', 'eval_pseudo_labels_direct.json',
        'summary_direct.json'
    }, made_direct
    with open(tmp_path / 'eval_cam.json') as f:
        t = json.load(f)['best_thr']
    import numpy as np
    from PIL import Image
    npzs = sorted(glob.glob(str(tmp_path / 'seeds_train' / '*.npz')))
    assert npzs
    for path in npzs:
        seeds = np.load(path)
        hr = seeds['hr_cam'].astype(np.float32)
        # compared in float32, ties to the background (label_from_maps)
        scores = np.concatenate(
            [np.full((1, ) + hr.shape[1:], t, np.float32), hr])
        ref = seeds['keys'][scores.argmax(0)]
        name = osp.basename(path)[:-4] + '.png'
        png = np.asarray(Image.open(tmp_path / 'pseudo_labels_direct' / name))
        assert (png == ref).all(), name
    made = set(os.listdir(tmp_path))
    out = run_repo(
        base[:2] + [
            '--data-root',
            str(tmp_path / 'data'), '--work-dir',
            str(tmp_path), '--cam-checkpoint', ckpt, '--until', 'rw'
        ],
        ok=False)
    last = out.strip().splitlines()[-1]
    assert last.startswith(f'error: {tmp_path} holds the pipeline of '
                           "another source (maps 'seeds' -> 'cams'"), last
    assert set(os.listdir(tmp_path)) == made
