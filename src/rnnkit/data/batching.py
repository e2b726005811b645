"""Turning ids and series into model-ready arrays: one-hot, padding, length buckets,
language-model streams for truncated BPTT, and sliding windows over time series.

Why one module of about 470 lines: every way the tasks turn ids and series into arrays, each
a short function that reads best beside the others.

Shapes: B batch, T time steps, V vocabulary (classes), D features per step, N examples,
W window length, K horizon (steps predicted).

>>> padded, lengths = pad_sequences([[5, 6, 7], [8]])
>>> padded.tolist(), lengths.tolist()
([[5, 6, 7], [8, 0, 0]], [3, 1])
"""

from __future__ import annotations

import numbers
from typing import Any, Iterator, Sequence

import numpy as np

from rnnkit._validate import as_float_array, as_index_array, check_choice, check_column, check_dtype, check_positive_int, check_probability

# ----------------------------------------------------------------- ids to arrays


def one_hot(ids: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """One-hot encode integer ids of any shape S into an array of shape S + (V,).

    >>> one_hot([2, 0], num_classes=3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    dtype = check_dtype(dtype)
    ids = as_index_array(ids, "ids", upper=num_classes)
    encoded = np.zeros(ids.shape + (num_classes,), dtype=dtype)  # S + (V,)
    np.put_along_axis(encoded, ids[..., None], 1, axis=-1)
    return encoded


def pad_sequences(
    sequences: Sequence[Any],
    pad_value: int = 0,
    max_len: int | None = None,
    truncating: str = "post",
    padding: str = "post",
) -> tuple[np.ndarray, np.ndarray]:
    """Stack integer sequences of different lengths into one (B, T) int64 array.

    Parameters
    ----------
    sequences : list of 1-D int sequences
        B sequences, the b-th of length T_b.
    pad_value : int
        Fills the positions past each sequence's end.
    max_len : int or None
        T, the width of the result. None: the longest sequence. Longer sequences are cut.
    truncating : "post" or "pre"
        Cut longer sequences at the end ("post", keep the start) or the start ("pre", keep
        the end).
    padding : "post" or "pre"
        Put the padding after ("post") or before ("pre") the tokens. rnnkit's layers take
        ``lengths`` with post-padding (tokens first), which is the default.

    Returns
    -------
    padded : ndarray (B, T), int64
    lengths : ndarray (B,), int64
        Tokens kept per row, after truncation: ``min(T_b, T)``.

    >>> padded, lengths = pad_sequences([[1, 2, 3, 4], [5]], max_len=3, truncating="pre", padding="pre", pad_value=-1)
    >>> padded.tolist(), lengths.tolist()
    ([[2, 3, 4], [-1, -1, 5]], [3, 1])
    """
    check_choice(truncating, "truncating", ("post", "pre"))
    check_choice(padding, "padding", ("post", "pre"))
    if isinstance(pad_value, bool) or not isinstance(pad_value, numbers.Integral):
        raise TypeError(f"pad_value must be an int, got {pad_value!r}")
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        sequences = list(sequences)
    if not isinstance(sequences, (list, tuple)):
        raise TypeError(f"sequences must be a list of 1-D integer sequences, got {type(sequences).__name__}")
    arrays = []
    for index, sequence in enumerate(sequences):
        array = np.asarray(sequence)
        if array.ndim != 1:
            raise ValueError(f"sequences[{index}] must be 1-D, got shape {array.shape}")
        if array.size == 0:
            array = array.astype(np.int64)
        arrays.append(as_index_array(array, f"sequences[{index}]"))
    if max_len is None:
        max_len = max((len(array) for array in arrays), default=0)
    else:
        max_len = check_positive_int(max_len, "max_len", minimum=0)
    padded = np.full((len(arrays), max_len), pad_value, dtype=np.int64)  # (B, T)
    lengths = np.zeros(len(arrays), dtype=np.int64)  # (B,)
    for row, array in enumerate(arrays):
        if len(array) > max_len:
            array = array[:max_len] if truncating == "post" else array[len(array) - max_len:]
        lengths[row] = len(array)
        if len(array) == 0:
            continue
        if padding == "post":
            padded[row, : len(array)] = array
        else:
            padded[row, max_len - len(array):] = array
    return padded, lengths


# ----------------------------------------------------------------- length buckets


class BucketBatchIterator:
    """Batches of example indices that group examples of similar length, to waste little padding.

    Each epoch: shuffle all indices, cut them into chunks of ``batch_size * chunk_batches``,
    sort each chunk by length, cut each chunk into batches, then shuffle the order of the
    batches. Every index appears exactly once per epoch (with ``drop_last``, the at most
    ``batch_size - 1`` indices of the one short batch are left out). The order depends only on
    ``seed`` and the epoch number, so a run can be repeated or resumed exactly.

    Parameters
    ----------
    lengths : 1-D int sequence (N,)
        The length of every example.
    batch_size : int
    seed : int
        Together with the epoch, fixes the order.
    shuffle : bool
        False: chunks in index order, batches in chunk order (still sorted within chunks).
    drop_last : bool
        Leave out the one batch shorter than ``batch_size``, if any.
    chunk_batches : int
        Batches per sorting chunk: larger groups lengths more tightly but makes batches less
        random. 1 means no sorting at all beyond the batch itself.

    Use ``for batch in iterator`` (the epoch set by :meth:`set_epoch`, 0 at first), or
    :meth:`batches` for a given epoch.

    >>> iterator = BucketBatchIterator([5, 1, 4, 2, 3, 1], batch_size=2, seed=0)
    >>> batches = iterator.batches(epoch=0)
    >>> sorted(int(i) for batch in batches for i in batch)
    [0, 1, 2, 3, 4, 5]
    >>> len(iterator)
    3
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        chunk_batches: int = 50,
    ):
        self.lengths = as_index_array(lengths, "lengths")
        if self.lengths.ndim != 1:
            raise ValueError(f"lengths must be 1-D (N,), got shape {self.lengths.shape}")
        if self.lengths.size == 0:
            raise ValueError("lengths is empty: there are no examples to batch")
        if np.any(self.lengths < 0):
            raise ValueError(f"lengths must be >= 0, got {int(self.lengths.min())}")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.chunk_batches = check_positive_int(chunk_batches, "chunk_batches")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch that ``iter(self)`` yields (as PyTorch's DistributedSampler)."""
        self.epoch = check_positive_int(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        count = len(self.lengths)
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches(self.epoch))

    def batches(self, epoch: int) -> list[np.ndarray]:
        """All batches of ``epoch``: a list of int64 index arrays, each (batch_size,) or shorter."""
        epoch = check_positive_int(epoch, "epoch", minimum=0)
        rng = np.random.default_rng([self.seed, epoch])
        count = len(self.lengths)
        order = rng.permutation(count) if self.shuffle else np.arange(count)
        chunk_size = self.batch_size * self.chunk_batches  # a multiple of batch_size: only the last batch can be short
        batches = []
        for start in range(0, count, chunk_size):
            chunk = order[start: start + chunk_size]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            for batch_start in range(0, len(chunk), self.batch_size):
                batches.append(chunk[batch_start: batch_start + self.batch_size].astype(np.int64))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches


# ----------------------------------------------------------------- language-model streams


def count_lm_windows(num_ids: int, batch_size: int, seq_len: int, drop_last: bool = True) -> int:
    """How many windows :func:`lm_stream_batches` yields for ``num_ids`` ids.

    >>> count_lm_windows(100, batch_size=4, seq_len=5)   # 4 streams of 25: 24 inputs -> 4 full windows + 4 left
    4
    >>> count_lm_windows(100, batch_size=4, seq_len=5, drop_last=False)
    5
    """
    num_ids = check_positive_int(num_ids, "num_ids", minimum=0)
    batch_size = check_positive_int(batch_size, "batch_size")
    seq_len = check_positive_int(seq_len, "seq_len")
    steps = max(num_ids // batch_size - 1, 0)  # inputs per stream: the last id is only a target
    return steps // seq_len if drop_last else -(-steps // seq_len)


def lm_stream_batches(
    ids: Any,
    batch_size: int,
    seq_len: int,
    *,
    start: int = 0,
    drop_last: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Windows of a long id sequence for language modelling with truncated BPTT.

    The sequence (its first ``batch_size * (len(ids) // batch_size)`` ids) is cut into
    ``batch_size`` contiguous streams, one per batch row: row b holds ids
    ``[b*S, (b+1)*S)`` with ``S = len(ids) // batch_size``. Window w holds stream positions
    ``[w*seq_len, (w+1)*seq_len)`` as inputs and the same positions plus one as targets, so
    window w+1 continues exactly where window w stopped in every row. That is what makes it
    correct to carry the hidden state from one window into the next. The caller must cut the
    gradient there (detach: use the final state's values, not its history, as the next
    initial state), which is what "truncated" BPTT means.

    Parameters
    ----------
    ids : 1-D int sequence
        The whole token stream, e.g. ``CharVocab.transform(corpus)``.
    batch_size : int
        B, the number of parallel streams.
    seq_len : int
        T, time steps per window (the BPTT truncation length).
    start : int
        First window to yield, to resume exactly where a run stopped.
    drop_last : bool
        Skip the final shorter window (so every window is (B, seq_len)).

    Yields
    ------
    inputs : ndarray (B, T), int64
    targets : ndarray (B, T), int64
        ``targets[:, t]`` is the id that follows ``inputs[:, t]`` in its stream.

    >>> windows = list(lm_stream_batches(np.arange(12), batch_size=2, seq_len=2))
    >>> [(x.tolist(), y.tolist()) for x, y in windows]
    [([[0, 1], [6, 7]], [[1, 2], [7, 8]]), ([[2, 3], [8, 9]], [[3, 4], [9, 10]])]
    """
    ids = as_index_array(ids, "ids")
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
    batch_size = check_positive_int(batch_size, "batch_size")
    seq_len = check_positive_int(seq_len, "seq_len")
    start = check_positive_int(start, "start", minimum=0)
    stream_length = len(ids) // batch_size  # S
    if stream_length < 2:
        raise ValueError(
            f"ids is too short: {len(ids)} ids in {batch_size} streams leave {stream_length} per stream, need at least 2"
        )
    streams = ids[: batch_size * stream_length].reshape(batch_size, stream_length)  # (B, S)
    total = count_lm_windows(len(ids), batch_size, seq_len, drop_last)
    if start > total:
        raise ValueError(f"start must be at most the number of windows, {total}, got {start}")
    return _lm_windows(streams, seq_len, start, total)


def _lm_windows(streams: np.ndarray, seq_len: int, start: int, total: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    last_input = streams.shape[1] - 1  # the last position is only ever a target
    for window in range(start, total):
        begin = window * seq_len
        end = min(begin + seq_len, last_input)
        yield streams[:, begin:end].copy(), streams[:, begin + 1: end + 1].copy()  # (B, T), (B, T)


# ----------------------------------------------------------------- time series


def sliding_windows(
    series: Any,
    window: int,
    horizon: int = 1,
    *,
    stride: int = 1,
    target_column: int | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a series into (past window, next values) pairs for forecasting.

    Example n looks at steps ``[n*stride, n*stride + W)`` and predicts the K steps after them,
    ``[n*stride + W, n*stride + W + K)``.

    Parameters
    ----------
    series : array (N_steps,) or (N_steps, D)
    window : int
        W, input steps per example.
    horizon : int
        K, steps to predict.
    stride : int
        Steps between the starts of consecutive examples.
    target_column : int or None
        For a 2-D series, predict only this feature: targets become (N, K).

    Returns
    -------
    inputs : ndarray (N, W, D)
        D = 1 for a 1-D series.
    targets : ndarray (N, K) for a 1-D series or with ``target_column``, else (N, K, D)

    >>> inputs, targets = sliding_windows(np.arange(6.0), window=3, horizon=2)
    >>> inputs[..., 0].tolist(), targets.tolist()
    ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]], [[3.0, 4.0], [4.0, 5.0]])
    """
    dtype = check_dtype(dtype)
    values = as_float_array(series, "series", dtype)
    if values.ndim not in (1, 2):
        raise ValueError(f"series must be 1-D (N_steps,) or 2-D (N_steps, D), got shape {values.shape}")
    window = check_positive_int(window, "window")
    horizon = check_positive_int(horizon, "horizon")
    stride = check_positive_int(stride, "stride")
    one_dimensional = values.ndim == 1
    if one_dimensional:
        if target_column is not None:
            raise ValueError("target_column is only for a 2-D series (N_steps, D); this series is 1-D")
        values = values[:, None]  # (N_steps, 1)
    elif target_column is not None:
        target_column = check_column(target_column, "target_column", values.shape[1])
    steps = values.shape[0]
    if steps < window + horizon:
        raise ValueError(f"series has {steps} steps, need at least window + horizon = {window + horizon}")
    count = (steps - window - horizon) // stride + 1  # N
    starts = np.arange(count) * stride  # (N,)
    inputs = values[starts[:, None] + np.arange(window)]  # (N, W, D)
    targets = values[starts[:, None] + window + np.arange(horizon)]  # (N, K, D)
    if one_dimensional:
        targets = targets[:, :, 0]  # (N, K)
    elif target_column is not None:
        targets = targets[:, :, target_column]  # (N, K)
    return inputs, targets


class Scaler:
    """Per-feature scaling of a series, fitted on training data only.

    ``kind="standard"``: ``(x - mean) / std``. ``kind="minmax"``: ``(x - min) / (max - min)``,
    which maps the training range to [0, 1]. A constant feature gets scale 1 (no division by
    zero). Statistics are taken over axis 0 of the array given to :meth:`fit`: one number for
    a 1-D series, one per feature (D,) for a 2-D one; :meth:`transform` then applies them along
    the last axis, so it works on a series (N_steps, D) and on windows (N, W, D) alike.

    Attributes
    ----------
    center_, scale_ : ndarray, () or (D,)
        ``transform(x) = (x - center_) / scale_``.

    >>> scaler = Scaler("minmax").fit(np.array([2.0, 4.0, 6.0]))
    >>> scaler.transform(np.array([4.0, 8.0])).tolist()
    [0.5, 1.5]
    >>> scaler.inverse_transform(np.array([0.5])).tolist()
    [4.0]
    """

    def __init__(self, kind: str = "standard"):
        self.kind = check_choice(kind, "kind", ("standard", "minmax"))
        self.center_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"Scaler(kind={self.kind!r}, fitted={self.center_ is not None})"

    def fit(self, values: Any) -> "Scaler":
        """Learn the statistics from ``values`` (N_steps,) or (N_steps, D); returns self."""
        values = as_float_array(values, "values", np.float64)
        if values.ndim not in (1, 2) or values.shape[0] == 0:
            raise ValueError(f"values must be (N_steps,) or (N_steps, D) with N_steps >= 1, got shape {values.shape}")
        if self.kind == "standard":
            center = values.mean(axis=0)
            scale = values.std(axis=0)
        else:
            center = values.min(axis=0)
            scale = values.max(axis=0) - center
        self.center_ = np.asarray(center)
        self.scale_ = np.where(np.asarray(scale) > 0, scale, 1.0)
        return self

    def _check(self, values: Any) -> np.ndarray:
        if self.center_ is None:
            raise RuntimeError("this Scaler is not fitted yet: call fit(train_values) first")
        array = np.asarray(values)
        dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
        array = as_float_array(array, "values", dtype)
        if self.center_.ndim == 1 and (array.ndim == 0 or array.shape[-1] != self.center_.shape[0]):
            raise ValueError(
                f"values must have {self.center_.shape[0]} features on the last axis (as in fit), got shape {array.shape}"
            )
        return array

    def transform(self, values: Any) -> np.ndarray:
        """Scaled values, same shape and float dtype as ``values``."""
        array = self._check(values)
        return ((array - self.center_) / self.scale_).astype(array.dtype, copy=False)

    def inverse_transform(self, values: Any) -> np.ndarray:
        """Undo :meth:`transform`, e.g. to read predictions in the original units."""
        array = self._check(values)
        return (array * self.scale_ + self.center_).astype(array.dtype, copy=False)


def time_split(
    series: Any,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    *,
    scale: str | None = "standard",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Scaler | None]:
    """Split a series by time order into train, validation and test parts, and scale them
    with a :class:`Scaler` fitted on the train part only (no peeking at the future).

    The last ``round(N_steps * test_fraction)`` steps are the test part, the
    ``round(N_steps * val_fraction)`` before them validation, the rest training. Make windows
    from each part separately with :func:`sliding_windows`.

    Returns
    -------
    train, val, test : ndarray, each (N_part,) or (N_part, D), float64
    scaler : Scaler or None
        None when ``scale=None`` (the parts are returned unscaled).

    >>> train, val, test, scaler = time_split(np.arange(10.0), 0.2, 0.2, scale="minmax")
    >>> train.tolist(), val.tolist(), test.tolist()
    ([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], [1.2, 1.4], [1.6, 1.8])
    """
    values = as_float_array(series, "series", np.float64)
    if values.ndim not in (1, 2):
        raise ValueError(f"series must be 1-D (N_steps,) or 2-D (N_steps, D), got shape {values.shape}")
    val_fraction = check_probability(val_fraction, "val_fraction")
    test_fraction = check_probability(test_fraction, "test_fraction")
    if scale is not None:
        check_choice(scale, "scale", ("standard", "minmax", None))
    steps = values.shape[0]
    test_steps = int(round(steps * test_fraction))
    val_steps = int(round(steps * val_fraction))
    train_steps = steps - val_steps - test_steps
    if train_steps < 1:
        raise ValueError(
            f"nothing left to train on: {steps} steps minus {val_steps} validation and {test_steps} test steps"
        )
    train = values[:train_steps]
    val = values[train_steps: train_steps + val_steps]
    test = values[train_steps + val_steps:]
    if scale is None:
        return train, val, test, None
    scaler = Scaler(scale).fit(train)
    return scaler.transform(train), scaler.transform(val), scaler.transform(test), scaler
