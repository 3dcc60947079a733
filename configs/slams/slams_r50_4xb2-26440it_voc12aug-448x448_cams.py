# SLAMs-like (reconstruction): multi-scale x flip sigma-maps of VOC
# train_aug in the CAM format (the input of the random-walk / pseudo-label
# stage, configs/boundary/), through the shared CAM export:
#   python tools/test.py THIS_CONFIG CHECKPOINT [--out-dir DIR]
# The maps are the foreground sigma-maps (not ReLU'd logits), summed over
# the views and max-normalised per present class; the background is a
# threshold (swept 0.05-0.95 by tools/cam/eval_cams.py --thr-end 0.95).
_base_ = [
    './slams_r50_4xb2-26440it_voc12aug-448x448.py',
    '../_base_/export/cams.py'
]
export = dict(split='train', out_dir='work_dirs/export/slams_cams_voc_train')
