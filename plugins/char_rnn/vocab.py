"""The character vocabulary and its unknown-character policy (no TensorFlow here).

Token 0 is reserved for *unknown* characters: those never seen in the training text, or seen
fewer than ``min_count`` times (rare characters are mapped to it during training too, so its
embedding is learned rather than left random). Generation never emits token 0. Tokens 1.. are
the known characters in code-point order. The runtime reads the same facts from the manifest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from toolkit.errors import DatasetError

UNKNOWN_INDEX = 0
#: How the unknown slot is shown in the vocabulary list (it never appears in generated text).
UNKNOWN_SYMBOL = "\ufffd"


def build_vocabulary(text: str, min_count: int = 1) -> list[str]:
    """``[UNKNOWN_SYMBOL, c1, c2, ...]``: the characters of ``text`` seen at least ``min_count`` times."""
    counts = Counter(text)
    known = sorted(c for c, n in counts.items() if n >= min_count and c != UNKNOWN_SYMBOL)
    if len(known) < 2:
        raise DatasetError(
            f"the training text has {len(known)} distinct character(s) seen at least {min_count} time(s); "
            "a character model needs at least 2"
        )
    return [UNKNOWN_SYMBOL, *known]


def encode(text: str, vocabulary: list[str]) -> np.ndarray:
    """Token ids (int32) of ``text``; characters outside the vocabulary become ``UNKNOWN_INDEX``."""
    index = {c: i for i, c in enumerate(vocabulary) if i != UNKNOWN_INDEX}
    return np.fromiter((index.get(c, UNKNOWN_INDEX) for c in text), dtype=np.int32, count=len(text))


def vocabulary_facts(vocabulary: list[str], policy: str) -> dict[str, Any]:
    """What the manifest says about the vocabulary, so any consumer can encode a prompt."""
    return {
        "vocabulary": list(vocabulary),
        "vocab_size": len(vocabulary),
        "unknown_token": UNKNOWN_INDEX,
        "unknown_policy": policy,
        "unknown_policy_doc": (
            "token 0 stands for any character outside the vocabulary (rare training characters "
            "were mapped to it too); it is never generated. Prompt characters outside the "
            "vocabulary are " + ("mapped to token 0" if policy == "replace" else "an error")
            + " by default (the policy), and encoding is one token per Unicode code point."
        ),
    }
