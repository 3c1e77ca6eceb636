"""Built-in model plugins, each registered through an ``onnxkit`` entry point like a third-party one."""
