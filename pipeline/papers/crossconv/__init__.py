"""Cross convolutional network (Xue, Wu, Bouman, Freeman: Visual Dynamics, TPAMI 2019)."""
