"""Readers for the plain-text formats sequence data comes in.

Why one module of about 600 lines: every reader shares the same line splitting, byte-order-mark,
column and error conventions (``_read``, ``_lines``, ``_csv_rows``, ``finite_number``), and a user
looks for a format's reader in one place.

Every reader raises ``ValueError`` naming the file, the line (1-based) and the reason when the
input is not what it should be, rather than returning something half-read. Numbers must be
finite: NaN or infinity in a numeric field is refused with the file, line and column (the
time-series reader's missing-value markers excepted). A UTF-8 byte-order mark at the start of a
file is dropped, and a directory given for a file is named as such.

Files are split into lines on ``"\\n"`` only (a trailing ``"\\r"`` is dropped), never with
``str.splitlines()``, which also breaks at characters such as U+0085 that occur inside real
sentences (the UCI imdb file has two).

- :func:`read_text`, :func:`read_lines`: a whole file, or its non-empty lines.
- :func:`read_labelled_text`: one text and one label per line (tab-separated or CSV).
- :func:`read_conll`: one token per line with its tag, blank lines between sentences.
- :func:`read_conllu`: Universal Dependencies CoNLL-U.
- :func:`read_time_series_csv`: one numeric column (and optionally dates) from a CSV file.
- :func:`read_ts`: sktime / UEA ``.ts`` files (multivariate series of varying length, one label each).
- :func:`read_vectors`: rows of numbers (CSV, optionally gzipped), each cut into steps, one label each.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ner.conll")
>>> _ = open(path, "w").write("Paris\\tB-loc\\nis\\tO\\n\\nHi\\tO\\n")
>>> read_conll(path)
[(['Paris', 'is'], ['B-loc', 'O']), (['Hi'], ['O'])]
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import numbers
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rnnkit._validate import check_choice, check_positive_int

PathLike = str | os.PathLike

# The ten CoNLL-U columns, by name, as the UD documentation numbers them from 0.
CONLLU_COLUMNS = {
    "id": 0, "form": 1, "lemma": 2, "upos": 3, "xpos": 4,
    "feats": 5, "head": 6, "deprel": 7, "deps": 8, "misc": 9,
}

# Fields read_time_series_csv treats as a missing value (compared after stripping spaces).
MISSING_MARKERS = frozenset({"", "NA", "N/A", "NaN", "nan", "NAN", "null", "NULL", "None", "?", "."})


def _read(path: PathLike, encoding: str) -> str:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a regular file (expected a data file)")
    try:
        with open(path, encoding=encoding, newline="") as handle:  # newline="": keep "\r" so we see it
            text = handle.read()
    except LookupError as error:
        raise ValueError(f"{path}: {encoding!r} is not a text encoding Python knows ({error})") from error
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: cannot decode the file as {encoding} ({error}); if it is written in another "
                         f"encoding, name it (--encoding latin-1, cp1252, utf-16, ...)") from error
    return text[1:] if text.startswith("\ufeff") else text       # a byte-order mark is not part of the text


def finite_number(text: str, where: str) -> float:
    """``float(text)``, refusing a field that is not a finite number; ``where`` names file, line and column."""
    try:
        value = float(text)
    except ValueError as error:
        raise ValueError(f"{where}: {text.strip()[:40]!r} is not a number") from error
    if not math.isfinite(value):
        raise ValueError(f"{where}: {text.strip()[:40]!r} is not a finite number (NaN and infinity are refused)")
    return value


def _lines(text: str) -> list[str]:
    """Split on "\\n" only (not str.splitlines) and drop a "\\r" before it."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_text(path: PathLike, encoding: str = "utf-8") -> str:
    """The whole file as one string, line endings kept as they are."""
    return _read(path, encoding)


def read_lines(path: PathLike, encoding: str = "utf-8", skip_empty: bool = True) -> list[str]:
    """The file's lines without their line endings, e.g. one name per line.

    ``skip_empty`` leaves out lines that hold only whitespace.
    """
    lines = _lines(_read(path, encoding))
    return [line for line in lines if line.strip()] if skip_empty else lines


def read_labelled_text(
    path: PathLike,
    sep: str = "\t",
    *,
    text_column: int | str = 0,
    label_column: int | str = -1,
    header: bool | None = None,
    label_type: Callable[[str], Any] = int,
    min_classes: int = 2,
    encoding: str = "utf-8",
) -> tuple[list[str], np.ndarray]:
    """Texts and their labels, one example per line.

    Two layouts:

    - ``sep="\\t"`` (or any separator other than ``","``): each line is split on ``sep`` with
      no quoting rules, as in ``sentence<TAB>label``. Quotes in the text stay as they are.
    - ``sep=","``: CSV with the quoting rules of the ``csv`` module (quoted fields may hold
      commas and newlines).

    Columns are picked by position (``0``, ``-1``) or, when the file has a header line, by
    name. ``header=None`` means: a header exactly when a column is given by name.
    Every row must have as many columns as the first row (or the header). Lines holding only
    whitespace are skipped.

    Parameters
    ----------
    label_type : callable
        Applied to each label field (after stripping spaces): ``int`` (the default) for
        labels like ``0``/``1``, ``str`` to keep class names.
    min_classes : int
        Refuse a file whose labels take fewer distinct values (a single class usually means
        the wrong column, or a file sorted by label and cut).

    Returns
    -------
    texts : list of str, N entries
    labels : ndarray (N,)
        int64 for ``label_type=int``; otherwise whatever NumPy makes of the converted labels.
    """
    path = Path(path)
    min_classes = check_positive_int(min_classes, "min_classes")
    by_name = isinstance(text_column, str) or isinstance(label_column, str)
    if header is None:
        header = by_name
    if by_name and not header:
        raise ValueError("columns given by name need header=True (the names are read from the first line)")
    if not isinstance(sep, str) or len(sep) == 0:
        raise ValueError(f"sep must be a non-empty string, got {sep!r}")
    text = _read(path, encoding)
    if not text.strip():
        raise ValueError(f"{path}: the file is empty")
    rows = _csv_rows(text, path=path) if sep == "," else _split_rows(text, sep)
    rows = [(number, fields) for number, fields in rows if any(field.strip() for field in fields)]
    if not rows:
        raise ValueError(f"{path}: the file is empty")

    names: list[str] | None = None
    if header:
        names = [name.strip() for name in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{path}: the file has a header line but no data lines")
    width = len(names) if names is not None else len(rows[0][1])
    text_index = _column_index(text_column, names, width, path, "text_column")
    label_index = _column_index(label_column, names, width, path, "label_column")
    if text_index == label_index:
        raise ValueError(f"{path}: text_column and label_column are the same column ({text_index})")

    texts: list[str] = []
    labels: list[Any] = []
    for number, fields in rows:
        if len(fields) != width:
            raise ValueError(
                f"{path}, line {number}: expected {width} columns separated by {sep!r}, got {len(fields)}: "
                f"{sep.join(fields)[:80]!r}"
            )
        raw_label = fields[label_index].strip()
        try:
            label = label_type(raw_label)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{path}, line {number}: cannot read the label {raw_label!r} as {getattr(label_type, '__name__', label_type)} ({error})"
            ) from error
        texts.append(fields[text_index])
        labels.append(label)
    classes = set(labels)
    if len(classes) < min_classes:
        raise ValueError(
            f"{path}: the label column has only {len(classes)} class{'es' if len(classes) != 1 else ''} "
            f"({sorted(map(str, classes))}) in {len(labels)} lines, need at least {min_classes}; "
            f"is label_column right? (pass min_classes=1 to allow this)"
        )
    return texts, np.asarray(labels)


def _split_rows(text: str, sep: str) -> list[tuple[int, list[str]]]:
    return [(number, line.split(sep)) for number, line in enumerate(_lines(text), start=1)]


def _csv_rows(text: str, sep: str = ",", path: PathLike = "the CSV text") -> list[tuple[int, list[str]]]:
    """CSV rows with the line number each starts on (a quoted field may span lines).

    Fields may be as long as the text (the csv module's default limit is 131,072 characters).
    """
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2 ** 31 - 1)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows = []
    start = 1
    try:
        for fields in reader:
            rows.append((start, fields))  # the line the row starts on
            start = reader.line_num + 1
    except csv.Error as error:
        raise ValueError(f"{path}, line {start}: not valid CSV ({error})") from error
    return rows


def _column_index(column: int | str, names: list[str] | None, width: int, path: Path, argument: str) -> int:
    if isinstance(column, str):
        if names is None or column not in names:
            raise ValueError(f"{path}: no column named {column!r} for {argument}; the header has {names}")
        return names.index(column)
    if isinstance(column, bool) or not isinstance(column, numbers.Integral):
        raise TypeError(f"{argument} must be a column index (int) or a column name (str), got {column!r}")
    if not -width <= column < width:
        raise ValueError(f"{path}: {argument}={column} is out of range, the first line has {width} columns")
    return int(column) % width


def read_conll(
    path: PathLike,
    token_column: int = 0,
    tag_column: int = -1,
    sep: str | None = None,
    *,
    comment_prefix: str | None = None,
    skip_docstart: bool = True,
    encoding: str = "utf-8",
    feature_columns: tuple[int, ...] | list[int] = (),
) -> list[tuple[list[str], list[str]]]:
    """Sentences of a CoNLL-style file: one token per line, blank lines between sentences.

    Parameters
    ----------
    token_column, tag_column : int
        Which fields hold the token and the tag (negative counts from the end). The tag
        must be a different field from the token: a line with only a token is an error.
    sep : str or None
        Field separator; None splits on any run of whitespace.
    comment_prefix : str or None
        Skip lines starting with it (``"#"`` for CoNLL-U-like files). None by default, since
        in tweets a line such as ``#hashtag<TAB>O`` is a token.
    skip_docstart : bool
        Skip ``-DOCSTART-`` lines (CoNLL-2003 document breaks).
    feature_columns : sequence of int
        Other fields to return beside the token and the tag (e.g. ``(1, 2)`` for the POS and
        chunk columns of ``word POS chunk NER``); each must differ from both and be non-empty.

    Returns
    -------
    list of (tokens, tags), or of (tokens, tags, columns) with ``feature_columns``
        Equally long lists of str per sentence; ``columns`` holds one such list per feature column.
    """
    path = Path(path)
    feature_columns = tuple(int(column) for column in feature_columns)
    sentences: list = []
    tokens: list[str] = []
    tags: list[str] = []
    columns: list[list[str]] = [[] for _ in feature_columns]

    def finish() -> None:
        sentences.append((tokens, tags, columns) if feature_columns else (tokens, tags))
    for number, line in enumerate(_lines(_read(path, encoding)), start=1):
        if not line.strip():
            if tokens:
                finish()
                tokens, tags, columns = [], [], [[] for _ in feature_columns]
            continue
        if comment_prefix is not None and line.startswith(comment_prefix):
            continue
        fields = line.split(sep) if sep is not None else line.split()
        if skip_docstart and fields[0] == "-DOCSTART-":
            continue
        width = len(fields)
        if not (-width <= token_column < width and -width <= tag_column < width) or (
            token_column % width == tag_column % width
        ):
            raise ValueError(
                f"{path}, line {number}: a token line needs a token (column {token_column}) and a different "
                f"tag column ({tag_column}), got {width} field{'s' if width != 1 else ''}: {line[:80]!r}"
            )
        if not fields[token_column].strip() or not fields[tag_column].strip():
            raise ValueError(
                f"{path}, line {number}: a token line needs a token (column {token_column}) and a different "
                f"tag column ({tag_column}), but one of them is empty: {line[:80]!r}"
            )
        for column, values in zip(feature_columns, columns):
            if not -width <= column < width or column % width in (token_column % width, tag_column % width):
                raise ValueError(
                    f"{path}, line {number}: feature column {column} must be a field other than the token "
                    f"({token_column}) and the tag ({tag_column}), got {width} field{'s' if width != 1 else ''}: "
                    f"{line[:80]!r}"
                )
            if not fields[column].strip():
                raise ValueError(f"{path}, line {number}: feature column {column} is empty: {line[:80]!r}")
            values.append(fields[column])
        tokens.append(fields[token_column])
        tags.append(fields[tag_column])
    if tokens:
        finish()
    return sentences


def read_conllu(path: PathLike, tag: str = "upos", *, encoding: str = "utf-8",
                features: tuple[str, ...] | list[str] = ()) -> list[tuple[list[str], list[str]]]:
    """Sentences of a CoNLL-U file (Universal Dependencies) as (words, tags).

    Comment lines (``#``) are skipped, as are multiword-token ranges (ID ``3-4``: their parts
    follow as ordinary words) and empty nodes (ID ``3.1``), so the words are exactly the
    syntactic words of the sentence.

    Parameters
    ----------
    tag : str
        The column to return as the tag: ``"upos"`` (column 4, the 17 universal POS tags),
        ``"xpos"``, ``"deprel"``, ``"lemma"``, ... (any name in :data:`CONLLU_COLUMNS`).
        A word whose tag field is empty or ``_`` is an error.
    features : sequence of str
        Other columns to return as features (names from :data:`CONLLU_COLUMNS`, e.g. ``("upos",)``
        when the tag is ``"xpos"``); then each sentence is (words, tags, columns), one list of
        str per feature column (``_`` kept as it is).
    """
    check_choice(tag, "tag", list(CONLLU_COLUMNS))
    column = CONLLU_COLUMNS[tag]
    extra = [CONLLU_COLUMNS[check_choice(name, "features", list(CONLLU_COLUMNS))] for name in features]
    path = Path(path)
    sentences: list = []
    words: list[str] = []
    tags: list[str] = []
    columns: list[list[str]] = [[] for _ in extra]

    def finish() -> None:
        sentences.append((words, tags, columns) if extra else (words, tags))

    for number, line in enumerate(_lines(_read(path, encoding)), start=1):
        if not line.strip():
            if words:
                finish()
                words, tags, columns = [], [], [[] for _ in extra]
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise ValueError(
                f"{path}, line {number}: a CoNLL-U word line has 10 tab-separated columns, got {len(fields)}: {line[:80]!r}"
            )
        if "-" in fields[0] or "." in fields[0]:
            continue  # a multiword range or an empty node
        value = fields[column].strip()
        if value in ("", "_"):
            raise ValueError(f"{path}, line {number}: the word {fields[1]!r} has no {tag} tag (the field is {fields[column]!r})")
        words.append(fields[1])
        tags.append(value)
        for index, values in zip(extra, columns):
            values.append(fields[index].strip() or "_")
    if words:
        finish()
    return sentences


def read_time_series_csv(
    path: PathLike,
    column: str | int,
    date_column: str | int | None = None,
    missing: str = "error",
    *,
    sep: str = ",",
    encoding: str = "utf-8",
) -> np.ndarray | tuple[np.ndarray, list[str]]:
    """One numeric column of a CSV file with a header line, in file order.

    Parameters
    ----------
    column : str or int
        The value column, by header name or position.
    date_column : str, int or None
        Also return this column, as the strings in the file (parse them as you need).
    missing : "error", "drop", "interpolate" or "ffill"
        What to do with missing values (an empty field or one of :data:`MISSING_MARKERS`):
        raise an error listing them; drop those rows; fill them by straight lines between
        the neighbouring values (by position, not by date; values missing at either end
        take the nearest value); or repeat the previous value (an error if the first value
        is missing). Except with "error", a warning says how many were handled and where.
        A field that is neither a number nor a missing marker is always an error.

    Returns
    -------
    values : ndarray (N,), float64
    dates : list of str, N entries, only when ``date_column`` is given
    """
    check_choice(missing, "missing", ("error", "drop", "interpolate", "ffill"))
    path = Path(path)
    text = _read(path, encoding)
    if not text.strip():
        raise ValueError(f"{path}: the file is empty")
    rows = [row for row in _csv_rows(text, sep, path) if any(field.strip() for field in row[1])]
    if not rows:
        raise ValueError(f"{path}: the file holds only separators and blanks, no header line or values")
    names = rows[0][1]
    names = [name.strip() for name in names]
    rows = rows[1:]
    if not rows:
        raise ValueError(f"{path}: the file has a header line but no data lines")
    value_index = _column_index(column, names, len(names), path, "column")
    date_index = None if date_column is None else _column_index(date_column, names, len(names), path, "date_column")

    values = np.empty(len(rows), dtype=np.float64)
    dates: list[str] = []
    missing_lines: list[int] = []
    for row, (number, fields) in enumerate(rows):
        if len(fields) != len(names):
            raise ValueError(f"{path}, line {number}: expected {len(names)} columns as in the header, got {len(fields)}")
        field = fields[value_index].strip()
        if field in MISSING_MARKERS:
            values[row] = np.nan
            missing_lines.append(number)
        else:
            try:
                values[row] = float(field)
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: {field!r} in column {names[value_index]!r} is not a number") from error
            if not math.isfinite(values[row]):           # a number, not a missing-value marker: refused
                raise ValueError(f"{path}, line {number}: {field!r} in column {names[value_index]!r} is not a finite "
                                 f"number (write a missing value as empty or NA)")
        if date_index is not None:
            dates.append(fields[date_index].strip())

    if missing_lines:
        where = ", ".join(map(str, missing_lines[:10])) + (", ..." if len(missing_lines) > 10 else "")
        summary = f"{path}: {len(missing_lines)} missing value{'s' if len(missing_lines) != 1 else ''} in column {names[value_index]!r} (lines {where})"
        is_missing = np.isnan(values)
        if missing == "error":
            raise ValueError(f"{summary}; pass missing='drop', 'interpolate' or 'ffill' to handle them")
        if is_missing.all():
            raise ValueError(f"{summary}: every value is missing")
        if missing == "drop":
            keep = ~is_missing
            values = values[keep]
            dates = [date for date, kept in zip(dates, keep) if kept]
        elif missing == "interpolate":
            positions = np.arange(len(values))
            values[is_missing] = np.interp(positions[is_missing], positions[~is_missing], values[~is_missing])
        else:  # ffill
            if is_missing[0]:
                raise ValueError(f"{summary}: the first value is missing, so there is nothing to carry forward")
            last_valid = np.maximum.accumulate(np.where(is_missing, 0, np.arange(len(values))))
            values = values[last_valid]
        verb = {"drop": "dropped", "interpolate": "interpolated", "ffill": "forward-filled"}[missing]
        warnings.warn(f"{summary} were {verb}", UserWarning, stacklevel=2)
    return values if date_index is None else (values, dates)



def read_ts(path: PathLike, *, encoding: str = "utf-8") -> tuple[list[np.ndarray], np.ndarray | None]:
    """Series and their class labels from an sktime / UEA ``.ts`` file.

    The file has ``#`` comment lines, ``@key value`` header lines (``@dimensions``,
    ``@classLabel true 1 2 3``, ...), then after ``@data`` one series per line: the D
    dimensions separated by ``:``, each a comma-separated list of T values, and (when
    ``@classLabel true``) the label as the last ``:`` field. Every dimension of one series
    must have the same length; different series may differ. A missing value (``?``) is an
    error, since the reader does not guess how to fill it.

    Returns
    -------
    series : list of N ndarrays, each (T_n, D), float64
    labels : ndarray (N,) of str, or None when the file has no class labels

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.ts")
    >>> _ = open(path, "w").write("@dimensions 2\\n@classLabel true a b\\n@data\\n1,2,3:4,5,6:a\\n7:8:b\\n")
    >>> series, labels = read_ts(path)
    >>> series[0].tolist(), series[1].shape, labels.tolist()
    ([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], (1, 2), ['a', 'b'])
    """
    path = Path(path)
    header: dict[str, str] = {}
    in_data = False
    series: list[np.ndarray] = []
    labels: list[str] = []
    dimensions: int | None = None
    for number, line in enumerate(_lines(_read(path, encoding)), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not in_data:
            if not stripped.startswith("@"):
                raise ValueError(f"{path}, line {number}: expected a header line (@key value) or @data before the "
                                 f"series, got {stripped[:80]!r}")
            key, _, value = stripped[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
                has_labels = header.get("classlabel", "false").split()[:1] == ["true"]
                class_labels = header.get("classlabel", "").split()[1:] if has_labels else []
                if "dimensions" in header:
                    try:
                        dimensions = int(header["dimensions"])
                    except ValueError as error:
                        raise ValueError(f"{path}: @dimensions must be an integer, got "
                                         f"{header['dimensions']!r}") from error
            else:
                header[key] = value.strip()
            continue
        fields = stripped.split(":")
        label = None
        if has_labels:
            if len(fields) < 2:
                raise ValueError(f"{path}, line {number}: expected dimensions and a class label separated by ':', "
                                 f"got {len(fields)} field")
            label = fields.pop().strip()
        if dimensions is not None and len(fields) != dimensions:
            raise ValueError(f"{path}, line {number}: expected {dimensions} dimensions separated by ':' "
                             f"(@dimensions {dimensions}), got {len(fields)}")
        if label is not None and class_labels and label not in class_labels:
            raise ValueError(f"{path}, line {number}: the label {label!r} is not one of the classes declared by "
                             f"@classLabel ({' '.join(class_labels)})")
        columns = []
        for dimension, text in enumerate(fields):
            parts = [part.strip() for part in text.split(",")]
            if "?" in parts:
                raise ValueError(f"{path}, line {number}: dimension {dimension + 1} has a missing value '?'")
            columns.append(np.array([finite_number(part, f"{path}, line {number}, dimension {dimension + 1}, "
                                                         f"value {position + 1}")
                                     for position, part in enumerate(parts)], dtype=np.float64))
        lengths = {len(column) for column in columns}
        if len(lengths) != 1:
            raise ValueError(f"{path}, line {number}: the dimensions have different lengths {sorted(lengths)}; "
                             f"every dimension of one series needs the same number of values")
        series.append(np.stack(columns, axis=1))                                  # (T_n, D)
        if label is not None:
            labels.append(label)
    if not in_data:
        raise ValueError(f"{path}: no @data line: not a .ts file")
    if not series:
        raise ValueError(f"{path}: the file has no series after @data")
    widths = {array.shape[1] for array in series}
    if len(widths) != 1:
        raise ValueError(f"{path}: the series have different numbers of dimensions {sorted(widths)}")
    return series, (np.array(labels) if has_labels else None)


def read_vectors(path: PathLike, steps: int = 0, sep: str = ",", label_column: int | str = -1,
                 values_per_row: int | None = None, *,
                 encoding: str = "utf-8") -> tuple[list[np.ndarray], np.ndarray | None]:
    """Rows of numbers as series (steps, D) and their labels (a ``.gz`` file is read as gzip).

    Each non-empty line is one example: fields split on ``sep`` (``" "``: any whitespace), the
    label taken out at ``label_column`` (an index), the other values cut into ``steps`` equal
    steps of D values (0: one value per step), e.g. an 8x8 image as 8 steps of 8 pixels. With
    ``values_per_row`` (for prediction) a row of exactly that many values has no label; the
    labels returned are then None. ``encoding`` is the file's text encoding.

    Returns
    -------
    series : list of float64 arrays (steps, D), N entries
    labels : ndarray of str (N,), or None
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a regular file (expected a data file)")
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding) as stream:
            text = stream.read()
            lines = (text[1:] if text.startswith("\ufeff") else text).split("\n")
    except LookupError as error:
        raise ValueError(f"{path}: {encoding!r} is not a text encoding Python knows ({error})") from error
    except (UnicodeDecodeError, OSError) as error:
        raise ValueError(f"{path}: cannot read the file as {encoding} text ({error})") from error
    if isinstance(label_column, str):
        raise ValueError(f"{path}: --format vectors takes the label column by index, got {label_column!r}")
    series, labels, width = [], [], None
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = [field.strip() for field in (line.split(sep) if sep != " " else line.split())]
        has_label = values_per_row is None or len(fields) != values_per_row
        if width is None:
            width = len(fields)
        if len(fields) != width:
            raise ValueError(f"{path}, line {number}: expected {width} values as in the first row, got {len(fields)}")
        label = None
        if has_label:
            if not -len(fields) <= label_column < len(fields):
                raise ValueError(f"{path}, line {number}: --label-column {label_column} is out of range for "
                                 f"{len(fields)} fields")
            label = fields.pop(label_column)
        if not fields:
            shown = "tab" if sep == "\t" else repr(sep)
            raise ValueError(f"{path}, line {number}: no values besides the label when split on {shown}; is --sep "
                             f"right (e.g. --sep , for comma-separated numbers)?")
        values = np.array([finite_number(field, f"{path}, line {number}, column {column_number + 1}")
                           for column_number, field in enumerate(fields)], dtype=np.float64)
        count = steps or len(values)
        if len(values) % count:
            raise ValueError(f"{path}, line {number}: {len(values)} values cannot be cut into --steps {count} "
                             f"equal steps")
        series.append(values.reshape(count, -1))                                 # (T, D)
        if label is not None:
            labels.append(label)
    if not series:
        raise ValueError(f"{path}: the file is empty")
    return series, (np.array(labels) if len(labels) == len(series) else None)
