"""User-facing error types.

Every problem a user can cause (bad names, bad config, bad files, bad inputs) raises a subclass of
:class:`OnnxkitError`. The CLI prints such errors as one line and exits non-zero; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class OnnxkitError(Exception):
    """Base class of every error caused by user input rather than by a bug."""


class PluginError(OnnxkitError):
    """A plugin could not be loaded, or plugins disagree (e.g. duplicate model names)."""


class UnknownNameError(OnnxkitError):
    """A model, dataset or task name that nobody registered."""


class ConfigError(OnnxkitError):
    """A bad ``--set key=value`` or an invalid configuration value."""


class DatasetError(OnnxkitError):
    """A dataset is missing, malformed or empty."""


class TrainingError(OnnxkitError):
    """Training cannot continue (NaN loss, corrupt checkpoint, bad run directory)."""


class ExportError(OnnxkitError):
    """An export failed (conversion, checker, or parity); nothing was written."""


class ManifestError(OnnxkitError):
    """An export directory's manifest is missing, malformed, or does not match its files."""


class ModelFileError(OnnxkitError):
    """An ONNX file is corrupt, truncated, or not an onnxkit export."""


class InputError(OnnxkitError):
    """An input to a model or pipeline has the wrong shape, dtype, range or value."""
