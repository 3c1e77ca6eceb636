"""Quality metrics for generated samples (numpy/scipy + onnxruntime; no TensorFlow)."""
