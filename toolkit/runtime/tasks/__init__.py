"""The built-in tasks: their contracts (:class:`~toolkit.tasks.TaskSpec`) and pipelines.

Registered through the ``register_tasks`` hook exactly as a plugin's tasks are; the registry finds
this module directly (no entry point), so it works where nothing is pip-installed. Pipelines are
named by import path: registering costs no import, opening an export imports its one pipeline.
"""

from __future__ import annotations

from collections.abc import Callable

from toolkit.hookspecs import hookimpl
from toolkit.tasks import FileContract, TaskSpec

_HERE = __name__
_DIGIT_INFO = ("latent_dim", "image_shape")
_CRNET = ("regression", "probability")

BUILTIN_TASKS = (
    TaskSpec("image-generator", f"{_HERE}.generator:ImageGenerator",
             {"generator": FileContract(inputs=("z",))},
             description="GAN generator: z [N, latent] -> images [N, H, W, C] in [0, 1]"),
    TaskSpec("conditional-generator", f"{_HERE}.generator:ImageGenerator",
             {"generator": FileContract(inputs=("z", "labels"))}, info=("labels",),
             description="conditional GAN generator: z and one-hot labels -> images"),
    TaskSpec("autoencoder", f"{_HERE}.autoencoder:AutoEncoder",
             {"encoder": FileContract(inputs=("image",), outputs=("code",)), "decoder": FileContract()},
             info=_DIGIT_INFO, description="image -> code -> image"),
    TaskSpec("vae", f"{_HERE}.autoencoder:AutoEncoder",
             {"encoder": FileContract(inputs=("image",), outputs=("mu", "logvar")), "decoder": FileContract()},
             info=_DIGIT_INFO, description="variational autoencoder: image -> (mu, logvar); z -> image"),
    TaskSpec("classifier", f"{_HERE}.classifier:Classifier",
             {"classifier": FileContract(inputs=("image",), outputs=("probabilities", "features"))},
             info=("labels", "image_shape", "feature_dim"),
             description="image -> class probabilities and penultimate features"),
    TaskSpec("text-generator", f"{_HERE}.text:TextGenerator",
             {"step": FileContract(inputs=("token",), outputs=("logits",))}, info=("vocabulary",),
             description="stateful one-token step: (token, states) -> (logits, new states)"),
    TaskSpec("face-detector", f"{_HERE}.faces:FaceDetector",
             {"pnet": FileContract(inputs=("image",), outputs=_CRNET),
              "rnet": FileContract(inputs=("crops",), outputs=_CRNET),
              "onet": FileContract(inputs=("crops",), outputs=(*_CRNET, "landmarks"))},
             description="MTCNN cascade: P-Net, R-Net, O-Net"),
    TaskSpec("face-embedder", f"{_HERE}.faces:FaceEmbedder", {"embed": FileContract()},
             description="aligned face crops -> embeddings"),
    TaskSpec("generic", "toolkit.runtime.base:GenericPipeline",
             description="any files, called by name with Pipeline.run"),
)


@hookimpl
def register_tasks(register: Callable[[TaskSpec], None]) -> None:
    for spec in BUILTIN_TASKS:
        register(spec)
