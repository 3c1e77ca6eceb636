"""The core's dataset loaders. Every module here that defines hook implementations is registered
as part of the core plugin (see :meth:`toolkit.registry.Registry.load_core`)."""
