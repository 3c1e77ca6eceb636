"""The ``vae`` plugin: a convolutional variational autoencoder."""
