"""Shared GAN building blocks for the GAN-family plugins (gan, dcgan, cgan, ebgan, began).

Plugins never import each other, so everything two of them share lives here:

* :mod:`toolkit.gan.config`    — the config fields every GAN has (latent size, image size, optimiser…);
* :mod:`toolkit.gan.networks`  — Keras generators and discriminators (DCGAN, dense, autoencoder);
* :mod:`toolkit.gan.trainers`  — ``keras.Model`` subclasses with the adversarial ``train_step``s;
* :mod:`toolkit.gan.callbacks` — per-epoch sample grids from a fixed z and the diversity-collapse warning;
* :mod:`toolkit.gan.spec`      — :class:`GANSpec`, the ModelSpec base that data, exports and assets share.

Only ``config`` and ``spec`` are imported at plugin registration time; the Keras modules are
imported inside methods so ``onnxkit models`` never pays for TensorFlow.
"""
