"""Checkpoint folders (``config.json`` + ``model.safetensors``), Hub resolution and strict loading.

The layout is huggingface_hub's ``PyTorchModelHubMixin`` one, so a folder written by
:meth:`SDSTrack.save_pretrained` can be uploaded to the Hub as it is.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypedDict

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import SDSTrackConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DEFAULT_MODEL = "sdstrack-demo"
"""The bundled model used when no model is named: the RGB-D model trained by sdstrack (weights/sdstrack-demo)."""
MAX_LISTED = 5  # entries named per category in error messages; the rest are counted


class HubOptions(TypedDict, total=False):
    """Keyword options for Hugging Face Hub downloads, accepted by every ``from_pretrained``.

    Attributes:
        revision: branch, tag or commit hash (default ``main``).
        cache_dir: the Hub cache folder (default: huggingface_hub's).
        local_files_only: never contact the Hub, use the cache only (``HF_HUB_OFFLINE=1`` does the same).
        token: access token for private repos (``True``: the stored login).
    """

    revision: str | None
    cache_dir: str | Path | None
    local_files_only: bool
    token: str | bool | None


class CheckpointError(RuntimeError):
    """A checkpoint could not be found, read, or does not fit the model; the message says how to fix it."""


def write_folder(directory: str | Path, config: SDSTrackConfig, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config.save(directory / CONFIG_NAME)
    tensors = {name: tensor.detach().contiguous().cpu() for name, tensor in state_dict.items()}
    save_file(tensors, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})


def read_folder(
    directory: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[SDSTrackConfig, dict[str, torch.Tensor]]:
    """Read the config and the tensors of a checkpoint folder."""
    directory = Path(directory)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (directory / name).is_file():
            raise CheckpointError(
                f"{directory} has no {name}; a checkpoint folder holds {CONFIG_NAME} and {WEIGHTS_NAME} "
                "(write one with SDSTrack.save_pretrained or `sdstrack convert`)"
            )
    config = SDSTrackConfig.load(directory / CONFIG_NAME)
    try:
        state_dict = load_file(str(directory / WEIGHTS_NAME), device=str(map_location))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(
            f"{directory / WEIGHTS_NAME} is not a readable safetensors file ({err}); it is probably truncated "
            "or corrupted: download or convert it again"
        ) from err
    return config, state_dict


def read_config(name_or_path: str | Path) -> SDSTrackConfig:
    """The config of a model (a bundled short name, a folder or a Hub repo id, as :func:`resolve`) without
    reading its weights: what it takes (``modality``, crop sizes) before anything is loaded."""
    return SDSTrackConfig.load(resolve(name_or_path, filenames=(CONFIG_NAME,)) / CONFIG_NAME)


def bundled_models() -> dict[str, Path]:
    """The models shipped inside the package (``sdstrack.weights``), by short name -> folder."""
    from importlib.resources import files

    try:
        root = Path(str(files("sdstrack.weights")))
    except ModuleNotFoundError:
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / CONFIG_NAME).is_file() and (p / WEIGHTS_NAME).is_file()}


def resolve(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    filenames: tuple[str, ...] = (CONFIG_NAME, WEIGHTS_NAME),
) -> Path:
    """Return a local folder holding the checkpoint: a bundled model's short name (see
    :func:`bundled_models`; never the network), ``name_or_path`` itself, or a Hub snapshot.

    ``~`` is expanded. A local folder must hold every one of ``filenames`` (a folder in the current
    directory named like a bundled model takes that model's place, so it must too). A name that does not
    exist locally is a local path, and an immediate :class:`CheckpointError` without any Hub request,
    when it is a :class:`~pathlib.Path` or looks like a path: it starts with ``.``, ``/`` or ``~``, holds
    a backslash (or the platform's separator), holds more than one ``/``, ends with ``/``, or is ``a/b``
    with ``a`` an existing folder under the current directory. Any other string is a Hub repo id
    (``owner/name``) and its ``filenames`` are fetched with :func:`huggingface_hub.hf_hub_download`, which
    honours ``HF_HUB_OFFLINE``, the cache and ``revision`` (branch, tag or commit hash).
    """
    bundled = bundled_models()
    if isinstance(name_or_path, str) and name_or_path in bundled and not Path(name_or_path).exists():
        return bundled[name_or_path]
    path = Path(name_or_path)
    try:
        path = path.expanduser()
    except RuntimeError:  # "~unknown-user/...": left as written, so it is reported as a missing folder
        pass
    if path.is_dir():
        missing = [name for name in filenames if not (path / name).is_file()]
        if missing:
            raise CheckpointError(_incomplete_folder_message(path, missing, str(name_or_path) in bundled))
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; pass the folder that holds {CONFIG_NAME} and {WEIGHTS_NAME}")
    if _is_local_path(name_or_path):
        raise CheckpointError(_missing_folder_message(path))
    repo_id = str(name_or_path)
    files = []
    for filename in filenames:
        try:
            files.append(
                hf_hub_download(
                    repo_id,
                    filename,
                    revision=revision,
                    cache_dir=cache_dir,
                    local_files_only=local_files_only,
                    token=token,
                )
            )
        except HFValidationError as err:
            raise CheckpointError(
                f"{repo_id!r} is neither an existing local folder nor a valid Hub repo id ('owner/name'): "
                "check the path"
            ) from err
        except LocalEntryNotFoundError as err:
            if _hub_offline():
                offline = "HF_HUB_OFFLINE=1 is set"
            elif local_files_only:
                offline = "local_files_only=True was passed"
            else:
                offline = "the Hub could not be reached"
            raise CheckpointError(
                f"{filename} of {repo_id!r} (revision {revision or 'main'}) is not in the Hugging Face cache "
                f"({cache_dir or 'default cache'}) and {offline}. Either pass a local folder path, download "
                "it once while online (unset HF_HUB_OFFLINE / drop local_files_only), or point cache_dir "
                "at a cache that holds it."
            ) from err
        except RevisionNotFoundError as err:
            raise CheckpointError(f"revision {revision!r} does not exist in Hub repo {repo_id!r}") from err
        except RepositoryNotFoundError as err:
            raise CheckpointError(
                f"Hub repo {repo_id!r} was not found (or is private: pass token=...), and no local folder "
                "has that name"
            ) from err
        except EntryNotFoundError as err:
            raise CheckpointError(f"Hub repo {repo_id!r} has no {filename}; is it an sdstrack checkpoint?") from err
    folders = {Path(f).parent for f in files}
    if len(folders) != 1:
        raise CheckpointError(f"the files {filenames} of {repo_id!r} resolved to different snapshot folders")
    return folders.pop()


def _is_local_path(name_or_path: str | Path) -> bool:
    """Whether a name that does not exist locally was meant as a local path rather than a Hub repo id."""
    if isinstance(name_or_path, Path):
        return True
    name = name_or_path
    separators = {os.sep, os.altsep} - {None, "/"}
    if name.startswith((".", "/", "~")) or "\\" in name or any(sep in name for sep in separators):
        return True
    if name.count("/") > 1 or name.endswith("/"):
        return True
    owner, slash, _ = name.partition("/")
    return bool(slash) and Path(owner).is_dir()


def _incomplete_folder_message(path: Path, missing: list[str], shadows_bundled: bool) -> str:
    """Say which checkpoint files the local folder ``path`` lacks (and, when its name is a bundled model's,
    that the folder hides that model)."""
    from .export import ONNX_NAME  # here: export imports the model, which imports this module

    message = f"The checkpoint folder {path.absolute()} has no {' or '.join(missing)}."
    if shadows_bundled:
        message += (f" It is named like the bundled model {path.name!r}, which a folder of that name in the current "
                    f"directory replaces: to load the bundled model, run from another directory or rename the folder.")
    if ONNX_NAME in missing:
        message += f" ONNX Runtime runs {ONNX_NAME}: write it with `sdstrack export-onnx {path}`."
    return message + f" A checkpoint folder holds {CONFIG_NAME} and {WEIGHTS_NAME} ({ONNX_NAME} for ONNX Runtime)."


def _missing_folder_message(path: Path) -> str:
    """Say that the local folder ``path`` does not exist, suggest checkpoint folders beside it, and how to
    name a Hub repo instead."""
    sentences = [f"Local checkpoint folder {path.absolute()} does not exist."]
    parent = path.parent
    if parent.is_dir():
        try:
            candidates = [p for p in parent.iterdir() if (p / CONFIG_NAME).is_file()]
        except OSError:  # an unreadable parent: no suggestions
            candidates = []
        candidates.sort(key=lambda p: (-difflib.SequenceMatcher(None, p.name, path.name).ratio(), p.name))
        if candidates:
            sentences.append(f"Did you mean {', '.join(str(parent / p.name) for p in candidates[:MAX_LISTED])}?")
        else:
            sentences.append(f"{parent.absolute()} holds no checkpoint folder (a folder with {CONFIG_NAME}).")
    else:
        sentences.append(f"Its parent folder {parent.absolute()} does not exist either.")
    if not path.is_absolute():
        sentences.append(f"Relative paths start at the current directory, {Path.cwd()}.")
    sentences.append(
        "To load from the Hugging Face Hub instead, pass a repo id of the form 'owner/name' "
        "(one '/', no leading '.', '/' or '~', and no local folder named 'owner')."
    )
    return " ".join(sentences)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def load_state_dict_strict(
    module: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> None:
    """Load ``state_dict`` into ``module``; any missing, unexpected or mis-shaped key is an error.

    The error names up to ``MAX_LISTED`` entries per category, in the model's key order (the
    checkpoint's for unexpected keys), and counts the rest.
    """
    expected = module.state_dict()
    missing = [name for name in expected if name not in state_dict]
    unexpected = [name for name in state_dict if name not in expected]
    mismatched = [
        f"{name}: checkpoint {tuple(state_dict[name].shape)} vs model {tuple(expected[name].shape)}"
        for name in expected
        if name in state_dict and state_dict[name].shape != expected[name].shape
    ]
    categories = (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
    problems = [_summarise(label, entries) for label, entries in categories if entries]
    if problems:
        raise CheckpointError(
            f"{source} does not fit the model built from its config: " + "; ".join(problems) + ". "
            "The weights and config.json must come from the same conversion; convert the original "
            "checkpoint again with `sdstrack convert`."
        )
    module.load_state_dict(state_dict, strict=True)


def _summarise(label: str, entries: Sequence[str]) -> str:
    """``label [first entries]``, then ``... and N more (M in all)`` when there are more than ``MAX_LISTED``."""
    text = f"{label} {list(entries[:MAX_LISTED])}"
    if len(entries) > MAX_LISTED:
        text += f" ... and {len(entries) - MAX_LISTED} more ({len(entries)} in all)"
    return text
