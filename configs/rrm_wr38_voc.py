# Short alias of RRM (one step), WideResNet-38, VOC 2012 aug (official
# recipe, preset 'official'):
#   bash tools/dist_train.sh configs/rrm_wr38_voc.py 1
_base_ = ['./rrm/rrm_wr38_1xb4-20000it_voc12aug-321x321.py']
