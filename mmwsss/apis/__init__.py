from .export import (build_eval_cfg, build_export_cfg, export_manifest,
                     file_sha256, split_dataset)
from .pseudo_labels import (export_pseudo_labels, make_affinity_label,
                            make_affinity_labels, make_pseudo_label,
                            maps_to_label, take_class_maps, uncertain_mask)

__all__ = [
    'build_eval_cfg', 'build_export_cfg', 'export_manifest', 'file_sha256',
    'split_dataset', 'export_pseudo_labels', 'make_affinity_label',
    'make_affinity_labels', 'make_pseudo_label', 'maps_to_label',
    'take_class_maps', 'uncertain_mask'
]
