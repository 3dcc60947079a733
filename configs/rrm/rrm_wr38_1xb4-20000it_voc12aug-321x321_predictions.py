# RRM two-step variant, step 1 [paper; recipe inferred]: the one-step
# predictions (single scale, with the rrm_test CRF) of VOC train_aug as
# label PNGs (../_base_/export/predictions.py), the pseudo labels of the
# segmentation stage:
#   python tools/test.py THIS_CONFIG work_dirs/rrm_wr38_voc/iter_20000.pth \
#       --out-dir data/VOCdevkit/VOC2012/pseudo_labels_rrm
# step 2 (trains on data_root/pseudo_labels_rrm):
#   ../seg/deeplabv2-aspp_r101-d8_4xb8-16500it_voc12aug-pseudo-512x512_rrm.py
_base_ = [
    './rrm_wr38_1xb4-20000it_voc12aug-321x321.py',
    '../_base_/export/predictions.py',
]
model = dict(
    test_cfg=dict(crf=dict(_delete_=True, type='DenseCRF', preset='rrm_test')))
export = dict(
    split='train', out_dir='data/VOCdevkit/VOC2012/pseudo_labels_rrm')
