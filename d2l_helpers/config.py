"""Training presets, overrides and their validation.

Every notebook builds its settings with `make_config`, so the three frameworks
train with the same hyperparameters and an impossible setting fails before any
data is loaded.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .architecture import smallest_resize

TRAIN_SIZE, TEST_SIZE = 60_000, 10_000
LARGEST_RESIZE = 512  # beyond this AlexNet's activations alone outgrow most GPUs at batch 128

PRESETS = {
    # The full run of the original tutorial: meant for a GPU.
    "reference": dict(epochs=10, batch_size=128, lr=0.01, resize=224,
                      train_limit=None, test_limit=None),
    # The CPU default: same network and optimiser, small images (76×76, a little above the 67×67
    # AlexNet accepts) and one pass over a stratified half of the training images, scored on the
    # full test set, so that each notebook trains in about two minutes on two cores. How its
    # test accuracy varies with the seed: benchmarks/README.md, "Decisions".
    "preview": dict(epochs=1, batch_size=64, lr=0.03, resize=76,
                    train_limit=30_000, test_limit=None),
    # For tests only: proves the notebooks run end to end, not that they learn.
    "smoke": dict(epochs=1, batch_size=32, lr=0.01, resize=68,
                  train_limit=320, test_limit=160),
}
AUTO = "auto"
# The arithmetic of the convolutions and matrix products. bfloat16 is mixed precision, each
# framework in its own idiom: the weights, their updates and the loss stay float32.
PRECISIONS = ("float32", "bfloat16")


class ConfigError(ValueError):
    """A setting outside its valid range; the message names the range."""


@dataclass(frozen=True)
class Config:
    """Hyperparameters of one training run (`None` limits mean the whole split)."""

    preset: str
    epochs: int
    batch_size: int
    lr: float  # the first batch's: the notebooks' cosine schedule takes it to 0 by the last
    resize: int
    train_limit: int | None
    test_limit: int | None
    seed: int = 0
    precision: str = PRECISIONS[0]
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def as_dict(self) -> dict:
        return asdict(self)


def resolve_preset(preset: str, gpu: bool) -> str:
    """Map `auto` to `reference` on a GPU and `preview` on a CPU."""
    if preset == AUTO:
        return "reference" if gpu else "preview"
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}: choose one of "
                          f"{', '.join([AUTO, *PRESETS])}")
    return preset


def make_config(preset: str = AUTO, *, gpu: bool, seed: int = 0, precision: str | None = None,
                **overrides) -> Config:
    """Start from a preset and apply the overrides that are not None; `precision` is one of
    `PRECISIONS` (None: the first, float32).

    >>> make_config("smoke", gpu=False, epochs=2).epochs
    2
    """
    name = resolve_preset(preset, gpu)
    unknown = set(overrides) - set(PRESETS[name])
    if unknown:
        raise ConfigError(f"unknown setting(s) {sorted(unknown)}: valid are {sorted(PRESETS[name])}")
    values = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
    config = Config(preset=name, seed=seed, precision=PRECISIONS[0] if precision is None else precision,
                    **values)
    validate(config)
    return config


def _check_int(name: str, value, low: int, high: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        whole = " (or None for the whole split)" if allow_none else ""
        raise ConfigError(f"{name}={value!r} is out of range: use an integer from {low} to {high}{whole}")


def validate(config: Config) -> None:
    """Raise `ConfigError` naming the valid range of the first bad setting."""
    _check_int("epochs", config.epochs, 1, 1_000)
    _check_int("batch_size", config.batch_size, 1, 4_096)
    low = smallest_resize()
    if isinstance(config.resize, int) and not isinstance(config.resize, bool) and config.resize < low:
        raise ConfigError(
            f"resize={config.resize} is too small for AlexNet: its stride-4 first convolution and "
            f"three 3×3 poolings need at least {low}×{low} pixels (valid: {low} to {LARGEST_RESIZE})")
    _check_int("resize", config.resize, low, LARGEST_RESIZE)
    _check_int("train_limit", config.train_limit, 10, TRAIN_SIZE, allow_none=True)
    _check_int("test_limit", config.test_limit, 10, TEST_SIZE, allow_none=True)
    _check_int("seed", config.seed, 0, 2**32 - 1)
    if config.precision not in PRECISIONS:
        raise ConfigError(f"precision={config.precision!r} is not supported: use "
                          f"{' or '.join(map(repr, PRECISIONS))} (bfloat16: mixed precision, the weights "
                          "kept in float32)")
    for name in ("lr", "momentum", "weight_decay"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{name}={value!r} must be a finite number")
    if not 0 < config.lr <= 10:
        raise ConfigError(f"lr={config.lr} is out of range: use a value in (0, 10]")
    if not 0 <= config.momentum < 1:
        raise ConfigError(f"momentum={config.momentum} is out of range: use a value in [0, 1)")
    if not 0 <= config.weight_decay < 1:
        raise ConfigError(f"weight_decay={config.weight_decay} is out of range: use a value in [0, 1)")
