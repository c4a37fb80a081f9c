"""Converting the authors' checkpoints: accepted formats, dropped entries, named errors."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from sdstrack import SDSTrack
from sdstrack.checkpoint import CheckpointError
from sdstrack.cli import main
from sdstrack.convert import convert_checkpoint, convert_state_dict

from .conftest import TINY_HEADS


@pytest.fixture(scope="module")
def original(fixtures):
    return load_file(str(fixtures / "official_tiny.safetensors"))


def test_converted_keys_are_exactly_the_models(original):
    config, converted = convert_state_dict(original, "depth", num_heads=TINY_HEADS)
    assert set(converted) == set(SDSTrack(config).state_dict())
    # Original entries the network never reads are dropped, none silently kept or lost otherwise.
    dropped = set(original) - {k for k in original if not k.endswith("num_batches_tracked")}
    assert all(k.endswith("num_batches_tracked") for k in dropped)
    fusion_blocks = {int(k.split(".")[2]) for k in converted if ".fusion_adapters." in k}
    assert fusion_blocks == {3, 6, 9, 11}
    assert converted["backbone.x_patch_embed.weight"].equal(original["backbone.patch_embed_multimodal.proj.weight"])
    assert converted["head.score.4.bias"].equal(original["box_head.conv5_ctr.bias"])
    assert converted["head.offset.0.norm.running_var"].equal(original["box_head.conv1_offset.1.running_var"])


def test_config_is_inferred_from_shapes(original, fixtures):
    config, _ = convert_state_dict(original, "thermal", num_heads=TINY_HEADS)
    reference = json.loads((fixtures / "official_tiny.json").read_text())
    for field in ("embed_dim", "depth", "num_heads", "mlp_ratio", "adapter_ratio", "head_channels",
                  "template_size", "search_size", "patch_size"):
        assert getattr(config, field) == reference[field], field
    assert config.modality == "thermal"


def test_head_count_is_required_below_vit_b(original):
    with pytest.raises(CheckpointError, match="--num-heads"):
        convert_state_dict(original, "depth")


@pytest.mark.parametrize("form", ["pth_tar_with_net", "bare_state_dict", "safetensors"])
def test_accepted_file_forms(form, original, tmp_path, tiny_model):
    if form == "safetensors":
        source = tmp_path / "orig.safetensors"
        save_file(original, str(source))
    else:
        source = tmp_path / ("orig.pth.tar" if form == "pth_tar_with_net" else "orig.pth")
        torch.save({"net": original, "epoch": 300} if form == "pth_tar_with_net" else original, source)
    model = convert_checkpoint(source, tmp_path / "out", "depth", num_heads=TINY_HEADS)
    for name, tensor in tiny_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name


def test_renamed_key_is_named(original, tmp_path):
    broken = dict(original)
    broken["backbone.blocks.4.attn.qkv_renamed.weight"] = broken.pop("backbone.blocks.4.attn.qkv.weight")
    source = tmp_path / "broken.safetensors"
    save_file(broken, str(source))
    with pytest.raises(CheckpointError, match=r"backbone\.blocks\.4\.attn\.qkv_renamed\.weight"):
        convert_checkpoint(source, tmp_path / "out", "depth", num_heads=TINY_HEADS)
    assert not (tmp_path / "out").exists()


def test_missing_key_is_named(original, tmp_path):
    broken = {k: v for k, v in original.items() if k != "backbone.blocks.7.mlp.fc2.bias"}
    source = tmp_path / "broken.safetensors"
    save_file(broken, str(source))
    with pytest.raises(CheckpointError, match=r"missing keys \['backbone\.blocks\.7\.mlp\.fc2\.bias'\]"):
        convert_checkpoint(source, tmp_path / "out", "depth", num_heads=TINY_HEADS)


def test_non_tensor_pickle_is_refused(tmp_path):
    source = tmp_path / "evil.pth.tar"
    torch.save({"net": {"a": torch.zeros(1)}, "cfg": object()}, source)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        convert_checkpoint(source, tmp_path / "out", "depth")


def test_cli_convert(fixtures, tmp_path, capsys, tiny_model):
    code = main(["convert", str(fixtures / "official_tiny.safetensors"), str(tmp_path / "cli"),
                 "--modality", "depth", "--num-heads", str(TINY_HEADS)])
    assert code == 0
    assert "parameters" in capsys.readouterr().out
    loaded = SDSTrack.from_pretrained(tmp_path / "cli")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tiny_model.state_dict().values()))


def test_cli_convert_reports_errors(fixtures, tmp_path, capsys):
    code = main(["convert", str(fixtures / "official_tiny.safetensors"), str(tmp_path / "cli"), "--modality", "depth"])
    assert code == 2
    assert "--num-heads" in capsys.readouterr().err
