"""Task pipelines. Every module here is imported by :func:`toolkit.runtime.load` and registers
its pipeline classes with :func:`toolkit.runtime.base.pipeline_for`."""
