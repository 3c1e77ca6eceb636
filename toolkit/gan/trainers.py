"""Adversarial training loops as ``keras.Model`` subclasses with ``train_step`` (keras-io style).

Imported lazily (inside ``build``): importing it imports TensorFlow. Every trainer

* holds ``generator`` (what is exported) and ``discriminator`` (training only);
* draws z with a seeded ``keras.random.SeedGenerator`` (same seed, same run);
* uses the numerically stable with-logits losses (no ``log(0)`` -> NaN);
* reports D and G losses (and model-specific figures) as metrics, so the training driver logs them
  per epoch and its NaN guard sees every batch;
* optionally (``ema`` > 0) keeps an exponential moving average of the generator's weights in
  ``ema_generator``, which is what samples and exports then use (``sampler``): the average of the
  last ~1/(1-ema) steps' generators draws cleaner images than any single step's, at no training cost.
"""

from __future__ import annotations

from typing import Any

from toolkit.tf_setup import import_keras

keras = import_keras()
import tensorflow as tf  # noqa: E402  (after import_keras set the environment)


def _images(data: Any) -> Any:
    """``fit(x)`` hands ``train_step`` either ``x`` or ``(x,)`` (or ``(x, None)``) by version/adapter."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def _bce(labels: Any, logits: Any) -> Any:
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


class _Trainer(keras.Model):
    """Common parts: the two networks, two optimisers, metric trackers, seeded noise."""

    metric_names: tuple[str, ...] = ("d_loss", "g_loss")

    def __init__(self, generator: Any, discriminator: Any, latent_dim: int, seed: int = 0, ema: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}
        self.ema = float(ema)
        self.ema_generator = None
        if self.ema > 0:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())

    @property
    def sampler(self) -> Any:
        """The network that draws samples and is exported: the EMA generator when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def _update_ema(self) -> None:
        """Move the EMA weights towards the generator's (batch-norm statistics included).

        The decay warms up as ``min(ema, (1 + t) / (10 + t))`` over the generator's optimizer steps
        t (as tf.train.ExponentialMovingAverage's ``num_updates``), so the average does not keep the
        random initial weights for the first ~1/(1-ema) steps; t is the optimizer's own counter, so
        the checkpoint needs no extra variable.
        """
        if self.ema_generator is None:
            return
        steps = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema, (1.0 + steps) / (10.0 + steps))
        for average, current in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * current)

    def compile(self, d_optimizer: Any, g_optimizer: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self) -> list[Any]:
        return list(self.trackers.values())

    def call(self, z: Any, training: bool = False) -> Any:
        return self.generator(z, training=training)

    def sample_z(self, batch: Any) -> Any:
        return keras.random.normal((batch, self.latent_dim), seed=self.noise)

    def _apply(self, optimizer: Any, tape: Any, loss: Any, network: Any) -> None:
        grads = tape.gradient(loss, network.trainable_weights)
        optimizer.apply_gradients(zip(grads, network.trainable_weights))
        if network is self.generator:
            self._update_ema()

    def _report(self, **values: Any) -> dict[str, Any]:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self) -> dict[str, Any]:
        # Checkpoints are loaded into a freshly built model (``load_weights``); the config of the
        # networks is the plugin config, recorded in the run's config.json.
        return {"latent_dim": self.latent_dim, "ema": self.ema}


class GANTrainer(_Trainer):
    """Standard GAN (Goodfellow et al.) with the non-saturating generator loss; used by gan and dcgan."""

    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, *args: Any, label_smoothing: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_smoothing = label_smoothing

    def train_step(self, data: Any) -> dict[str, Any]:
        real = _images(data)
        batch = tf.shape(real)[0]
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = (_bce(tf.ones_like(real_logits) * (1.0 - self.label_smoothing), real_logits)
                      + _bce(tf.zeros_like(fake_logits), fake_logits))
        self._apply(self.d_optimizer, tape, d_loss, self.discriminator)
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = _bce(tf.ones_like(fake_logits), fake_logits)
        self._apply(self.g_optimizer, tape, g_loss, self.generator)
        return self._report(d_loss=d_loss, g_loss=g_loss, d_real=tf.reduce_mean(tf.sigmoid(real_logits)),
                            d_fake=tf.reduce_mean(tf.sigmoid(fake_logits)))


class ACGANTrainer(_Trainer):
    """AC-GAN: the discriminator also classifies; both networks are trained to get classes right.

    Labels are one-hot (single-label: softmax class head) or multi-hot (multi-label: one sigmoid per
    attribute). Fakes are conditioned on the real batch's labels, so they follow the data's label
    distribution (including attribute co-occurrence for multi-label data).
    """

    metric_names = ("d_loss", "g_loss", "d_class_loss", "real_class_acc", "fake_class_acc")

    def __init__(self, *args: Any, multi_label: bool = False, class_weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multi_label = multi_label
        self.class_weight = class_weight

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.generator(inputs, training=training)

    def _class_loss(self, labels: Any, logits: Any) -> Any:
        if self.multi_label:
            return _bce(labels, logits)
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    def _accuracy(self, labels: Any, logits: Any) -> Any:
        if self.multi_label:
            hits = tf.cast(tf.equal(tf.cast(logits > 0, labels.dtype), labels), tf.float32)
        else:
            hits = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(labels, -1)), tf.float32)
        return tf.reduce_mean(hits)

    def train_step(self, data: Any) -> dict[str, Any]:
        real, labels = data[0], tf.cast(data[1], tf.float32)
        batch = tf.shape(real)[0]
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            fake = self.generator([z, labels], training=True)
            real_logit, real_classes = self.discriminator(real, training=True)
            fake_logit, fake_classes = self.discriminator(fake, training=True)
            adversarial = _bce(tf.ones_like(real_logit), real_logit) + _bce(tf.zeros_like(fake_logit), fake_logit)
            class_loss = self._class_loss(labels, real_classes) + self._class_loss(labels, fake_classes)
            d_loss = adversarial + self.class_weight * class_loss
        self._apply(self.d_optimizer, tape, d_loss, self.discriminator)
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            fake_logit, fake_classes = self.discriminator(self.generator([z, labels], training=True), training=True)
            g_loss = _bce(tf.ones_like(fake_logit), fake_logit) + self.class_weight * self._class_loss(labels, fake_classes)
        self._apply(self.g_optimizer, tape, g_loss, self.generator)
        return self._report(d_loss=d_loss, g_loss=g_loss, d_class_loss=class_loss,
                            real_class_acc=self._accuracy(labels, real_classes),
                            fake_class_acc=self._accuracy(labels, fake_classes))


def _pulling_away(codes: Any) -> Any:
    """EBGAN's pulling-away term: mean squared cosine similarity between different samples' codes."""
    normed = tf.math.l2_normalize(codes, axis=1)
    similarity = tf.matmul(normed, normed, transpose_b=True)
    n = tf.cast(tf.shape(codes)[0], tf.float32)
    off_diagonal = tf.reduce_sum(tf.square(similarity)) - n
    return off_diagonal / tf.maximum(n * (n - 1.0), 1.0)


class EBGANTrainer(_Trainer):
    """Energy-based GAN (Zhao et al.): energy = autoencoder MSE, margin loss, pulling-away term."""

    metric_names = ("d_loss", "g_loss", "energy_real", "energy_fake", "pull_away")

    def __init__(self, *args: Any, margin: float = 1.0, pt_weight: float = 0.1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.margin = margin
        self.pt_weight = pt_weight

    def _energy(self, images: Any) -> tuple[Any, Any]:
        recon, code = self.discriminator(images, training=True)
        return tf.reduce_mean(tf.square(recon - images), axis=[1, 2, 3]), code

    def train_step(self, data: Any) -> dict[str, Any]:
        real = _images(data)
        batch = tf.shape(real)[0]
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            energy_real, _ = self._energy(real)
            energy_fake, _ = self._energy(self.generator(z, training=True))
            d_loss = tf.reduce_mean(energy_real) + tf.reduce_mean(tf.nn.relu(self.margin - energy_fake))
        self._apply(self.d_optimizer, tape, d_loss, self.discriminator)
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            energy_fake, code = self._energy(self.generator(z, training=True))
            pull_away = _pulling_away(code)
            g_loss = tf.reduce_mean(energy_fake) + self.pt_weight * pull_away
        self._apply(self.g_optimizer, tape, g_loss, self.generator)
        return self._report(d_loss=d_loss, g_loss=g_loss, energy_real=tf.reduce_mean(energy_real),
                            energy_fake=tf.reduce_mean(energy_fake), pull_away=pull_away)


class BEGANTrainer(_Trainer):
    """Boundary-equilibrium GAN (Berthelot et al.): L1 autoencoder loss, k_t control, gamma.

    ``convergence`` is the paper's global measure M = L(x) + |gamma L(x) - L(G(z))|; the driver logs
    its per-epoch mean with the losses (lower is better, and it tracks sample quality).
    """

    metric_names = ("d_loss", "g_loss", "k", "convergence")

    def __init__(self, *args: Any, gamma: float = 0.5, lambda_k: float = 0.001, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gamma = gamma
        self.lambda_k = lambda_k
        self.k = self.add_weight(name="k", shape=(), initializer="zeros", trainable=False)

    def _loss(self, images: Any) -> Any:
        recon, _ = self.discriminator(images, training=True)
        return tf.reduce_mean(tf.abs(recon - images))

    def train_step(self, data: Any) -> dict[str, Any]:
        real = _images(data)
        batch = tf.shape(real)[0]
        z = self.sample_z(batch)
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake = self.generator(z, training=True)
            loss_real = self._loss(real)
            loss_fake = self._loss(fake)
            d_loss = loss_real - self.k * loss_fake
            g_loss = loss_fake
        self._apply(self.d_optimizer, d_tape, d_loss, self.discriminator)
        self._apply(self.g_optimizer, g_tape, g_loss, self.generator)
        balance = self.gamma * loss_real - loss_fake
        self.k.assign(tf.clip_by_value(self.k + self.lambda_k * balance, 0.0, 1.0))
        return self._report(d_loss=d_loss, g_loss=g_loss, k=self.k, convergence=loss_real + tf.abs(balance))
