"""Built-in model plugins (each registered through an ``onnxkit`` entry point)."""
