"""``sdstrack.train``: train an SDSTrack with the paper's objective, from one CPU to many GPUs (torchrun).

The run is described by a :class:`TrainConfig` (a JSON file for ``sdstrack train CONFIG``); every field
has a default and an unknown field is an error. The output folder holds::

    config.json                    the TrainConfig as run (a resumed run must match it)
    checkpoint/                    model.safetensors, optimizer.pt, state.json: exact resume
    log.jsonl                      one JSON line per logged step (losses, IoU, lr, keep ratio, samples/s)
    model/                         config.json + model.safetensors: what Tracker.from_pretrained loads

Several processes: start with ``torchrun --nproc_per_node N -m sdstrack.cli train CONFIG``; each process
takes ``batch_size / N`` samples of the same global batch (samples and masks are functions of the
global sample index), gradients are averaged by DistributedDataParallel, rank 0 writes the files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import WEIGHTS_NAME, load_state_dict_strict
from ..config import SDSTrackConfig
from ..datasets import DatasetError, Sequence, load_dataset
from ..model import SDSTrack
from ..runtime import parse_dtype, resolve_device
from .objective import complementary_masks, sdstrack_objective
from .policy import POLICIES, apply_policy, keep_rate_schedule, train_mode, trainable_parameters
from .sampling import PairSampler, SamplingOptions


@dataclass(frozen=True)
class DataSource:
    """Sequences to sample from: a benchmark (``dataset`` and ``root`` as for :func:`load_dataset`), an
    optional subset of ``sequences``, and its sampling ``weight`` relative to the other sources.

    ``dataset="synthetic"``: :func:`sdstrack.datasets.synthetic.write_synthetic` writes the sequences into
    ``root`` on first use (deterministic: the same files on any machine) with the keyword arguments in
    ``synthetic`` (e.g. ``{"sequences": 120, "length": 100, "x_format": "depth", "seed": 0}``), and they
    are read as the plain folder layout.
    """

    dataset: str
    root: str
    weight: float = 1.0
    sequences: tuple[str, ...] | None = None
    synthetic: dict | None = None


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Defaults are the original's (DESIGN.md section 9) where it has one.

    Attributes:
        output_dir: where checkpoints, the log and the final model go.
        train_data, val_data: :class:`DataSource` lists (validation: success AUC of tracking the sequences).
        model: :class:`SDSTrackConfig` fields of the model to build (its defaults: the paper's ViT-B).
        init: ``"random"``, a checkpoint (folder with ``config.json`` + ``model.safetensors``, bundled short
            name or Hub repo id) of the same model configuration, ``"ostrack:PATH"`` (an OSTrack checkpoint
            into the shared blocks and head) or ``"timm:NAME"`` (a timm ViT with 16 px patches, pretrained
            weights, e.g. ``vit_small_patch16_224``). A checkpoint may be of another X sensor (e.g. an RGB-D
            model starting an RGB-T one): every tensor has the same shape, so all of them load, and its X
            patch embedding and adapters, learnt on the other sensor, are where the new one is learnt.
        policy: what trains: ``"paper"`` (adapters and X patch embedding, final norm at 0.1 x lr),
            ``"full"`` or ``"scratch"`` (everything).
        distillation: the paper's complementary masked patch distillation (False: the ablation).
        modality_drop: probability that a sample's masked pass hides one whole modality (RGB or X, as the
            tracker does for a missing sensor) instead of complementary patches; 0 = the paper. Needs
            ``distillation`` (the masked pass).
        steps, batch_size: optimisation steps and the global batch size.
        lr, weight_decay, lr_drop_step, grad_clip: AdamW, the rate divided by 10 at ``lr_drop_step``
            (None: never), gradient-norm clipping.
        drop_path: stochastic depth of the blocks during training (the original's 0.1; rising linearly
            over the blocks from 0).
        steps_per_epoch, ce_start_epoch, ce_warmup_epochs: the candidate-elimination keep-rate warm-up,
            in the original's epochs (60,000 pairs / batch 16 = 3,750 steps).
        precision: ``float32``, ``bfloat16`` (GPUs, CPUs with AVX-512 BF16/AMX) or ``float16`` (GPUs):
            autocast of the forward passes; weights and optimiser stay float32.
        device: ``cuda``, ``cpu``...; default cuda when available (under torchrun: cuda:LOCAL_RANK).
        seed: samples, masks and initialisation are functions of it (and the step).
        workers: processes that draw the training samples (and write missing synthetic sequences) while
            the network trains; 0: the training process draws them itself. The samples are the same
            whatever the number: on a GPU, drawing them is what limits the rate without workers (about
            100 samples/s per CPU core at 64/128 px crops).
        checkpoint_every, log_every, validate_every: in steps (validate_every None: at the end only).
        sampling: :class:`SamplingOptions` fields.
    """

    output_dir: str = "runs/train"
    train_data: tuple[DataSource, ...] = ()
    val_data: tuple[DataSource, ...] = ()
    model: dict = field(default_factory=dict)
    init: str = "random"
    policy: str = "paper"
    distillation: bool = True
    modality_drop: float = 0.0
    steps: int = 1000
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 1e-4
    lr_drop_step: int | None = None
    grad_clip: float = 0.1
    steps_per_epoch: int = 3750
    ce_start_epoch: int = 4
    ce_warmup_epochs: int = 16
    drop_path: float = 0.1
    precision: str = "float32"
    device: str | None = None
    seed: int = 0
    workers: int = 0
    checkpoint_every: int = 500
    log_every: int = 10
    validate_every: int | None = None
    sampling: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train_data", tuple(_source(s) for s in self.train_data))
        object.__setattr__(self, "val_data", tuple(_source(s) for s in self.val_data))
        problems = []
        if not self.train_data:
            problems.append("train_data is empty: give at least one {dataset, root} source")
        if self.policy not in POLICIES:
            problems.append(f"policy={self.policy!r} is not one of {POLICIES}")
        for name in ("steps", "batch_size", "steps_per_epoch", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name}={value!r} must be a whole number >= 1")
        if not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers < 0:
            problems.append(f"workers={self.workers!r} must be a whole number >= 0")
        if not isinstance(self.modality_drop, (int, float)) or not 0 <= self.modality_drop <= 1:
            problems.append(f"modality_drop={self.modality_drop!r} must lie in [0, 1]")
        elif self.modality_drop and not self.distillation:
            problems.append("modality_drop > 0 needs the masked pass: set distillation=true or modality_drop=0")
        if not isinstance(self.drop_path, (int, float)) or not 0 <= self.drop_path < 1:
            problems.append(f"drop_path={self.drop_path!r} must lie in [0, 1)")
        for name in ("lr", "weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                problems.append(f"{name}={value!r} must be a finite number >= 0")
        try:
            parse_dtype(self.precision)
        except ValueError as err:
            problems.append(str(err))
        try:
            SamplingOptions(**self.sampling)
        except ValueError as err:
            problems.append(f"sampling: {err}")
        except TypeError as err:
            problems.append(f"sampling: {err} (fields: {[f.name for f in dataclasses.fields(SamplingOptions)]})")
        try:
            SDSTrackConfig.from_dict(dict(self.model))
        except (TypeError, ValueError) as err:
            problems.append(f"model: {err}")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"training config has unknown fields {unknown}; known fields are {sorted(known)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err})") from err
        except FileNotFoundError as err:
            raise FileNotFoundError(f"training config {path} does not exist") from err
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        for key in ("train_data", "val_data"):
            data[key] = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()} for s in data[key]]
        return data


def _source(source: DataSource | dict) -> DataSource:
    if isinstance(source, DataSource):
        return source
    try:
        source = DataSource(**source)
    except TypeError as err:
        raise ValueError(f"data source {source!r}: {err} (fields: dataset, root, weight, sequences, "
                         "synthetic)") from err
    sequences = tuple(source.sequences) if source.sequences is not None else None
    return dataclasses.replace(source, sequences=sequences)


def _load_sources(sources: tuple[DataSource, ...], workers: int = 0) -> list[tuple[list[Sequence], float]]:
    loaded = []
    for source in sources:
        if source.dataset == "synthetic":
            from ..datasets.synthetic import write_synthetic_once

            write_synthetic_once(source.root, source.synthetic or {}, workers=workers)
            loaded.append((load_dataset("folder", source.root, list(source.sequences) if source.sequences else None),
                           source.weight))
            continue
        if not Path(source.root).exists():
            raise DatasetError(f"data source {source.dataset}: root {source.root} does not exist")
        sequences = list(source.sequences) if source.sequences else None
        loaded.append((load_dataset(source.dataset, source.root, sequences), source.weight))
    return loaded


class _Objective(nn.Module):
    """The objective as one module call, so that DistributedDataParallel sees one forward per backward."""

    def __init__(self, model: SDSTrack, distillation: bool) -> None:
        super().__init__()
        self.model, self.distillation = model, distillation

    def forward(self, template, search, boxes, rgb_mask, x_mask, keep_ratio: float):
        loss, parts = sdstrack_objective(self.model, template, search, boxes, distillation=self.distillation,
                                         masks=(rgb_mask, x_mask), ce_keep_ratio=keep_ratio)
        return loss, parts


def _initialise(model: SDSTrack, init: str) -> None:
    """``random`` (as built), ``ostrack:PATH``, ``timm:NAME`` (pretrained weights from timm) or an SDSTrack
    checkpoint whose configuration must equal the model's but for its sensor (``modality``)."""
    from .initialise import initialise_from_ostrack, initialise_from_timm

    if init == "random":
        return
    if init.startswith("ostrack:"):
        initialise_from_ostrack(model, init.removeprefix("ostrack:"))
    elif init.startswith("timm:"):
        initialise_from_timm(model, init.removeprefix("timm:"), pretrained=True)
    else:
        start = SDSTrack.from_pretrained(init)
        pairs = ((f.name, getattr(start.config, f.name), getattr(model.config, f.name))
                 for f in dataclasses.fields(model.config) if f.name != "modality")
        differing = [f"{name} {initial} vs {wanted}" for name, initial, wanted in pairs if initial != wanted]
        if differing:
            raise ValueError(f"init {init} has another model configuration than `model` (init vs model: "
                             f"{', '.join(differing)}); make `model` the checkpoint's configuration (only the "
                             "sensor, modality, may differ)")
        load_state_dict_strict(model, start.state_dict(), source=init)


def sample_masks(config: SDSTrackConfig, indices, seed: int,
                 modality_drop: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Complementary masks drawn per sample from ``(seed, sample index)``: a batch split over processes
    gets the masks one process would draw. ``modality_drop`` as in :func:`complementary_masks`."""
    tokens = (config.num_template_tokens, config.num_search_tokens)
    masks = [complementary_masks(1, tokens, generator=torch.Generator().manual_seed(seed * 1_000_003 + i),
                                 modality_drop=modality_drop)
             for i in indices]
    return torch.cat([m[0] for m in masks]), torch.cat([m[1] for m in masks])


def train(config: TrainConfig | dict | str | Path, *, progress: bool = True) -> Path:
    """Run (or resume) a training run; returns the folder of the trained model (``output_dir/model``).
    A finished run is left as it is (its model is returned; a config that differs from the run's is an error)."""
    if isinstance(config, (str, Path)):
        config = TrainConfig.load(config)
    elif isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    out = Path(config.output_dir)
    _check_same_run(out, config)
    if (out / "model" / WEIGHTS_NAME).is_file():  # written only once the last step is done
        return out / "model"
    rank, world = _distributed_start()
    device = _device(config.device)
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the {world} processes")
    per_rank = config.batch_size // world
    model_config = SDSTrackConfig.from_dict(dict(config.model))
    torch.manual_seed(config.seed)
    model = SDSTrack(model_config, drop_path_rate=config.drop_path)
    _initialise(model, config.init)
    model.to(device)
    apply_policy(model, config.policy)
    sampler = PairSampler(_load_sources(config.train_data, config.workers), model_config,
                          SamplingOptions(**config.sampling), config.seed)
    val_sequences = [s for sequences, _ in _load_sources(config.val_data, config.workers) for s in sequences]
    objective: nn.Module = _Objective(model, config.distillation)
    if world > 1:
        objective = nn.parallel.DistributedDataParallel(objective, device_ids=[device] if device.type == "cuda"
                                                        else None)
    optimizer = torch.optim.AdamW(trainable_parameters(model, config.policy, config.lr),
                                  weight_decay=config.weight_decay)
    milestones = [config.lr_drop_step] if config.lr_drop_step else []
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    precision = parse_dtype(config.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == torch.float16)
    step = _resume(out, config, model, optimizer, scheduler, scaler, rank)
    trainable = [p for p in model.parameters() if p.requires_grad]
    from tqdm import tqdm

    bar = tqdm(total=config.steps, initial=step, unit=" steps", disable=not progress or rank != 0)
    # the last step is validated after its checkpoint: a run stopped in between validates it again
    revalidated = step == config.steps and not _is_validation_point(config, step)
    log = _open_log(out / "log.jsonl", step, revalidated) if rank == 0 else None
    started, samples_done = time.perf_counter(), 0
    # fresh worker processes (spawned: forking a process that has run OpenCV's or OpenMP's threads can
    # hang the child), and a generator of their own (the global one drives drop path)
    batches = iter(torch.utils.data.DataLoader(
        _StepBatches(sampler, step, config.steps, config.batch_size, rank, per_rank), batch_size=None,
        num_workers=config.workers, pin_memory=device.type == "cuda", worker_init_fn=_single_threaded,
        multiprocessing_context="spawn" if config.workers else None, generator=torch.Generator()))
    try:
        while step < config.steps:
            indices = _sample_indices(step, config.batch_size, rank, per_rank)
            template, search, boxes = (t.to(device, non_blocking=True) for t in next(batches))
            rgb_mask, x_mask = (m.to(device) for m in sample_masks(model_config, indices, config.seed,
                                                                            config.modality_drop))
            epoch = step // config.steps_per_epoch + 1
            keep = keep_rate_schedule(epoch, config.ce_start_epoch, config.ce_warmup_epochs,
                                      model_config.ce_keep_ratio)
            train_mode(model)
            with torch.autocast(device.type, dtype=precision, enabled=precision != torch.float32):
                loss, parts = objective(template, search, boxes, rgb_mask, x_mask, keep)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            samples_done += config.batch_size
            rate = samples_done / (time.perf_counter() - started)
            bar.update()
            bar.set_postfix(loss=f"{parts['loss']:.3f}", iou=f"{parts['clean/iou']:.3f}", samples_s=f"{rate:.1f}")
            if log is not None and (step % config.log_every == 0 or step == config.steps):
                record = {"step": step, "lr": scheduler.get_last_lr()[0], "keep_ratio": keep,
                          "grad_norm": float(grad_norm), "samples_per_s": rate, **parts}
                log.write(json.dumps(record) + "\n")
                log.flush()
            if _is_validation_point(config, step) and val_sequences and rank == 0:
                _log_validation(log, step, model, val_sequences)
            if step % config.checkpoint_every == 0 or step == config.steps:
                _save_checkpoint(out, config, model, optimizer, scheduler, scaler, step, rank)
    finally:
        bar.close()
    if rank == 0:
        if val_sequences and log is not None and not _is_validation_point(config, step):
            _log_validation(log, step, model, val_sequences)  # the last step, unless it was a validation point
        model.eval().save_pretrained(out / "model")
    if log is not None:
        log.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return out / "model"


class _StepBatches(torch.utils.data.Dataset):
    """Item ``k``: this process's share of the global batch of step ``first_step + k``, as CPU tensors
    (template, search, boxes): what a worker of the training run's DataLoader draws."""

    def __init__(self, sampler: PairSampler, first_step: int, steps: int, batch_size: int, rank: int,
                 per_rank: int) -> None:
        self.sampler, self.first_step, self.steps = sampler, first_step, steps
        self.batch_size, self.rank, self.per_rank = batch_size, rank, per_rank

    def __len__(self) -> int:
        return self.steps - self.first_step

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = self.sampler.batch(_sample_indices(self.first_step + k, self.batch_size, self.rank, self.per_rank))
        return batch.template, batch.search, batch.boxes


def _sample_indices(step: int, batch_size: int, rank: int, per_rank: int) -> range:
    """Global indices of the samples (and masks) process ``rank`` takes at ``step``."""
    first = step * batch_size + rank * per_rank
    return range(first, first + per_rank)


def _single_threaded(_worker: int) -> None:
    """A sample-drawing worker uses one core: the workers, not OpenCV's threads, share the machine."""
    import cv2

    cv2.setNumThreads(1)


def validate(model: SDSTrack, sequences: list[Sequence]) -> dict:
    """Success AUC, precision and normalised precision of tracking ``sequences`` with ``model`` (a copy
    runs in eval mode; ``model`` is left as it is)."""
    from ..evaluation.metrics import otb_scores
    from ..evaluation.protocols import SensorFailure
    from ..evaluation.runner import track_sequence
    from ..tracker import Tracker

    device = next(model.parameters()).device
    tracker = Tracker(model, device=device, bgr=True)
    predictions = {s.name: track_sequence(tracker, s, SensorFailure()).boxes for s in sequences}
    scores = otb_scores(predictions, {s.name: s.groundtruth for s in sequences},
                        {s.name: ~s.absent for s in sequences})
    return scores["overall"]


def _is_validation_point(config: TrainConfig, step: int) -> bool:
    return bool(config.validate_every) and step % config.validate_every == 0


def _open_log(path: Path, step: int, revalidated: bool):
    """``path`` opened for appending from ``step`` on. A run stopped after its last checkpoint had logged
    steps that it computes again when resumed: their lines are dropped (and the validation of ``step`` itself
    when ``revalidated``), so that a resumed run's log holds each step once, as the uninterrupted run's does.
    A last line that the stop cut short goes too."""
    if not path.is_file():
        return path.open("a")
    text = path.read_text()
    kept = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if not line.endswith("\n"):  # the last line, cut short
            break
        try:
            record = json.loads(line)
            logged_step = record["step"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"{path}, line {number}, is not a training-log record (a JSON object with a "
                             f"'step'): {line.strip()[:80]!r}; the log was edited or damaged: repair or delete "
                             "that line, or delete the run folder to train from the start") from None
        if logged_step < step or (logged_step == step and not (revalidated and "validation" in record)):
            kept.append(line)
    if "".join(kept) != text:
        path.write_text("".join(kept))
    return path.open("a")


def _log_validation(log, step: int, model: SDSTrack, sequences: list[Sequence]) -> None:
    scores = validate(model, sequences)
    if log is not None:
        log.write(json.dumps({"step": step, "validation": scores}) + "\n")
        log.flush()


def _device(name: str | None) -> torch.device:
    if name is None and torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
        return torch.device(f"cuda:{os.environ['LOCAL_RANK']}")
    return resolve_device(name)


def _distributed_start() -> tuple[int, int]:
    """(rank, world size): torchrun's environment when present (process group started here), else (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return torch.distributed.get_rank(), world


# Checkpoints ---------------------------------------------------------------------------------------------------
def _save_checkpoint(out: Path, config: TrainConfig, model, optimizer, scheduler, scaler, step: int, rank: int):
    if rank != 0:
        return
    from safetensors.torch import save_file

    folder = out / "checkpoint"
    staging = out / "checkpoint.tmp"
    staging.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              str(staging / WEIGHTS_NAME))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "torch_rng": torch.get_rng_state()}, staging / "optimizer.pt")
    (staging / "state.json").write_text(json.dumps({"step": step}) + "\n")
    if folder.exists():
        previous = out / "checkpoint.old"
        folder.rename(previous)
        staging.rename(folder)
        for file in previous.iterdir():
            file.unlink()
        previous.rmdir()
    else:
        staging.rename(folder)


# where a run goes on, not what it computes: a run stopped on one machine resumes on another
_MACHINE_FIELDS = ("device", "workers")


def _check_same_run(out: Path, config: TrainConfig) -> None:
    """A run already in ``out`` must have been started with ``config`` (except in :data:`_MACHINE_FIELDS`)."""
    config_path = out / "config.json"
    if not config_path.is_file():
        return
    existing, current = json.loads(config_path.read_text()), config.to_dict()
    differing = sorted(k for k in set(existing) | set(current)
                       if k not in _MACHINE_FIELDS and existing.get(k) != current.get(k))
    if differing:
        raise ValueError(f"{out} holds a run with another training config (differs in: {', '.join(differing)}); "
                         "use another output_dir to start a new run")


def _resume(out: Path, config: TrainConfig, model, optimizer, scheduler, scaler, rank: int) -> int:
    """Restore the latest checkpoint of ``out`` (a run of the same config, :func:`_check_same_run`) and return
    its step; a new run writes its config and starts at step 0."""
    from safetensors.torch import load_file

    config_path = out / "config.json"
    if not config_path.is_file() and rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    folder = out / "checkpoint"
    if not (folder / "state.json").is_file():
        return 0
    device = next(model.parameters()).device
    load_state_dict_strict(model, load_file(str(folder / WEIGHTS_NAME), device=str(device)), source=str(folder))
    state = torch.load(folder / "optimizer.pt", map_location=device, weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["torch_rng"].cpu())
    return int(json.loads((folder / "state.json").read_text())["step"])


__all__ = ["DataSource", "TrainConfig", "sample_masks", "train", "validate"]
