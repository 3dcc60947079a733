"""``tools/model_converters/wr38_mxnet_to_mmwsss.py``: a generated parameter
set with the MXNet ``ilsvrc-cls_rna-a1`` key names (random arrays of the
backbone's shapes) is converted by the tool run as a user runs it; every
key is mapped, values are kept, the result loads strictly into
:class:`WideResNet38` (and through ``init_cfg``); a missing, unmapped,
duplicated or mis-shaped key stops the tool with one ``error:`` line (exit
status 2) and writes nothing."""
import importlib.util
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from repo_commands import ROOT, run_repo, tool_error

from mmwsss.models.backbones import (WR38_MXNET_DROPPED, WideResNet38,
                                     convert_wr38_mxnet_params, wr38_mxnet_key,
                                     wr38_mxnet_key_map)

TOOL = osp.join(ROOT, 'tools', 'model_converters', 'wr38_mxnet_to_mmwsss.py')

# hand-written from the naming scheme and the stage table (not derived from
# the module): MXNet key -> shape
HAND = {
    'arg:conv1a_weight': (64, 3, 3, 3),
    'arg:res2a_branch1_weight': (128, 64, 1, 1),
    'arg:res2a_branch2a_weight': (128, 64, 3, 3),
    'arg:res2b2_branch2b1_weight': (128, 128, 3, 3),
    'arg:bn2a_branch2a_gamma': (64, ),
    'aux:bn2a_branch2a_moving_mean': (64, ),
    'aux:bn4b5_branch2b1_moving_var': (512, ),
    'arg:res4b5_branch2b1_weight': (512, 512, 3, 3),
    'arg:res5a_branch1_weight': (1024, 512, 1, 1),
    'arg:res5b2_branch2a_weight': (512, 1024, 3, 3),
    'arg:bn6a_branch2a_beta': (1024, ),
    'arg:res6a_branch2a_weight': (512, 1024, 1, 1),
    'arg:res6a_branch2b1_weight': (1024, 512, 3, 3),
    'arg:bn6a_branch2b2_gamma': (1024, ),
    'arg:res6a_branch2b2_weight': (2048, 1024, 1, 1),
    'arg:res7a_branch1_weight': (4096, 2048, 1, 1),
    'arg:res7a_branch2b2_weight': (4096, 2048, 1, 1),
    'aux:bn7a_branch2b2_moving_mean': (2048, ),
    'arg:bn7_gamma': (4096, ),
    'aux:bn7_moving_var': (4096, ),
}
# counted by hand: 15 basic units x 2 convs + 4 projections (b2..b5) +
# 2 bottlenecks x (3 convs + 1 projection) = 43 convs; 15 x 2 + 2 x 3 + bn7
# = 37 BNs with 4 arrays each
N_CONV, N_BN = 43, 37


def _tool_main():
    spec = importlib.util.spec_from_file_location('_tool_wr38', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


@pytest.fixture(scope='module')
def meta_model():
    with torch.device('meta'):
        return WideResNet38()


def _params(model, tiny=False, seed=0):
    """MXNet-named arrays of the backbone's shapes (shape (1,) if tiny),
    plus the 1000-class classifier."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, mx in wr38_mxnet_key_map(list(model.state_dict())).items():
        shape = (1, ) if tiny else tuple(model.state_dict()[k].shape)
        out[mx] = rng.standard_normal(shape, dtype=np.float32)
    out['arg:linear1000_weight'] = rng.standard_normal(
        (1, ) if tiny else (1000, 4096), dtype=np.float32)
    out['arg:linear1000_bias'] = rng.standard_normal((1000, ),
                                                     dtype=np.float32)
    return out


def test_key_scheme_by_hand(meta_model):
    km = wr38_mxnet_key_map(list(meta_model.state_dict()))
    shapes = {mx: tuple(meta_model.state_dict()[k].shape)
              for k, mx in km.items()}
    for mx, shape in HAND.items():
        assert shapes[mx] == shape, mx
    assert len(set(km.values())) == len(km)  # 1:1
    convs = [k for k in km.values() if k.endswith('_weight')]
    bns = [k for k in km.values() if not k.endswith('_weight')]
    assert len(convs) == N_CONV and len(bns) == 4 * N_BN
    assert all(re.fullmatch(r'arg:(conv1a|res[2-7](a|b[1-5])_branch'
                            r'(1|2a|2b1|2b2))_weight', k) for k in convs)
    assert all(re.fullmatch(r'(arg:bn(7|[2-7](a|b[1-5])_branch(2a|2b1|2b2))'
                            r'_(gamma|beta))|(aux:bn(7|[2-7](a|b[1-5])_branch'
                            r'(2a|2b1|2b2))_moving_(mean|var))', k)
               for k in bns)
    assert wr38_mxnet_key('b4.3.norm2.running_var') == \
        'aux:bn4b3_branch2b1_moving_var'
    assert wr38_mxnet_key('b4.0.norm1.num_batches_tracked') is None
    with pytest.raises(KeyError):
        wr38_mxnet_key('b4.0.fc.weight')
    assert set(WR38_MXNET_DROPPED) == {
        'arg:linear1000_weight', 'arg:linear1000_bias'
    }


def test_convert_full_set_through_the_tool(tmp_path, meta_model):
    params = _params(meta_model)
    src = str(tmp_path / 'ilsvrc-cls_rna-a1.npz')
    np.savez(src, **params)
    dst = str(tmp_path / 'out' / 'wr38_imagenet.pth')
    out = run_repo([sys.executable, TOOL, src, dst])
    assert 'dropped: arg:linear1000_bias, arg:linear1000_weight' in out
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    sd = ckpt['state_dict']
    own = WideResNet38().state_dict()
    assert list(sd) == list(own)
    km = wr38_mxnet_key_map(list(own))
    assert len(km) == N_CONV + 4 * N_BN
    for k, v in sd.items():
        if k.endswith('num_batches_tracked'):
            assert int(v) == 0 and k not in km
            continue
        assert v.dtype == torch.float32
        assert torch.equal(v, torch.from_numpy(params[km[k]])), k
    # hand-picked values, independently of the key map
    assert torch.equal(sd['conv1a.weight'],
                       torch.from_numpy(params['arg:conv1a_weight']))
    assert torch.equal(sd['b7.0.conv3.weight'],
                       torch.from_numpy(params['arg:res7a_branch2b2_weight']))
    assert torch.equal(sd['b4.5.norm1.running_mean'],
                       torch.from_numpy(
                           params['aux:bn4b5_branch2a_moving_mean']))
    assert torch.equal(sd['bn7.bias'], torch.from_numpy(
        params['arg:bn7_beta']))
    model = WideResNet38()
    model.load_state_dict(sd, strict=True)
    # the checkpoint also works as the backbone's init_cfg
    pre = WideResNet38(init_cfg=dict(type='Pretrained', checkpoint=dst))
    pre.init_weights()
    assert torch.equal(pre.b5[1].conv2.weight,
                       torch.from_numpy(params['arg:res5b1_branch2b1_weight']))
    assert torch.equal(pre.b6[0].norm3.running_var,
                       torch.from_numpy(
                           params['aux:bn6a_branch2b2_moving_var']))
    # --prefix / keys without arg:/aux: (Gluon style), same values
    bare = {k.split(':', 1)[-1]: v for k, v in params.items()}
    sd2, dropped = convert_wr38_mxnet_params(
        bare, meta_model, prefix='backbone.')
    assert dropped == ['linear1000_bias', 'linear1000_weight']
    assert list(sd2) == ['backbone.' + k for k in sd]
    assert torch.equal(sd2['backbone.b3.2.conv1.weight'],
                       sd['b3.2.conv1.weight'])


def test_missing_key_fails_in_one_line(tmp_path, meta_model):
    params = _params(meta_model, tiny=True)
    del params['arg:res4b3_branch2b1_weight']
    src = str(tmp_path / 'p.npz')
    np.savez(src, **params)
    dst = str(tmp_path / 'out.pth')
    out = run_repo([sys.executable, TOOL, src, dst], ok=False)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith('error: '), out
    assert '1 WR38 key(s) missing' in lines[0]
    assert 'arg:res4b3_branch2b1_weight' in lines[0]
    assert not osp.exists(dst)
    line = tool_error(_tool_main(), [src, dst])
    assert 'arg:res4b3_branch2b1_weight' in line


@pytest.mark.parametrize('case', ['extra', 'duplicate', 'shape'])
def test_bad_parameter_sets_fail_in_one_line(tmp_path, meta_model, case):
    params = _params(meta_model, tiny=True)
    if case == 'extra':
        params['arg:res8a_branch2a_weight'] = np.zeros(1, np.float32)
        want = ['1 MXNet key(s) not mapped', 'arg:res8a_branch2a_weight']
    elif case == 'duplicate':
        params['conv1a_weight'] = np.zeros(1, np.float32)
        want = ['twice', 'arg:conv1a_weight / conv1a_weight']
    else:  # tiny arrays: every shape differs
        want = [f'{N_CONV + 4 * N_BN} shape mismatch(es)',
                'arg:conv1a_weight: [1] vs conv1a.weight: [64, 3, 3, 3]']
    src = str(tmp_path / 'p.npz')
    np.savez(src, **params)
    dst = str(tmp_path / 'out.pth')
    line = tool_error(_tool_main(), [src, dst])
    for w in want:
        assert w in line, line
    assert not osp.exists(dst)


def test_input_format_errors(tmp_path):
    main = _tool_main()
    line = tool_error(main, [str(tmp_path / 'nope.npz'), 'x.pth'])
    assert 'input file not found' in line
    params = tmp_path / 'model.params'
    params.write_bytes(b'\x12\x01\x00\x00')
    try:
        import mxnet  # noqa: F401
    except ImportError:
        line = tool_error(main, [str(params), str(tmp_path / 'o.pth')])
        assert 'pip install mxnet' in line and 'numpy.savez' in line
    other = tmp_path / 'model.bin'
    other.write_bytes(b'0')
    assert 'unknown format' in tool_error(main, [str(other), 'o.pth'])
    bad = tmp_path / 'broken.npz'
    bad.write_bytes(b'not a zip')
    assert 'cannot read' in tool_error(main, [str(bad), 'o.pth'])
