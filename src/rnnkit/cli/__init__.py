"""The ``rnnkit`` command line: one subcommand per module listed in ``COMMANDS``.

Each command module has ``register(subparsers)``, which adds its parser and sets
``func`` to the function that runs it (taking the parsed arguments, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("rnnkit.cli.demo", "rnnkit.cli.lab", "rnnkit.cli.train", "rnnkit.cli.generate", "rnnkit.cli.predict",
            "rnnkit.cli.export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks in NumPy.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "inputs", None) is not None and not any(_is_option(item) for item in extra):
        args.inputs += extra            # rnnkit predict RUN --checkpoint last "text": inputs after an option
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError, MemoryError) as error:     # OSError: missing file, a folder ...
        print(f"rnnkit {args.command}: error: {error}", file=sys.stderr)
        return 2


def _is_option(item: str) -> bool:
    """``--beam`` is an option; ``-1.5`` (a forecast history value) is not."""
    try:
        float(item)
        return False
    except ValueError:
        return item.startswith("-")


if __name__ == "__main__":
    sys.exit(main())
