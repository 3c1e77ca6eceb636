"""``AutoEncoder``: encode, decode, reconstruct and walk the latent space of an autoencoder or VAE export.

Both tasks share one pipeline: an ``encoder`` file (image -> code; for a VAE image -> mu, logvar)
and a ``decoder`` file (code -> image). For a VAE the code of an image is its mean ``mu``; the
distribution methods also use ``logvar``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.errors import InputError
from toolkit.runtime import latent
from toolkit.runtime.base import Pipeline
from toolkit.runtime.prepare import as_batch, prepare_digit

class AutoEncoder(Pipeline):
    batchable = ("encoder", "decoder")

    @property
    def is_vae(self) -> bool:
        return self.task == "vae"

    @property
    def latent_dim(self) -> int:
        return int(self.info["latent_dim"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.info["image_shape"])  # type: ignore[return-value]

    @property
    def latent_center(self) -> np.ndarray:
        """Where codes of real images sit: 0 for a VAE (its prior), the training codes' mean otherwise."""
        mean = self.manifest.metrics.get("latent_mean")
        if self.is_vae or mean is None:
            return np.zeros(self.latent_dim, np.float32)
        return np.asarray(mean, np.float32)

    @property
    def latent_scale(self) -> np.ndarray:
        std = self.manifest.metrics.get("latent_std")
        if self.is_vae or std is None:
            return np.ones(self.latent_dim, np.float32)
        return np.maximum(np.asarray(std, np.float32), 1e-3)

    @property
    def latent_order(self) -> np.ndarray:
        """Latent dimensions, most used first (by their spread over the training images).

        A ReLU code has dead dimensions (always 0) and a VAE collapsed ones (ignored by the
        decoder); a grid over either shows one image repeated, so ``latent_grid``'s ``dims`` count
        in this order. Without recorded spreads it is the natural order.
        """
        spread = self.manifest.metrics.get("latent_std")
        if spread is None or len(spread) != self.latent_dim:
            return np.arange(self.latent_dim)
        return np.argsort(-np.asarray(spread, np.float64), kind="stable")

    # -- inputs -----------------------------------------------------------------------------------
    def prepare(self, image: Any, invert: bool | str = "auto") -> np.ndarray:
        """Any picture of one digit -> ``[1, H, W, 1]`` model input (see :mod:`toolkit.runtime.prepare`)."""
        return prepare_digit(image, self.image_shape[0], invert=invert)[None]

    def _image(self, image: Any, what: str) -> np.ndarray:
        """One image as a ``[1, H, W, C]`` batch: a model-shaped array is used as is, else prepared."""
        if isinstance(image, np.ndarray) and image.dtype == np.float32 and image.shape in (
                self.image_shape, (1, *self.image_shape), self.image_shape[:2]):
            return as_batch(image.reshape(1, *self.image_shape), self.image_shape, what)
        return self.prepare(image)

    def _codes(self, codes: Any) -> np.ndarray:
        return latent.as_vectors(codes, self.latent_dim, "codes")

    def _chunked(self, file: str, name: str, batch: np.ndarray) -> dict[str, np.ndarray]:
        return self.session(file).run_chunked({name: batch})

    # -- the task ---------------------------------------------------------------------------------
    def encode_distribution(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """VAE only: ``(mu, logvar)``, each float32 ``[N, latent_dim]``."""
        if not self.is_vae:
            raise InputError(f"{self.name} is a plain autoencoder: it has no latent distribution (use encode)")
        out = self._chunked("encoder", "image", as_batch(images, self.image_shape))
        return out["mu"], out["logvar"]

    def encode(self, images: Any) -> np.ndarray:
        """float32 ``[N, latent_dim]`` codes (a VAE's mean ``mu``)."""
        if self.is_vae:
            return self.encode_distribution(images)[0]
        return self._chunked("encoder", "image", as_batch(images, self.image_shape))["code"]

    def decode(self, codes: Any) -> np.ndarray:
        """Codes ``[N, latent_dim]`` -> images float32 ``[N, H, W, C]`` in [0, 1]."""
        out = self._chunked("decoder", self.sessions["decoder"].inputs[0].name, self._codes(codes))
        return next(iter(out.values()))

    def reconstruct(self, images: Any) -> np.ndarray:
        return self.decode(self.encode(images))

    def interpolate(self, image_a: Any, image_b: Any, steps: int = 8, method: str = "linear") -> np.ndarray:
        """Decode ``steps`` codes on the path between two images' codes (ends included)."""
        codes = self.encode(np.concatenate([self._image(image_a, "image_a"), self._image(image_b, "image_b")]))
        if method in ("spherical", "slerp") and not self.is_vae:
            # ReLU codes are not centred on 0: take the arc around their mean, not around the origin.
            center = self.latent_center
            return self.decode(latent.slerp(codes[0] - center, codes[1] - center, steps) + center)
        return self.decode(latent.path(codes[0], codes[1], steps, method))

    def latent_grid(self, rows: int = 8, columns: int = 8, span: float = 2.0, dims: tuple[int, int] = (0, 1),
                    seed: int | None = None) -> np.ndarray:
        """Decode a ``rows x columns`` grid over two latent dimensions, ``span`` standard deviations
        each side of the centre; the other dimensions stay at the centre (or a seeded random point).

        ``dims`` rank dimensions by use (see :attr:`latent_order`): (0, 1) are the two most used.
        """
        if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < self.latent_dim for d in dims):
            raise InputError(f"dims must be two different dimensions in 0..{self.latent_dim - 1}, got {dims}")
        if not np.isfinite(span) or span <= 0:
            raise InputError(f"span must be a positive number, got {span}")
        center, scale = self.latent_center, self.latent_scale
        base = center.copy()
        if seed is not None:
            base = center + scale * np.random.default_rng(seed).standard_normal(self.latent_dim).astype(np.float32)
        corners = np.repeat(base[None], 4, axis=0)
        order = self.latent_order
        (dx, dy), signs = (int(order[dims[0]]), int(order[dims[1]])), [(-1, -1), (1, -1), (-1, 1), (1, 1)]
        for corner, (sx, sy) in zip(corners, signs):
            corner[dx] = center[dx] + sx * span * scale[dx]
            corner[dy] = center[dy] + sy * span * scale[dy]
        return self.decode(latent.bilinear_grid(corners, rows, columns))

    def interpolate_distributions(self, image_a: Any, image_b: Any, steps: int = 8,
                                  seed: int | None = None) -> np.ndarray:
        """VAE only: walk from q(z|a) to q(z|b), interpolating mean and standard deviation, and decode
        one sample of each intermediate Gaussian (one noise vector for the whole path, so it is smooth)."""
        mu, logvar = self.encode_distribution(
            np.concatenate([self._image(image_a, "image_a"), self._image(image_b, "image_b")]))
        sigma = np.exp(0.5 * logvar)
        means = latent.lerp(mu[0], mu[1], steps)
        sigmas = latent.lerp(sigma[0], sigma[1], steps)
        eps = np.random.default_rng(seed).standard_normal(self.latent_dim).astype(np.float32)
        return self.decode(means + sigmas * eps)
