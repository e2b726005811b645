"""``rnnkit generate`` and ``rnnkit evaluate``: use a trained model's run directory.

``generate RUN_DIR --prime TEXT`` prints the prime and its continuation, sampled one token at
a time (language models). ``evaluate RUN_DIR --data FILE`` prints the model's metrics on a
file in the format it was trained on: loss, perplexity and bits per token (lm); loss and
accuracy (classify); loss, token accuracy and entity precision / recall / F1 (tag); RMSE and
MAE in the original units beside the persistence baseline's on the file's held-out tail, or on
every window with ``--all-windows`` (forecast); loss and exact match (seq2seq; without --data, a run on the generated date task uses its held-out test
pairs). Both need only the run directory (config.json, the vocabularies and the checkpoint);
a missing, corrupt or mismatched file is refused with the reason.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from rnnkit._validate import check_positive_int
from rnnkit.train.language_modeling import generate_text
from rnnkit.train.options import check_encoding
from rnnkit.train.run_dir import load_run, read_document
from rnnkit.train.runner import format_metrics
from rnnkit.train.tasks import TASKS


def register(subparsers) -> None:
    generate = subparsers.add_parser("generate", help="sample text from a trained language model",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    generate.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of rnnkit train lm")
    generate.add_argument("--prime", default="The ", help="text to start from (default: 'The ')")
    generate.add_argument("--length", type=int, default=500, help="tokens to generate (default: 500)")
    generate.add_argument("--temperature", type=float, default=0.8,
                          help="below 1 more conservative, above 1 more varied, 0 greedy (default: 0.8)")
    generate.add_argument("--top-k", type=int, default=None, help="sample among the K most likely tokens only")
    generate.add_argument("--top-p", type=float, default=None,
                          help="sample among the most likely tokens that together have probability P only")
    generate.add_argument("--seed", type=int, default=None, help="random seed: same seed, same text")
    generate.add_argument("--checkpoint", choices=("best", "last"), default="best",
                          help="which checkpoint to use (default: best)")
    generate.set_defaults(func=run_generate)

    evaluate = subparsers.add_parser("evaluate", help="metrics of a trained model (any task) on a data file",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of rnnkit train TASK")
    evaluate.add_argument("--data", "--file", dest="data", metavar="PATH", default=None,
                          help="file to evaluate on, in the format the run was trained on (lm: streamed in pieces)")
    evaluate.add_argument("--checkpoint", choices=("best", "last"), default="best",
                          help="which checkpoint to use (default: best)")
    evaluate.add_argument("--all-windows", action="store_true",
                          help="forecast runs: score every window of the file, training windows included (default: "
                               "the file's held-out tail, its last --test-fraction of values)")
    evaluate.add_argument("--encoding", default=None,
                          help="text encoding of --data (default: the run's --encoding, utf-8 for older runs)")
    evaluate.add_argument("--beam", type=int, default=None,
                          help="seq2seq runs: beam size (default: the run's --beam, 5 for runs without one; 1: greedy)")
    evaluate.add_argument("--json", action="store_true",
                          help="print the metrics as one JSON object (a value too large for a number, such as the "
                               "perplexity of an enormous loss, is null)")
    evaluate.set_defaults(func=run_evaluate)


def run_generate(args: argparse.Namespace) -> int:
    if args.length < 0:
        raise ValueError(f"--length must be at least 0, got {args.length}")
    run = load_language_model_run(args.run_dir, args.checkpoint)
    print(generate_text(run.model, run.vocabs["vocab.json"], args.prime, args.length, temperature=args.temperature,
                        top_k=args.top_k, top_p=args.top_p, seed=args.seed))
    return 0


def with_encoding(document: dict[str, Any], encoding: str | None) -> None:
    """Read the files of this command in ``encoding`` (checked) instead of the run's --encoding."""
    if encoding is not None:
        document["run_encoding"] = document["options"].get("encoding", "utf-8")     # the run's own data (lm baselines)
        document["options"] = {**document["options"], "encoding": check_encoding(encoding)}


def load_language_model_run(run_dir: str, which: str = "best"):
    """A language-model run's contents (:class:`~rnnkit.train.run_dir.RunContents`); other runs are refused."""
    document, folder = read_document(run_dir)
    if document["task"] != "lm":
        raise ValueError(f"{folder / 'config.json'} does not describe a language-model run (expected \"task\": "
                         f"\"lm\"; this is a {document['task']} run: use rnnkit predict / rnnkit evaluate)")
    return load_run(folder, which)


def run_evaluate(args: argparse.Namespace) -> int:
    metrics = evaluate_run(args.run_dir, args.data, args.checkpoint, args.all_windows, args.encoding, args.beam)
    if args.json:                   # strict JSON: a value beyond float64 (perplexity of a huge loss) is null
        print(json.dumps({key: None if isinstance(value, float) and not math.isfinite(value) else value
                          for key, value in metrics.items()}, allow_nan=False))
        return 0
    lines = {key: metrics.pop(key) for key in ("part", "note", "warning") if key in metrics}    # said in words
    where = args.data or "held-out test pairs"
    print(f"{where} ({lines.pop('part')}): " if "part" in lines else f"{where}: ", end="")
    print(format_metrics(metrics))
    for key, text in lines.items():
        print(f"{key}: {text}")
    return 0


def evaluate_run(run_dir: str, data: str | None, which: str = "best", all_windows: bool = False,
                 encoding: str | None = None, beam: int | None = None) -> dict[str, Any]:
    """The metrics of run ``run_dir``'s checkpoint ``which`` on the file ``data``, for any task.

    ``all_windows`` (forecast runs only): every window of the file, not its held-out tail.
    ``encoding``: the file's text encoding, if not the one the run read its data in.
    ``beam`` (seq2seq runs only): decode with this beam size instead of the run's (1: greedy)."""
    document, _ = read_document(run_dir)
    module = TASKS[document["task"]]
    if data is None and document["task"] != "seq2seq":      # seq2seq: the generated task's held-out pairs
        raise ValueError(f"--data PATH is needed: {module.EXPECTED}")
    if all_windows and document["task"] != "forecast":
        raise ValueError(f"--all-windows is for forecast runs; this is a {document['task']} run")
    if beam is not None and document["task"] != "seq2seq":
        raise ValueError(f"--beam is for seq2seq runs; this is a {document['task']} run")
    if beam is not None:
        check_positive_int(beam, "--beam")
    run = load_run(run_dir, which)
    with_encoding(run.document, encoding)
    chosen = {"all_windows": True} if all_windows else {"beam": beam} if beam is not None else {}  # task-only options
    return module.evaluate_file(run.model, run.document, run.vocabs, data, **chosen)
