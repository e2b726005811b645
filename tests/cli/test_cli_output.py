"""--progress, --quiet and --encoding of ``rnnkit train``: what reaches a redirected log, and bad values.

Under pytest stdout and stderr are not terminals, as in ``rnnkit train ... > log 2>&1``: the
default (``--progress auto``) must then write no progress bars (tqdm redraws them with carriage
returns), while ``--progress always`` still does.
"""

import io
import json

import pytest

from rnnkit.cli import main
from rnnkit.train.classification import ClassifyOptions
from rnnkit.train.options import SupervisedOptions, check_output_options
from rnnkit.train.report import show_progress
from rnnkit.train.tagging import TagOptions

TINY = ["--hidden", "6", "--epochs", "2", "--batch", "4", "--seed", "1"]


@pytest.fixture
def sentiment_file(tmp_path):
    lines = [f"a good great film number {index}\t1\na bad awful film number {index}\t0" for index in range(16)]
    path = tmp_path / "sentiment.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_classify(tmp_path, data, *arguments, out="run"):
    return main(["train", "classify", "--data", str(data), "--out", str(tmp_path / out), "--embedding", "4", *TINY,
                 *arguments])


def test_redirected_output_has_no_progress_bars_by_default(tmp_path, sentiment_file, capsys):
    assert train_classify(tmp_path, sentiment_file) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\r" not in captured.out
    assert "epoch 1 (step" in captured.out                      # the per-epoch lines are still there


def test_progress_always_draws_bars_even_when_redirected(tmp_path, sentiment_file, capsys):
    assert train_classify(tmp_path, sentiment_file, "--progress", "always") == 0
    assert "\r" in capsys.readouterr().err


def test_quiet_prints_only_the_final_summary(tmp_path, sentiment_file, capsys):
    assert train_classify(tmp_path, sentiment_file, "--quiet", "--progress", "always") == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and captured.err == ""
    assert "epoch 1 (step" not in captured.out and "model:" not in captured.out and "data:" not in captured.out
    assert "best validation" in captured.out                     # the summary at the end
    assert json.loads((tmp_path / "run" / "config.json").read_text())["options"]["quiet"] is True


def test_resume_may_change_progress_and_quiet(tmp_path, sentiment_file, capsys):
    assert train_classify(tmp_path, sentiment_file, "--epochs", "1") == 0
    capsys.readouterr()
    assert main(["train", "classify", "--out", str(tmp_path / "run"), "--resume", "--epochs", "2", "--quiet",
                 "--progress", "never"]) == 0
    captured = capsys.readouterr()
    assert "resuming" not in captured.out and "best validation" in captured.out


def test_show_progress_decides_by_the_stream():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert show_progress("auto", stream=Terminal()) is True
    assert show_progress("auto", stream=io.StringIO()) is False
    assert show_progress("always", stream=io.StringIO()) is True
    assert show_progress("never", stream=Terminal()) is False
    assert show_progress("auto", quiet=True, stream=Terminal()) is False
    assert show_progress(True, stream=io.StringIO()) is True and show_progress(False, stream=Terminal()) is False


def test_encoding_reads_a_latin1_file(tmp_path, capsys):
    lines = [f"un film très réussi numéro {index}\t1\nun film raté numéro {index}\t0" for index in range(16)]
    path = tmp_path / "latin.tsv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    assert train_classify(tmp_path, path, out="refused") == 2
    error = capsys.readouterr().err
    assert "cannot decode the file as utf-8" in error and "--encoding" in error
    assert train_classify(tmp_path, path, "--encoding", "latin-1") == 0
    vocab = json.loads((tmp_path / "run" / "vocab.json").read_text(encoding="utf-8"))
    assert "très" in json.dumps(vocab, ensure_ascii=False)


def test_encoding_reaches_the_tagging_reader(tmp_path):
    path = tmp_path / "tags.conll"
    sentences = ["Zoë\tB-person\nrit\tO\n", "Chloé\tB-person\nchante\tO\n"] * 6
    path.write_bytes("\n".join(sentences).encode("cp1252"))
    assert main(["train", "tag", "--data", str(path), "--sep", "tab", "--encoding", "cp1252", "--out",
                 str(tmp_path / "run"), "--embedding", "4", *TINY]) == 0


@pytest.mark.parametrize("arguments, words", [
    (["--progress", "sometimes"], ["--progress", "sometimes"]),
    (["--encoding", "klingon-8"], ["--encoding", "klingon-8"]),
    (["--encoding", "base64"], ["--encoding", "base64"]),                     # a codec, but not a text encoding
])
def test_bad_output_options_name_the_option_and_the_value(tmp_path, sentiment_file, arguments, words, capsys):
    try:
        code = train_classify(tmp_path, sentiment_file, *arguments)
    except SystemExit as exit:                                 # argparse refuses a value outside the choices
        code = exit.code
    assert code == 2
    error = capsys.readouterr().err
    assert all(word in error for word in words)
    assert not (tmp_path / "run").exists()


def test_bad_output_options_in_a_toml_file(tmp_path, sentiment_file, capsys):
    config = tmp_path / "run.toml"
    config.write_text('progress = "sometimes"\n')
    assert train_classify(tmp_path, sentiment_file, "--config", str(config)) == 2
    assert "'progress'" in capsys.readouterr().err
    config.write_text("quiet = 1\n")
    assert train_classify(tmp_path, sentiment_file, "--config", str(config)) == 2
    assert "'quiet' must be bool" in capsys.readouterr().err


@pytest.mark.parametrize("options_class", [SupervisedOptions, ClassifyOptions, TagOptions])
def test_check_output_options_on_options_built_in_python(options_class):
    check_output_options(options_class())
    with pytest.raises(ValueError, match="--progress must be one of auto, always, never, got 'loud'"):
        check_output_options(options_class(progress="loud"))
    with pytest.raises(ValueError, match="--quiet must be true or false, got 'yes'"):
        check_output_options(options_class(quiet="yes"))
    with pytest.raises(ValueError, match="--encoding 'nope' is not a text encoding"):
        check_output_options(options_class(encoding="nope"))


def test_evaluate_and_predict_read_a_file_in_another_encoding(tmp_path, sentiment_file, capsys):
    assert train_classify(tmp_path, sentiment_file) == 0
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("un good film très\t1\nun bad film raté\t0\n".encode("latin-1"))
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(latin)]) == 2          # the run read utf-8
    assert "cannot decode the file as utf-8" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(latin), "--encoding", "latin-1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 2
    assert main(["predict", str(tmp_path / "run"), "--file", str(latin), "--encoding", "latin-1"]) == 0
    assert "très" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(latin), "--encoding", "klingon-8"]) == 2
    assert "--encoding 'klingon-8' is not a text encoding" in capsys.readouterr().err


def test_language_model_runs_follow_the_same_output_options(tmp_path, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text("Lists are mutable sequences. Tuples are immutable sequences.\n" * 8, encoding="utf-8")
    tiny = ["--hidden", "8", "--embedding", "4", "--batch", "2", "--seq-len", "8", "--epochs", "1",
            "--sample-length", "20", "--seed", "1"]
    assert main(["train", "lm", "--data", str(text), "--out", str(tmp_path / "lm"), *tiny]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\r" not in captured.out
    assert main(["train", "lm", "--data", str(text), "--out", str(tmp_path / "quiet"), "--quiet", *tiny]) == 0
    captured = capsys.readouterr()
    assert "sample:" not in captured.out and "epoch 1 (step" not in captured.out and "\r" not in captured.err
