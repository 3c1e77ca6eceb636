"""Face recognition on the serving side (numpy + onnxruntime + Pillow only): alignment, gallery,
recognizer and drawing. The detector and embedder pipelines live in :mod:`toolkit.runtime.tasks.faces`."""
