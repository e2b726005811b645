"""Optimisers without PyTorch: hand-computed golden values, state dicts, validation."""

import numpy as np
import pytest

from rnnkit import Parameter
from rnnkit.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop


def make_parameter(values):
    return Parameter(np.array(values, dtype=np.float64))


def run_steps(optimizer, parameters, gradients):
    """Feed one gradient per parameter per step; return the parameter values after each step."""
    history = []
    for step_gradients in gradients:
        for parameter, gradient in zip(parameters, step_gradients):
            parameter.grad[...] = gradient
        optimizer.step()
        history.append([parameter.data.copy() for parameter in parameters])
    return history


# --- golden values ----------------------------------------------------------------------------
def test_sgd_momentum_golden():
    # step 1: buffer = g1 = [0.5, 1.0];                     theta = [1, -2] - 0.1 * buffer = [0.95, -2.1]
    # step 2: buffer = 0.9 * [0.5, 1.0] + [-1, 2] = [-0.55, 2.9]; theta = [0.95 + 0.055, -2.1 - 0.29]
    p = make_parameter([1.0, -2.0])
    history = run_steps(SGD([p], lr=0.1, momentum=0.9), [p], [[[0.5, 1.0]], [[-1.0, 2.0]]])
    np.testing.assert_allclose(history[0][0], [0.95, -2.1], rtol=1e-14)
    np.testing.assert_allclose(history[1][0], [1.005, -2.39], rtol=1e-14)


def test_sgd_dampening_does_not_touch_first_buffer():
    # step 1 buffer = g1 undampened; step 2 buffer = 0.9 * [0.5, 1] + 0.5 * [-1, 2] = [-0.05, 1.9]
    p = make_parameter([1.0, -2.0])
    history = run_steps(SGD([p], lr=0.1, momentum=0.9, dampening=0.5), [p], [[[0.5, 1.0]], [[-1.0, 2.0]]])
    np.testing.assert_allclose(history[0][0], [0.95, -2.1], rtol=1e-14)
    np.testing.assert_allclose(history[1][0], [0.955, -2.29], rtol=1e-14)


def test_sgd_nesterov_golden():
    # step 1: buffer = g = [0.5, 1]; update = g + 0.9 * buffer = [0.95, 1.9]
    p = make_parameter([1.0, -2.0])
    history = run_steps(SGD([p], lr=0.1, momentum=0.9, nesterov=True), [p], [[[0.5, 1.0]]])
    np.testing.assert_allclose(history[0][0], [0.905, -2.19], rtol=1e-14)


def test_sgd_weight_decay_golden():
    # g + 0.1 * theta = [0.5 + 0.1, 1.0 - 0.2] = [0.6, 0.8]; theta -= 0.5 * that
    p = make_parameter([1.0, -2.0])
    history = run_steps(SGD([p], lr=0.5, weight_decay=0.1), [p], [[[0.5, 1.0]]])
    np.testing.assert_allclose(history[0][0], [0.7, -2.4], rtol=1e-14)


def test_adam_golden_two_steps():
    # lr 0.1, betas (0.9, 0.999), eps 1e-8; g1 = [0.5, -1], g2 = [0.5, 1].
    # step 1: m_hat = g, v_hat = g^2, so theta -= 0.1 * g / (|g| + 1e-8)
    #         = [1 - 0.1 * 0.5 / 0.50000001, -2 + 0.1 / 1.00000001]
    # step 2: m = [0.095, 0.01], v = [0.00049975, 0.001999], 1 - b1^2 = 0.19, 1 - b2^2 = 0.001999
    #         sqrt(v) / sqrt(0.001999) = [0.5, 1]; theta -= (0.1 / 0.19) * m / ([0.5, 1] + 1e-8)
    p = make_parameter([1.0, -2.0])
    history = run_steps(Adam([p], lr=0.1), [p], [[[0.5, -1.0]], [[0.5, 1.0]]])
    np.testing.assert_allclose(history[0][0], [0.90000000199999996, -1.90000000099999999], rtol=1e-13)
    np.testing.assert_allclose(history[1][0], [0.80000000399999992, -1.90526315884210525], rtol=1e-13)


def test_adamw_decays_before_adam_step():
    # theta * (1 - 0.1 * 0.5) = [0.95, -1.9], then the Adam step of size 0.1 * g / (|g| + eps)
    p = make_parameter([1.0, -2.0])
    history = run_steps(AdamW([p], lr=0.1, weight_decay=0.5, eps=0.0), [p], [[[0.5, -1.0]]])
    np.testing.assert_allclose(history[0][0], [0.85, -1.8], rtol=1e-14)


def test_adagrad_golden_two_steps():
    # sum1 = g1^2 = [9, 16]: theta -= 0.1 * g / [3, 4] = 0.1 * [1, -1]
    # sum2 = [9 + 16, 16 + 9] = [25, 25], lr_decay 0.5: lr2 = 0.1 / 1.5; theta -= lr2 * [4, 3] / 5
    p = make_parameter([1.0, -2.0])
    history = run_steps(Adagrad([p], lr=0.1, lr_decay=0.5, eps=0.0), [p], [[[3.0, -4.0]], [[4.0, 3.0]]])
    np.testing.assert_allclose(history[0][0], [0.9, -1.9], rtol=1e-14)
    np.testing.assert_allclose(history[1][0], [0.9 - 0.8 / 15, -1.9 - 0.6 / 15], rtol=1e-14)


def test_rmsprop_centered_golden():
    # alpha 0.5: v = 0.5 g^2 = [2, 8], m = 0.5 g = [1, -2], v - m^2 = [1, 4]; theta -= 0.1 * g / [1, 2]
    p = make_parameter([1.0, -2.0])
    history = run_steps(RMSprop([p], lr=0.1, alpha=0.5, eps=0.0, centered=True), [p], [[[2.0, -4.0]]])
    np.testing.assert_allclose(history[0][0], [0.8, -1.8], rtol=1e-14)


# --- behaviour ----------------------------------------------------------------------------------
ALL_OPTIMIZERS = [
    (SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    (SGD, {"lr": 0.1}),
    (Adagrad, {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    (RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True}),
    (Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    (AdamW, {"lr": 0.01}),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(ALL_OPTIMIZERS)]


def random_problem(seed=0, steps=6):
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    gradients = [[rng.normal(size=a.shape) * rng.uniform(0.1, 3.0) for a in initial] for _ in range(steps)]
    return initial, gradients


@pytest.mark.parametrize("cls, kwargs", ALL_OPTIMIZERS, ids=IDS)
def test_state_dict_round_trip_continues_identically(cls, kwargs):
    initial, gradients = random_problem()
    parameters = [Parameter(a.copy()) for a in initial]
    uninterrupted = run_steps(cls(parameters, **kwargs), parameters, gradients)

    first = [Parameter(a.copy()) for a in initial]
    optimizer = cls(first, **kwargs)
    run_steps(optimizer, first, gradients[:3])
    saved = optimizer.state_dict()

    resumed = [Parameter(p.data.copy()) for p in first]
    fresh_kwargs = dict(kwargs, lr=123.0)  # overwritten by the load
    fresh = cls(resumed, **fresh_kwargs)
    fresh.load_state_dict(saved)
    assert fresh.lr == kwargs["lr"]
    assert fresh.step_count == 3
    continued = run_steps(fresh, resumed, gradients[3:])
    for expected, actual in zip(uninterrupted[3:], continued):
        for a, b in zip(expected, actual):
            np.testing.assert_array_equal(a, b)


def test_state_dict_is_a_copy_of_plain_values():
    p = make_parameter([1.0, 2.0])
    optimizer = Adam([p], lr=0.1)
    run_steps(optimizer, [p], [[[1.0, 1.0]]])
    saved = optimizer.state_dict()
    assert saved["optimizer"] == "Adam"
    assert saved["num_parameters"] == 1
    assert saved["hyperparameters"] == {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert saved["state"][0]["step"] == 1
    before = saved["state"][0]["exp_avg"].copy()
    run_steps(optimizer, [p], [[[5.0, 5.0]]])
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], before)


def test_updates_in_place_and_skips_frozen():
    trained = make_parameter([1.0, 2.0])
    frozen = Parameter(np.array([3.0, 4.0]), requires_grad=False)
    data = trained.data
    optimizer = Adam([trained, frozen], lr=0.1)
    trained.grad[...] = 1.0
    frozen.grad[...] = 1.0
    optimizer.step()
    assert trained.data is data
    np.testing.assert_allclose(trained.data, [0.9, 1.9], rtol=1e-6)
    np.testing.assert_array_equal(frozen.data, [3.0, 4.0])
    assert 1 not in optimizer.state
    assert 1 not in optimizer.state_dict()["state"]


def test_parameter_with_no_grad_is_skipped():
    p = make_parameter([1.0])
    p.grad = None
    optimizer = SGD([p], lr=0.1)
    optimizer.step()
    np.testing.assert_array_equal(p.data, [1.0])
    optimizer.zero_grad()  # must not fail on grad None


def test_zero_grad_keeps_arrays():
    a, b = make_parameter([1.0, 2.0]), make_parameter([[3.0]])
    grads = [a.grad, b.grad]
    a.grad[...] = 5.0
    b.grad[...] = -1.0
    SGD([a, b], lr=0.1).zero_grad()
    assert a.grad is grads[0] and b.grad is grads[1]
    assert not a.grad.any() and not b.grad.any()


def test_lr_is_settable_and_used():
    p = make_parameter([1.0])
    optimizer = SGD([p], lr=0.1)
    optimizer.lr = 0.5
    assert optimizer.lr == 0.5
    p.grad[...] = 1.0
    optimizer.step()
    np.testing.assert_allclose(p.data, [0.5])
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -1"):
        optimizer.lr = -1
    assert optimizer.lr == 0.5


def test_float32_parameters_stay_float32():
    p = Parameter(np.ones(3, dtype=np.float32))
    optimizer = Adam([p], lr=0.1, amsgrad=True)
    p.grad[...] = 0.5
    optimizer.step()
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in optimizer.state[0].values() if isinstance(v, np.ndarray))


def test_grad_shape_mismatch_raises_before_updating():
    a, b = make_parameter([1.0, 2.0]), make_parameter([3.0])
    a.grad[...] = 1.0
    b.grad = np.ones(2)
    optimizer = SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(1,\) but its grad has shape \(2,\)"):
        optimizer.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError, match="_check_hyperparameters"):
        Optimizer([make_parameter([1.0])])


# --- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, error, match",
    [
        ([], ValueError, "empty parameter list"),
        ([np.ones(2)], TypeError, "expects Parameters, got ndarray at position 0"),
        (Parameter(np.ones(2)), TypeError, r"single Parameter: wrap it in a list"),
        (3, TypeError, "iterable of Parameters"),
    ],
)
def test_bad_params(params, error, match):
    with pytest.raises(error, match=match):
        SGD(params, lr=0.1)


def test_duplicate_params():
    p = make_parameter([1.0])
    with pytest.raises(ValueError, match=r"same Parameter twice \(positions 0 and 1\)"):
        Adam([p, p])


def test_generator_params_are_accepted():
    p, q = make_parameter([1.0]), make_parameter([2.0])
    optimizer = SGD((x for x in [p, q]), lr=0.1)
    assert optimizer.params == [p, q]


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (SGD, {"lr": -0.1}, r"lr must be a finite number >= 0, got -0.1"),
        (SGD, {"lr": float("nan")}, r"lr must be a finite number >= 0, got nan"),
        (SGD, {"lr": "0.1"}, r"lr must be a finite number >= 0, got '0.1'"),
        (SGD, {"lr": 0.1, "momentum": -0.5}, r"momentum must be a finite number >= 0, got -0.5"),
        (SGD, {"lr": 0.1, "dampening": 1.5}, r"dampening must be a number in \[0, 1\], got 1.5"),
        (SGD, {"lr": 0.1, "nesterov": True}, r"nesterov=True requires momentum > 0 and dampening == 0, got momentum=0.0"),
        (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, r"dampening=0.1"),
        (SGD, {"lr": 0.1, "nesterov": 1}, r"nesterov must be True or False, got 1"),
        (Adagrad, {"lr_decay": -1}, r"lr_decay must be a finite number >= 0, got -1"),
        (Adagrad, {"initial_accumulator_value": -1}, r"initial_accumulator_value must be a finite number >= 0"),
        (Adagrad, {"eps": -1e-10}, r"eps must be a finite number >= 0, got -1e-10"),
        (RMSprop, {"alpha": 1.5}, r"alpha must be a number in \[0, 1\], got 1.5"),
        (RMSprop, {"momentum": -0.1}, r"momentum must be a finite number >= 0"),
        (RMSprop, {"centered": "yes"}, r"centered must be True or False, got 'yes'"),
        (Adam, {"betas": (1.0, 0.999)}, r"betas\[0\] must be a number in \[0, 1\), got 1.0"),
        (Adam, {"betas": (0.9, -0.1)}, r"betas\[1\] must be a number in \[0, 1\), got -0.1"),
        (Adam, {"betas": (0.9,)}, r"betas must be a pair \(beta1, beta2\) of numbers in \[0, 1\), got 1 values"),
        (Adam, {"betas": 0.9}, r"betas must be a pair"),
        (Adam, {"weight_decay": -0.01}, r"weight_decay must be a finite number >= 0, got -0.01"),
        (AdamW, {"eps": -1.0}, r"eps must be a finite number >= 0, got -1.0"),
        (AdamW, {"amsgrad": None}, r"amsgrad must be True or False, got None"),
    ],
)
def test_bad_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([make_parameter([1.0])], **kwargs)


# --- mismatched state dicts -------------------------------------------------------------------------
def saved_adam(amsgrad=False, shapes=((2,), (3,))):
    parameters = [Parameter(np.ones(shape)) for shape in shapes]
    optimizer = Adam(parameters, lr=0.1, amsgrad=amsgrad)
    for p in parameters:
        p.grad[...] = 0.5
    optimizer.step()
    return optimizer.state_dict()


def fresh_adam(shapes=((2,), (3,)), **kwargs):
    return Adam([Parameter(np.ones(shape)) for shape in shapes], **kwargs)


def assert_untouched(optimizer, lr):
    assert optimizer.lr == lr
    assert optimizer.state == {}
    assert optimizer.step_count == 0


def test_load_wrong_number_of_parameters():
    optimizer = fresh_adam(shapes=((2,),), lr=0.5)
    with pytest.raises(ValueError, match=r"it has 2 parameters, this optimiser has 1"):
        optimizer.load_state_dict(saved_adam())
    assert_untouched(optimizer, 0.5)


def test_load_wrong_shape():
    optimizer = fresh_adam(shapes=((2,), (4,)), lr=0.5)
    with pytest.raises(ValueError, match=r"state 1.exp_avg has shape \(3,\), expected the parameter's shape \(4,\)"):
        optimizer.load_state_dict(saved_adam())
    assert_untouched(optimizer, 0.5)


def test_load_wrong_state_names():
    saved = saved_adam(amsgrad=True)
    del saved["state"][0]["max_exp_avg_sq"]
    optimizer = fresh_adam(lr=0.5)
    with pytest.raises(
        ValueError,
        match=r"state of parameter 0 has names \['exp_avg', 'exp_avg_sq', 'step'\], "
        r"expected \['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step'\]",
    ):
        optimizer.load_state_dict(saved)
    assert_untouched(optimizer, 0.5)


def test_load_wrong_optimizer():
    optimizer = AdamW([Parameter(np.ones(2)), Parameter(np.ones(3))])
    with pytest.raises(ValueError, match=r"it was saved from 'Adam', not 'AdamW'"):
        optimizer.load_state_dict(saved_adam())


def test_load_bad_hyperparameter_value_and_names():
    saved = saved_adam()
    saved["hyperparameters"]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match=r"bad hyperparameter: betas\[1\] must be a number in \[0, 1\), got 1.5"):
        fresh_adam().load_state_dict(saved)
    saved = saved_adam()
    saved["hyperparameters"]["momentum"] = 0.9
    with pytest.raises(ValueError, match=r"hyperparameter names differ: missing \[\], unexpected \['momentum'\]"):
        fresh_adam().load_state_dict(saved)


def test_load_bad_index_step_and_keys():
    saved = saved_adam()
    saved["state"][7] = saved["state"].pop(1)
    saved["state"][0]["step"] = -1
    with pytest.raises(ValueError, match=r"state 0.step must be an int >= 0, got -1; state key 7 is not a parameter index in \[0, 2\)"):
        fresh_adam().load_state_dict(saved)
    saved = saved_adam()
    del saved["step_count"]
    with pytest.raises(ValueError, match=r"missing \['step_count'\]"):
        fresh_adam().load_state_dict(saved)
    with pytest.raises(TypeError, match=r"expected a dict from state_dict\(\), got list"):
        fresh_adam().load_state_dict([])


def test_load_casts_to_parameter_dtype():
    saved = saved_adam()
    optimizer = Adam([Parameter(np.ones(2, dtype=np.float32)), Parameter(np.ones(3, dtype=np.float32))])
    optimizer.load_state_dict(saved)
    assert optimizer.state[0]["exp_avg"].dtype == np.float32
    assert optimizer.state[0]["exp_avg"] is not saved["state"][0]["exp_avg"]
