"""Image loading that names the file when it cannot be read."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.registry import TRANSFORMS

from mmwsss.utils.fileio import MissingFileError
from ..utils import DataFileError

__all__ = ['LoadWSSSImageFromFile']


@TRANSFORMS.register_module()
class LoadWSSSImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` with errors that name the image file.

    mmcv's loader returns ``None`` (cv2) or raises an undescriptive error
    (Pillow, ``fileio``) for missing, empty or corrupt files, usually deep in
    a dataloader worker. This subclass raises :class:`FileNotFoundError` or
    :class:`~mmwsss.datasets.utils.DataFileError` whose message contains
    the path and how to fix it. Arguments are those of
    :class:`mmcv.transforms.LoadImageFromFile`; with ``ignore_empty=True`` an
    unreadable file returns ``None`` instead (mmengine then refetches).

    Required Keys: ``img_path``. Added Keys: ``img``, ``img_shape``,
    ``ori_shape``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``.

        Args:
            results (dict): Result dict with ``img_path``.

        Returns:
            dict | None: ``results`` with the image, or None when the file is
            unreadable and ``ignore_empty`` is set.
        """
        filename = results['img_path']
        try:
            if self.file_client_args is not None:
                file_client = fileio.FileClient.infer_client(
                    self.file_client_args, filename)
                img_bytes = file_client.get(filename)
            else:
                img_bytes = fileio.get(
                    filename, backend_args=self.backend_args)
        except FileNotFoundError as e:
            if self.ignore_empty:
                return None
            raise MissingFileError(
                f'Image file not found: {filename}. Restore the file or '
                f'remove its id from the split file.') from e
        except Exception as e:
            if self.ignore_empty:
                return None
            raise OSError(f'Cannot read image file {filename} '
                          f'({type(e).__name__}: {e}).') from e
        img = None
        error: Optional[Exception] = None
        if img_bytes:
            try:
                img = mmcv.imfrombytes(
                    img_bytes,
                    flag=self.color_type,
                    backend=self.imdecode_backend)
            except Exception as e:  # decoders raise many error types
                error = e
        if img is None or img.size == 0:
            if self.ignore_empty:
                return None
            reason = 'empty file' if not img_bytes else (
                f'{type(error).__name__}: {error}' if error is not None else
                f'the {self.imdecode_backend} decoder returned nothing')
            raise DataFileError(
                f'Cannot decode image {filename} ({reason}). The file is '
                f'corrupt or not an image: re-download or regenerate it, or '
                f'remove its id from the split file.') from error
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
