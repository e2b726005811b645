"""``rnnkit predict RUN_DIR [INPUT ...] [--file F]``: use a trained classify, tag, forecast or seq2seq run.

What an INPUT is, and what is printed (one line per input), depends on the run's task:

- classify: a text; prints ``label<TAB>probability<TAB>text``. Runs on ``.ts`` series or
  rows of numbers read ``--file`` in their training format and print ``label<TAB>probability``.
- tag: a sentence (tokens split at whitespace); prints ``token/TAG token/TAG ...``.
- seq2seq: a source; prints ``source<TAB>output`` (beam search of the run's --beam, 5 by default;
  ``--beam 1`` for greedy decoding); ``--file`` output is printed as it is decoded.
- forecast: the past values, one number per argument (at least --window of them), or a CSV
  ``--file`` in the training layout; prints the next --horizon values, ``t+1<TAB>value``.

``--file`` reads one input per line (classify text, tag, seq2seq; a ``source<TAB>target`` line
uses its source). Language-model runs use ``rnnkit generate`` instead.

``rnnkit translate RUN_DIR [SOURCE ...] [--file F]`` is ``rnnkit predict`` for seq2seq runs only.
"""

from __future__ import annotations

import argparse

from rnnkit._validate import check_positive_int
from rnnkit.cli.generate import with_encoding
from rnnkit.train.run_dir import load_run, read_document
from rnnkit.train.tasks import TASKS


def register(subparsers) -> None:
    predict = subparsers.add_parser("predict", help="predict with a trained classify, tag, forecast or seq2seq run",
                                    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(predict, "texts, sentences, sources or past values")
    predict.set_defaults(func=run_predict)
    translate = subparsers.add_parser("translate", help="rnnkit predict for a seq2seq run: translate sources",
                                      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(translate, "sources to translate")
    translate.set_defaults(func=run_translate)


def _add_arguments(parser: argparse.ArgumentParser, inputs_help: str) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of rnnkit train TASK")
    parser.add_argument("inputs", metavar="INPUT", nargs="*", help=inputs_help)
    parser.add_argument("--file", metavar="F", default=None, help="read the inputs from a file instead")
    parser.add_argument("--beam", type=int, default=None,
                        help="seq2seq: beam size (default: the run's --beam, 5 for runs without one; 1: greedy)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="which checkpoint to use (default: best)")
    parser.add_argument("--encoding", default=None,
                        help="text encoding of --file (default: the run's --encoding, utf-8 for older runs)")


def run_translate(args: argparse.Namespace) -> int:
    document, folder = read_document(args.run_dir)
    if document["task"] != "seq2seq":
        raise ValueError(f"rnnkit translate reads seq2seq runs; {folder} is a {document['task']} run (use rnnkit "
                         f"{'generate' if document['task'] == 'lm' else 'predict'})")
    return run_predict(args)


def run_predict(args: argparse.Namespace) -> int:
    if args.file is not None and args.inputs:
        raise ValueError("give inputs as arguments or --file F, not both")
    if args.beam is not None:
        check_positive_int(args.beam, "--beam")
    for line in iter_predictions(args.run_dir, args.inputs, args.file, args.checkpoint, args.beam,
                                 getattr(args, "encoding", None)):
        print(line, flush=True)
    return 0


def predict_lines(run_dir: str, inputs: list[str] | None = None, file: str | None = None, which: str = "best",
                  beam: int | None = None) -> list[str]:
    """The printed lines of ``rnnkit predict`` as a list."""
    return list(iter_predictions(run_dir, inputs, file, which, beam))


def iter_predictions(run_dir: str, inputs: list[str] | None = None, file: str | None = None, which: str = "best",
                     beam: int | None = None, encoding: str | None = None):
    """The printed lines of ``rnnkit predict``; a seq2seq run yields them as they are decoded.

    ``encoding``: that of ``file``, if not the one the run read its data in."""
    document, folder = read_document(run_dir)
    if document["task"] == "lm":
        raise ValueError(f"{folder} is a language-model run: use rnnkit generate / rnnkit evaluate")
    run = load_run(folder, which)
    with_encoding(run.document, encoding)
    module = TASKS[run.task]
    if run.task == "seq2seq":
        return module.predict(run.model, run.document, run.vocabs, inputs, file, beam=beam)
    if beam not in (None, 1):
        raise ValueError(f"--beam is for seq2seq runs; this is a {run.task} run")
    return module.predict(run.model, run.document, run.vocabs, inputs, file)
