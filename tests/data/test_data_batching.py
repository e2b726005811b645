"""Tests for rnnkit.data.batching: one-hot, padding, buckets, LM streams, windows and scaling."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import (
    BucketBatchIterator,
    Scaler,
    count_lm_windows,
    lm_stream_batches,
    one_hot,
    pad_sequences,
    sliding_windows,
    time_split,
)

# ----------------------------------------------------------------- one_hot


def test_one_hot_values_shape_and_dtype():
    encoded = one_hot(np.array([[1, 0], [2, 2]]), num_classes=3)
    assert encoded.shape == (2, 2, 3) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded.argmax(-1), [[1, 0], [2, 2]])
    np.testing.assert_array_equal(encoded.sum(-1), np.ones((2, 2)))
    assert one_hot([0], 2, dtype=np.float64).dtype == np.float64
    assert one_hot(np.zeros(0, dtype=int), 4).shape == (0, 4)


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\), got 3"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\), got -1"):
        one_hot([-1], 3)
    with pytest.raises(TypeError, match="ids must be an integer array"):
        one_hot([0.5], 3)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
        one_hot([0], 0)


# ----------------------------------------------------------------- pad_sequences


SEQUENCES = [[1, 2, 3, 4], [5, 6], [], [7]]


def test_pad_post_post_default():
    padded, lengths = pad_sequences(SEQUENCES)
    assert padded.dtype == np.int64 and lengths.dtype == np.int64
    np.testing.assert_array_equal(padded, [[1, 2, 3, 4], [5, 6, 0, 0], [0, 0, 0, 0], [7, 0, 0, 0]])
    np.testing.assert_array_equal(lengths, [4, 2, 0, 1])


@pytest.mark.parametrize("truncating, padding, expected", [
    ("post", "post", [[1, 2, 3], [5, 6, -1], [-1, -1, -1], [7, -1, -1]]),
    ("pre", "post", [[2, 3, 4], [5, 6, -1], [-1, -1, -1], [7, -1, -1]]),
    ("post", "pre", [[1, 2, 3], [-1, 5, 6], [-1, -1, -1], [-1, -1, 7]]),
    ("pre", "pre", [[2, 3, 4], [-1, 5, 6], [-1, -1, -1], [-1, -1, 7]]),
])
def test_pad_truncate_combinations(truncating, padding, expected):
    padded, lengths = pad_sequences(SEQUENCES, pad_value=-1, max_len=3, truncating=truncating, padding=padding)
    np.testing.assert_array_equal(padded, expected)
    np.testing.assert_array_equal(lengths, [3, 2, 0, 1])


def test_pad_longer_max_len_and_edge_cases():
    padded, lengths = pad_sequences([np.array([3, 4])], max_len=4)
    np.testing.assert_array_equal(padded, [[3, 4, 0, 0]])
    padded, lengths = pad_sequences([[], []])
    assert padded.shape == (2, 0) and lengths.tolist() == [0, 0]
    padded, lengths = pad_sequences([])
    assert padded.shape == (0, 0) and lengths.shape == (0,)
    padded, _ = pad_sequences([[1, 2]], max_len=0)
    assert padded.shape == (1, 0)


def test_pad_errors():
    with pytest.raises(TypeError, match=r"sequences\[1\] must be an integer array"):
        pad_sequences([[1], [1.5]])
    with pytest.raises(ValueError, match=r"sequences\[0\] must be 1-D"):
        pad_sequences([[[1, 2]]])
    with pytest.raises(ValueError, match="truncating must be one of"):
        pad_sequences([[1]], truncating="middle")
    with pytest.raises(ValueError, match="padding must be one of"):
        pad_sequences([[1]], padding="both")
    with pytest.raises(TypeError, match="pad_value must be an int"):
        pad_sequences([[1]], pad_value=0.5)
    with pytest.raises(TypeError, match="sequences must be a list"):
        pad_sequences("abc")


# ----------------------------------------------------------------- BucketBatchIterator


LENGTHS = np.random.default_rng(0).integers(1, 100, size=1003)


@pytest.mark.parametrize("shuffle", [True, False])
def test_buckets_cover_every_index_once(shuffle):
    iterator = BucketBatchIterator(LENGTHS, batch_size=16, seed=3, shuffle=shuffle, chunk_batches=4)
    for epoch in range(3):
        batches = iterator.batches(epoch)
        assert len(batches) == len(iterator) == 63
        everything = np.concatenate(batches)
        np.testing.assert_array_equal(np.sort(everything), np.arange(len(LENGTHS)))
        assert sum(len(batch) < 16 for batch in batches) == 1


def test_buckets_are_deterministic_per_seed_and_epoch():
    def order(seed, epoch):
        return [batch.tolist() for batch in BucketBatchIterator(LENGTHS, 16, seed=seed).batches(epoch)]

    assert order(1, 0) == order(1, 0)
    assert order(1, 1) == order(1, 1)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)


def test_iter_uses_set_epoch():
    iterator = BucketBatchIterator(LENGTHS, 16, seed=5)
    first = [batch.tolist() for batch in iterator]
    iterator.set_epoch(2)
    assert [batch.tolist() for batch in iterator] == [batch.tolist() for batch in iterator.batches(2)]
    assert first == [batch.tolist() for batch in iterator.batches(0)]


def test_drop_last_leaves_out_only_the_short_batch():
    iterator = BucketBatchIterator(LENGTHS, 16, seed=0, drop_last=True, chunk_batches=4)
    batches = iterator.batches(0)
    assert len(batches) == len(iterator) == 1003 // 16
    assert all(len(batch) == 16 for batch in batches)
    everything = np.concatenate(batches)
    assert len(np.unique(everything)) == len(everything) == 1003 - 1003 % 16


def test_buckets_waste_less_padding_than_random_batches():
    def padding(batches):
        return sum(int(LENGTHS[batch].max()) * len(batch) - int(LENGTHS[batch].sum()) for batch in batches)

    bucketed = BucketBatchIterator(LENGTHS, 16, seed=0, chunk_batches=20).batches(0)
    random_batches = BucketBatchIterator(LENGTHS, 16, seed=0, chunk_batches=1).batches(0)
    assert padding(bucketed) < 0.3 * padding(random_batches)
    # within a chunk the batches are sorted by length
    for batch in bucketed:
        assert np.all(np.diff(LENGTHS[batch]) >= 0)


def test_bucket_errors():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        BucketBatchIterator([1, 2], 0)
    with pytest.raises(ValueError, match="lengths must be >= 0"):
        BucketBatchIterator([1, -2], 1)
    with pytest.raises(ValueError, match="lengths must be 1-D"):
        BucketBatchIterator([[1, 2]], 1)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        BucketBatchIterator([1, 2], 1, seed=None)
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        BucketBatchIterator([1, 2], 1).set_epoch(-1)


# ----------------------------------------------------------------- language-model streams


@pytest.mark.parametrize("num_ids, batch_size, seq_len", [(103, 4, 5), (100, 4, 6), (50, 1, 7), (20, 3, 50)])
def test_lm_windows_concatenate_back_to_the_streams(num_ids, batch_size, seq_len):
    ids = np.arange(1000, 1000 + num_ids)
    stream_length = num_ids // batch_size
    streams = ids[: batch_size * stream_length].reshape(batch_size, stream_length)
    for drop_last in (True, False):
        windows = list(lm_stream_batches(ids, batch_size, seq_len, drop_last=drop_last))
        assert len(windows) == count_lm_windows(num_ids, batch_size, seq_len, drop_last)
        if not windows:
            continue
        inputs = np.concatenate([x for x, _ in windows], axis=1)
        targets = np.concatenate([y for _, y in windows], axis=1)
        covered = inputs.shape[1]
        np.testing.assert_array_equal(inputs, streams[:, :covered])
        np.testing.assert_array_equal(targets, streams[:, 1: covered + 1])  # targets = inputs shifted by one
        if drop_last:
            assert all(x.shape == (batch_size, seq_len) == y.shape for x, y in windows)
        else:
            assert covered == stream_length - 1  # every id but the last is an input once
        for (_, previous_targets), (next_inputs, _) in zip(windows, windows[1:]):
            # the next window starts where the last one stopped, in every row
            np.testing.assert_array_equal(next_inputs[:, 0], previous_targets[:, -1])


def test_lm_windows_resume_from_a_window():
    ids = np.arange(200)
    everything = list(lm_stream_batches(ids, 3, 7))
    resumed = list(lm_stream_batches(ids, 3, 7, start=4))
    assert len(resumed) == len(everything) - 4
    for (x, y), (x_resumed, y_resumed) in zip(everything[4:], resumed):
        np.testing.assert_array_equal(x, x_resumed)
        np.testing.assert_array_equal(y, y_resumed)
    assert list(lm_stream_batches(ids, 3, 7, start=len(everything))) == []


def test_lm_errors():
    with pytest.raises(ValueError, match="ids is too short: 3 ids in 2 streams leave 1 per stream"):
        lm_stream_batches(np.arange(3), 2, 1)
    with pytest.raises(ValueError, match="start must be at most the number of windows, 9, got 10"):
        lm_stream_batches(np.arange(20), 2, 1, start=10)
    with pytest.raises(ValueError, match="ids must be 1-D"):
        lm_stream_batches(np.zeros((2, 10), dtype=int), 2, 1)
    with pytest.raises(TypeError, match="ids must be an integer array"):
        lm_stream_batches(np.zeros(10), 2, 1)
    with pytest.raises(ValueError, match="seq_len must be an int >= 1"):
        lm_stream_batches(np.arange(10), 2, 0)


# ----------------------------------------------------------------- sliding windows


def test_sliding_windows_1d_values():
    series = np.arange(10.0) * 10
    inputs, targets = sliding_windows(series, window=3, horizon=2, stride=2)
    # starts 0, 2, 4 (start 6 would need steps up to 10)
    assert inputs.shape == (3, 3, 1) and targets.shape == (3, 2)
    np.testing.assert_array_equal(inputs[:, :, 0], [[0, 10, 20], [20, 30, 40], [40, 50, 60]])
    np.testing.assert_array_equal(targets, [[30, 40], [50, 60], [70, 80]])


def test_sliding_windows_2d_and_target_column():
    series = np.stack([np.arange(6.0), -np.arange(6.0)], axis=1)  # (6, 2)
    inputs, targets = sliding_windows(series, window=4)
    assert inputs.shape == (2, 4, 2) and targets.shape == (2, 1, 2)
    np.testing.assert_array_equal(inputs[1], series[1:5])
    np.testing.assert_array_equal(targets[:, 0], series[4:6])
    _, targets = sliding_windows(series, window=4, target_column=1)
    np.testing.assert_array_equal(targets, [[-4.0], [-5.0]])
    inputs, _ = sliding_windows(series, window=4, dtype=np.float32)
    assert inputs.dtype == np.float32


def test_sliding_windows_errors():
    with pytest.raises(ValueError, match="series has 4 steps, need at least window \\+ horizon = 5"):
        sliding_windows(np.arange(4.0), window=3, horizon=2)
    with pytest.raises(ValueError, match="target_column is only for a 2-D series"):
        sliding_windows(np.arange(4.0), window=2, target_column=0)
    with pytest.raises(ValueError, match=r"target_column must be an int in \[-2, 2\)"):
        sliding_windows(np.zeros((5, 2)), window=2, target_column=2)
    with pytest.raises(ValueError, match="series must be 1-D"):
        sliding_windows(np.zeros((5, 2, 1)), window=2)
    with pytest.raises(ValueError, match="NaN"):
        sliding_windows(np.array([1.0, np.nan, 2.0]), window=1)


# ----------------------------------------------------------------- Scaler and time_split


def test_standard_scaler_numbers():
    scaler = Scaler().fit(np.array([1.0, 2.0, 3.0, 4.0]))
    assert scaler.center_ == pytest.approx(2.5)
    assert scaler.scale_ == pytest.approx(np.sqrt(1.25))
    np.testing.assert_allclose(scaler.transform(np.array([2.5, 5.0])), [0.0, 2.5 / np.sqrt(1.25)])
    x = np.array([[-3.0, 7.5]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(x)), x)


def test_minmax_scaler_per_feature_and_constant_feature():
    train = np.array([[0.0, 5.0, 1.0], [10.0, 7.0, 1.0]])  # (N_steps, D = 3); last feature constant
    scaler = Scaler("minmax").fit(train)
    np.testing.assert_array_equal(scaler.center_, [0.0, 5.0, 1.0])
    np.testing.assert_array_equal(scaler.scale_, [10.0, 2.0, 1.0])
    np.testing.assert_allclose(scaler.transform(train), [[0, 0, 0], [1, 1, 0]])
    windows = np.ones((4, 3, 3), dtype=np.float32)  # (N, W, D)
    scaled = scaler.transform(windows)
    assert scaled.shape == windows.shape and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled[0, 0], [0.1, -2.0, 0.0])


def test_scaler_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Scaler().transform([1.0])
    with pytest.raises(ValueError, match="kind must be one of"):
        Scaler("robust")
    with pytest.raises(ValueError, match="must have 2 features on the last axis"):
        Scaler().fit(np.zeros((3, 2))).transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="N_steps >= 1"):
        Scaler().fit(np.zeros(0))


def test_time_split_fits_the_scaler_on_train_only():
    series = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0, 200.0, 300.0, 400.0])
    train, val, test, scaler = time_split(series, val_fraction=0.2, test_fraction=0.2)
    # train is the first 6 steps: mean 3.5, population std sqrt(35/12)
    assert scaler.center_ == pytest.approx(3.5)
    assert scaler.scale_ == pytest.approx(np.sqrt(35 / 12))
    np.testing.assert_allclose(train.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(val, (np.array([100.0, 200.0]) - 3.5) / np.sqrt(35 / 12))
    np.testing.assert_allclose(scaler.inverse_transform(test), [300.0, 400.0])
    raw_train, raw_val, raw_test, none = time_split(series, 0.2, 0.2, scale=None)
    assert none is None
    np.testing.assert_array_equal(np.concatenate([raw_train, raw_val, raw_test]), series)


def test_time_split_2d_and_errors():
    series = np.arange(40.0).reshape(20, 2)
    train, val, test, scaler = time_split(series, 0.1, 0.25, scale="minmax")
    assert train.shape == (13, 2) and val.shape == (2, 2) and test.shape == (5, 2)
    np.testing.assert_allclose(train.min(0), 0.0)
    np.testing.assert_allclose(train.max(0), 1.0)
    with pytest.raises(ValueError, match="nothing left to train on"):
        time_split(np.arange(3.0), 0.6, 0.6)
    with pytest.raises(ValueError, match=r"val_fraction must be a number in \[0, 1\)"):
        time_split(np.arange(3.0), 1.5, 0.1)
    with pytest.raises(ValueError, match="scale must be one of"):
        time_split(np.arange(30.0), scale="log")
