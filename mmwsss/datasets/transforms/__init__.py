"""Data transforms of mmwsss (registered in ``mmseg.registry.TRANSFORMS``)."""
from .load_map_file import LoadMapFile
from .load_wsss_annotations import LoadWSSSAnnotations
from .load_wsss_image import LoadWSSSImageFromFile
from .pack_wsss_inputs import PackWSSSInputs
from .random_container_crop import RandomContainerCrop
from .random_rescale import RandomRescale

__all__ = [
    'PackWSSSInputs', 'LoadWSSSImageFromFile', 'LoadWSSSAnnotations',
    'RandomContainerCrop', 'LoadMapFile', 'RandomRescale'
]
