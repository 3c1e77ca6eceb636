"""onnxkit's Gradio demos, served from the shipped ONNX exports alone.

One module per capability (``generate``, ``latent``, ``classify``, ``write``, ``faces``), each with
``render(store)`` (add its controls to the current Blocks), ``build(store) -> gr.Blocks`` and a
``python -m apps.NAME`` entry; ``apps.app`` combines every tab registered through the
``register_tabs`` hook (:mod:`apps.tabs`: these built-ins and any plugin's) into one page
(``python -m apps``).

Only numpy, onnxruntime, Pillow and Gradio are imported here — never TensorFlow, Keras or tf2onnx
(a test checks it): this package is what a Hugging Face Space runs. Importing ``apps`` itself is
cheap; Gradio is imported by the submodules.
"""

from apps.gradio_import import install as _skip_gradio_stub_writing  # noqa: E402

_skip_gradio_stub_writing()  # before any submodule imports Gradio: ~1 s less cold start
