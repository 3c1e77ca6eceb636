"""Serving exports past one process: a Ray Serve application (``onnxkit serve``).

Needs the ``serve`` extra (Ray). Kept out of ``toolkit.runtime`` on purpose: a Space or an
embedding program imports the runtime and never pays for (or needs) Ray.
"""
