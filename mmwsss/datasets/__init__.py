"""Datasets of mmwsss (registered in ``mmseg.registry.DATASETS``)."""
from .coco import COCO_CLASSES, COCOWSSSDataset
from .pending_outputs_dataset import PendingOutputsDataset
from .synthetic import SyntheticWSSSDataset
from .synthetic_gen import SYNTHETIC_CLASSES, generate_synthetic
from .transforms import (LoadMapFile, LoadWSSSAnnotations,
                         LoadWSSSImageFromFile, PackWSSSInputs)
from .utils import DataFileError, voc_palette
from .voc_aug import (VOC_CLASSES, VOCAugWSSSDataset, load_cls_label_file,
                      parse_voc_xml)
from .wsss_folder import WSSSFolderDataset

__all__ = [
    'WSSSFolderDataset', 'SyntheticWSSSDataset', 'VOCAugWSSSDataset',
    'COCOWSSSDataset', 'PackWSSSInputs', 'LoadWSSSImageFromFile',
    'LoadWSSSAnnotations', 'generate_synthetic', 'parse_voc_xml',
    'load_cls_label_file', 'voc_palette', 'DataFileError', 'VOC_CLASSES',
    'COCO_CLASSES', 'SYNTHETIC_CLASSES', 'PendingOutputsDataset', 'LoadMapFile'
]
