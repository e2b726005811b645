"""``rnnkit generate`` and ``rnnkit evaluate``: use a trained language model's run directory.

``generate RUN_DIR --prime TEXT`` prints the prime and its continuation, sampled one token at
a time. ``evaluate RUN_DIR --data FILE`` prints the loss, perplexity and bits per token of the
model on a text file. Both need only the run directory (config.json, vocab.json and the
checkpoint); a missing, corrupt or mismatched file is refused with the reason.
"""

from __future__ import annotations

import argparse

from rnnkit.cli.train import load_run_model, read_run
from rnnkit.train.language_modeling import evaluate_stream, generate_text, load_corpus


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

    evaluate = subparsers.add_parser("evaluate", help="loss, perplexity and bits per token of a trained "
                                                      "language model on a text file",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of rnnkit train lm")
    evaluate.add_argument("--data", required=True, metavar="PATH", help="UTF-8 text file to evaluate on")
    evaluate.add_argument("--checkpoint", choices=("best", "last"), default="best",
                          help="which checkpoint to use (default: best)")
    evaluate.set_defaults(func=run_evaluate)


def run_generate(args: argparse.Namespace) -> int:
    if args.length < 0:
        raise ValueError(f"--length must be at least 0, got {args.length}")
    _, vocab, folder = read_run(args.run_dir)
    model = load_run_model(folder, vocab, args.checkpoint)
    print(generate_text(model, vocab, args.prime, args.length, temperature=args.temperature, top_k=args.top_k,
                        top_p=args.top_p, seed=args.seed))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    document, vocab, folder = read_run(args.run_dir)
    model = load_run_model(folder, vocab, args.checkpoint)
    text, source = load_corpus(args.data)
    ids = vocab.transform(text)
    if len(ids) < 2:
        raise ValueError(f"{args.data}: too little text to evaluate: {len(ids)} tokens, need at least 2")
    options = document["options"]
    bits_name = "bpc" if options.get("level", "char") == "char" else "bits_per_word"
    metrics = evaluate_stream(model, ids, 128, int(options.get("seq_len", 64)), bits_name)
    print(f"{source}: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics.items()))
    return 0
