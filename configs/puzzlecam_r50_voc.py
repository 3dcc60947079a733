# Short alias of Puzzle-CAM, ResNet-50, VOC 2012 aug (paper recipe, official
# optimiser preset).
_base_ = ['./puzzlecam/puzzlecam_r50_4xb8-4950it_voc12aug-512x512.py']
