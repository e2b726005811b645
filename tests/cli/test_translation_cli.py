"""``rnnkit train seq2seq --level word`` on sentence pairs: BLEU and chrF in validation and evaluate,
the best checkpoint by BLEU, outputs joined back into text, beam search by default, ``predict --file``
streaming, and runs saved before the new options."""

import inspect
import json

import pytest

from rnnkit.cli import main
from rnnkit.cli.generate import evaluate_run
from rnnkit.cli.predict import iter_predictions, predict_lines
from rnnkit.data.tokenizer import JOINER

PAIRS = [("I am here.", "Je suis ici."), ("Can I come in?", "Puis-je entrer ?"), ("Who is it?", "Qui est-ce ?"),
         ("I'm hungry.", "J'ai faim."), ("Don't go!", "Ne pars pas !"), ("It's late.", "Il est tard.")]
TINY = ["--hidden", "8", "--embedding", "8", "--epochs", "2", "--batch", "4", "--seed", "1", "--level", "word"]


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{source}\t{target}\n" for source, target in PAIRS * 4), encoding="utf-8")
    return path


@pytest.fixture
def run(tmp_path, pairs_file, capsys):
    out = tmp_path / "run"
    assert main(["train", "seq2seq", "--data", str(pairs_file), "--out", str(out), *TINY, "--layers", "2",
                 "--dropout", "0.1", "--label-smoothing", "0.1", "--beam", "3"]) == 0
    return out, capsys.readouterr().out


def test_validation_reports_bleu_and_chrf_and_best_is_by_bleu(run):
    out, printed = run
    assert "bleu" in printed and "chrf" in printed
    rows = (out / "metrics.csv").read_text().splitlines()
    assert "bleu" in rows[0] and "chrf" in rows[0]
    config = json.loads((out / "config.json").read_text())
    assert config["options"]["beam"] == 3 and config["options"]["input_feeding"] is True
    header, *values = [row.split(",") for row in rows]
    bleu = [float(row[header.index("val_bleu")]) for row in values]
    best_row = values[bleu.index(max(bleu))]                   # the first of the best
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"]["step"] == int(best_row[header.index("step")])
    assert summary["best"]["bleu"] == pytest.approx(max(bleu), abs=1e-4)


def test_the_monitor_is_bleu_for_pairs_and_exact_match_for_the_dates(pairs_file):
    from rnnkit.train.translation import Seq2SeqOptions, prepare

    on_pairs = prepare(Seq2SeqOptions(data=str(pairs_file), level="word", hidden=4, embedding=4))
    assert on_pairs.task.monitor == ("bleu", "max")
    on_dates = prepare(Seq2SeqOptions(train_size=20, test_size=5, hidden=4, embedding=4))
    assert on_dates.task.monitor == ("exact_match", "max")
    chosen = prepare(Seq2SeqOptions(data=str(pairs_file), hidden=4, embedding=4, monitor="loss"))
    assert chosen.task.monitor == ("loss", "min")


def test_evaluate_and_predict_decode_with_the_runs_beam(run, pairs_file):
    out, _ = run
    metrics = evaluate_run(str(out), str(pairs_file))
    assert metrics["beam"] == 3 and metrics["pairs"] == 24
    assert 0.0 <= metrics["bleu"] <= 100.0 and 0.0 <= metrics["chrf"] <= 100.0
    lines = predict_lines(str(out), file=str(pairs_file))
    assert len(lines) == 24 and all(line.split("\t")[0] == source for line, (source, _) in zip(lines, PAIRS * 4))
    assert not any(JOINER in line for line in lines)          # the marks never reach the output
    greedy = predict_lines(str(out), ["Who is it?"], beam=1)
    assert greedy[0].startswith("Who is it?\t")


def test_evaluate_takes_another_beam_for_seq2seq_runs_only(run, pairs_file, tmp_path, capsys):
    out, _ = run
    assert main(["evaluate", str(out), "--data", str(pairs_file), "--beam", "1", "--json"]) == 0
    greedy = json.loads(capsys.readouterr().out)
    assert greedy["beam"] == 1 and greedy["pairs"] == 24
    lines = predict_lines(str(out), file=str(pairs_file), beam=1)
    outputs = [line.split("\t")[1] for line in lines]
    assert greedy["exact_match"] == pytest.approx(sum(o == t for o, (_, t) in zip(outputs, PAIRS * 4)) / 24)
    assert main(["evaluate", str(out), "--data", str(pairs_file), "--beam", "0"]) == 2
    assert "--beam must be an int >= 1, got 0" in capsys.readouterr().err
    text = tmp_path / "text.txt"
    text.write_text("some words to model\n" * 30, encoding="utf-8")
    lm = tmp_path / "lm"
    assert main(["train", "lm", "--data", str(text), "--hidden", "8", "--epochs", "1", "--batch", "2", "--seq-len", "8",
                 "--out", str(lm)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(lm), "--data", str(text), "--beam", "3"]) == 2
    assert "--beam is for seq2seq runs; this is a lm run" in capsys.readouterr().err


def test_predict_file_streams(run, pairs_file):
    out, _ = run
    lines = iter_predictions(str(out), file=str(pairs_file))
    assert inspect.isgenerator(lines)
    assert next(lines).startswith("I am here.\t")


def test_a_run_saved_before_the_new_options_still_predicts(run, pairs_file):
    out, _ = run
    config_path = out / "config.json"
    document = json.loads(config_path.read_text())
    for name in ("strip_accents", "input_feeding", "label_smoothing", "beam", "length_penalty"):
        document["options"].pop(name)
    config_path.write_text(json.dumps(document))
    for state_path in out.glob("checkpoints/*/state.json"):          # nor did its checkpoints record file hashes
        state = json.loads(state_path.read_text())
        state.pop("run_files", None), state.pop("checksum", None)
        state_path.write_text(json.dumps(state))
    assert evaluate_run(str(out), str(pairs_file))["beam"] == 5       # beam search by default
    assert len(predict_lines(str(out), ["Who is it?"])) == 1


def test_bad_translation_options_are_refused(tmp_path, pairs_file, capsys):
    for extra, message in ((["--beam", "0"], "--beam must be at least 1"),
                           (["--label-smoothing", "1.0"], "--label-smoothing must lie in [0, 1)"),
                           (["--level", "char", "--strip-accents"], "--strip-accents is for --level word"),
                           (["--embedding", "6", "--hidden", "8"], "tied embeddings (the default) need --embedding "
                                                                   "equal to --hidden")):
        assert main(["train", "seq2seq", "--data", str(pairs_file), "--out", str(tmp_path / "bad"), *extra]) == 2
        assert message in capsys.readouterr().err


def test_translate_is_predict_for_seq2seq_runs(run, tmp_path, capsys):
    out, _ = run
    capsys.readouterr()
    assert main(["translate", str(out), "Who is it?", "--beam", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == predict_lines(str(out), ["Who is it?"], beam=1)
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("value\n" + "".join(f"{index % 7}\n" for index in range(60)))
    assert main(["train", "forecast", "--data", str(numbers), "--out", str(tmp_path / "series"), "--window", "4",
                 "--hidden", "4", "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["translate", str(tmp_path / "series"), "1", "2", "3", "4"]) == 2
    assert "reads seq2seq runs" in capsys.readouterr().err


def test_the_monitor_can_be_named_bleu_or_chrf_on_the_command_line(tmp_path, pairs_file, capsys):
    out = tmp_path / "chrf"
    assert main(["train", "seq2seq", "--data", str(pairs_file), "--out", str(out), *TINY, "--monitor", "chrf"]) == 0
    rows = [row.split(",") for row in (out / "metrics.csv").read_text().splitlines()]
    chrf = [float(row[rows[0].index("val_chrf")]) for row in rows[1:]]
    assert json.loads((out / "summary.json").read_text())["best"]["chrf"] == pytest.approx(max(chrf), abs=1e-4)
    # a task without BLEU refuses it, naming what it has
    reviews = tmp_path / "reviews.tsv"
    reviews.write_text("".join(f"good {index}\t1\nbad {index}\t0\n" for index in range(10)))
    capsys.readouterr()
    assert main(["train", "classify", "--data", str(reviews), "--monitor", "bleu", "--out", str(tmp_path / "c")]) == 2
    assert "--monitor bleu is not a validation metric of this task" in capsys.readouterr().err


def test_seq2seq_reads_its_files_in_the_given_encoding(tmp_path, capsys):
    """--encoding for training, evaluate and predict --file: accented French in latin-1."""
    accented = [("The student.", "L'élève."), ("It is summer.", "C'est l'été."), ("Where?", "Où ?")] * 6
    data = tmp_path / "latin1.tsv"
    data.write_bytes("".join(f"{source}\t{target}\n" for source, target in accented).encode("latin-1"))
    out = tmp_path / "run"
    assert main(["train", "seq2seq", "--data", str(data), "--out", str(out), *TINY, "--encoding", "utf-8"]) == 2
    assert "cannot decode" in capsys.readouterr().err and not (out / "config.json").exists()
    assert main(["train", "seq2seq", "--data", str(data), "--out", str(out), *TINY, "--encoding", "latin-1"]) == 0
    vocab = json.loads((out / "target_vocab.json").read_text(encoding="utf-8"))
    assert "élève" in json.dumps(vocab, ensure_ascii=False)
    assert evaluate_run(str(out), str(data))["pairs"] == len(accented)
    sources = tmp_path / "sources.txt"
    sources.write_bytes("Où ?\n".encode("latin-1"))
    assert main(["predict", str(out), "--file", str(sources)]) == 0


def test_tied_embeddings_are_the_default_and_can_be_untied(tmp_path, pairs_file):
    tied, untied = tmp_path / "tied", tmp_path / "untied"
    base = ["train", "seq2seq", "--data", str(pairs_file), "--hidden", "8", "--epochs", "1", "--batch", "4",
            "--level", "word"]
    assert main([*base, "--out", str(tied)]) == 0                         # --embedding follows --hidden
    assert main([*base, "--embedding", "6", "--no-tie-embeddings", "--out", str(untied)]) == 0
    tied_config = json.loads((tied / "config.json").read_text())
    untied_config = json.loads((untied / "config.json").read_text())
    tied_model, untied_model = tied_config["model"]["config"], untied_config["model"]["config"]
    assert tied_model["tie_embeddings"] is True and tied_model["embedding_dim"] == 8
    assert "tie_embeddings" not in untied_model and untied_model["embedding_dim"] == 6
    assert len(predict_lines(str(tied), ["Who is it?"])) == 1


def test_the_default_learning_rate_follows_the_cell_and_is_recorded(tmp_path, pairs_file):
    from rnnkit.train.translation import LSTM_GRU_LR, RNN_LR

    base = ["train", "seq2seq", "--data", str(pairs_file), "--hidden", "8", "--epochs", "1", "--batch", "4",
            "--level", "word"]
    for cell, extra, expected in (("rnn", [], RNN_LR), ("gru", [], LSTM_GRU_LR), ("rnn", ["--lr", "0.02"], 0.02)):
        out = tmp_path / f"{cell}-{len(extra)}"
        assert main([*base, "--cell", cell, *extra, "--out", str(out)]) == 0
        options = json.loads((out / "config.json").read_text())["options"]
        assert options["lr"] == expected                          # a number, so the run resumes as it trained
        rows = (out / "metrics.csv").read_text().splitlines()
        header = rows[0].split(",")
        assert 0 < float(rows[1].split(",")[header.index("lr")]) <= expected
    assert RNN_LR < LSTM_GRU_LR
    assert main([*base, "--cell", "rnn", "--out", str(tmp_path / "rnn-0"), "--resume", "--epochs", "2"]) == 0
