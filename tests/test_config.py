"""SDSTrackConfig: every field's type and range is checked, named, and explained; JSON round trip."""

import json
import math
import re

import pytest

from sdstrack import SDSTrackConfig
from sdstrack.config import MODALITIES

DEFAULTS = SDSTrackConfig()


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("embed_dim", "64", "without quotes"),
        ("embed_dim", 64.5, "must be an int"),
        ("embed_dim", 64.0, "must be an int"),
        ("patch_size", 0, "must be > 0"),
        ("depth", -1, "must be > 0"),
        ("num_heads", True, "must be an int, got bool"),
        ("head_channels", None, "must be an int"),
        ("search_size", -256, "must be > 0"),
        ("mlp_ratio", math.nan, "finite number"),
        ("adapter_ratio", 0.0, "must be > 0"),
        ("adapter_scale", math.inf, "finite number"),
        ("adapter_scale", "0.5", "finite number"),
        ("template_factor", -2.0, "must be > 0"),
        ("search_factor", False, "finite number"),
        ("layernorm_eps", 0, "must be > 0"),
        ("ce_keep_ratio", 0, r"must lie in \(0, 1\]"),
        ("ce_keep_ratio", 1.5, r"must lie in \(0, 1\]"),
        ("qkv_bias", "true", "true or false"),
        ("qkv_bias", 1, "true or false"),
        ("fusion_layers", [3, "6"], "block indices"),
        ("fusion_layers", "3,6", "block indices"),
        ("ce_layers", [3, 3, 9], "more than once"),
        ("ce_layers", [3, 6, 12], r"outside blocks 0\.\.11"),
        ("modality", "lidar", "not one of"),
        ("modality", 3, "not one of"),
        ("pixel_std", [0.229, 0.0, 0.225], "must be > 0 in every channel"),
        ("pixel_std", [0.229, -0.1, 0.225], "must be > 0 in every channel"),
        ("pixel_mean", [0.485, 0.456], "3 finite numbers"),
        ("pixel_mean", [0.485, 0.456, math.nan], "3 finite numbers"),
        ("pixel_mean", "rgb", "3 finite numbers"),
    ],
)
def test_bad_field_is_named_with_its_fix(field, value, fix):
    with pytest.raises(ValueError, match=r"^invalid SDSTrackConfig: ") as info:
        SDSTrackConfig(**{field: value})
    message = str(info.value)
    assert re.search(rf"(: |; ){field}[= ]", message), message  # each problem starts with the field's name
    assert re.search(fix, message), message


def test_all_problems_are_reported_together_without_crashing():
    with pytest.raises(ValueError) as info:
        SDSTrackConfig(embed_dim="64", num_heads=0, patch_size=0, depth="12", ce_keep_ratio="0.7")
    message = str(info.value)
    for field in ("embed_dim", "num_heads", "patch_size", "depth", "ce_keep_ratio"):
        assert f"{field}=" in message
    assert message.count(";") >= 4
    # The divisibility checks are skipped for the fields that are already invalid.
    assert "not divisible" not in message and "not a multiple" not in message


def test_consistency_checks_still_apply():
    with pytest.raises(ValueError, match="embed_dim=64 is not divisible by num_heads=5"):
        SDSTrackConfig(embed_dim=64, num_heads=5)
    with pytest.raises(ValueError, match="search_size=250 is not a multiple of patch_size=16"):
        SDSTrackConfig(search_size=250)
    with pytest.raises(ValueError, match="adapter_ratio=0.001 leaves no hidden channels"):
        SDSTrackConfig(embed_dim=64, num_heads=4, adapter_ratio=0.001)


def test_values_are_normalised():
    config = SDSTrackConfig(mlp_ratio=4, fusion_layers=[3, 6], pixel_mean=[0, 1, 0.5])
    assert config.fusion_layers == (3, 6)
    assert config.pixel_mean == (0.0, 1.0, 0.5) and all(type(v) is float for v in config.pixel_mean)
    assert type(config.mlp_ratio) is float


def test_defaults_are_imagenet_statistics():
    assert DEFAULTS.pixel_mean == (0.485, 0.456, 0.406)
    assert DEFAULTS.pixel_std == (0.229, 0.224, 0.225)
    assert DEFAULTS.modality in MODALITIES
    names = list(DEFAULTS.to_dict())
    assert names.index("pixel_mean") == names.index("search_factor") + 1
    assert names.index("pixel_std") == names.index("pixel_mean") + 1


def test_round_trip_with_custom_pixel_statistics(tmp_path):
    config = SDSTrackConfig(embed_dim=64, num_heads=4, head_channels=32, pixel_mean=(0.5, 0.5, 0.5),
                            pixel_std=(0.25, 0.5, 1.0))
    data = config.to_dict()
    assert data["pixel_mean"] == [0.5, 0.5, 0.5] and data["pixel_std"] == [0.25, 0.5, 1.0]
    assert SDSTrackConfig.from_dict(json.loads(json.dumps(data))) == config
    config.save(tmp_path / "config.json")
    assert SDSTrackConfig.load(tmp_path / "config.json") == config


def test_old_config_without_pixel_statistics_loads_defaults(tmp_path):
    data = SDSTrackConfig(embed_dim=64, num_heads=4, head_channels=32).to_dict()
    del data["pixel_mean"], data["pixel_std"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    config = SDSTrackConfig.load(tmp_path / "config.json")
    assert config.pixel_mean == DEFAULTS.pixel_mean and config.pixel_std == DEFAULTS.pixel_std
    assert config.embed_dim == 64


def test_bad_config_file_names_field_and_file(tmp_path):
    data = SDSTrackConfig().to_dict()
    data["embed_dim"] = "64"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError) as info:
        SDSTrackConfig.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "embed_dim='64' must be an int" in message and "without quotes" in message


def test_config_file_that_is_not_an_object_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[64, 12]")
    with pytest.raises(ValueError, match="JSON object") as info:
        SDSTrackConfig.load(path)
    assert str(path) in str(info.value)
