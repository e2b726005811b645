"""``rnnkit train classify|tag|forecast|seq2seq``, ``rnnkit predict`` and ``rnnkit evaluate`` end to end.

Every run here is tiny (a few units, one or two epochs) so the file stays fast; what is
checked is the plumbing: options, files of the run directory, metrics, predictions, errors.
"""

import json
import math

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.cli.predict import predict_lines
from rnnkit.cli.generate import evaluate_run

TINY = ["--hidden", "6", "--epochs", "2", "--batch", "4", "--seed", "1"]
RUN_FILES = ("config.json", "metrics.csv", "loss.png", "summary.json", "summary.md",
             "checkpoints/best/model.safetensors", "checkpoints/last/state.json")


def train(task, tmp_path, *arguments, out="run"):
    return main(["train", task, "--out", str(tmp_path / out), *TINY, *arguments])


def check_run_directory(run, *extra):
    for name in RUN_FILES + extra:
        assert (run / name).exists(), name
    return json.loads((run / "summary.json").read_text())


@pytest.fixture
def sentiment_file(tmp_path):
    lines = []
    for index in range(24):
        lines.append(f"a good great film number {index}\t1")
        lines.append(f"a bad awful film number {index}\t0")
    path = tmp_path / "sentiment.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_classify_text_train_predict_evaluate(tmp_path, sentiment_file, capsys):
    assert train("classify", tmp_path, "--data", str(sentiment_file), "--embedding", "4", "--lr", "0.05") == 0
    printed = capsys.readouterr().out
    assert "best validation" in printed and "accuracy" in printed
    run = tmp_path / "run"
    summary = check_run_directory(run, "vocab.json")
    assert 0.0 <= summary["best"]["accuracy"] <= 1.0
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "classify" and config["artifacts"]["classes"] == ["0", "1"]

    assert main(["predict", str(run), "a good great film", "a bad awful film"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 2 and lines[0].split("\t")[0] in ("0", "1") and lines[0].endswith("a good great film")

    metrics = evaluate_run(str(run), str(sentiment_file))
    assert set(metrics) >= {"loss", "accuracy"} and metrics["examples"] == 48
    assert main(["evaluate", str(run), "--data", str(sentiment_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 48


def test_classify_vectors_and_ts_formats(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [",".join(f"{value:.3f}" for value in rng.normal(size=6) + label) + f",{label}"
            for label in (0, 1, 2) for _ in range(8)]
    vectors = tmp_path / "vectors.csv"
    vectors.write_text("\n".join(rows) + "\n")
    assert train("classify", tmp_path, "--data", str(vectors), "--format", "vectors", "--sep", ",", "--steps", "3",
                 out="vectors") == 0
    assert json.loads((tmp_path / "vectors" / "config.json").read_text())["model"]["config"]["input_size"] == 2
    assert len(predict_lines(str(tmp_path / "vectors"), file=str(vectors))) == 24

    series = []
    for label in ("a", "b"):
        for index in range(6):
            length = 3 + index % 3
            dims = [",".join(str(float(v)) for v in rng.normal(size=length) + (label == "a")) for _ in range(2)]
            series.append(":".join(dims) + f":{label}")
    ts = tmp_path / "tiny.ts"
    ts.write_text("@problemName tiny\n@dimensions 2\n@classLabel true a b\n@data\n" + "\n".join(series) + "\n")
    assert train("classify", tmp_path, "--data", str(ts), "--format", "ts", "--val-fraction", "0.2", out="ts") == 0
    assert evaluate_run(str(tmp_path / "ts"), str(ts))["examples"] == 12
    assert main(["predict", str(tmp_path / "ts"), "some text"]) == 2
    assert "--file" in capsys.readouterr().err


@pytest.fixture
def ner_file(tmp_path):
    sentences = []
    for index in range(12):
        sentences.append(f"John\tB-person\nSmith\tI-person\nvisited\tO\nParis\tB-location\nday{index}\tO\n")
        sentences.append(f"the\tO\nshop\tO\nsold\tO\nthing{index}\tO\n")
    path = tmp_path / "ner.conll"
    path.write_text("\n".join(sentences), encoding="utf-8")
    return path


def test_tag_conll_with_entity_scores(tmp_path, ner_file, capsys):
    assert train("tag", tmp_path, "--data", str(ner_file), "--embedding", "4", "--lr", "0.05") == 0
    assert "f1" in capsys.readouterr().out
    run = tmp_path / "run"
    check_run_directory(run, "vocab.json")
    assert "<unk-cap>" in (run / "vocab.json").read_text()          # unknown words keep their shape
    metrics = evaluate_run(str(run), str(ner_file))
    assert {"accuracy", "f1", "precision", "recall", "f1_person"} <= set(metrics)
    assert main(["predict", str(run), "John Smith visited Paris"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("John/") and len(line.split()) == 4


def test_tag_conllu_upos(tmp_path):
    lines = ["# sent_id = 1", "1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_", "2\tbark\tbark\tVERB\t_\t_\t0\troot\t_\t_", ""]
    path = tmp_path / "tiny.conllu"
    path.write_text("\n".join(lines * 10) + "\n")
    assert train("tag", tmp_path, "--data", str(path), "--format", "conllu") == 0
    metrics = evaluate_run(str(tmp_path / "run"), str(path))
    assert "accuracy" in metrics and "f1" not in metrics            # UPOS tags are not BIO: no entity scores


@pytest.fixture
def series_file(tmp_path):
    steps = np.arange(120)
    values = 10 + 5 * np.sin(steps / 4.0)
    rows = ["date,value"] + [f"2000-{index:03d},{value:.4f}" for index, value in zip(steps, values)]
    rows[10] = "2000-009,"                                          # one missing value
    path = tmp_path / "series.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_forecast_train_predict_evaluate(tmp_path, series_file, capsys):
    assert train("forecast", tmp_path, "--data", str(series_file), "--column", "value", "--date-column", "date",
                 "--window", "8", "--missing", "interpolate") == 0
    printed = capsys.readouterr().out
    assert "persistence_rmse" in printed and "held-out test" in printed
    run = tmp_path / "run"
    summary = check_run_directory(run)
    assert summary["test"]["windows"] > 0 and math.isfinite(summary["test"]["rmse"])
    metrics = evaluate_run(str(run), str(series_file))
    assert {"rmse", "mae", "persistence_rmse", "persistence_mae"} <= set(metrics)
    history = [str(10 + 5 * math.sin(step / 4.0)) for step in range(20)]
    lines = predict_lines(str(run), history)
    assert len(lines) == 1 and lines[0].startswith("t+1\t")
    assert main(["predict", str(run), "1", "2"]) == 2
    differenced = json.loads((run / "config.json").read_text())["artifacts"]["transform"]["difference"]
    needed = "9 past values (--window 8 + 1 for --difference)" if differenced else "8 past values"
    assert f"need at least {needed}, got 2" in capsys.readouterr().err    # --difference auto chose either


def test_forecast_difference_log_and_horizon(tmp_path, series_file):
    assert train("forecast", tmp_path, "--data", str(series_file), "--column", "1", "--window", "6", "--horizon", "3",
                 "--difference", "--log", "--missing", "drop") == 0
    assert len(predict_lines(str(tmp_path / "run"), file=str(series_file))) == 3


def test_forecast_refuses_missing_values_by_default(tmp_path, series_file, capsys):
    assert train("forecast", tmp_path, "--data", str(series_file), "--column", "value") == 2
    error = capsys.readouterr().err
    assert str(series_file) in error and "lines 11" in error and "--missing interpolate" not in error and "--missing" in error


def test_seq2seq_on_the_generated_date_task(tmp_path, capsys):
    assert train("seq2seq", tmp_path, "--train-size", "40", "--test-size", "10") == 0
    printed = capsys.readouterr().out
    assert "exact_match" in printed and "held-out test" in printed
    run = tmp_path / "run"
    summary = check_run_directory(run, "source_vocab.json", "target_vocab.json")
    assert summary["test"]["pairs"] == 10 and 0.0 <= summary["test"]["exact_match"] <= 1.0
    assert evaluate_run(str(run), None)["pairs"] == 10
    for beam in ("1", "3"):
        assert main(["predict", str(run), "3 March 2021", "--beam", beam]) == 0
        assert capsys.readouterr().out.startswith("3 March 2021\t")


def test_seq2seq_on_a_pairs_file_and_resume(tmp_path, capsys):
    words = ["abc", "hello", "rnn", "kit", "data", "model", "seq", "pair"]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{word}\t{word[::-1]}\n" for word in words * 3))
    assert train("seq2seq", tmp_path, "--data", str(path), "--attention", "none", "--cell", "gru") == 0
    run = tmp_path / "run"
    assert evaluate_run(str(run), str(path))["pairs"] == 24
    assert main(["train", "seq2seq", "--out", str(run), "--resume", "--epochs", "3"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert json.loads((run / "summary.json").read_text())["epochs"] == 3
    assert main(["evaluate", str(run)]) == 2                        # trained on a file: --data is needed
    assert "--data PATH is needed" in capsys.readouterr().err


@pytest.mark.parametrize("task, words", [("classify", "sentence<TAB>label"), ("tag", "CoNLL"),
                                         ("forecast", "CSV file")])
def test_no_data_names_the_expected_format(task, words, capsys):
    assert main(["train", task]) == 2
    error = capsys.readouterr().err
    assert "no --data given" in error and words in error


def test_bad_data_names_file_line_and_reason(tmp_path, capsys):
    path = tmp_path / "bad.tsv"
    path.write_text("fine text\t1\nno label here\nother\t0\n")
    assert main(["train", "classify", "--data", str(path), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and "line 2" in error and "expected 2 columns" in error
    bad_tags = tmp_path / "bad.conll"
    bad_tags.write_text("word\tO\nlonely\n")
    assert main(["train", "tag", "--data", str(bad_tags), "--out", str(tmp_path / "run2")]) == 2
    assert "line 2" in capsys.readouterr().err


def test_options_come_from_toml_and_bad_values_are_refused(tmp_path, sentiment_file, capsys):
    config = tmp_path / "run.toml"
    config.write_text(f'data = "{sentiment_file}"\nhidden = 5\nbidirectional = true\npooling = "mean"\n'
                      f'epochs = 1\nembedding = 3\n')
    assert main(["train", "classify", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    model = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["config"]
    assert model["hidden_size"] == 5 and model["bidirectional"] and model["pooling"] == "mean"
    config.write_text('bidirectional = "yes"\n')
    assert main(["train", "classify", "--config", str(config)]) == 2
    assert "must be bool" in capsys.readouterr().err
    assert main(["train", "forecast", "--data", "x.csv", "--bidirectional"]) == 2
    assert "not available for forecast" in capsys.readouterr().err


def test_predict_refuses_a_language_model_run_and_a_missing_run(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nothing"), "x"]) == 2
    assert "not found" in capsys.readouterr().err


def test_monitor_picks_the_best_checkpoint_by_the_named_metric(tmp_path, sentiment_file, capsys):
    assert train("classify", tmp_path, "--data", str(sentiment_file), "--embedding", "4", "--epochs", "3",
                 "--monitor", "accuracy") == 0
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().split("\n")
    header = rows[0].split(",")
    values = [dict(zip(header, row.split(","))) for row in rows[1:]]
    best = max(values, key=lambda row: float(row["val_accuracy"]))          # max keeps the first of ties
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["best"]["step"] == int(best["step"])
    assert train("classify", tmp_path, "--data", str(sentiment_file), "--monitor", "exact_match", out="bad") == 2
    assert "not a validation metric of this task" in capsys.readouterr().err


def test_unknown_words_map_to_their_shape_token():
    from rnnkit.data.vocab import WordVocab
    from rnnkit.train.tagging import SHAPES, token_id

    vocab = WordVocab(specials=["<pad>", "<unk>"], lower=True, tokenizer=str.split).fit(["the cat"] + list(SHAPES))
    assert token_id("The", vocab) == vocab.token_to_id("the")
    assert token_id("Zanzibar", vocab) == vocab.token_to_id("<unk-cap>")
    assert token_id("2024", vocab) == vocab.token_to_id("<unk-digit>")
    plain = WordVocab(specials=["<pad>", "<unk>"], tokenizer=str.split).fit(["the cat"])
    assert token_id("Zanzibar", plain) == plain.unk_id


# --- tagging: CRF, character features, casing, feature columns -----------------------------------------
@pytest.fixture
def chunk_file(tmp_path):
    """word POS chunk NER columns, CoNLL-2003 style."""
    sentences = []
    for index in range(10):
        sentences.append(f"John NNP B-NP B-PER\nSmith NNP I-NP I-PER\nvisited VBD B-VP O\nParis NNP B-NP B-LOC\n"
                         f"day{index} NN B-NP O\n")
        sentences.append(f"the DT B-NP O\nshop NN I-NP O\nsold VBD B-VP O\nthing{index} NN B-NP O\n")
    path = tmp_path / "chunks.conll"
    path.write_text("-DOCSTART- -X- -X- O\n\n" + "\n".join(sentences), encoding="utf-8")
    return path


@pytest.mark.parametrize("chars", ["cnn", "lstm"])
def test_tag_with_crf_characters_casing_and_feature_columns(tmp_path, chunk_file, capsys, chars):
    assert train("tag", tmp_path, "--data", str(chunk_file), "--embedding", "4", "--lr", "0.05", "--crf",
                 "--char-features", chars, "--char-embedding", "3", "--char-hidden", "4", "--casing",
                 "--feature-columns", "1,2", "--feature-embedding", "3") == 0
    printed = capsys.readouterr().out
    assert "CRF with BIO constraints" in printed and f"{chars} character features" in printed
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["config"]["char_encoder"] == chars and config["model"]["config"]["crf"] is True
    artifacts = config["artifacts"]
    assert "J" in artifacts["chars"] and artifacts["casing"] is True
    assert artifacts["features"][0][2:] == ["DT", "NN", "NNP", "VBD"] and len(artifacts["features"]) == 3
    metrics = evaluate_run(str(run), str(chunk_file))
    assert {"f1", "f1_PER", "accuracy"} <= set(metrics)
    # the checkpoint carries the CRF and the character encoder
    from rnnkit.train.run_dir import load_run

    loaded = load_run(str(run)).model
    assert loaded.crf is not None and loaded.chars is not None and len(loaded.features) == 3
    assert not loaded.crf.allowed[loaded.config["crf_tags"].index("O"), loaded.config["crf_tags"].index("I-PER")]
    # plain sentences cannot give the POS and chunk columns: a clear error, not a crash
    assert main(["predict", str(run), "John Smith visited Paris"]) == 2
    assert "feature column" in capsys.readouterr().err


def test_tag_crf_predict_uses_viterbi_and_resumes(tmp_path, ner_file, capsys):
    assert train("tag", tmp_path, "--data", str(ner_file), "--embedding", "4", "--lr", "0.05", "--crf",
                 "--char-features", "cnn", "--casing") == 0
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(["predict", str(run), "John Smith visited Paris", "a-very-long-word-never-seen-in-training" * 5]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert lines[0].startswith("John/") and len(lines) == 2
    tags = [item.rsplit("/", 1)[1] for item in lines[0].split()]
    for previous, tag in zip(["O"] + tags, tags):                  # BIO constraints hold in what predict prints
        assert not tag.startswith("I-") or previous[2:] == tag[2:]
    before = json.loads((run / "checkpoints" / "last" / "state.json").read_text())["trainer"]["step"]
    assert main(["train", "tag", "--resume", "--out", str(run), "--epochs", "3"]) == 0
    after = json.loads((run / "checkpoints" / "last" / "state.json").read_text())["trainer"]["step"]
    assert after > before


def test_tag_crf_bad_input_is_a_clear_error(tmp_path, capsys):
    lines = ["1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_", "2\tbark\tbark\tVERB\t_\t_\t0\troot\t_\t_", ""]
    conllu = tmp_path / "tiny.conllu"
    conllu.write_text("# sent_id = 1\n# text = Dogs bark\n" + "\n".join(lines * 10) + "\n")
    # a CoNLL-U file without --format conllu names the option instead of finding 0 sentences
    assert main(["train", "tag", "--data", str(conllu), "--out", str(tmp_path / "a")]) == 2
    assert "--format conllu" in capsys.readouterr().err
    # tags that are not BIO with --constraints bio
    assert main(["train", "tag", "--data", str(conllu), "--format", "conllu", "--crf", "--constraints", "bio",
                 "--out", str(tmp_path / "b")]) == 2
    error = capsys.readouterr().err
    assert "BIO" in error and "NOUN" in error
    # --constraints without --crf has no effect: refused
    assert main(["train", "tag", "--data", str(conllu), "--format", "conllu", "--constraints", "none",
                 "--out", str(tmp_path / "c")]) == 2
    assert "--crf" in capsys.readouterr().err
    # an empty token is an error that names the line
    empty = tmp_path / "empty.conll"
    empty.write_text("John\tB-PER\n\tO\n\nParis\tB-LOC\n")
    assert main(["train", "tag", "--data", str(empty), "--sep", "tab", "--crf", "--out", str(tmp_path / "e")]) == 2
    assert "line 2" in capsys.readouterr().err
    # the default (auto) trains a CRF without constraints on UPOS tags
    assert train("tag", tmp_path, "--data", str(conllu), "--format", "conllu", "--crf", out="d") == 0
    config = json.loads((tmp_path / "d" / "config.json").read_text())
    assert config["model"]["config"]["crf"] is True and config["model"]["config"]["crf_tags"] is None
