# RRM two-step variant, step 2 [paper: DeepLab-v2 ResNet-101, val 66.3 /
# test 66.5; the official configuration was not released, so this recipe is
# inferred]: a DeepLab-v2-like network — ResNet-101 at output stride 8
# (layer3 / layer4 dilations 2 / 4) and mmseg's ASPPHead with the DeepLab-v2
# rates 6 / 12 / 18 / 24 — trained on the one-step RRM predictions of VOC
# train_aug (data_root/pseudo_labels_rrm, written by
# ../rrm/rrm_wr38_1xb4-20000it_voc12aug-321x321_predictions.py). mmseg's
# ASPPHead adds an image-pooling branch and a 3x3 bottleneck that DeepLab-v2
# (a sum of four dilated 3x3 classifiers) does not have. Recipe, test and
# optimiser as ./deeplabv3_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py.
# Not run here.
_base_ = ['./deeplabv3_r101-d16_4xb8-16500it_voc12aug-pseudo-512x512.py']
model = dict(
    backbone=dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)),
    decode_head=dict(dilations=(1, 6, 12, 18, 24)))
train_dataloader = dict(dataset=dict(mask_dir='pseudo_labels_rrm'))
