"""Tests for kerascon.optimizers: LARS, SGD (coupled L2), WarmupCosineDecay, factories.

The update rules are checked against direct numpy transcriptions of the formulas
(SimCLR's lars_optimizer.py, PyTorch's SGD), using real Keras optimizers.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.choices import OPTIMIZERS
from kerascon.optimizers import (
    LARS,
    CoupledDecaySGD,
    WarmupCosineDecay,
    build_optimizer,
    scale_learning_rate,
)

RTOL, ATOL = 1e-5, 1e-6


# ----------------------------------------------------------------- numpy references


def lars_reference(weights, grads_per_step, lrs, *, momentum, weight_decay, eta, nesterov, decay, adapt):
    """SimCLR's LARS, transcribed: ``weights`` is a dict name -> array, flags per name."""
    w = {k: v.astype(np.float64).copy() for k, v in weights.items()}
    vel = {k: np.zeros_like(v) for k, v in w.items()}
    for grads, lr in zip(grads_per_step, lrs):
        for k in w:
            g = grads[k].astype(np.float64)
            if decay[k]:
                g = g + weight_decay * w[k]
            scaled_lr = lr
            if adapt[k]:
                w_norm, g_norm = np.linalg.norm(w[k]), np.linalg.norm(g)
                trust = eta * w_norm / g_norm if (w_norm > 0 and g_norm > 0) else 1.0
                scaled_lr = lr * trust
            vel[k] = momentum * vel[k] + scaled_lr * g
            update = momentum * vel[k] + scaled_lr * g if nesterov else vel[k]
            w[k] = w[k] - update
    return w


def torch_sgd_reference(weights, grads_per_step, lr, *, momentum, weight_decay, nesterov, decay):
    """PyTorch's SGD (dampening 0), transcribed."""
    w = {k: v.astype(np.float64).copy() for k, v in weights.items()}
    buf = {k: np.zeros_like(v) for k, v in w.items()}
    for grads in grads_per_step:
        for k in w:
            d_p = grads[k].astype(np.float64)
            if decay[k]:
                d_p = d_p + weight_decay * w[k]
            if momentum:
                buf[k] = momentum * buf[k] + d_p
                d_p = d_p + momentum * buf[k] if nesterov else buf[k]
            w[k] = w[k] - lr * d_p
    return w


def _random_problem(seed=0, steps=3):
    rng = np.random.default_rng(seed)
    shapes = {"kernel": (3, 4), "bias": (4,), "head_kernel": (4, 2)}
    weights = {k: rng.normal(size=s).astype("float32") for k, s in shapes.items()}
    grads = [{k: rng.normal(size=s).astype("float32") for k, s in shapes.items()} for _ in range(steps)]
    return weights, grads


def _run_keras(optimizer, weights, grads_per_step):
    variables = {k: keras.Variable(v, name=k) for k, v in weights.items()}
    names = list(weights)
    for grads in grads_per_step:
        optimizer.apply([grads[k] for k in names], [variables[k] for k in names])
    return {k: v.numpy() for k, v in variables.items()}


def _assert_close(got, want):
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=RTOL, atol=ATOL, err_msg=k)


# ----------------------------------------------------------------- LARS


# Cases are looped inside a test, not parametrized: the autouse conftest fixture
# clears the Keras session before every test, which costs a fraction of a second.
LARS_CASES = [(0.9, 0.0, False), (0.9, 0.05, False), (0.9, 0.05, True), (0.0, 0.05, False)]


def test_lars_matches_reference():
    for case in LARS_CASES:
        _check_lars_case(*case)


def _check_lars_case(momentum, weight_decay, nesterov):
    weights, grads = _random_problem()
    eta, lr = 0.01, 0.5
    opt = LARS(lr, momentum=momentum, weight_decay=weight_decay, eta=eta, nesterov=nesterov)
    got = _run_keras(opt, weights, grads)
    # Default rules: rank-2 kernels get decay + trust ratio; the rank-1 bias gets neither.
    decay = {"kernel": weight_decay > 0, "bias": False, "head_kernel": weight_decay > 0}
    adapt = {"kernel": True, "bias": False, "head_kernel": True}
    want = lars_reference(weights, grads, [lr] * 3, momentum=momentum, weight_decay=weight_decay,
                          eta=eta, nesterov=nesterov, decay=decay, adapt=adapt)
    _assert_close(got, want)
    # The bias is plain momentum SGD (SimCLR's update with trust ratio 1, no decay).
    v, b = np.zeros(4), weights["bias"].astype(np.float64)
    for g in grads:
        v = momentum * v + lr * g["bias"]
        b = b - (momentum * v + lr * g["bias"] if nesterov else v)
    np.testing.assert_allclose(got["bias"], b, rtol=RTOL, atol=ATOL)


def test_lars_name_pattern_exclusion():
    # exclude_from_layer_adaptation=None follows exclude_from_weight_decay (SimCLR).
    for case in [(["head"], None, False, False), ([], ["head"], True, False), (["head"], [], False, True),
                 (["head_kernel"], None, False, False), (["nomatch"], None, True, True)]:
        _check_pattern_case(*case)


def _check_pattern_case(exclude_wd, exclude_adapt, head_decay, head_adapt):
    weights, grads = _random_problem(seed=1)
    opt = LARS(0.3, momentum=0.9, weight_decay=0.05, eta=0.02,
               exclude_from_weight_decay=exclude_wd, exclude_from_layer_adaptation=exclude_adapt)
    got = _run_keras(opt, weights, grads)
    want = lars_reference(
        weights, grads, [0.3] * 3, momentum=0.9, weight_decay=0.05, eta=0.02, nesterov=False,
        decay={"kernel": True, "bias": False, "head_kernel": head_decay},
        adapt={"kernel": True, "bias": False, "head_kernel": head_adapt},
    )
    _assert_close(got, want)


def test_lars_exclude_vectors_false_adapts_bias():
    weights, grads = _random_problem(seed=2)
    opt = LARS(0.3, momentum=0.9, weight_decay=0.05, eta=0.02, exclude_vectors=False)
    got = _run_keras(opt, weights, grads)
    flags = {"kernel": True, "bias": True, "head_kernel": True}
    want = lars_reference(weights, grads, [0.3] * 3, momentum=0.9, weight_decay=0.05, eta=0.02,
                          nesterov=False, decay=flags, adapt=flags)
    _assert_close(got, want)


def test_lars_with_schedule_uses_per_step_lr():
    weights, grads = _random_problem(seed=3)
    schedule = WarmupCosineDecay(1.0, warmup_steps=2, total_steps=4, warmup_start=0.1)
    opt = LARS(schedule, momentum=0.9, weight_decay=0.01, eta=0.05)
    got = _run_keras(opt, weights, grads)
    lrs = [float(schedule(s)) for s in range(3)]
    assert lrs[0] == pytest.approx(0.1) and lrs[2] == pytest.approx(1.0)
    want = lars_reference(weights, grads, lrs, momentum=0.9, weight_decay=0.01, eta=0.05, nesterov=False,
                          decay={"kernel": True, "bias": False, "head_kernel": True},
                          adapt={"kernel": True, "bias": False, "head_kernel": True})
    _assert_close(got, want)


def test_lars_zero_weight_and_zero_gradient_use_trust_ratio_one():
    rng = np.random.default_rng(4)
    g = rng.normal(size=(3, 4)).astype("float32")
    # Zero weights (||w|| = 0): trust ratio 1, the step is lr * g.
    w = keras.Variable(np.zeros((3, 4), "float32"), name="w")
    LARS(0.5, momentum=0.0, weight_decay=0.1, eta=0.001).apply([g], [w])
    np.testing.assert_allclose(w.numpy(), -0.5 * g, rtol=RTOL, atol=ATOL)
    # Zero gradient, no decay (||g|| = 0): trust ratio 1, nothing moves, no NaN.
    w0 = rng.normal(size=(3, 4)).astype("float32")
    w = keras.Variable(w0, name="w2")
    opt = LARS(0.5, momentum=0.9, weight_decay=0.0)
    for _ in range(2):
        opt.apply([np.zeros((3, 4), "float32")], [w])
    assert np.all(np.isfinite(w.numpy()))
    np.testing.assert_allclose(w.numpy(), w0)
    # Both zero: still finite.
    w = keras.Variable(np.zeros((3, 4), "float32"), name="w3")
    LARS(0.5).apply([np.zeros((3, 4), "float32")], [w])
    assert np.all(w.numpy() == 0.0)


def test_lars_respects_keras_exclude_from_weight_decay():
    weights, grads = _random_problem(seed=5)
    variables = {k: keras.Variable(v, name=k) for k, v in weights.items()}
    opt = LARS(0.3, momentum=0.9, weight_decay=0.05, eta=0.02)
    opt.exclude_from_weight_decay(var_list=[variables["head_kernel"]])
    names = list(weights)
    for gr in grads:
        opt.apply([gr[k] for k in names], [variables[k] for k in names])
    want = lars_reference(weights, grads, [0.3] * 3, momentum=0.9, weight_decay=0.05, eta=0.02, nesterov=False,
                          decay={"kernel": True, "bias": False, "head_kernel": False},
                          adapt={"kernel": True, "bias": False, "head_kernel": True})
    _assert_close({k: v.numpy() for k, v in variables.items()}, want)


def test_lars_config_round_trip():
    schedule = WarmupCosineDecay(2.0, 5, 50, alpha=0.01)
    opt = LARS(schedule, momentum=0.8, weight_decay=1e-5, eta=0.002, nesterov=True,
               exclude_from_weight_decay=["bn", "head"], exclude_from_layer_adaptation=["bn"],
               clipnorm=1.0)
    config = opt.get_config()
    assert config["weight_decay"] == 1e-5 and config["eta"] == 0.002 and config["nesterov"] is True
    clone = LARS.from_config(opt.get_config())
    assert clone.get_config() == config
    assert clone.weight_decay is None  # Keras' decoupled decay stays off
    assert isinstance(clone._learning_rate, WarmupCosineDecay)
    # Through Keras' generic (de)serialization, by registered name.
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(restored, LARS) and restored.get_config() == config


def test_lars_validation():
    for kwargs in [{"momentum": 1.0}, {"momentum": -0.1}, {"weight_decay": -1.0}, {"eta": 0.0},
                   {"learning_rate": 0.0}, {"exclude_from_weight_decay": [1]}]:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            LARS(**kwargs)


def _separable_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    y = (x @ np.array([1.5, -2.0], "float32") + 0.3 > 0).astype("float32")[:, None]
    return x, y


@pytest.fixture(scope="module")
def trained_lars_model():
    keras.utils.set_random_seed(0)
    x, y = _separable_data()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=LARS(learning_rate=5.0, momentum=0.9, weight_decay=1e-6, eta=0.01),
                  loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0, shuffle=False)
    return model, history, x, y


def test_lars_trains_dense_model(trained_lars_model):
    model, history, _, _ = trained_lars_model
    loss = history.history["loss"]
    assert all(np.isfinite(loss))
    assert loss[-1] < 0.8 * loss[0]
    assert history.history["accuracy"][-1] > 0.85


def test_lars_compiled_model_keras_file_round_trip(trained_lars_model, tmp_path):
    model, _, x, y = trained_lars_model
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, LARS)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Optimizer state (iterations, momentum slots) survives too.
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) > 0
    saved = {v.path: v.numpy() for v in model.optimizer.variables}
    for v in loaded.optimizer.variables:
        if v.path in saved:
            np.testing.assert_allclose(v.numpy(), saved[v.path])
    loaded.fit(x, y, batch_size=32, epochs=1, verbose=0)  # keeps training


def test_lars_under_mirrored_strategy_matches_single_device(two_replica_strategy):
    """Two CPU replicas (see conftest) give the same weights as one device."""
    x, y = _separable_data(n=32)

    def fit(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4), keras.layers.Dense(1)])
            model.compile(optimizer=LARS(1.0, weight_decay=1e-3, eta=0.01), loss="mse")
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
        return model.get_weights()

    single = fit(tf.distribute.get_strategy())
    mirrored = fit(two_replica_strategy)
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- SGD (coupled L2)


def test_sgd_coupled_weight_decay_matches_pytorch_formula():
    weights, grads = _random_problem(seed=6)
    for momentum, nesterov in [(0.9, False), (0.9, True), (0.0, False)]:
        opt = CoupledDecaySGD(0.1, momentum=momentum, weight_decay=0.05, nesterov=nesterov,
                              exclude_from_weight_decay=["head"])
        got = _run_keras(opt, weights, grads)
        want = torch_sgd_reference(weights, grads, 0.1, momentum=momentum, weight_decay=0.05, nesterov=nesterov,
                                   decay={"kernel": True, "bias": False, "head_kernel": False})
        _assert_close(got, want)
    with pytest.raises(ValueError, match="momentum"):
        CoupledDecaySGD(0.1, momentum=1.5)


def test_sgd_without_decay_equals_keras_sgd_at_constant_lr():
    weights, grads = _random_problem(seed=7)
    ours = _run_keras(CoupledDecaySGD(0.1, momentum=0.9, weight_decay=0.0, nesterov=True), weights, grads)
    theirs = _run_keras(keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), weights, grads)
    _assert_close(ours, theirs)


def test_sgd_exclude_vectors_false_decays_bias():
    weights, grads = _random_problem(seed=8)
    got = _run_keras(CoupledDecaySGD(0.1, momentum=0.9, weight_decay=0.05, exclude_vectors=False), weights, grads)
    want = torch_sgd_reference(weights, grads, 0.1, momentum=0.9, weight_decay=0.05, nesterov=False,
                               decay={"kernel": True, "bias": True, "head_kernel": True})
    _assert_close(got, want)


# ----------------------------------------------------------------- WarmupCosineDecay


def test_warmup_cosine_values():
    s = WarmupCosineDecay(2.0, warmup_steps=10, total_steps=110, alpha=0.1)
    assert float(s(0)) == pytest.approx(0.0)
    assert float(s(5)) == pytest.approx(1.0)
    assert float(s(10)) == pytest.approx(2.0)
    assert float(s(60)) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))  # middle of decay
    assert float(s(35)) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.25))), rel=1e-5)
    assert float(s(110)) == pytest.approx(0.2)
    assert float(s(10_000)) == pytest.approx(0.2)
    # warmup_start
    s = WarmupCosineDecay(1.0, warmup_steps=4, total_steps=8, warmup_start=0.2)
    assert float(s(0)) == pytest.approx(0.2) and float(s(2)) == pytest.approx(0.6)
    # no warmup; no decay phase
    assert float(WarmupCosineDecay(1.0, 0, 10)(0)) == pytest.approx(1.0)
    s = WarmupCosineDecay(1.0, 5, 5, alpha=0.5)
    assert float(s(4)) == pytest.approx(0.8) and float(s(5)) == pytest.approx(0.5)


def test_warmup_cosine_integer_tensors_and_tf_function():
    s = WarmupCosineDecay(2.0, warmup_steps=10, total_steps=110)
    steps = [0, 5, 10, 60, 110, 500]
    expected = [float(s(i)) for i in steps]
    for dtype in ("int32", "int64"):
        assert float(s(keras.ops.convert_to_tensor(5, dtype=dtype))) == pytest.approx(1.0)
    graph = tf.function(lambda step: s(step))
    got = [float(graph(tf.constant(i, tf.int64))) for i in steps]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert s(tf.constant(3)).dtype == tf.float32


def test_warmup_cosine_serialization():
    s = WarmupCosineDecay(1.5, 7, 70, alpha=0.05, warmup_start=0.01, name="sched")
    clone = WarmupCosineDecay.from_config(s.get_config())
    assert clone.get_config() == s.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s))
    assert isinstance(restored, WarmupCosineDecay)
    assert float(restored(30)) == pytest.approx(float(s(30)))


def test_warmup_cosine_validation():
    cases = [((0.0, 1, 10), {}, "base_learning_rate"), ((-1.0, 1, 10), {}, "base_learning_rate"),
             ((1.0, -1, 10), {}, "warmup_steps"), ((1.0, 10, 5), {}, "total_steps"),
             ((1.0, 1, 10), {"alpha": 1.5}, "alpha"), ((1.0, 1.5, 10), {}, "integer")]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            WarmupCosineDecay(*args, **kwargs)
        assert "\n" not in str(info.value)


# ----------------------------------------------------------------- factories


def test_build_optimizer_each_name():
    sgd = build_optimizer("sgd", 0.1, momentum=0.8, weight_decay=1e-4, nesterov=True)
    assert isinstance(sgd, CoupledDecaySGD) and sgd.momentum == 0.8 and sgd.nesterov and sgd.weight_decay_rate == 1e-4
    lars = build_optimizer("LARS", 0.1, weight_decay=1e-6, eta=0.002)
    assert isinstance(lars, LARS) and lars.eta == 0.002 and lars.weight_decay_rate == 1e-6
    rms = build_optimizer(" rmsprop ", 0.01, momentum=0.9, weight_decay=0.0)
    assert isinstance(rms, keras.optimizers.RMSprop) and rms.momentum == 0.9 and rms.weight_decay is None
    assert build_optimizer("rmsprop", 0.01, weight_decay=1e-5).weight_decay == 1e-5
    sched = WarmupCosineDecay(1.0, 1, 10)
    assert isinstance(build_optimizer("lars", sched)._learning_rate, WarmupCosineDecay)
    assert set(OPTIMIZERS) == {"sgd", "lars", "rmsprop"}


def test_build_optimizer_errors():
    with pytest.raises(ValueError, match="sgd, lars, rmsprop"):
        build_optimizer("adam", 0.1)
    for lr in (0.0, -0.1):
        with pytest.raises(ValueError, match="learning_rate"):
            build_optimizer("sgd", lr)
    with pytest.raises(ValueError, match="weight_decay"):
        build_optimizer("lars", 0.1, weight_decay=-1.0)
    with pytest.raises(ValueError, match="nesterov"):
        build_optimizer("rmsprop", 0.1, nesterov=True)


def test_scale_learning_rate():
    assert scale_learning_rate(0.3, 4096) == pytest.approx(4.8)
    assert scale_learning_rate(0.5, 128) == pytest.approx(0.25)
    assert scale_learning_rate(0.075, 4096, rule="sqrt", base_batch=1) == pytest.approx(0.075 * 64)
    assert scale_learning_rate(0.1, 1024, rule="none") == 0.1
    for bad in [dict(base_lr=0.0, batch_size=256), dict(base_lr=0.1, batch_size=0),
                dict(base_lr=0.1, batch_size=256, rule="cubic")]:
        with pytest.raises(ValueError):
            scale_learning_rate(**bad)
