"""Fully connected (dense) CRF refiner on top of ``pydensecrf``.

Krähenbühl–Koltun CRF with Potts compatibility and mean-field inference
(``pydensecrf.densecrf.DenseCRF2D``) on the original-resolution uint8 RGB
image, with the pairwise kernel

``k(i, j) = w_g exp(-|p_i - p_j|^2 / 2 θ_g^2)
+ w_b exp(-|p_i - p_j|^2 / 2 θ_α^2 - |I_i - I_j|^2 / 2 θ_β^2)``.

The four parameter sets of the official codebases are named presets
(:data:`CRF_PRESETS`):

==========  =======================  ==========  ===============  =====
preset      unary                    gauss       bilateral        iters
                                     sxy/compat  sxy/srgb/compat
==========  =======================  ==========  ===============  =====
label       hard labels, gt_prob .7  3 / 3       50 / 5 / 10      10
softmax     -log clip(p, 1e-5, 1)    3 / 3       80 / 13 / 10     10
rsepm       -log clip(p, 1e-5, 1)    1 / 3       67 / 3 / 4       10
rrm_test    -log clip(p, 1e-5, 1)    3 / 3       83 / 5 / 4       10
==========  =======================  ==========  ===============  =====

The label unary follows the official code (``zero_unsure`` off):
``-log gt_prob`` for the given label and ``-log((1 - gt_prob) / (n_labels -
1))`` for the others (pydensecrf's ``unary_from_labels``). The CRF always
runs on the *compact* label set (background + the image's present classes);
``keys`` maps compact indices to mask class ids (``keys[0] = 0``).

pydensecrf is single-threaded C++; many images are refined in parallel with
a process pool (:meth:`DenseCRF.map`, :func:`mmwsss.utils.imap_pool`).
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmseg.registry import MODELS

__all__ = ['DenseCRF', 'CRF_PRESETS', 'compact_labels']

#: Columns of the preset table below.
_PRESET_KEYS = ('unary', 'gaussian_sxy', 'gaussian_compat', 'bilateral_sxy',
                'bilateral_srgb', 'bilateral_compat', 'iters')

#: Named parameter sets of the official codebases [code]
#: (the label preset adds ``gt_prob=0.7``).
CRF_PRESETS: Dict[str, dict] = {
    name: dict(zip(_PRESET_KEYS, row))
    for name, row in (
        ('label', ('label', 3, 3, 50, 5, 10, 10)),
        ('softmax', ('softmax', 3, 3, 80, 13, 10, 10)),
        ('rsepm', ('softmax', 1, 3, 67, 3, 4, 10)),
        ('rrm_test', ('softmax', 3, 3, 83, 5, 4, 10)),
    )  # yapf: disable
}
CRF_PRESETS['label']['gt_prob'] = 0.7

_PARAM_KEYS = ('unary', 'gt_prob', 'gaussian_sxy', 'gaussian_compat',
               'bilateral_sxy', 'bilateral_srgb', 'bilateral_compat', 'iters',
               'prob_clip')


def _import_densecrf():
    try:
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_labels, unary_from_softmax
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            'The dense CRF needs pydensecrf: `pip install pydensecrf2` (it '
            'is in requirements/runtime.txt).') from e
    return dcrf, unary_from_labels, unary_from_softmax


def compact_labels(label_map: np.ndarray,
                   keys: Sequence[int],
                   what: str = 'label map') -> np.ndarray:
    """Map class ids to compact indices (``keys[i] -> i``).

    Args:
        label_map (np.ndarray): ``(H, W)`` integer class ids.
        keys (Sequence[int]): Class id of each compact index (``keys[0]``
            is background).
        what (str): Name used in error messages.

    Returns:
        np.ndarray: ``(H, W)`` int64 compact indices.

    Raises:
        ValueError: A pixel holds a class that is not in ``keys``.
    """
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    label_map = np.asarray(label_map)
    if label_map.size and int(label_map.min()) < 0:
        raise ValueError(f'{what} contains negative class ids.')
    lut = np.full(
        max(int(keys.max(initial=0)), int(label_map.max(initial=0))) + 1, -1,
        np.int64)
    lut[keys] = np.arange(keys.size)
    out = lut[np.asarray(label_map, dtype=np.int64)]
    if (out < 0).any():
        bad = sorted(set(np.unique(label_map[out < 0]).tolist()))
        raise ValueError(f'{what} contains class ids {bad} that are not in '
                         f'keys {keys.tolist()}.')
    return out


@MODELS.register_module()
class DenseCRF:
    """Dense CRF refiner with the official named presets.

    Examples:
        >>> crf = DenseCRF('label')                       # affinity labels
        >>> crf_rw = DenseCRF('label', iters=1)           # final RW labels
        >>> lab = crf(img_u8, label_map, keys=keys)       # class ids
        >>> crf_test = DenseCRF('softmax')
        >>> q = crf_test.refine_probs(img_u8, probs)      # (C, H, W)

    Args:
        preset (str): ``'label'``, ``'softmax'``, ``'rsepm'`` or
            ``'rrm_test'`` (:data:`CRF_PRESETS`). Defaults to ``'label'``.
        **overrides: Parameters replacing those of the preset: ``unary``
            (``'label'`` | ``'softmax'``), ``gt_prob``, ``gaussian_sxy``,
            ``gaussian_compat``, ``bilateral_sxy``, ``bilateral_srgb``,
            ``bilateral_compat``, ``iters``, ``prob_clip`` (default 1e-5).
    """

    def __init__(self, preset: str = 'label', **overrides) -> None:
        if preset not in CRF_PRESETS:
            raise ValueError(f'unknown CRF preset {preset!r}; choose from '
                             f'{sorted(CRF_PRESETS)}.')
        unknown = set(overrides) - set(_PARAM_KEYS)
        if unknown:
            raise TypeError(f'unknown DenseCRF parameters {sorted(unknown)};'
                            f' allowed: {list(_PARAM_KEYS)}.')
        params = dict(gt_prob=0.7, prob_clip=1e-5)
        params.update(CRF_PRESETS[preset])
        params.update(overrides)
        if params['unary'] not in ('label', 'softmax'):
            raise ValueError(f"unary must be 'label' or 'softmax', got "
                             f"{params['unary']!r}.")
        if not 0 < params['gt_prob'] < 1:
            raise ValueError(f"gt_prob must be in (0, 1), got "
                             f"{params['gt_prob']}.")
        if int(params['iters']) < 0:
            raise ValueError(f"iters must be >= 0, got {params['iters']}.")
        self.preset = preset
        self.params = params

    def __repr__(self) -> str:
        extra = ', '.join(f'{k}={v}' for k, v in self.params.items())
        return f'{type(self).__name__}(preset={self.preset!r}, {extra})'

    # ------------------------------------------------------------ core
    @staticmethod
    def _check_image(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f'the CRF needs the original uint8 RGB image (H, W, 3), got '
                f'dtype {image.dtype} shape {image.shape}.')
        return np.ascontiguousarray(image)

    def _inference(self, image: np.ndarray, unary: np.ndarray,
                   n_labels: int) -> np.ndarray:
        dcrf, _, _ = _import_densecrf()
        h, w = image.shape[:2]
        p = self.params
        d = dcrf.DenseCRF2D(w, h, n_labels)
        d.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
        d.addPairwiseGaussian(
            sxy=p['gaussian_sxy'], compat=p['gaussian_compat'])
        d.addPairwiseBilateral(
            sxy=p['bilateral_sxy'],
            srgb=p['bilateral_srgb'],
            rgbim=image,
            compat=p['bilateral_compat'])
        q = d.inference(int(p['iters']))
        return np.asarray(q, dtype=np.float32).reshape(n_labels, h, w)

    def label_unary(self, labels: np.ndarray, n_labels: int) -> np.ndarray:
        """Unary energy of hard labels (``zero_unsure`` off).

        Args:
            labels (np.ndarray): ``(H, W)`` compact indices in
                ``0..n_labels-1``.
            n_labels (int): Number of labels (>= 2).

        Returns:
            np.ndarray: float32 ``(n_labels, H * W)``.
        """
        _, unary_from_labels, _ = _import_densecrf()
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= n_labels):
            raise ValueError(f'labels must be in [0, {n_labels}), found '
                             f'[{labels.min()}, {labels.max()}].')
        return unary_from_labels(
            labels,
            n_labels,
            gt_prob=self.params['gt_prob'],
            zero_unsure=False)

    def softmax_unary(self, probs: np.ndarray) -> np.ndarray:
        """``-log(clip(p, prob_clip, 1))``, float32 ``(C, H * W)``."""
        _, _, unary_from_softmax = _import_densecrf()
        probs = np.asarray(probs, dtype=np.float32)
        return unary_from_softmax(probs, clip=self.params['prob_clip'])

    def refine_probs(self, image: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Mean-field marginals from class probabilities.

        Args:
            image (np.ndarray): uint8 RGB ``(H, W, 3)``.
            probs (np.ndarray): ``(C, H, W)`` probabilities (e.g. softmax of
                the compact classes).

        Returns:
            np.ndarray: float32 ``(C, H, W)`` marginals ``Q``.
        """
        image = self._check_image(image)
        probs = np.asarray(probs)
        if probs.ndim != 3 or probs.shape[1:] != image.shape[:2]:
            raise ValueError(f'probs must be (C, H, W) with H, W = '
                             f'{image.shape[:2]}, got {probs.shape}.')
        if probs.shape[0] < 2:
            return np.ones_like(probs, dtype=np.float32)
        return self._inference(image, self.softmax_unary(probs),
                               probs.shape[0])

    def refine_compact(self, image: np.ndarray, labels: np.ndarray,
                       n_labels: int) -> np.ndarray:
        """Refine compact hard labels with the label unary.

        Args:
            image (np.ndarray): uint8 RGB ``(H, W, 3)``.
            labels (np.ndarray): ``(H, W)`` compact indices.
            n_labels (int): Number of compact labels (``len(keys)``).

        Returns:
            np.ndarray: int64 ``(H, W)`` compact indices (argmax of ``Q``).
        """
        image = self._check_image(image)
        labels = np.asarray(labels)
        if labels.shape != image.shape[:2]:
            raise ValueError(f'labels size {labels.shape} does not match the'
                             f' image size {image.shape[:2]}.')
        if n_labels < 2:
            # a single label: nothing to decide
            return np.zeros(labels.shape, np.int64)
        q = self._inference(image, self.label_unary(labels, n_labels),
                            n_labels)
        return q.argmax(0)

    # ------------------------------------------------------------ API
    def __call__(self,
                 image: np.ndarray,
                 x: np.ndarray,
                 keys: Optional[Sequence[int]] = None) -> np.ndarray:
        """Refine a label map (label unary) or probabilities (softmax unary).

        Args:
            image (np.ndarray): uint8 RGB ``(H, W, 3)``.
            x (np.ndarray): Label unary: ``(H, W)`` class ids (with
                ``keys``) or compact indices (without). Softmax unary:
                ``(C, H, W)`` probabilities of the compact classes.
            keys (Sequence[int], optional): Class id of every compact
                index. Label unary without keys: ``n_labels = x.max() + 1``.

        Returns:
            np.ndarray: ``(H, W)`` int64 labels; class ids when ``keys`` is
            given, compact indices otherwise.
        """
        if self.params['unary'] == 'label':
            if keys is not None:
                keys_a = np.asarray(keys, dtype=np.int64).reshape(-1)
                comp = compact_labels(x, keys_a)
                return keys_a[self.refine_compact(image, comp, keys_a.size)]
            x = np.asarray(x)
            n = int(x.max(initial=0)) + 1
            return self.refine_compact(image, x, n)
        lab = self.refine_probs(image, x).argmax(0)
        if keys is not None:
            return np.asarray(keys, dtype=np.int64).reshape(-1)[lab]
        return lab

    def map(self,
            items: Iterable[Tuple[np.ndarray, np.ndarray,
                                  Optional[Sequence[int]]]],
            workers: int = 0,
            progress: bool = False) -> List[np.ndarray]:
        """Refine many images, in parallel with a process pool.

        Args:
            items (Iterable[tuple]): ``(image, x, keys)`` triples, see
                :meth:`__call__`.
            workers (int): Worker processes (0 or 1: in this process).
            progress (bool): Show a progress bar.

        Returns:
            list[np.ndarray]: The refined label maps, in input order.
        """
        from mmwsss.utils.parallel import imap_pool
        items = list(items)
        return list(
            imap_pool(
                _CRFJob(self), items, workers=workers, progress=progress))


class _CRFJob:
    """Picklable callable running a :class:`DenseCRF` on one item."""

    def __init__(self, crf: DenseCRF) -> None:
        self.crf = crf

    def __call__(self, item: Tuple) -> np.ndarray:
        image, x, keys = item
        return self.crf(image, x, keys)
