"""MTCNN face detector (P-Net, R-Net, O-Net) rebuilt in Keras from the ``mtcnn`` package's weights."""
