"""The ``sdstrack`` command line: thin wrappers over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .config import MODALITIES


def _convert(args: argparse.Namespace) -> int:
    from .convert import convert_checkpoint

    model = convert_checkpoint(args.source, args.output_dir, args.modality, num_heads=args.num_heads)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.output_dir}/config.json and model.safetensors ({params:,} parameters, {args.modality})")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError

    try:
        return args.run(args)
    except (CheckpointError, ValueError, FileNotFoundError) as err:
        print(f"sdstrack {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
