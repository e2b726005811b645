"""``rnnkit export RUN_DIR OUT.onnx [--check]``: a trained run's model as an ONNX file.

Language models become one step (``token``, ``h`` [, ``c``] -> ``logits``, ``h_next``
[, ``c_next``]) so that generation can loop in any runtime; classifiers read ``tokens`` (or
``features``) and ``lengths`` and give ``probabilities``; taggers give ``scores`` per step
(a tagger with the character CNN, the default, also reads ``chars`` (B, T, W) and
``char_lengths`` (B, T) int64; one trained with --casing or --feature-columns reads ``features``
(B, T, F) int64, one id per column and step); forecasters read a ``history`` in original units and
give the ``forecast`` in original units. The vocabulary, the class or tag names, a tagger's
characters (``rnnkit.chars``: the character of each id and the special ids), its feature columns
(``rnnkit.features``: their order, each column's values by id, and how the casing column is
computed from each word) and the forecast transform travel in the file's metadata.
``--check`` runs the file in ONNX Runtime on random inputs and on the run's own data (when it
is still there) and compares with rnnkit; it exits with 1 when they differ.

Needs the optional onnx packages: pip install "rnnkit[onnx]".
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    export = subparsers.add_parser("export", help="write a trained run's model as an ONNX file",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of rnnkit train TASK")
    export.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write (replaced atomically)")
    export.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="which checkpoint to export (default: best)")
    export.add_argument("--check", action="store_true",
                        help="run the file in ONNX Runtime and compare with rnnkit (random and real inputs)")
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    try:
        from rnnkit.onnx.runs import check_lines, export_run
        from rnnkit.onnx._require import require_onnx, require_runtime

        require_onnx()
        if args.check:
            require_runtime()
    except ImportError as error:
        print(f"rnnkit export: error: {error}", file=sys.stderr)
        return 2
    run, proto = export_run(args.run_dir, args.out, args.checkpoint)
    inputs = ", ".join(value.name for value in proto.graph.input)
    outputs = ", ".join(value.name for value in proto.graph.output)
    print(f"wrote {args.out}: {type(run.model).__name__} ({run.task} run), inputs {inputs}; outputs {outputs}")
    if not args.check:
        return 0
    lines, passed = check_lines(run, args.out)
    for line in lines:
        print(f"check: {line}")
    return 0 if passed else 1
