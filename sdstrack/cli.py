"""The ``sdstrack`` command line: thin wrappers over the library."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .backends import backend_names
from .checkpoint import DEFAULT_MODEL
from .config import MODALITIES
from .datasets import DATASETS
from .modalities import X_FORMATS
from .runtime import DTYPES, dtype_name, parse_dtype

MODEL_HELP = f"bundled model short name, checkpoint folder or Hugging Face Hub repo id (default: {DEFAULT_MODEL})"
_NEGATIVE_NUMBER = re.compile(r"-[\d.]")
# tqdm's default bar, but always in frames/s (tqdm itself switches to s/frame below 1 frame/s)
_BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"


def _convert(args: argparse.Namespace) -> int:
    from .convert import convert_checkpoint

    model = convert_checkpoint(args.source, args.output_dir, args.modality, num_heads=args.num_heads)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output_dir}/config.json and model.safetensors ({params:,} parameters, {args.modality})")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    from .export import ONNX_NAME, export_onnx
    from .model import SDSTrack

    model = SDSTrack.from_pretrained(args.model)
    out = Path(args.out) if args.out else Path(args.model) / ONNX_NAME
    export_onnx(model, out, max_batch=args.max_batch)
    print(f"wrote {out} (float32, dynamic batch 1..{args.max_batch}); track with backend='onnxruntime'")
    return 0


def _parse_box(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"--box must be x,y,w,h (top-left corner and size in pixels), got {text!r}")
    try:
        return tuple(float(p) for p in parts)  # type: ignore[return-value]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--box has a non-number in {text!r}") from err


def _join_negative_box(argv: list[str]) -> list[str]:
    """``--box -5,10,60,50`` -> ``--box=-5,10,60,50``: argparse takes a value starting with '-' for an option."""
    joined: list[str] = []
    index = 0
    while index < len(argv):
        if argv[index] == "--box" and index + 1 < len(argv) and _NEGATIVE_NUMBER.match(argv[index + 1]):
            joined.append(f"--box={argv[index + 1]}")
            index += 2
        else:
            joined.append(argv[index])
            index += 1
    return joined


def _check_output(option: str, path: str) -> None:
    """Refuse an output file that cannot be written, before any model is loaded or frame tracked."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{option} {path}: the folder {folder} does not exist; create the folder first")
    if target.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name inside it")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{option} {path}: the folder {folder} is not writable")


_BAG_ONLY = ("rgb_topic", "x_topic", "start", "duration", "sync_tolerance", "out_bag")


def _track_bag(args: argparse.Namespace) -> int:
    """`sdstrack track --bag`: frames from two topics of a ROS bag, paired by stamp (see sdstrack.rosbag)."""
    import cv2
    from tqdm import tqdm

    from .io import VideoWriter, draw_result
    from .rosbag import BagSource, DetectionBagWriter, MissingExtraError, track_bag
    from .tracker import Tracker

    if args.sequence is not None or args.rgb is not None or args.x is not None:
        raise ValueError("pass either --bag PATH with --rgb-topic and --x-topic, or --sequence / --rgb and --x")
    if args.rgb_topic is None or args.x_topic is None:
        raise ValueError("--bag needs --rgb-topic T and --x-topic T (the two image topics to track on)")
    if args.box is None:
        raise ValueError("pass the first frame's box with --box x,y,w,h (top-left corner and size in pixels)")
    for option, path in (("--out", args.out), ("--render", args.render), ("--out-bag", args.out_bag)):
        if path:
            _check_output(option, path)
    if args.out_bag and Path(args.out_bag).exists():
        raise FileExistsError(f"--out-bag {args.out_bag} exists; give a new path (bags are never overwritten)")
    try:
        source = BagSource(args.bag, args.rgb_topic, args.x_topic, start=args.start, duration=args.duration,
                           tolerance=args.sync_tolerance, drive=args.drive, resize_x=args.resize_x)
    except MissingExtraError as err:
        raise ValueError(str(err)) from None

    dtype = parse_dtype(args.dtype)
    with contextlib.ExitStack() as stack:
        stack.callback(source.close)
        tracker = Tracker.from_pretrained(args.model, backend=args.backend, device=args.device, dtype=dtype,
                                          compile=args.compile, bgr=False, x_format=args.x_format)
        out = stack.enter_context(open(args.out, "w")) if args.out else None
        detections = None
        if args.out_bag:
            detections = stack.enter_context(DetectionBagWriter(args.out_bag, storage=source.storage))
        video = stack.enter_context(VideoWriter(args.render)) if args.render else None
        progress = stack.enter_context(tqdm(unit=" frames", file=sys.stderr, bar_format=_BAR))
        start = time.perf_counter()
        for frame, result in track_bag(tracker, source, args.box):
            if out is not None:
                out.write(",".join(f"{v:.6f}" for v in (*result.box, result.score)) + "\n")
                out.flush()
            if detections is not None:
                detections.write(frame.stamp, frame.frame_id, result.box, result.score)
            if video is not None and frame.rgb is not None:
                video.write(draw_result(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), result.box, result.score))
            progress.update()
        elapsed = time.perf_counter() - start
    frames = source.summary.frames
    print(f"tracked {frames} frames in {elapsed:.1f} s: {frames / max(elapsed, 1e-9):.1f} frames/s "
          f"on {tracker.device} ({dtype_name(dtype)})")
    print(f"pairing (tolerance {source.tolerance * 1000:.1f} ms, {args.drive} drives): {source.summary}")
    for option, path, what in (("--out", args.out, "boxes (x,y,w,h,score per frame)"),
                               ("--out-bag", args.out_bag, "vision_msgs/Detection2DArray on /sdstrack/detections"),
                               ("--render", args.render, "video")):
        if path:
            print(f"{what} -> {path}")
    return 0


def _track(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .io import FrameSource, SequenceFolder, VideoWriter, check_same_length, color_frame, draw_result
    from .tracker import Tracker

    if args.bag is not None:
        return _track_bag(args)
    given = [f"--{name.replace('_', '-')}" for name in _BAG_ONLY if getattr(args, name) is not None]
    given += ["--drive"] * (args.drive != "rgb") + ["--resize-x"] * args.resize_x
    if given:
        raise ValueError(f"{', '.join(given)} only apply to a ROS bag: add --bag PATH")
    if args.sequence is not None:
        if args.rgb is not None or args.x is not None:
            raise ValueError("pass either --sequence DIR, or --rgb and --x, not both")
        sequence = SequenceFolder(args.sequence)
        rgb_source, x_source, x_format = sequence.rgb, sequence.x, args.x_format or sequence.x_format
        box = args.box or sequence.first_box
        if box is None:
            raise ValueError(f"{args.sequence} has no groundtruth.txt: pass the first frame's box with --box x,y,w,h")
    else:
        if args.rgb is None or args.x is None:
            raise ValueError("pass --sequence DIR, or both --rgb and --x")
        if args.box is None:
            raise ValueError("pass the first frame's box with --box x,y,w,h (top-left corner and size in pixels)")
        rgb_source, x_source, x_format, box = FrameSource(args.rgb), FrameSource(args.x), args.x_format, args.box
    total = check_same_length(rgb_source, x_source)
    for option, path in (("--out", args.out), ("--render", args.render)):
        if path:
            _check_output(option, path)

    dtype = parse_dtype(args.dtype)
    tracker = Tracker.from_pretrained(args.model, backend=args.backend, device=args.device, dtype=dtype,
                                      compile=args.compile, bgr=True, x_format=x_format)
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(args.out, "w")) if args.out else None
        video = stack.enter_context(VideoWriter(args.render, rgb_source.fps or 30.0)) if args.render else None
        progress = stack.enter_context(tqdm(total=total or None, unit=" frames", file=sys.stderr, bar_format=_BAR))
        start = time.perf_counter()
        for index, (rgb, x) in enumerate(zip(rgb_source, x_source)):
            rgb = color_frame(rgb)
            result = tracker.init(rgb, x, box) if index == 0 else tracker.update(rgb, x)
            if out is not None:
                out.write(",".join(f"{v:.6f}" for v in (*result.box, result.score)) + "\n")
                out.flush()
            if video is not None:
                video.write(draw_result(rgb, result.box, result.score))
            progress.update()
        elapsed = time.perf_counter() - start
    frames = progress.n
    print(f"tracked {frames} frames in {elapsed:.1f} s: {frames / elapsed:.1f} frames/s "
          f"on {tracker.device} ({dtype_name(dtype)})")
    if args.out:
        print(f"boxes (x,y,w,h,score per frame) -> {args.out}")
    if args.render:
        print(f"video -> {args.render}")
    return 0


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--shard must be K/N (e.g. 2/8), got {text!r}") from err
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return index, count


def _report_evaluation(report, args: argparse.Namespace) -> int:
    from .evaluation.runner import format_table

    for name, message in report.failed.items():
        print(f"sdstrack {args.command}: sequence {name} failed: {message}", file=sys.stderr)
    if report.scores is None:
        print(f"{len(report.results)} sequences have results in {report.out}; {len(report.missing)} missing"
              + (" (other shards? then `sdstrack eval-merge`)" if not report.failed else "")
              + ": not scored yet")
    else:
        print(format_table(report.scores))
        print(f"scores -> {report.out / 'scores.json'}; raw toolkit results -> {report.out / 'raw'}")
    return 1 if report.failed else 0


def _eval(args: argparse.Namespace) -> int:
    from .evaluation.protocols import SensorFailure
    from .evaluation.runner import evaluate

    failure = SensorFailure(drop=args.drop, drop_rate=args.drop_rate, drop_after=args.drop_after,
                            corrupt=args.corrupt, corruption=args.corruption, seed=args.seed)
    report = evaluate(args.model, args.dataset, args.root, args.out, sequences=args.sequences, workers=args.workers,
                      shard=args.shard, device=args.device, dtype=args.dtype, backend=args.backend, failure=failure,
                      tracker_name=args.tracker_name, plots=not args.no_plots)
    return _report_evaluation(report, args)


def _eval_merge(args: argparse.Namespace) -> int:
    from .evaluation.runner import merge

    return _report_evaluation(merge(args.folders, args.out, plots=not args.no_plots), args)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--size must be WxH in pixels (e.g. 640x480), got {text!r}") from err
    if width < 32 or height < 32:
        raise argparse.ArgumentTypeError(f"--size must be at least 32x32, got {text!r}")
    return width, height


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(args.model, args.out, clip=args.clip, frames=args.frames, size=args.size, device=args.device,
                      dtype=args.dtype, backend=args.backend, compile=args.compile, render=not args.no_render)
    compiled = "" if result.compile_seconds is None else f", compiled (compiling took {result.compile_seconds:.1f} s)"
    print(f"{args.model} on {result.clip} ({result.frames} frames): success AUC {result.success_auc:.3f}, "
          f"precision {result.precision:.3f}, normalised precision {result.normalised_precision:.3f}, "
          f"{result.frames_per_s:.1f} frames/s{compiled}")
    print(f"boxes -> {Path(args.out) / 'boxes.txt'}" + (f"; video -> {result.video}" if result.video else ""))
    return 0


def _train(args: argparse.Namespace) -> int:
    from .training.trainer import train

    model = train(args.config)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained model -> {model} (load it with Tracker.from_pretrained)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdstrack", description="SDSTrack RGB+X single-object tracking")
    commands = parser.add_subparsers(dest="command", required=True)

    convert = commands.add_parser(
        "convert",
        help="convert an authors' checkpoint (.pth.tar / .pth / .safetensors) to config.json + model.safetensors",
    )
    convert.add_argument("source", help="the authors' checkpoint file")
    convert.add_argument("output_dir", help="folder to write config.json and model.safetensors into")
    convert.add_argument("--modality", required=True, choices=MODALITIES, help="the X sensor the weights are for")
    convert.add_argument(
        "--num-heads", type=int, default=None, help="attention heads (inferred as 12 for 768-dim models only)"
    )
    convert.set_defaults(run=_convert)

    export = commands.add_parser("export-onnx", help="export a checkpoint folder's network to ONNX")
    export.add_argument("model", help="checkpoint folder (config.json + model.safetensors)")
    export.add_argument("--out", help="ONNX file to write (default: MODEL/model.onnx)")
    export.add_argument("--max-batch", type=int, default=64, help="largest number of targets per call")
    export.set_defaults(run=_export_onnx)

    # `bench` hands its arguments to sdstrack.bench (see main); listed here for --help.
    commands.add_parser("bench", help="benchmark speed, precision and memory here (`sdstrack bench --help`)")

    track = commands.add_parser("track", help="track one target through an RGB + X sequence")
    track.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    track.add_argument("--sequence", metavar="DIR",
                       help="sequence folder: color/, one of depth/ thermal/ event/ (images sorted by name) and "
                       "optionally groundtruth.txt (x,y,w,h per frame); instead of --rgb and --x")
    track.add_argument("--rgb", help="folder of RGB images (sorted by name) or a video")
    track.add_argument("--x", help="folder of X images (16-bit depth PNGs, thermal, event) or a video")
    track.add_argument("--box", type=_parse_box, metavar="X,Y,W,H",
                       help="initial box x,y,w,h in pixels (top-left corner; may be negative, partly outside the "
                       "image); default with --sequence: the first groundtruth.txt line")
    track.add_argument("--out", help="write one x,y,w,h,score line per frame to this file, as frames are tracked")
    track.add_argument("--render", help="write the RGB frames with the tracked box to this .mp4 video")
    track.add_argument("--x-format", default=None, choices=X_FORMATS,
                       help="how X frames come (default: the --sequence X folder's name, else the model's "
                       "modality; 'rendered' = ready 3-channel)")
    track.add_argument("--device", default=None,
                       help="cuda, cpu, ... (default: sdstrack.runtime.default_device(), cuda when available)")
    track.add_argument("--dtype", default="float32", choices=tuple(DTYPES),
                       help="precision of the network's matrix products")
    track.add_argument("--backend", default="torch", choices=backend_names(),
                       help="onnxruntime runs MODEL/model.onnx (see export-onnx) on the CPU in float32")
    track.add_argument("--compile", action="store_true", help="torch.compile the network (CUDA graphs on GPU)")
    bag = track.add_argument_group("ROS bags (needs pip install 'sdstrack[ros]'; see sdstrack.rosbag)")
    bag.add_argument("--bag", metavar="PATH", help="ROS 1 .bag file or ROS 2 bag folder (sqlite3 or MCAP); "
                     "instead of --sequence / --rgb and --x")
    bag.add_argument("--rgb-topic", metavar="T", help="sensor_msgs/Image or CompressedImage topic of the RGB camera")
    bag.add_argument("--x-topic", metavar="T", help="image topic of the X sensor (depth, thermal, ...), registered "
                     "to the RGB camera")
    bag.add_argument("--start", type=float, metavar="S", help="skip the first S seconds of the bag (record time)")
    bag.add_argument("--duration", type=float, metavar="D", help="track D seconds of the bag (record time)")
    bag.add_argument("--sync-tolerance", type=float, metavar="SECONDS",
                     help="largest stamp difference of a pair (default: half the other stream's period)")
    bag.add_argument("--drive", default="rgb", choices=("rgb", "x"),
                     help="stream whose every message is a frame; the other is None (masked) when unpaired")
    bag.add_argument("--resize-x", action="store_true",
                     help="resize X frames of another size than RGB (sdstrack.resize_like) instead of refusing")
    bag.add_argument("--out-bag", metavar="PATH", help="write the boxes as vision_msgs/Detection2DArray to this new "
                     "bag (.bag: ROS 1; else a ROS 2 bag folder), stamped like the RGB frames")
    track.set_defaults(run=_track)

    evaluation = commands.add_parser("eval", help="run a model over a benchmark and print its metrics")
    evaluation.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    evaluation.add_argument("--dataset", required=True, choices=DATASETS, help="the benchmark's folder layout")
    evaluation.add_argument("--root", required=True, help="the benchmark's folder")
    evaluation.add_argument("--out", required=True, help="output folder (resumed when it exists)")
    evaluation.add_argument("--sequences", nargs="+", metavar="NAME", help="only these sequences")
    evaluation.add_argument("--workers", type=int, default=1, help="processes, one model each")
    evaluation.add_argument("--shard", type=_parse_shard, metavar="K/N", help="run the K-th of N interleaved parts")
    evaluation.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    evaluation.add_argument("--dtype", default=None, choices=tuple(DTYPES), help="precision of the matrix products")
    evaluation.add_argument("--backend", default="torch", choices=backend_names())
    evaluation.add_argument("--drop", choices=("x", "rgb"), help="sensor that delivers nothing on some frames")
    evaluation.add_argument("--drop-rate", type=float, default=0.0, metavar="P",
                            help="fraction of frames after the first on which --drop delivers nothing")
    evaluation.add_argument("--drop-after", type=int, metavar="F",
                            help="--drop delivers frames 1..F and nothing after (a sensor that dies)")
    evaluation.add_argument("--corrupt", choices=("x", "rgb"), help="sensor whose frames are broken but still sent")
    evaluation.add_argument("--corruption", default="zeros", choices=("zeros", "noise", "dark"),
                            help="what --corrupt sends: black frames, noise, or low light (rgb)")
    evaluation.add_argument("--seed", type=int, default=0, help="seed of the failure draws (same seed, same failures)")
    evaluation.add_argument("--tracker-name", default="sdstrack", help="folder name in the raw toolkit results")
    evaluation.add_argument("--no-plots", action="store_true", help="do not write success/precision PNGs")
    evaluation.set_defaults(run=_eval)

    merging = commands.add_parser("eval-merge", help="join evaluation folders of one benchmark's shards and score")
    merging.add_argument("folders", nargs="+", help="evaluation output folders (from --shard runs)")
    merging.add_argument("--out", required=True, help="folder to write the joined results and scores into")
    merging.add_argument("--no-plots", action="store_true")
    merging.set_defaults(run=_eval_merge)

    demo = commands.add_parser("demo", help="track a generated clip with the bundled model: scores, speed, video")
    demo.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    demo.add_argument("--out", default="demo-output", help="folder for the clip, boxes.txt and demo.mp4")
    demo.add_argument("--clip", help="track this sequence folder (color/ + depth|thermal|event/ + groundtruth.txt)")
    demo.add_argument("--frames", type=int, default=150, help="length of the generated clip")
    demo.add_argument("--size", type=_parse_size, default=(640, 480), metavar="WxH", help="generated frame size")
    demo.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    demo.add_argument("--dtype", default=None, choices=tuple(DTYPES), help="precision of the matrix products")
    demo.add_argument("--backend", default="torch", choices=backend_names())
    demo.add_argument("--compile", action="store_true",
                      help="torch.compile the network; it compiles on the first frames before the timing starts")
    demo.add_argument("--no-render", action="store_true", help="do not write demo.mp4")
    demo.set_defaults(run=_demo)

    training = commands.add_parser("train", help="train a model with the paper's objective (torchrun for several GPUs)")
    training.add_argument("config", help="training config JSON (see sdstrack.training.TrainConfig for every field)")
    training.set_defaults(run=_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from .bench import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(_join_negative_box(argv))
    from .checkpoint import CheckpointError
    from .evaluation.runner import EvaluationError

    try:
        return args.run(args)
    except (CheckpointError, ValueError, OSError, FloatingPointError, EvaluationError) as err:
        print(f"sdstrack {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
