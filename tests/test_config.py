"""Presets, overrides and the messages for impossible settings."""
import pytest

from d2l_helpers import architecture
from d2l_helpers.config import PRESETS, ConfigError, make_config


def test_auto_means_reference_on_gpu_and_preview_on_cpu():
    assert make_config("auto", gpu=True).preset == "reference"
    assert make_config("auto", gpu=False).preset == "preview"


def test_reference_is_the_original_full_run():
    c = make_config("reference", gpu=False)
    assert (c.epochs, c.batch_size, c.lr, c.resize, c.train_limit, c.test_limit) == (10, 128, 0.01, 224, None, None)
    assert (c.momentum, c.weight_decay) == (0.9, 5e-4)


def test_preview_scores_on_the_full_test_set_and_smoke_is_tiny():
    assert make_config("preview", gpu=False).test_limit is None
    smoke = make_config("smoke", gpu=True)
    assert smoke.epochs == 1 and smoke.train_limit <= 1000


def test_overrides_apply_and_none_keeps_the_preset():
    c = make_config("preview", gpu=False, epochs=3, lr=None, seed=7)
    assert c.epochs == 3 and c.lr == PRESETS["preview"]["lr"] and c.seed == 7
    assert c.as_dict()["epochs"] == 3


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_fits_alexnet(preset):
    c = make_config(preset, gpu=False)
    assert min(architecture.feature_map_sizes(c.resize)) >= 1


@pytest.mark.parametrize("overrides, message", [
    (dict(resize=66), r"resize=66 is too small for AlexNet.*at least 67×67 pixels \(valid: 67 to 512\)"),
    (dict(resize=1000), r"resize=1000 is out of range: use an integer from 67 to 512"),
    (dict(batch_size=0), r"batch_size=0 is out of range: use an integer from 1 to 4096"),
    (dict(epochs=-1), r"epochs=-1 is out of range"),
    (dict(epochs=2.5), r"epochs=2.5 is out of range"),
    (dict(epochs=True), r"epochs=True is out of range"),
    (dict(train_limit=5), r"train_limit=5 is out of range: use an integer from 10 to 60000 \(or None"),
    (dict(test_limit=20_000), r"test_limit=20000 is out of range"),
    (dict(lr=float("nan")), r"lr=nan must be a finite number"),
    (dict(lr=0), r"lr=0 is out of range: use a value in \(0, 10\]"),
    (dict(colour="red"), r"unknown setting\(s\) \['colour'\]"),
])
def test_impossible_settings_name_the_valid_range(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("preview", gpu=False, **overrides)


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown preset 'fast': choose one of auto, reference, preview, smoke"):
        make_config("fast", gpu=False)


def test_negative_seed_is_rejected():
    with pytest.raises(ConfigError, match="seed=-1"):
        make_config("smoke", gpu=False, seed=-1)


def test_precision_is_float32_unless_bfloat16_is_asked_for():
    assert make_config("smoke", gpu=False).precision == "float32"
    assert make_config("smoke", gpu=False, precision=None).precision == "float32"
    config = make_config("smoke", gpu=True, precision="bfloat16")
    assert config.precision == "bfloat16" and config.as_dict()["precision"] == "bfloat16"
    with pytest.raises(ConfigError, match=r"precision='float16' is not supported: use 'float32' or 'bfloat16'"):
        make_config("smoke", gpu=False, precision="float16")


def test_architecture_table_matches_the_paper_at_224():
    assert architecture.feature_map_sizes(224) == [54, 26, 26, 12, 12, 12, 12, 5]
    assert architecture.smallest_resize() == 67
    assert architecture.feature_map_sizes(67)[-1] == 1 and architecture.feature_map_sizes(66)[-1] == 0
    assert architecture.parameter_count(224) == 46_764_746
    assert architecture.output_shapes(224)[7] == (256, 5, 5)
