"""Bad input to the data and model helpers gets a clear error, not a crash or a wrapped value."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

import rnnkit
from rnnkit._validate import as_index_array
from rnnkit.data import BucketBatchIterator, Scaler
from rnnkit.data.readers import read_time_series_csv
from rnnkit.models.forecaster import Forecaster, persistence_forecast
from rnnkit.serialization import read_file


def test_an_empty_bucket_iterator_names_the_emptiness():
    with pytest.raises(ValueError, match="lengths is empty: there are no examples to batch"):
        BucketBatchIterator([], batch_size=2)


def test_index_arrays_accept_an_empty_list_and_refuse_uint64_that_would_wrap():
    assert as_index_array([], "ids").dtype == np.int64
    with pytest.raises(ValueError, match="ids must fit in int64, got 9223372036854775808"):
        as_index_array(np.array([1, 2**63], dtype=np.uint64), "ids", upper=10)
    assert as_index_array(np.array([3], dtype=np.uint64), "ids", upper=10).tolist() == [3]


def test_a_csv_of_bare_separators(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(",,\n , ,\n")
    with pytest.raises(ValueError, match="holds only separators and blanks"):
        read_time_series_csv(path, 0)


@pytest.mark.parametrize("column", [2, -3, 1.5, True, "1"])
def test_target_columns_are_checked(column):
    with pytest.raises(ValueError, match="target_column must be an int in \\[-2, 2\\)"):
        persistence_forecast(np.zeros((1, 3, 2)), horizon=1, target_column=column)
    scaler = Scaler().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
    model = Forecaster(input_size=2, output_size=1, hidden_size=2, seed=0)
    with pytest.raises(ValueError, match="target_column must be an int in \\[-2, 2\\)"):
        model.to_original_units(np.zeros((1, 1, 1)), scaler, target_column=column)


def test_a_negative_target_column_counts_from_the_end():
    x = np.arange(6.0).reshape(1, 3, 2)
    assert persistence_forecast(x, horizon=1, target_column=-1).tolist() == [[[5.0]]]


def test_a_checkpoint_whose_metadata_asks_for_huge_weights(tmp_path):
    path = tmp_path / "rnn.safetensors"
    rnnkit.save(rnnkit.RNN(3, 4, seed=0), path)
    tensors, metadata = read_file(path)
    config = json.loads(metadata["rnnkit.config"])
    metadata["rnnkit.config"] = json.dumps({**config, "hidden_size": 10**12})
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ValueError, match="the weights they describe do not fit in memory \\(the file holds 36 values"):
        rnnkit.load(path)
