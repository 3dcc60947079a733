"""Confusion matrices and metrics for CAM / pseudo-label evaluation.

Implements the CAM-to-label rule and the evaluation protocol:

* :func:`sweep_confusion`: ``(T, C, C)`` int64 confusion matrices of a
  max-normalised CAM against a GT mask for a sweep of background thresholds
  (``label = keys[argmax(concat([t], hr_cam))]``, ties go to background).
* :func:`label_confusion`: ``(C, C)`` confusion of a label map (``png``
  mode: pseudo labels, segmentation outputs).
* :func:`confusion_to_metrics`: IoU, mIoU, FP, FN, FP_BG, FP_FG.
* :func:`summarize_confusion` / :func:`format_report`: best threshold,
  mIoU(t) curve, over/under report and the printed tables, shared by
  :class:`~mmwsss.evaluation.CAMSweepMetric` and ``tools/cam/eval_cams.py``.

Confusion matrices have rows = GT class and columns = predicted class; GT
pixels equal to ``ignore_index`` (255) are not counted. All counters are
int64. Metric values are fractions in [0, 1] (the metric / tool report IoU
in percent).
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'thresholds_from', 'sweep_confusion', 'label_confusion',
    'confusion_to_metrics', 'summarize_confusion', 'format_report'
]

ArrayLike = Union[Tensor, np.ndarray, Sequence]
EPS = 1e-10


def thresholds_from(start: float = 0.05,
                    end: float = 0.75,
                    step: float = 0.05,
                    decimals: int = 10) -> List[float]:
    """Inclusive, float-error-robust threshold range.

    ``thresholds_from()`` gives the 15 values 0.05, 0.10, ..., 0.75.

    Args:
        start (float): First threshold. Defaults to 0.05.
        end (float): Last threshold (included when reached within 1e-6
            steps). Defaults to 0.75.
        step (float): Increment (> 0). Defaults to 0.05.
        decimals (int): Values are rounded to this many decimals so that
            e.g. 0.15000000000000002 prints as 0.15. Defaults to 10.

    Returns:
        list[float]: Ascending thresholds.
    """
    if not step > 0:
        raise ValueError(f'step must be > 0, got {step}.')
    if end < start:
        raise ValueError(f'end ({end}) must be >= start ({start}).')
    num = int(math.floor((end - start) / step + 1e-6)) + 1
    return [round(start + i * step, decimals) for i in range(num)]


def _as_tensor(x: ArrayLike, device: Optional[torch.device] = None) -> Tensor:
    if isinstance(x, Tensor):
        return x if device is None else x.to(device)
    arr = np.asarray(x)
    if arr.dtype == np.uint16:
        arr = arr.astype(np.int64)
    return torch.as_tensor(arr, device=device)


def _squeeze_gt(gt: Tensor) -> Tensor:
    if gt.ndim == 3 and gt.shape[0] == 1:
        gt = gt[0]
    if gt.ndim != 2:
        raise ValueError(f'gt must be (H, W) or (1, H, W), got shape '
                         f'{tuple(gt.shape)}.')
    return gt.long()


def _check_range(values: Tensor, num_classes: int, what: str) -> None:
    if values.numel() == 0:
        return
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(
            f'{what} values must be in [0, {num_classes}) (or the ignore '
            f'index), found range [{lo}, {hi}].')


def sweep_confusion(hr_cam: ArrayLike,
                    keys: ArrayLike,
                    gt: ArrayLike,
                    thresholds: Sequence[float],
                    num_classes: int,
                    ignore_index: int = 255) -> Tensor:
    """Confusion matrices of a CAM for a sweep of background thresholds.

    For each threshold ``t``: ``pred = keys[argmax(concat([t], hr_cam))]``
    with the first maximum winning, i.e. a pixel is background iff
    ``t >= max_c hr_cam[c]`` and otherwise takes the key of its (first)
    maximal class. ``t`` is compared in the dtype of ``hr_cam`` (as when it
    is concatenated to it).

    The sweep is exact and needs one ``bincount`` for all thresholds: each
    pixel is binned by (number of thresholds below its max, gt, fg label);
    cumulative sums over the first axis give every threshold.

    Args:
        hr_cam (Tensor | np.ndarray): ``(|P|, H, W)`` max-normalised CAMs of
            the present classes (any float dtype; GPU tensors stay on GPU).
        keys (Tensor | np.ndarray | Sequence[int]): ``(|P| + 1,)`` mask class
            of the background channel and of each map
            (``[0] + [k + 1 for k in P]``).
        gt (Tensor | np.ndarray): ``(H, W)`` or ``(1, H, W)`` GT mask.
        thresholds (Sequence[float]): T background thresholds (any order).
        num_classes (int): C, number of mask classes incl. background.
        ignore_index (int): GT value not counted. Defaults to 255.

    Returns:
        Tensor: int64 ``(T, C, C)`` on the device of ``hr_cam``; rows = GT,
        columns = prediction; entry ``t`` belongs to ``thresholds[t]``.
    """
    cam = _as_tensor(hr_cam)
    device = cam.device
    keys_t = _as_tensor(keys, device).long().reshape(-1)
    gt_t = _squeeze_gt(_as_tensor(gt, device))
    if cam.ndim == 2 and keys_t.numel() == 2:
        cam = cam[None]
    if cam.ndim != 3:
        raise ValueError(f'hr_cam must be (|P|, H, W), got shape '
                         f'{tuple(cam.shape)}.')
    num_maps = cam.shape[0]
    if keys_t.numel() != num_maps + 1:
        raise ValueError(f'keys must have |P| + 1 = {num_maps + 1} entries, '
                         f'got {keys_t.numel()}.')
    if tuple(cam.shape[1:]) != tuple(gt_t.shape):
        raise ValueError(f'hr_cam spatial size {tuple(cam.shape[1:])} does '
                         f'not match gt size {tuple(gt_t.shape)}.')
    _check_range(keys_t, num_classes, 'keys')
    C = int(num_classes)
    thr_dtype = cam.dtype if cam.is_floating_point() else torch.float32
    thr = torch.as_tensor(
        list(thresholds), dtype=thr_dtype, device=device).reshape(-1)
    T = thr.numel()
    if T == 0:
        raise ValueError('thresholds must not be empty.')

    valid = gt_t != ignore_index
    g = gt_t[valid]
    _check_range(g, C, 'gt')
    if num_maps == 0:
        # no present class: everything is background (keys[0])
        hist = torch.bincount(g * C + keys_t[0], minlength=C * C).view(C, C)
        return hist.unsqueeze(0).expand(T, C, C).clone()

    cam32 = cam.float()
    m, a = cam32.max(dim=0)  # first maximum on ties
    m = m[valid]
    if torch.isnan(m).any():
        raise ValueError('hr_cam contains NaN values.')
    f = keys_t[1:][a[valid]]
    thr_sorted, order = torch.sort(thr.float())
    # n = #{thresholds < max}: the pixel is foreground for sorted index i < n
    n = torch.searchsorted(thr_sorted, m.contiguous(), right=False)
    idx = (n * C + g) * C + f
    hist = torch.bincount(idx, minlength=(T + 1) * C * C).view(T + 1, C, C)
    # fg[i] = sum_{n > i} hist[n] ; bg[i] = sum_{n <= i} hist[n]
    fg = hist.flip(0).cumsum(0).flip(0)[1:]
    bg = hist.cumsum(0)[:T].sum(dim=2)  # (T, C) per gt class
    conf = fg.clone()
    conf[:, :, int(keys_t[0])] += bg
    out = torch.empty_like(conf)
    out[order] = conf
    return out


def label_confusion(pred: ArrayLike,
                    gt: ArrayLike,
                    num_classes: int,
                    ignore_index: int = 255,
                    pred_ignore: str = 'skip') -> Tensor:
    """Confusion matrix of a label map (``png`` mode).

    Args:
        pred (Tensor | np.ndarray): ``(H, W)`` or ``(1, H, W)`` predicted
            class ids; may contain ``ignore_index`` (unlabelled pixels of
            pseudo labels).
        gt (Tensor | np.ndarray): ``(H, W)`` or ``(1, H, W)`` GT mask.
        num_classes (int): C.
        ignore_index (int): Ignore value of GT and prediction.
            Defaults to 255.
        pred_ignore (str): How predicted ``ignore_index`` pixels count:
            ``'skip'``: not counted at all, result ``(C, C)`` (the contract
            shape); ``'miss'``: counted as a miss of their GT class (as in
            mmseg ``IoUMetric``), result ``(C, C + 1)`` whose last column
            holds them; ``'error'``: raise if there are any.
            Defaults to 'skip'.

    Returns:
        Tensor: int64 ``(C, C)`` (or ``(C, C + 1)`` with ``'miss'``),
        rows = GT, columns = prediction.
    """
    if pred_ignore not in ('skip', 'miss', 'error'):
        raise ValueError(f"pred_ignore must be 'skip', 'miss' or 'error', "
                         f'got {pred_ignore!r}.')
    pred_t = _as_tensor(pred)
    device = pred_t.device
    pred_t = _squeeze_gt(pred_t)
    gt_t = _squeeze_gt(_as_tensor(gt, device))
    if pred_t.shape != gt_t.shape:
        raise ValueError(f'prediction size {tuple(pred_t.shape)} does not '
                         f'match gt size {tuple(gt_t.shape)}.')
    C = int(num_classes)
    valid = gt_t != ignore_index
    g = gt_t[valid]
    p = pred_t[valid]
    _check_range(g, C, 'gt')
    p_ign = p == ignore_index
    _check_range(p[~p_ign], C, 'prediction')
    if pred_ignore == 'error' and bool(p_ign.any()):
        raise ValueError(f'prediction contains {int(p_ign.sum())} pixels '
                         f'labelled {ignore_index} on valid GT pixels.')
    if pred_ignore == 'miss':
        p = torch.where(p_ign, torch.full_like(p, C), p)
        return torch.bincount(
            g * (C + 1) + p, minlength=C * (C + 1)).view(C, C + 1)
    keep = ~p_ign
    return torch.bincount(g[keep] * C + p[keep], minlength=C * C).view(C, C)


def confusion_to_metrics(conf: ArrayLike,
                         class_names: Optional[Sequence[str]] = None,
                         average: str = 'mean') -> Dict:
    """IoU / FP / FN metrics from confusion matrices.

    With ``P_c`` = #pred c, ``T_c`` = #gt c, ``TP_c``, ``U_c = T_c + P_c -
    TP_c``: ``IoU_c = TP_c / (U_c + 1e-10)``, ``FP_c = (P_c - TP_c) / U_c``,
    ``FN_c = (T_c - TP_c) / U_c`` (so ``IoU + FP + FN = 1`` for every class
    with ``U_c > 0``), ``FP_BG_c = #{pred c, gt 0} / U_c``,
    ``FP_FG_c = #{pred c, gt not in {0, c}} / U_c``.

    Args:
        conf (Tensor | np.ndarray): ``(..., C, C)`` or ``(..., C, C + 1)``
            counts (rows GT, columns prediction; an extra last column counts
            unlabelled predictions, see :func:`label_confusion`).
        class_names (Sequence[str], optional): C names, returned as
            ``class_names``. Defaults to ``'0'..'C-1'``.
        average (str): ``'mean'``: mIoU over all C classes (background
            included; absent classes count as IoU 0, the Puzzle-CAM
            protocol); ``'nanmean'``: classes with ``U_c = 0`` are NaN and
            skipped (RS+EPM). FP/FN means follow the same rule.
            Defaults to 'mean'.

    Returns:
        dict: Per-class arrays (shape ``(..., C)``, float64 fractions):
        ``IoU``, ``FP_class``, ``FN_class``, ``FP_BG_class``, ``FP_FG_class``
        (FP_BG / FP_FG of background are NaN); means (float or array of the
        leading shape): ``mIoU`` (all C classes), ``FP``, ``FN``, ``FP_BG``,
        ``FP_FG`` (foreground classes 1..K only); int64 counts ``TP``,
        ``P``, ``T``, ``U``; ``class_names``.
    """
    if average not in ('mean', 'nanmean'):
        raise ValueError(f"average must be 'mean' or 'nanmean', got "
                         f'{average!r}.')
    if isinstance(conf, Tensor):
        conf = conf.detach().cpu().numpy()
    conf = np.asarray(conf).astype(np.int64)
    if conf.ndim < 2:
        raise ValueError(f'conf must be (..., C, C), got {conf.shape}.')
    C = conf.shape[-2]
    if conf.shape[-1] not in (C, C + 1):
        raise ValueError(f'conf must be (..., C, C) or (..., C, C + 1), got '
                         f'{conf.shape}.')
    if class_names is None:
        class_names = [str(i) for i in range(C)]
    class_names = list(class_names)
    if len(class_names) != C:
        raise ValueError(f'{len(class_names)} class names for {C} classes.')

    sq = conf[..., :C, :C]
    tp = np.diagonal(sq, axis1=-2, axis2=-1)
    t_c = conf.sum(-1)
    p_c = sq.sum(-2)
    u_c = t_c + p_c - tp
    fp_bg_cnt = sq[..., 0, :].copy()
    fp_fg_cnt = p_c - tp - fp_bg_cnt
    u = u_c.astype(np.float64) + EPS
    iou = tp / u
    fp = (p_c - tp) / u
    fn = (t_c - tp) / u
    fp_bg = fp_bg_cnt / u
    fp_fg = fp_fg_cnt / u
    fp_bg[..., 0] = np.nan
    fp_fg[..., 0] = np.nan
    if average == 'nanmean':
        absent = u_c == 0
        for arr in (iou, fp, fn, fp_bg, fp_fg):
            arr[absent] = np.nan
        reduce = _nanmean
    else:
        reduce = _mean

    def _s(x):
        return float(x) if np.ndim(x) == 0 else x

    return dict(
        IoU=iou,
        FP_class=fp,
        FN_class=fn,
        FP_BG_class=fp_bg,
        FP_FG_class=fp_fg,
        mIoU=_s(reduce(iou)),
        FP=_s(reduce(fp[..., 1:])),
        FN=_s(reduce(fn[..., 1:])),
        FP_BG=_s(reduce(fp_bg[..., 1:])),
        FP_FG=_s(reduce(fp_fg[..., 1:])),
        TP=tp,
        P=p_c,
        T=t_c,
        U=u_c,
        class_names=class_names)


def _mean(x: np.ndarray) -> np.ndarray:
    if x.shape[-1] == 0:
        return np.full(x.shape[:-1], np.nan)
    return x.mean(-1)


def _nanmean(x: np.ndarray) -> np.ndarray:
    with np.errstate(all='ignore'):
        cnt = (~np.isnan(x)).sum(-1)
        tot = np.nansum(x, -1)
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _f(x) -> Optional[float]:
    x = float(x)
    return None if math.isnan(x) else x


def summarize_confusion(conf: ArrayLike,
                        thresholds: Optional[Sequence[float]] = None,
                        class_names: Optional[Sequence[str]] = None,
                        average: str = 'mean',
                        over_under: bool = False,
                        over_factor: float = 1.6,
                        under_factor: float = 0.6) -> Dict:
    """Summary of a (sweep of) confusion matrices, JSON-serialisable.

    Args:
        conf (Tensor | np.ndarray): ``(T, C, C[+1])`` with ``thresholds``
            (sweep) or ``(C, C[+1])`` without (png mode).
        thresholds (Sequence[float], optional): The T thresholds.
        class_names (Sequence[str], optional): C class names.
        average (str): ``'mean'`` or ``'nanmean'``, see
            :func:`confusion_to_metrics`.
        over_under (bool): Add the Puzzle-CAM 'rw'-mode over/under report:
            the thresholds whose FP is closest to ``over_factor`` x and
            ``under_factor`` x FP(best), with their mIoU. Defaults to False.
        over_factor (float): Defaults to 1.6.
        under_factor (float): Defaults to 0.6.

    Returns:
        dict: ``mode`` ('sweep' | 'png'), ``mIoU``, ``FP``, ``FN``,
        ``FP_BG``, ``FP_FG`` (fractions, at the best threshold), ``per_class``
        (dict of lists: ``class``, ``IoU``, ``FP``, ``FN``, ``FP_BG``,
        ``FP_FG``; NaN as None), ``num_classes``; in sweep mode also
        ``best_thr``, ``best_index``, ``thresholds``, ``curve`` (dict of
        lists ``mIoU``, ``FP``, ``FN``, ``FP_BG``, ``FP_FG`` per threshold)
        and, with ``over_under``, ``over`` / ``under`` (``thr``, ``mIoU``,
        ``FP``, ``FN``); for a ``(C, C + 1)`` png-mode matrix also
        ``ignored``: the share of the valid GT pixels predicted
        ``ignore_index`` (counted as misses in the mIoU).
    """
    if isinstance(conf, Tensor):
        conf = conf.detach().cpu().numpy()
    conf = np.asarray(conf)
    sweep = thresholds is not None
    if sweep:
        thresholds = [float(t) for t in thresholds]
        if conf.ndim != 3 or conf.shape[0] != len(thresholds):
            raise ValueError(f'conf must be (T={len(thresholds)}, C, C), '
                             f'got {conf.shape}.')
    elif conf.ndim != 2:
        raise ValueError(f'conf must be (C, C) without thresholds, got '
                         f'{conf.shape}.')
    met = confusion_to_metrics(conf, class_names, average)
    names = met['class_names']
    out: Dict = dict(mode='sweep' if sweep else 'png', num_classes=len(names))
    if sweep:
        curve = np.asarray(met['mIoU'], dtype=np.float64)
        if np.all(np.isnan(curve)):
            best = 0
        else:
            best = int(np.nanargmax(curve))  # first max: lowest threshold
        out.update(
            best_index=best,
            best_thr=thresholds[best],
            thresholds=thresholds,
            curve={
                k: [_f(v) for v in np.asarray(met[k])]
                for k in ('mIoU', 'FP', 'FN', 'FP_BG', 'FP_FG')
            })
        sel = best
    else:
        sel = ...
    out.update({
        k: _f(np.asarray(met[k])[sel])
        for k in ('mIoU', 'FP', 'FN', 'FP_BG', 'FP_FG')
    })
    out['per_class'] = dict({'class': names}, **{
        name: [_f(v) for v in np.asarray(met[key])[sel]]
        for name, key in (('IoU', 'IoU'), ('FP', 'FP_class'), ('FN',
                                                               'FN_class'),
                          ('FP_BG', 'FP_BG_class'), ('FP_FG', 'FP_FG_class'))
    })
    if conf.shape[-1] == conf.shape[-2] + 1:
        chosen = conf[sel]
        total = chosen.sum()
        out['ignored'] = _f(chosen[:, -1].sum() / total) if total else None
    if sweep and over_under:
        fp_curve = np.asarray(met['FP'], dtype=np.float64)
        fp_best = fp_curve[best]
        for name, factor in (('over', over_factor), ('under', under_factor)):
            dist = np.abs(fp_curve - factor * fp_best)
            dist = np.where(np.isnan(dist), np.inf, dist)
            i = int(np.argmin(dist))
            out[name] = dict(
                thr=thresholds[i],
                mIoU=_f(np.asarray(met['mIoU'])[i]),
                FP=_f(fp_curve[i]),
                FN=_f(np.asarray(met['FN'])[i]),
                target_FP=_f(factor * fp_best))
    return out


def _pct(x: Optional[float]) -> str:
    return 'nan' if x is None else f'{100 * x:.2f}'


def _frac(x: Optional[float]) -> str:
    return 'nan' if x is None else f'{x:.4f}'


def format_report(summary: Dict) -> str:
    """Human-readable tables of a :func:`summarize_confusion` summary.

    IoU / mIoU are printed in percent, FP / FN / FP_BG / FP_FG as fractions
    (as in the RS+EPM slide tables).

    Args:
        summary (dict): Output of :func:`summarize_confusion`.

    Returns:
        str: The report (several lines).
    """
    from prettytable import PrettyTable

    lines = []
    if summary['mode'] == 'sweep':
        lines.append(
            f"best mIoU {_pct(summary['mIoU'])} % at threshold "
            f"{summary['best_thr']:g} | FP {_frac(summary['FP'])} "
            f"FN {_frac(summary['FN'])} FP_BG {_frac(summary['FP_BG'])} "
            f"FP_FG {_frac(summary['FP_FG'])}")
    else:
        lines.append(
            f"mIoU {_pct(summary['mIoU'])} % | FP {_frac(summary['FP'])} "
            f"FN {_frac(summary['FN'])} FP_BG {_frac(summary['FP_BG'])} "
            f"FP_FG {_frac(summary['FP_FG'])}" +
            (f" | 255 share {_frac(summary['ignored'])} (misses)"
             if 'ignored' in summary else ''))
    pc = summary['per_class']
    table = PrettyTable()
    table.add_column('Class', pc['class'])
    table.add_column('IoU (%)', [_pct(v) for v in pc['IoU']])
    for k in ('FP', 'FN', 'FP_BG', 'FP_FG'):
        table.add_column(k, [_frac(v) for v in pc[k]])
    where = (f" at t={summary['best_thr']:g}"
             if summary['mode'] == 'sweep' else '')
    lines.append(f'per class results{where}:')
    lines.append(table.get_string())
    if summary['mode'] == 'sweep':
        curve = PrettyTable()
        curve.add_column('thr', [f'{t:g}' for t in summary['thresholds']])
        curve.add_column('mIoU (%)',
                         [_pct(v) for v in summary['curve']['mIoU']])
        curve.add_column('FP', [_frac(v) for v in summary['curve']['FP']])
        curve.add_column('FN', [_frac(v) for v in summary['curve']['FN']])
        curve.add_column('best', [
            '*' if i == summary['best_index'] else ''
            for i in range(len(summary['thresholds']))
        ])
        lines.append('mIoU(t) curve:')
        lines.append(curve.get_string())
        for name in ('over', 'under'):
            if name in summary:
                r = summary[name]
                lines.append(
                    f"{name}: t={r['thr']:g} mIoU {_pct(r['mIoU'])} % "
                    f"FP {_frac(r['FP'])} FN {_frac(r['FN'])} (target FP "
                    f"{_frac(r['target_FP'])})")
    return '\n'.join(lines)
