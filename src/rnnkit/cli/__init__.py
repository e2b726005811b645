"""The ``rnnkit`` command line: one subcommand per module listed in ``COMMANDS``.

Each command module has ``register(subparsers)``, which adds its parser and sets
``func`` to the function that runs it (taking the parsed arguments, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rnnkit import threads

COMMANDS = ("rnnkit.cli.demo", "rnnkit.cli.lab", "rnnkit.cli.train", "rnnkit.cli.generate", "rnnkit.cli.predict",
            "rnnkit.cli.export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks in NumPy.",
                                     epilog="--threads N, anywhere on the line: compute on N threads (BLAS and "
                                            "rnnkit's loops; default: the cores, shared among MPI ranks on one "
                                            "machine, or RNNKIT_THREADS); see rnnkit.set_num_threads.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        count, argv = take_threads(sys.argv[1:] if argv is None else list(argv))
    except ValueError as error:
        parser.error(str(error))
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "inputs", None) is not None and not any(_is_option(item) for item in extra):
        args.inputs += extra            # rnnkit predict RUN --checkpoint last "text": inputs after an option
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if count is None:
            threads.apply_default()
        else:
            threads.set_num_threads(count)
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError, MemoryError) as error:     # OSError: missing file, a folder ...
        print(f"rnnkit {args.command}: error: {error}", file=sys.stderr)
        return 2


def take_threads(argv: list[str]) -> tuple[int | None, list[str]]:
    """``--threads N`` (or ``--threads=N``) from anywhere on the line, as every command takes it,
    and the other arguments.

    >>> take_threads(["train", "lm", "--threads", "2", "--hidden", "8"])
    (2, ['train', 'lm', '--hidden', '8'])
    """
    count, rest, index = None, [], 0
    while index < len(argv):
        item = argv[index]
        if item == "--threads" or item.startswith("--threads="):
            value = item.partition("=")[2] if "=" in item else (argv[index + 1] if index + 1 < len(argv) else "")
            index += 1 if "=" in item else 2
            if not value.strip().isdigit() or int(value) < 1:
                raise ValueError(f"--threads expects a positive whole number of threads, got {value!r}")
            count = int(value)
            continue
        rest.append(item)
        index += 1
    return count, rest


def _is_option(item: str) -> bool:
    """``--beam`` is an option; ``-1.5`` (a forecast history value) is not."""
    try:
        float(item)
        return False
    except ValueError:
        return item.startswith("-")


if __name__ == "__main__":
    sys.exit(main())
