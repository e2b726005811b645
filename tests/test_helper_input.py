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
    # refused against the file's own tensors, before anything is allocated
    with pytest.raises(ValueError, match="metadata says hidden_size=1000000000000, but the largest tensor in the file"):
        rnnkit.load(path)


# --- a failed call changes nothing a later backward reads ------------------------------------------
def classifier():
    from rnnkit.models import SequenceClassifier
    return SequenceClassifier(3, vocab_size=10, embedding_dim=4, hidden_size=5, dtype=np.float64, seed=0)


def test_a_forward_that_fails_leaves_no_cache_to_mix_with_the_previous_batch():
    model = classifier()
    logits = model(np.array([[1, 2, 3], [4, 5, 6]]), lengths=[3, 2])
    with pytest.raises(ValueError, match="lengths must lie in \\[1, T=3\\], got 4"):
        model(np.array([[7, 8, 9], [7, 8, 9]]), lengths=[3, 4])
    with pytest.raises(ValueError, match="the last forward raised an error and kept nothing for backward"):
        model.backward(model.loss(logits, np.array([0, 2]))[1])
    assert model.inputs.embedding.weight.grad is None or not np.any(model.inputs.embedding.weight.grad)


def test_models_check_lengths_and_decoder_inputs_before_any_layer_runs():
    from rnnkit.models import Seq2Seq, SequenceTagger
    model = classifier()
    model.forward(np.array([[1, 2, 3]]), lengths=[3])
    kept = model.inputs.embedding._cache
    with pytest.raises(ValueError, match="lengths must lie"):
        model.forward(np.array([[7, 8, 9]]), lengths=[5])            # forward itself, not __call__
    assert model.inputs.embedding._cache is kept
    tagger = SequenceTagger(3, vocab_size=10, embedding_dim=4, hidden_size=5, seed=0)
    tagger.forward(np.array([[1, 2, 3]]))
    kept = tagger.inputs.embedding._cache
    with pytest.raises(ValueError, match="lengths must have shape \\(1,\\)"):
        tagger.forward(np.array([[7, 8, 9]]), lengths=[3, 3])
    assert tagger.inputs.embedding._cache is kept
    seq2seq = Seq2Seq(10, 12, embedding_dim=4, hidden_size=5, bos_id=1, eos_id=2, seed=0)
    seq2seq.forward(np.array([[3, 4, 5]]), None, np.array([[1, 2]]))
    kept = seq2seq.encoder._cache
    with pytest.raises(ValueError, match="decoder_inputs must have shape \\(B, T\\) with B = 1"):
        seq2seq.forward(np.array([[9, 9, 9]]), None, np.array([[1, 2], [1, 2]]))
    with pytest.raises(ValueError, match="decoder_inputs must lie in \\[0, 12\\)"):
        seq2seq.forward(np.array([[9, 9, 9]]), None, np.array([[1, 20]]))
    with pytest.raises(ValueError, match="lengths must lie"):
        seq2seq.forward(np.array([[9, 9, 9]]), [4], np.array([[1, 2]]))
    assert seq2seq.encoder._cache is kept


def test_a_language_model_backward_refused_for_its_state_gradient_adds_nothing():
    from rnnkit.models import LanguageModel
    model = LanguageModel(6, 4, cell="lstm", embedding_dim=3, dtype=np.float64, seed=0)
    logits, _ = model(np.array([[1, 2, 3]]))
    d_logits = np.ones_like(logits)
    with pytest.raises(TypeError, match="LSTM state must be a tuple"):
        model.backward(d_logits, np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match="dc_n must have shape \\(1, 1, 4\\)"):
        model.backward(d_logits, (np.zeros((1, 1, 4)), np.zeros((1, 2, 4))))
    assert all(parameter.grad is None or not np.any(parameter.grad) for parameter in model.parameters())
    model.backward(d_logits)
    once = model.head.weight.grad.copy()
    model.zero_grad()
    model.backward(d_logits)
    np.testing.assert_array_equal(model.head.weight.grad, once)


def test_to_original_units_refuses_statistics_that_do_not_fit_the_outputs():
    model = Forecaster(input_size=2, output_size=2, hidden_size=2, seed=0)
    scaler = Scaler().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
    with pytest.raises(ValueError, match="predictions must have one value on the last axis \\(O = 1\\), got O = 2"):
        model.to_original_units(np.ones((1, 1, 2)), scaler, target_column=1)
    with pytest.raises(ValueError, match="fitted on a 1-D series \\(one feature\\) but predictions have O = 2"):
        model.to_original_units(np.ones((1, 1, 2)), Scaler().fit(np.array([0.0, 2.0])))
    assert model.to_original_units(np.ones((1, 1, 2)), scaler).tolist() == [[[2.0, 30.0]]]


def test_classifier_loss_checks_the_number_of_classes():
    model = classifier()
    with pytest.raises(ValueError, match="logits must have shape \\(B, 3\\), one per class, got \\(2, 5\\)"):
        model.loss(np.zeros((2, 5)), np.array([0, 1]))
    with pytest.raises(ValueError, match="logits must have shape \\(B, 3\\), one per class, got \\(\\)"):
        model.loss(np.float64(0.0), np.array([0]))


def test_a_tiny_temperature_samples_the_most_likely_token():
    from rnnkit.models.language_model import sample_token
    rng = np.random.default_rng(0)
    with np.errstate(all="raise"):
        assert sample_token(np.array([0.0, 5.0, 1.0, -2.0]), 1e-308, None, None, rng) == 1
        assert sample_token(np.array([0.0, 5.0, 1.0, -2.0]), 1e-308, 2, 0.5, rng) == 1


def test_set_spectral_radius_checks_before_it_scales():
    from rnnkit.diagnostics import set_spectral_radius
    rnn = rnnkit.RNN(2, 3, num_layers=2, seed=0)
    with pytest.raises(ValueError, match="radius must be a finite number > 0, got inf"):
        set_spectral_radius(rnn, float("inf"))
    rnn.weight_hh_l1.data[...] = np.triu(np.ones((3, 3)), 1)        # nilpotent: radius 0
    before = rnn.weight_hh_l0.data.copy()
    with pytest.raises(ValueError, match="spectral radius 0 \\(zero or nilpotent\\)"):
        set_spectral_radius(rnn, 1.5)
    np.testing.assert_array_equal(rnn.weight_hh_l0.data, before)    # the first layer was not scaled


def test_diagnostics_after_a_no_grad_forward_say_why_they_cannot_run():
    from rnnkit.diagnostics import gate_statistics
    lstm = rnnkit.LSTM(2, 3, seed=0)
    with rnnkit.no_grad():
        lstm(np.zeros((1, 4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="last forward kept nothing to diagnose .*outside rnnkit.no_grad"):
        gate_statistics(lstm)


def test_gradient_flow_refuses_a_d_last_it_would_broadcast():
    from rnnkit.diagnostics import gradient_flow
    rnn = rnnkit.RNN(1, 4, seed=0)
    with pytest.raises(ValueError, match="d_last must have shape \\(3, 4\\)"):
        gradient_flow(rnn, np.zeros((3, 5, 1), dtype=np.float32), d_last=np.ones((3, 1)))


@pytest.mark.parametrize("arguments, message", [
    (dict(lr=True), "lr must be a finite number, got True"),
    (dict(gamma="0.5", kind="step"), "gamma must be a finite number, got '0.5'"),
    (dict(warmup_steps=2.5), "warmup_steps must be an int >= 0, got 2.5"),
])
def test_schedule_arguments(arguments, message):
    from rnnkit.train.schedules import LearningRateSchedule
    with pytest.raises(ValueError, match=message):
        LearningRateSchedule(**arguments)


def test_schedules_take_numpy_numbers_and_refuse_negative_steps():
    from rnnkit.train.schedules import LearningRateSchedule
    schedule = LearningRateSchedule("cosine", lr=np.float32(0.01), warmup_steps=np.int64(2), total_steps=10)
    assert schedule(0) == pytest.approx(0.005) and isinstance(schedule(0), float)
    with pytest.raises(ValueError, match="step must be an int >= 0, got -1"):
        schedule(-1)


def test_a_log_series_transform_refuses_non_positive_values():
    from rnnkit.train.forecasting import SeriesTransform
    with pytest.raises(ValueError, match="every value must be positive, but value 2 of 3 is -1"):
        SeriesTransform(log=True, difference=False).modelled(np.array([1.0, -1.0, 2.0]))
