"""Synthetic WSSS dataset, generated on first use."""
from typing import Optional, Sequence

from mmseg.registry import DATASETS

from .synthetic_gen import SYNTHETIC_CLASSES, generate_synthetic
from .utils import voc_palette
from .wsss_folder import WSSSFolderDataset

__all__ = ['SyntheticWSSSDataset']


@DATASETS.register_module()
class SyntheticWSSSDataset(WSSSFolderDataset):
    """Procedural 4-class WSSS dataset (disc, square, triangle, star).

    The data are generated deterministically by
    :func:`mmwsss.datasets.synthetic_gen.generate_synthetic` the first time
    the dataset is built (about 6 s for the defaults) into a cache folder in
    the mmwsss folder layout, then read by :class:`WSSSFolderDataset`. The
    defaults (128x128 images, train 600 / val 100 / test 200, seed 0) go to
    ``~/.cache/mmwsss/synthetic_v1`` (``$MMWSSS_CACHE/synthetic_v1`` when the
    environment variable ``MMWSSS_CACHE`` is set); other generator parameters
    get their own ``synthetic_v1_<hash>`` folder. Every split has masks.

    Args:
        data_root (str, optional): Dataset folder; generated there if it
            does not hold a finished dataset. Defaults to the cache folder.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        num_train (int): Train images. Defaults to 600.
        num_val (int): Val images. Defaults to 100.
        num_test (int): Test images. Defaults to 200.
        size (Sequence[int]): Image size (H, W). Defaults to (128, 128).
        seed (int): Generator seed. Defaults to 0.
        min_pixels (int): Visible pixels for a class to be present.
            Defaults to 64.
        boundary_width (int): 255 band on label boundaries. Defaults to 0.
        **kwargs: :class:`WSSSFolderDataset` / ``BaseSegDataset`` arguments
            (``pipeline``, ``label_source``, ``test_mode`` ...).
    """

    METAINFO = dict(
        classes=SYNTHETIC_CLASSES, palette=voc_palette(len(SYNTHETIC_CLASSES)))

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 num_train: int = 600,
                 num_val: int = 100,
                 num_test: int = 200,
                 size: Sequence[int] = (128, 128),
                 seed: int = 0,
                 min_pixels: int = 64,
                 boundary_width: int = 0,
                 **kwargs) -> None:
        root = generate_synthetic(
            data_root,
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            size=tuple(size),
            seed=seed,
            min_pixels=min_pixels,
            boundary_width=boundary_width)
        super().__init__(data_root=root, split=split, **kwargs)
