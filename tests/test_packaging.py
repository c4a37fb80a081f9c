"""Bundled models are package data resolved by short name, never on the network; every package ships."""

import sys
from pathlib import Path

import pytest

from sdstrack import SDSTrack, Tracker
from sdstrack.checkpoint import DEFAULT_MODEL, bundled_models, resolve

from .conftest import REPO


@pytest.fixture()
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a bundled model's short name went to the Hub")

    monkeypatch.setattr("sdstrack.checkpoint.hf_hub_download", refuse)


def test_short_names_resolve_to_the_package_data(no_network, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: the package data is found wherever the process runs
    models = bundled_models()
    assert DEFAULT_MODEL in models and (models[DEFAULT_MODEL] / "model.safetensors").is_file()
    assert resolve(DEFAULT_MODEL) == models[DEFAULT_MODEL]
    tracker = Tracker.from_pretrained(device="cpu")
    assert tracker.config == SDSTrack.from_pretrained(DEFAULT_MODEL).config


def test_a_local_folder_of_the_same_name_wins(no_network, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    SDSTrack(SDSTrack.from_pretrained().config).save_pretrained(tmp_path / DEFAULT_MODEL)
    assert resolve(DEFAULT_MODEL) == Path(DEFAULT_MODEL)


def test_a_folder_of_the_same_name_that_is_no_checkpoint_is_a_clear_error(no_network, tmp_path, monkeypatch):
    from sdstrack.checkpoint import CheckpointError

    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_MODEL / "clip").mkdir(parents=True)  # e.g. the output of some earlier run
    with pytest.raises(CheckpointError) as info:
        Tracker.from_pretrained(device="cpu")
    message = str(info.value)
    assert f"{tmp_path / DEFAULT_MODEL} has no config.json or model.safetensors" in message
    assert f"named like the bundled model '{DEFAULT_MODEL}'" in message and "rename the folder" in message


def test_a_local_folder_must_hold_what_the_backend_reads(tmp_path):
    from sdstrack.checkpoint import CheckpointError

    SDSTrack(SDSTrack.from_pretrained().config).save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model has no model.safetensors\. A checkpoint folder") as info:
        SDSTrack.from_pretrained(tmp_path / "model")
    assert "bundled" not in str(info.value)
    assert resolve(tmp_path / "model", filenames=("config.json",)) == tmp_path / "model"  # what it asks for is there


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in the standard library from Python 3.11")
def test_every_package_of_the_source_tree_is_listed_in_pyproject():
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "sdstrack").rglob("__init__.py")}
    assert found | {"sdstrack.weights"} == listed
