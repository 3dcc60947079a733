# Short alias of RS+EPM (single stage), ResNet-50, VOC 2012 aug (VOC
# recipe, schedule reading (b)):
#   bash tools/dist_train.sh configs/rsepm_r50_voc.py 4
_base_ = ['./rsepm/rsepm_r50_4xb4-13220it_voc12aug-512x512.py']
