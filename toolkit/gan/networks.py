"""Keras generators and discriminators for the GAN plugins.

Design choices that the export and the benchmark depend on:

* upsampling is ``Conv2DTranspose`` only (ONNX ``ConvTranspose``); ``UpSampling2D`` converts to slow
  Tile/Gather chains;
* generators end in ``tanh`` (data in [-1, 1]); the *export* rescales to [0, 1];
* conditional generators take ``[z, labels]`` (one-hot or multi-hot) and concatenate them;
* discriminators return logits (losses use the with-logits forms, so no ``log(0)``).

Keras is imported inside the functions: this module is imported when configs are validated.
"""

from __future__ import annotations

from typing import Any

from toolkit.errors import ConfigError


def upsampling_plan(size: int) -> tuple[int, int]:
    """(start side, number of x2 steps) so that ``start * 2**steps == size`` with 4 <= start <= 7.

    28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 8 -> (4, 1). Sizes without such a plan are refused.
    """
    for steps in range(1, 8):
        if size % (2 ** steps) == 0 and 4 <= size // 2 ** steps <= 7:
            return size // 2 ** steps, steps
    raise ConfigError(f"image_size {size} is not supported: it must be 4..7 times a power of two "
                      f"(e.g. 8, 16, 28, 32, 56, 64)")


def conv_generator(latent_dim: int, image_shape: tuple[int, int, int], filters: int,
                   label_dim: int = 0, name: str = "generator") -> Any:
    """DCGAN generator: z (+ labels) -> Dense -> [ConvTranspose s2 + BN + ReLU]* -> tanh image."""
    import keras
    from keras import layers

    height, _, channels = image_shape
    start, steps = upsampling_plan(height)
    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    h = z
    if label_dim:
        labels = keras.Input((label_dim,), name="labels")
        inputs.append(labels)
        h = layers.Concatenate(name="z_and_labels")([z, labels])
    width = filters * 2 ** (steps - 1)
    h = layers.Dense(start * start * width, use_bias=False, name="project")(h)
    h = layers.BatchNormalization(momentum=0.9, name="project_bn")(h)
    h = layers.ReLU()(h)
    h = layers.Reshape((start, start, width))(h)
    for i in range(steps - 1):
        width = max(width // 2, 8)
        h = layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False, name=f"up{i}")(h)
        h = layers.BatchNormalization(momentum=0.9, name=f"up{i}_bn")(h)
        h = layers.ReLU()(h)
    image = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh", name="to_image")(h)
    return keras.Model(inputs if label_dim else z, image, name=name)


def conv_discriminator(image_shape: tuple[int, int, int], filters: int, *, classes: int = 0,
                       spectral: bool = False, dropout: float = 0.0, name: str = "discriminator") -> Any:
    """DCGAN discriminator: [Conv s2 + (BN | spectral norm) + LeakyReLU]* -> real/fake logit.

    With ``classes`` it has a second head of class logits (AC-GAN): the discriminator is also the
    classifier. Spectral normalisation replaces batch norm (it bounds the Lipschitz constant, which
    is what keeps the AC-GAN's two losses from blowing up the discriminator).
    """
    import keras
    from keras import layers

    height = image_shape[0]
    _, steps = upsampling_plan(height)
    steps = max(steps, 2)

    def wrap(layer: Any) -> Any:
        return layers.SpectralNormalization(layer) if spectral else layer

    image = keras.Input(image_shape, name="image")
    h = image
    width = filters
    for i in range(steps):
        h = wrap(layers.Conv2D(width, 4, strides=2, padding="same", name=f"down{i}"))(h)
        if i > 0 and not spectral:
            h = layers.BatchNormalization(momentum=0.9, name=f"down{i}_bn")(h)
        h = layers.LeakyReLU(0.2)(h)
        width = min(width * 2, 512)
    h = layers.Flatten()(h)
    if dropout:
        h = layers.Dropout(dropout)(h)
    logit = wrap(layers.Dense(1, name="real_fake"))(h)
    if not classes:
        return keras.Model(image, logit, name=name)
    class_logits = wrap(layers.Dense(classes, name="classes"))(h)
    return keras.Model(image, [logit, class_logits], name=name)


def dense_generator(latent_dim: int, image_shape: tuple[int, int, int], units: int = 256,
                    name: str = "generator") -> Any:
    """The course's first MNIST GAN generator: dense layers with LeakyReLU, tanh pixels."""
    import keras
    from keras import layers

    size = image_shape[0] * image_shape[1] * image_shape[2]
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(units)(z)
    h = layers.LeakyReLU(0.2)(h)
    h = layers.Dense(units * 2)(h)
    h = layers.BatchNormalization(momentum=0.9)(h)
    h = layers.LeakyReLU(0.2)(h)
    h = layers.Dense(size, activation="tanh")(h)
    return keras.Model(z, layers.Reshape(image_shape)(h), name=name)


def dense_discriminator(image_shape: tuple[int, int, int], units: int = 256, name: str = "discriminator") -> Any:
    """Dense discriminator with dropout (the course's first GAN), real/fake logit out."""
    import keras
    from keras import layers

    image = keras.Input(image_shape, name="image")
    h = layers.Flatten()(image)
    h = layers.Dense(units * 2)(h)
    h = layers.LeakyReLU(0.2)(h)
    h = layers.Dropout(0.3)(h)
    h = layers.Dense(units)(h)
    h = layers.LeakyReLU(0.2)(h)
    return keras.Model(image, layers.Dense(1)(h), name=name)


def autoencoder_discriminator(image_shape: tuple[int, int, int], filters: int, code_dim: int = 64,
                              name: str = "discriminator") -> Any:
    """EBGAN/BEGAN discriminator: an autoencoder, image -> (reconstruction in [-1, 1], code).

    The energy of an image is its reconstruction error; the code feeds EBGAN's pulling-away term.
    """
    import keras
    from keras import layers

    height, _, channels = image_shape
    start, steps = upsampling_plan(height)
    image = keras.Input(image_shape, name="image")
    h = image
    width = filters
    for i in range(steps):
        h = layers.Conv2D(width, 4, strides=2, padding="same", name=f"enc{i}")(h)
        h = layers.ELU()(h)
        width = min(width * 2, 512)
    code = layers.Dense(code_dim, name="code")(layers.Flatten()(h))
    width = filters * 2 ** (steps - 1)
    h = layers.Dense(start * start * width)(code)
    h = layers.Reshape((start, start, width))(h)
    for i in range(steps - 1):
        width = max(width // 2, 8)
        h = layers.Conv2DTranspose(width, 4, strides=2, padding="same", name=f"dec{i}")(h)
        h = layers.ELU()(h)
    recon = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh", name="recon")(h)
    return keras.Model(image, [recon, code], name=name)
