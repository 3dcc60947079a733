"""COCO 2014 converted to the mmwsss folder layout (81 classes)."""
from mmseg.registry import DATASETS

from .utils import voc_palette
from .wsss_folder import WSSSFolderDataset

__all__ = ['COCOWSSSDataset', 'COCO_CLASSES']

#: Background + the 80 COCO object categories in ascending category-id order
#: (mask value = index), as written by ``tools/dataset_converters/
#: coco2014.py``.
COCO_CLASSES = ('background', 'person', 'bicycle', 'car', 'motorcycle',
                'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
                'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird',
                'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear',
                'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie',
                'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
                'kite', 'baseball bat', 'baseball glove', 'skateboard',
                'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup',
                'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
                'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza',
                'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
                'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
                'keyboard', 'cell phone', 'microwave', 'oven', 'toaster',
                'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
                'teddy bear', 'hair drier', 'toothbrush')


@DATASETS.register_module()
class COCOWSSSDataset(WSSSFolderDataset):
    """COCO 2014 as an 81-class WSSS dataset in the mmwsss folder layout.

    Build the folder with ``tools/dataset_converters/coco2014.py`` (splits
    ``train`` = train2014, ``val`` = val2014). ``classes.txt`` must list 81
    names; the metainfo uses :data:`COCO_CLASSES` and the VOC palette.

    Args:
        data_root (str): The converted folder.
        split (str): 'train' or 'val'. Defaults to 'train'.
        **kwargs: :class:`WSSSFolderDataset` arguments.
    """

    METAINFO = dict(classes=COCO_CLASSES, palette=voc_palette(81))
