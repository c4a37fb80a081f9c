"""The ``sdstrack`` command line: thin wrappers over the library."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .config import MODALITIES


def _convert(args: argparse.Namespace) -> int:
    from .convert import convert_checkpoint

    model = convert_checkpoint(args.source, args.output_dir, args.modality, num_heads=args.num_heads)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output_dir}/config.json and model.safetensors ({params:,} parameters, {args.modality})")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    from pathlib import Path

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


def _track(args: argparse.Namespace) -> int:
    import cv2
    import torch

    from .io import FrameSource, color_frame, draw_result
    from .tracker import Tracker

    rgb_source, x_source = FrameSource(args.rgb), FrameSource(args.x)
    if len(rgb_source) != len(x_source):
        raise ValueError(f"{args.rgb} has {len(rgb_source)} frames but {args.x} has {len(x_source)}")
    dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[args.dtype]
    options = {"bgr": True, "x_format": args.x_format}
    if args.backend == "torch":
        options.update(device=args.device, dtype=dtype, compile=args.compile)
    tracker = Tracker.from_pretrained(args.model, backend=args.backend, **options)
    total, writer, lines = len(rgb_source), None, []
    interactive = sys.stderr.isatty()
    start = time.perf_counter()
    for index, (rgb, x) in enumerate(zip(rgb_source, x_source)):
        rgb = color_frame(rgb)
        if index == 0:
            result = tracker.init(rgb, x, args.box)
        else:
            result = tracker.update(rgb, x)
        lines.append(",".join(f"{v:.6f}" for v in (*result.box, result.score)))
        if args.render:
            if writer is None:
                fps = getattr(rgb_source, "fps", 30.0)
                writer = cv2.VideoWriter(str(args.render), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                         (rgb.shape[1], rgb.shape[0]))
                if not writer.isOpened():
                    raise ValueError(f"OpenCV cannot write the video {args.render}")
            writer.write(draw_result(rgb, result.box, result.score))
        if interactive or (index + 1) % 100 == 0 or index + 1 == total:
            rate = (index + 1) / (time.perf_counter() - start)
            print(f"\rframe {index + 1}/{total}  {rate:.1f} frames/s", end="\n" if not interactive else "",
                  file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    if interactive:
        print(file=sys.stderr)
    if writer is not None:
        writer.release()
    if args.out:
        with open(args.out, "w") as handle:
            handle.write("\n".join(lines) + "\n")
    print(f"tracked {len(lines)} frames in {elapsed:.1f} s: {len(lines) / elapsed:.1f} frames/s "
          f"on {tracker.device} ({args.dtype})")
    if args.out:
        print(f"boxes (x,y,w,h,score per frame) -> {args.out}")
    if args.render:
        print(f"video -> {args.render}")
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
    track.add_argument("--model", required=True, help="checkpoint folder or Hugging Face Hub repo id")
    track.add_argument("--rgb", required=True, help="folder of RGB images (sorted by name) or a video")
    track.add_argument("--x", required=True, help="folder of X images (16-bit depth PNGs, thermal, event) or a video")
    track.add_argument("--box", required=True, type=_parse_box, help="initial box x,y,w,h in pixels (top-left)")
    track.add_argument("--out", help="write one x,y,w,h,score line per frame to this file")
    track.add_argument("--render", help="write the RGB frames with the tracked box to this .mp4 video")
    track.add_argument("--x-format", default=None, choices=["depth", "thermal", "event", "rendered"],
                       help="how X frames come (default: the model's modality; 'rendered' = ready 3-channel)")
    track.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda if available)")
    track.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    track.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"],
                       help="onnxruntime runs MODEL/model.onnx (see export-onnx) on the CPU")
    track.add_argument("--compile", action="store_true", help="torch.compile the network (CUDA graphs on GPU)")
    track.set_defaults(run=_track)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from .bench import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError

    try:
        return args.run(args)
    except (CheckpointError, ValueError, FileNotFoundError) as err:
        print(f"sdstrack {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
