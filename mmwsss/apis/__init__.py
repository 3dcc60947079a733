from .cam_inference import (IMAGENET_MEAN, IMAGENET_STD, dataset_infos,
                            infer_dataset_cams, multiscale_cam, normalise_cam,
                            present_from_probs, scaled_size,
                            select_and_normalise, strided_size)
from .io import (DataFileError, atomic_save_json, atomic_save_npz,
                 atomic_save_png, clean_tmp_files, image_size, load_cam,
                 read_label_png, load_rgb, pending_ids, read_folder_split,
                 tmp_path)
from .pseudo_labels import (export_pseudo_labels, make_affinity_label,
                            make_affinity_labels, make_pseudo_label,
                            maps_to_label, random_walk_dataset, upsample_rw)
from .rsepm_seeds import (bg_gamma_threshold, infer_dataset_seeds,
                          seed_to_cam_arrays)

__all__ = [
    'IMAGENET_MEAN', 'IMAGENET_STD', 'DataFileError', 'atomic_save_npz',
    'atomic_save_png', 'clean_tmp_files', 'dataset_infos', 'image_size',
    'infer_dataset_cams', 'load_cam', 'read_label_png', 'load_rgb',
    'multiscale_cam', 'normalise_cam', 'pending_ids', 'present_from_probs',
    'read_folder_split', 'scaled_size', 'select_and_normalise', 'strided_size',
    'tmp_path'
]
__all__ += [
    'export_pseudo_labels', 'make_affinity_label', 'make_affinity_labels',
    'make_pseudo_label', 'maps_to_label', 'random_walk_dataset', 'upsample_rw'
]
__all__ += ['bg_gamma_threshold', 'infer_dataset_seeds', 'seed_to_cam_arrays']
