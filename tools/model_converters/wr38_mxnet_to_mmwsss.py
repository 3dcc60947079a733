#!/usr/bin/env python
"""Convert the MXNet ImageNet WideResNet-38 into an mmwsss checkpoint.

Reads the parameters of the MXNet ``ilsvrc-cls_rna-a1`` model (the ImageNet
WR38 that PSA and RRM start from) and writes a checkpoint
``{'state_dict': ..., 'meta': ...}`` whose keys are those of
:class:`mmwsss.models.backbones.WideResNet38`, for
``backbone.init_cfg=dict(type='Pretrained', checkpoint=OUT)`` (or, with
``--prefix backbone.``, for ``load_from``).

Input formats:

* ``.params``: read with ``mxnet.nd.load`` (needs the ``mxnet`` package).
* ``.npz``: the same arrays under the same names, e.g. written where mxnet
  is installed by ``numpy.savez(OUT, **{k: v.asnumpy() for k, v in
  mxnet.nd.load(PARAMS).items()})``.

Key mapping (:func:`mmwsss.models.backbones.wr38_mxnet_key`): ``conv1a``;
units ``res{s}{u}`` / ``bn{s}{u}`` with ``u = a, b1, b2, ...`` (stages 2..7
with 3, 3, 6, 3, 1, 1 units); convs ``branch2a``, ``branch2b1``,
``branch2b2`` (bottleneck only) and the projection shortcut ``branch1``;
the BN named after a conv's branch is the BN that *precedes* that conv
(``bn{s}{u}_branch2a`` is the pre-activation BN of the unit input); the final
BN ``bn7``; parameters ``arg:..._weight`` (convs), ``arg:..._gamma`` /
``arg:..._beta`` and ``aux:..._moving_mean`` / ``aux:..._moving_var`` (BN).
``arg:linear1000_weight`` / ``arg:linear1000_bias`` (the ImageNet classifier)
are dropped. Assumptions (the naming of the PSA/RRM conversion of this file,
not checked against the file itself here): the unit letters and branch names
above, and that the arrays are stored in PyTorch's layout (conv weights
``(out, in, kh, kw)``). Keys are matched without their ``arg:`` / ``aux:``
prefix, so a Gluon-style file without prefixes is read too.

Nothing is dropped silently: a backbone key missing from the file, a file key
that is neither a backbone key nor the classifier, or a shape mismatch stops
the tool with one ``error: ...`` line (exit status 2) and writes nothing.
The output is written to a temporary file and renamed.

Example::

    python tools/model_converters/wr38_mxnet_to_mmwsss.py \\
        ilsvrc-cls_rna-a1_cls1000_ep-0001.params \\
        pretrain/wr38_imagenet_mmwsss.pth
"""
import argparse
import os.path as osp
import sys
import zipfile
from typing import Dict, Optional, Sequence

import numpy as np

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tools.cli_helpers import add_debug_arg, check_files, cli_run  # noqa


def load_mxnet_params(path: str) -> Dict[str, np.ndarray]:
    """The arrays of a ``.params`` (mxnet) or ``.npz`` file by name.

    Args:
        path (str): Input file.

    Returns:
        dict: Name -> array.

    Raises:
        SystemExit: ``error: ...`` for an unknown format or a ``.params``
            file without mxnet.
        ValueError: The ``.npz`` file cannot be read.
    """
    ext = osp.splitext(path)[1].lower()
    if ext == '.params':
        try:
            import mxnet
        except ImportError:
            raise SystemExit(
                f'error: reading the MXNet file {path} needs the mxnet '
                f'package, which is not installed: pip install mxnet, or '
                f'convert it to .npz where mxnet is installed '
                f'(numpy.savez(out, **{{k: v.asnumpy() for k, v in '
                f'mxnet.nd.load(path).items()}}))') from None
        return {k: v.asnumpy() for k, v in mxnet.nd.load(path).items()}
    if ext == '.npz':
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            raise ValueError(f'cannot read the parameter file {path} as '
                             f'.npz ({e}): check the file') from None
    raise SystemExit(f'error: input file {path}: unknown format "{ext}"; '
                     f'give an MXNet .params file or an .npz of its arrays')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert the parameters; returns the exit status."""
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__)
    p.add_argument('src', help='MXNet .params file, or .npz of its arrays')
    p.add_argument('dst', help='output checkpoint (.pth)')
    p.add_argument(
        '--prefix',
        default='',
        help='prepended to every key, e.g. "backbone." for load_from of a '
        'whole model (default: none, for backbone.init_cfg)')
    add_debug_arg(p)
    args = p.parse_args(argv)
    check_files(input=args.src)

    import torch

    from mmwsss.models.backbones.wide_resnet38 import convert_wr38_mxnet_params
    from mmwsss.utils.fileio import atomic_write

    params = load_mxnet_params(args.src)
    state_dict, dropped = convert_wr38_mxnet_params(
        params, prefix=args.prefix)
    ckpt = dict(
        state_dict=state_dict,
        meta=dict(
            source=osp.abspath(args.src),
            converter='tools/model_converters/wr38_mxnet_to_mmwsss.py',
            dropped=dropped))
    atomic_write(args.dst, lambda f: torch.save(ckpt, f))
    n_params = sum(v.numel() for v in state_dict.values())
    print(f'{args.dst}: {len(state_dict)} tensors ({n_params / 1e6:.2f}M '
          f'values) of WideResNet38 from {len(params)} MXNet arrays; '
          f'dropped: {", ".join(dropped) or "none"}')
    return 0


if __name__ == '__main__':
    sys.exit(cli_run(main))
