#!/usr/bin/env python
"""Benchmark: RRM's exact chunked dense energy loss vs float64 brute force.

Per grid side s (``--sizes``, default 48 64 96 128 161; N = s² pixels of
the half-resolution energy grid, 161 = a 321 crop): ``DenseEnergyLoss``
(``mmwsss.models.losses``, defaults: ``normalize='z'``, autograd, energy
scale 0.5, σ_xy 100 x 0.5, σ_rgb 15) on a batch of ``--batch`` 2s x 2s
crops of a real photo (``skimage.data.astronaut``) with ``--classes``
smooth random logit maps and 40 % random labels, forward + backward.

Each measurement runs in its own child process: time = the fastest of
``--repeat`` forward + backward passes; peak memory on CPU = the child's
peak RSS during the passes (``VmHWM``, reset through
``/proc/self/clear_refs`` just before them; ``ru_maxrss`` where that is
not possible) minus its RSS then, after imports, inputs and the warm-up
(so everything the loss allocates counts: tiles, autograd buffers,
gradients); on CUDA ``torch.cuda.max_memory_allocated`` over the
allocation before the passes. Methods:

- ``torch``: the chunked exact filter (``--chunk`` rows per tile; default
  the library's: 16 MiB tiles on CPU, ~200 MB on CUDA);
- ``keops``: the same loss with ``backend='keops'`` (only when pykeops
  imports, grids up to ``--keops-max``);
- ``brute``: the energy written with the dense N x N float64 kernel and
  torch autograd (grids up to ``--brute-max``, default 64).

One untimed forward + backward on a 16 x 16 corner comes first (KeOps
compiles its formula then, CUDA loads its kernels).

Errors (float32 ``torch`` vs float64): ``G v`` of the first image (v = the
ones map and the class probabilities on the grid, with and without the
self term dropped as in the loss) against a float64 row-chunked sum with
explicit coordinate differences, at every size; the loss value and its
gradient (w.r.t. the logits) against ``brute`` where it runs. Growth
exponents: least squares of log(time) and log(memory) on log(N).

``--smoke``: grids 8 and 12, batch 1, 3 classes, one repeat (seconds;
numbers meaningless; summary in ``work_dirs/smoke/energy_loss_bench``
unless ``--work-dir`` is given).

Usage::

    python benchmarks/energy_loss_bench.py [--sizes 48 64 96 128 161]
        [--batch 4] [--classes 21] [--repeat 2] [--brute-max 64]
        [--keops-max 64] [--chunk ROWS] [--device cpu|cuda]
        [--work-dir DIR] [--smoke]
"""
import argparse
import gc
import math
import multiprocessing as mp
import os
import os.path as osp
import resource
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

SIGMA_XY, SIGMA_RGB, SCALE = 100.0, 15.0, 0.5


def _rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def _reset_peak_rss() -> bool:
    """Reset the peak RSS (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """Peak RSS since the last reset (VmHWM), else since the start."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss: peak RSS of this process in KiB (Linux)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _inputs(grid, batch, classes, device, seed=0):
    """Crops (B, 3, 2s, 2s) 0-255, logits (B, C, 2s, 2s), labels."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from skimage import data
    photo = data.astronaut()
    side = 2 * grid
    if side > min(photo.shape[:2]):
        reps = -(-side // min(photo.shape[:2]))
        photo = np.tile(photo, (reps, reps, 1))
    span = min(photo.shape[:2]) - side + 1
    crops = []
    for k in range(batch):  # a different crop per image
        y0, x0 = (97 * k) % span, (61 * k) % span
        crops.append(photo[y0:y0 + side, x0:x0 + side])
    img = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    g = torch.Generator().manual_seed(seed)
    low = 3 * torch.randn(
        batch, classes, max(2, side // 16), max(2, side // 16), generator=g)
    logits = F.interpolate(
        low, (side, side), mode='bilinear', align_corners=False)
    label = logits.argmax(1)
    label[torch.rand(batch, side, side, generator=g) > 0.4] = 255
    return img.to(device), logits.to(device), label.to(device)


def _grid_inputs(img, logits, label):
    """The inputs on the energy grid (as the loss resamples them)."""
    import torch.nn.functional as F

    from mmwsss.models.losses import energy_grid_size
    size = energy_grid_size(img.shape[-2], img.shape[-1], SCALE)
    p = F.interpolate(
        logits.softmax(1).double(), size, mode='bilinear', align_corners=False)
    img_s = F.interpolate(img.double(), size, mode='nearest')
    lab = F.interpolate(label[:, None].double(), size, mode='nearest')[:, 0]
    return p, img_s, lab


def _features64(img_s):
    """(B, N, 5) float64 (x/σ, y/σ, rgb/σ_rgb) on the grid."""
    import torch
    b, _, h, w = img_s.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64),
        torch.arange(w, dtype=torch.float64),
        indexing='ij')
    s = SIGMA_XY * SCALE
    xy = torch.stack([xs.flatten() / s, ys.flatten() / s], 1)
    return torch.cat([
        xy[None].expand(b, -1, -1),
        img_s.double().flatten(2).transpose(1, 2) / SIGMA_RGB
    ], 2)


def gv_reference(feats, values, include_self, rows=256):
    """float64 ``[G v]`` of one image by explicit coordinate differences in
    row blocks; feats (N, 5), values (N, K). float64 does not underflow
    before exp(-708): no kernel value is cut."""
    import torch
    n = feats.shape[0]
    out = torch.empty_like(values)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        d2 = torch.zeros(stop - start, n, dtype=torch.float64)
        for k in range(feats.shape[1]):
            d2 += (feats[start:stop, k, None] - feats[None, :, k])**2
        g = torch.exp(-0.5 * d2)
        if not include_self:
            g[torch.arange(stop - start), torch.arange(start, stop)] = 0
        out[start:stop] = g @ values
    return out


def brute_energy(logits, img, label):
    """The default ('z', no self term) energy with the dense N x N float64
    kernel, differentiable w.r.t. ``logits``."""
    import torch
    p, img_s, lab = _grid_inputs(img, logits, label)
    b, c = p.shape[:2]
    pf = p.reshape(b, c, -1)
    gate = torch.clamp(1 - pf.detach().max(1).values, min=0)
    gate = torch.where(lab.reshape(b, -1) == 255, torch.ones_like(gate), gate)
    feats = _features64(img_s)
    total = 0
    for k in range(b):
        d2 = torch.cdist(
            feats[k], feats[k], compute_mode='donot_use_mm_for_euclid_dist')
        g = torch.exp(-0.5 * d2**2)
        g.fill_diagonal_(0)
        ghat = g / g.sum(1, keepdim=True)
        q = (pf[k] * (pf[k] @ ghat.T)).sum(0)
        total = total + (gate[k] * (1 - q)).sum() / pf.shape[-1]
    return total / b


def _child(method, grid, args, queue):
    import torch

    from mmwsss.models.losses import DenseEnergyLoss
    from mmwsss.models.utils import auto_chunk, bilateral_gaussian_filter
    dev = args['device']
    img, logits, label = _inputs(grid, args['batch'], args['classes'], dev)
    want_grad = grid <= args['brute_max']
    if method == 'brute':
        logits = logits.double()

        def step(x):
            return brute_energy(x, img, label)
    else:
        loss = DenseEnergyLoss(
            loss_weight=1.0, chunk=args['chunk'], backend=method)

        def step(x):
            return loss(x, label, img=img)

    # warm-up on a corner (KeOps compiles its formula, CUDA loads kernels)
    corner = logits[..., :16, :16].clone().requires_grad_()
    c_img, c_lab = img[..., :16, :16], label[..., :16, :16]
    if method == 'brute':
        brute_energy(corner, c_img, c_lab).backward()
    else:
        loss(corner, c_lab, img=c_img).backward()
    del corner
    if dev == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    gc.collect()
    _reset_peak_rss()
    base_rss = _rss_mb()
    times, value, grad = [], None, None
    for _ in range(args['repeat']):
        x = logits.clone().requires_grad_()
        t = time.perf_counter()
        v = step(x)
        v.backward()
        if dev == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        value, grad = v.item(), x.grad
    if dev == 'cuda':
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = _peak_rss_mb() - base_rss
    res = dict(
        method=method,
        grid=grid,
        seconds=min(times),
        times=times,
        peak_mb=peak,
        value=value,
        grad=grad.double().cpu().numpy() if want_grad else None)
    if method == 'torch':
        n = grid * grid
        rows = args['chunk'] or auto_chunk(args['batch'], n, 4, dev)
        res['chunk'] = min(rows, n)
        res['tile_mb'] = args['batch'] * min(rows, n) * n * 4 / 2**20
        # G v errors of the first image (after the timing and the peak)
        p, img_s, _ = _grid_inputs(img[:1].cpu(), logits[:1].cpu(),
                                   label[:1].cpu())
        vals = torch.cat([torch.ones_like(p[:, :1]), p], 1)
        feats = _features64(img_s)[0]
        errs = {}
        v64 = vals.flatten(2)[0].T
        ref_no_self = gv_reference(feats, v64, False)
        for self_term in (False, True):
            out = bilateral_gaussian_filter(
                vals.float().to(dev),
                img_s.float().to(dev),
                SIGMA_XY * SCALE,
                SIGMA_RGB,
                include_self=self_term,
                chunk=args['chunk']).double().cpu().flatten(2)[0].T
            # G_ii = exp(0) = 1: the self term adds v_i
            ref = ref_no_self + v64 if self_term else ref_no_self
            rel = (out - ref).abs() / ref.abs()
            errs['self' if self_term else 'no_self'] = (rel.max().item(),
                                                        rel.mean().item())
        res['gv_err'] = errs
    queue.put(res)


def measure(method, grid, args):
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(method, grid, args, q))
    p.start()
    res = q.get()
    p.join()
    return res


def fit_exponent(ns, ys):
    """Least-squares slope of log(y) on log(n) (None with < 2 points)."""
    pts = [(math.log(n), math.log(y)) for n, y in zip(ns, ys) if y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx)**2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--sizes',
        type=int,
        nargs='+',
        default=[48, 64, 96, 128, 161],
        help='energy grid sides (inputs are twice as large)')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--classes', type=int, default=21)
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument(
        '--brute-max',
        type=int,
        default=64,
        help='largest grid side of the N x N float64 brute force')
    parser.add_argument(
        '--keops-max',
        type=int,
        default=64,
        help='largest grid side of the keops backend (if installed)')
    parser.add_argument(
        '--no-keops', action='store_true', help='skip the keops backend')
    parser.add_argument(
        '--chunk',
        type=int,
        default=None,
        help='rows per kernel tile (default: the library default)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--work-dir', default=None, help='write summary.json there')
    from benchmarks import _smoke
    _smoke.add_smoke_arg(parser)
    args = parser.parse_args()
    args.work_dir = _smoke.work_dir('energy_loss_bench', args.work_dir,
                                    args.smoke, None)
    if args.smoke:
        args.sizes, args.batch, args.classes, args.repeat = [8, 12], 1, 3, 1
        args.brute_max = args.keops_max = 12
    import torch

    from mmwsss.models.utils import keops_available
    keops = keops_available() and not args.no_keops
    print(f'device {args.device}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} torch thread(s), {os.cpu_count()} '
          f'CPUs, load average {os.getloadavg()}')
    cargs = dict(
        device=args.device,
        batch=args.batch,
        classes=args.classes,
        repeat=args.repeat,
        brute_max=args.brute_max,
        chunk=args.chunk)
    results = []
    for grid in args.sizes:
        methods = ['torch']
        if keops and grid <= args.keops_max:
            methods.append('keops')
        if grid <= args.brute_max:
            methods.append('brute')
        for m in methods:
            res = measure(m, grid, cargs)
            print(
                f'  measured {m} {grid}x{grid}: {res["seconds"]:.3f} s, '
                f'{res["peak_mb"]:.1f} MiB',
                flush=True)
            results.append(res)

    def find(method, grid):
        for r in results:
            if r['method'] == method and r['grid'] == grid:
                return r
        return None

    print(f'\ndense energy loss forward + backward, normalize z, autograd, '
          f'B={args.batch}, C={args.classes}, σ_xy {SIGMA_XY * SCALE:g} / '
          f'σ_rgb {SIGMA_RGB:g} on the half-resolution grid of 2s x 2s '
          f'crops (astronaut photo), device {args.device}')
    if args.smoke:
        print(_smoke.SMOKE_NOTE)
    mem_note = ('peak RSS growth, own process'
                if args.device == 'cpu' else 'max_memory_allocated')
    print(f'{"method":6} {"grid":>8} {"N":>7} {"time s":>9} '
          f'{"peak MiB":>9}  note ({mem_note})')
    rows = []
    for r in results:
        n = r['grid']**2
        note = 'measured'
        if r['method'] == 'torch':
            note += (f', chunk {r["chunk"]} rows (tile '
                     f'{r["tile_mb"]:.1f} MiB)')
        if r['method'] == 'brute':
            note += ', float64 N x N'
        g = f'{r["grid"]}x{r["grid"]}'
        print(f'{r["method"]:6} {g:>8} {n:7d} {r["seconds"]:9.3f} '
              f'{r["peak_mb"]:9.1f}  {note}')
        rows.append(
            dict(
                method=r['method'],
                grid=r['grid'],
                n=n,
                seconds=r['seconds'],
                times=r['times'],
                peak_mb=r['peak_mb'],
                value=r['value'],
                note=note))

    print('\nerrors of float32 torch vs float64:')
    errors = {}
    for grid in args.sizes:
        t = find('torch', grid)
        gv = t['gv_err']
        line = (f'{grid}x{grid}: G v rel. error max '
                f'{gv["no_self"][0]:.2e}, mean {gv["no_self"][1]:.2e} '
                f'(self term included: max {gv["self"][0]:.2e}, mean '
                f'{gv["self"][1]:.2e})')
        err = dict(
            gv_max=gv['no_self'][0],
            gv_mean=gv['no_self'][1],
            gv_self_max=gv['self'][0],
            gv_self_mean=gv['self'][1])
        b = find('brute', grid)
        if b is not None:
            import numpy as np
            loss_rel = abs(t['value'] - b['value']) / abs(b['value'])
            d = np.abs(t['grad'] - b['grad'])
            gmax = float(d.max() / np.abs(b['grad']).max())
            gmean = float(d.mean() / np.abs(b['grad']).mean())
            line += (f'; loss rel. error {loss_rel:.2e}; gradient rel. '
                     f'error max {gmax:.2e}, mean {gmean:.2e}')
            err.update(loss_rel=loss_rel, grad_max=gmax, grad_mean=gmean)
            k = find('keops', grid)
            if k is not None:
                kl = abs(k['value'] - b['value']) / abs(b['value'])
                kg = float(
                    np.abs(k['grad'] - b['grad']).max() /
                    np.abs(b['grad']).max())
                line += f'; keops loss {kl:.2e}, gradient max {kg:.2e}'
                err.update(keops_loss_rel=kl, keops_grad_max=kg)
        else:
            line += '; loss / gradient: no brute force at this size'
        print(line)
        errors[grid] = err

    print('\ngrowth exponents in N (least squares on log-log):')
    exponents = {}
    for m in ('torch', 'keops', 'brute'):
        rs = [r for r in results if r['method'] == m]
        if len(rs) < 2:
            continue
        ns = [r['grid']**2 for r in rs]
        et = fit_exponent(ns, [r['seconds'] for r in rs])
        em = fit_exponent(ns, [r['peak_mb'] for r in rs])
        exponents[m] = dict(time=et, memory=em, n=ns)
        em_s = 'n/a' if em is None else f'{em:.2f}'
        print(f'{m:6} time ~ N^{et:.2f}, memory ~ N^{em_s} '
              f'(N = {", ".join(str(n) for n in ns)})')

    if args.work_dir:
        from mmwsss.utils.fileio import atomic_save_json
        os.makedirs(args.work_dir, exist_ok=True)
        out = osp.join(args.work_dir, 'summary.json')
        atomic_save_json(
            out,
            dict(
                rows=rows,
                errors={
                    str(k): v
                    for k, v in errors.items()
                },
                exponents=exponents,
                memory=mem_note,
                args=vars(args)))
        print(f'summary: {out}')


if __name__ == '__main__':
    main()
