"""The Keras side of ``char-rnn``: the sequence model that trains, and the one-step function that
exports. Imported lazily (it imports Keras at module level).

The trained model is ``Embedding -> GRU x layers -> Dense(vocab)`` over ``[N, T]`` token ids.
The export is a *step*: one token and one state per layer in, logits and new states out, built
from each trained GRU layer's own ``keras.layers.GRUCell`` (``layer.cell`` holds the very
variables the layer trained, ``reset_after=True`` included), so the two cannot drift apart and the
ONNX graph is plain MatMul/Sigmoid/Tanh with no ``Loop``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from toolkit.tf_setup import import_keras

keras = import_keras()
import tensorflow as tf  # noqa: E402  (after import_keras set the quiet logging environment)


def build_model(vocab_size: int, embedding_dim: int, units: int, layers: int,
                learning_rate: float = 2e-3, clipnorm: float | None = 1.0) -> keras.Model:
    """The trainable sequence model: ``tokens int32[N, T] -> logits float32[N, T, vocab]``."""
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(tokens)
    for i in range(layers):
        x, _ = keras.layers.GRU(units, return_sequences=True, return_state=True, name=f"gru_{i}")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    model = keras.Model(tokens, logits, name="char_rnn")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def parts(model: keras.Model) -> tuple[Any, list[Any], Any]:
    """(embedding, [GRU layers], dense) of a model made by :func:`build_model`."""
    grus = sorted((l for l in model.layers if l.name.startswith("gru_")), key=lambda l: int(l.name[4:]))
    return model.get_layer("embedding"), grus, model.get_layer("logits")


def step(model: keras.Model, token: Any, *states: Any) -> tuple[Any, ...]:
    """One character: ``token [N]`` and ``states [N, units]`` per layer -> ``(logits, *new_states)``."""
    embedding, grus, dense = parts(model)
    x = embedding(token)
    new_states = []
    for gru, state in zip(grus, states):
        x, _ = gru.cell(x, [state], training=False)  # a keras.layers.GRUCell sharing the layer's weights
        new_states.append(x)
    return (dense(x), *new_states)


def sequence(model: keras.Model, tokens: Any, states: list[Any]) -> tuple[Any, list[Any]]:
    """The GRU layers over ``tokens [N, T]`` from ``states``: ``(logits [N, T, V], final states)``."""
    embedding, grus, dense = parts(model)
    x = embedding(tokens)
    finals = []
    for gru, state in zip(grus, states):
        x, final = gru(x, initial_state=[state], training=False)
        finals.append(final)
    return dense(x), finals


def prime(model: keras.Model, tokens: Any, *states: Any) -> tuple[Any, ...]:
    """A whole prompt ``tokens [N, T]`` at once: ``(logits after the last token, *final states)``."""
    logits, finals = sequence(model, tokens, list(states))
    return (logits[:, -1], *finals)


def zero_states(model: keras.Model, batch: int) -> list[np.ndarray]:
    _, grus, _ = parts(model)
    return [np.zeros((batch, g.cell.units), np.float32) for g in grus]


def bits_per_character(model: keras.Model, tokens: np.ndarray, streams: int = 16, window: int = 256) -> float:
    """Mean cross-entropy in bits of predicting each next character of ``tokens``, with the state
    carried across windows (the text is cut into ``streams`` contiguous pieces evaluated side by side)."""
    tokens = np.asarray(tokens, np.int32)
    streams = max(1, min(streams, (len(tokens) - 1) // 2))
    length = (len(tokens) - 1) // streams
    if length < 1:
        raise ValueError("need at least 2 tokens to measure bits per character")
    inputs = tokens[: streams * length].reshape(streams, length)
    targets = tokens[1: streams * length + 1].reshape(streams, length)
    run = tf.function(lambda t, s: sequence(model, t, s), reduce_retracing=True)
    states = [tf.constant(s) for s in zero_states(model, streams)]
    total = 0.0
    for start in range(0, length, window):
        logits, states = run(tf.constant(inputs[:, start:start + window]), states)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(targets[:, start:start + window], logits)
        total += float(tf.reduce_sum(loss))
    return total / (streams * length) / math.log(2)
