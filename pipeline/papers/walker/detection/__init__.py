"""walker's Table 2: the CVAE's image tower fine-tuned as a Fast R-CNN detector on VOC 2012.

Read top to bottom: ``spec`` (sizes per preset, torch-free), ``voc`` (the official layout ->
image records), ``proposals`` (selective search), ``boxes`` (IoU, box coding, NMS),
``roi_pool``, ``detector`` (the network on the walker tower), ``calibration`` (Krähenbühl et
al.'s data-dependent init and between-layer scale calibration), ``data`` (Fast R-CNN
minibatches), ``train``, ``ap`` (VOC average precision), ``evaluate`` (detections, trivial
detectors and the table). Nothing here is imported by this ``__init__``, so ``spec`` stays cheap.
"""
