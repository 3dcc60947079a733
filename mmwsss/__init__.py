"""mmwsss: weakly-supervised semantic segmentation on OpenMMLab.

Importing the package applies the compatibility fixes of
:mod:`mmwsss.utils.compat` (before mmseg models are imported) and registers
every mmwsss module into the mmseg registries.
"""
from .utils import compat as _compat

_compat.apply_all()

from . import (datasets, engine, evaluation, models,  # noqa: E402,F401,I001
               visualization)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
