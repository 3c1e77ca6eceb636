"""The ``autoencoder`` plugin: the course's dense autoencoder (784-128-64-32 and back)."""
