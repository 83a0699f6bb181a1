"""Optimizers and learning-rate schedules for contrastive pre-training.

Supervised Contrastive Learning (Khosla et al., 2020) and SimCLR (Chen et al.,
2020) pre-train with very large batches. They use:

* :class:`LARS`, Layer-wise Adaptive Rate Scaling (You et al., 2017), written after
  SimCLR's ``lars_optimizer.py``: coupled L2 weight decay plus a per-layer trust
  ratio, with biases and batch-norm parameters left out of both;
* :class:`CoupledDecaySGD`, momentum SGD with *coupled* L2 weight decay, as PyTorch's
  ``torch.optim.SGD(weight_decay=...)`` used by the SupCon authors' code;
* :class:`WarmupCosineDecay`, a linear warmup followed by a cosine decay;
* :func:`scale_learning_rate`, the ``lr × batch / 256`` rule;
* :func:`build_optimizer`, which builds any of them by name.

Everything is written with ``keras.ops`` and runs on the TensorFlow and JAX
backends. All classes are registered under the ``"kerascon"`` package, so models
compiled with them save to and load from ``.keras`` files.

Example:

>>> import keras
>>> from kerascon.optimizers import WarmupCosineDecay, build_optimizer, scale_learning_rate
>>> lr = scale_learning_rate(0.5, batch_size=1024)           # 0.5 × 1024 / 256 = 2.0
>>> schedule = WarmupCosineDecay(lr, warmup_steps=500, total_steps=10_000)
>>> optimizer = build_optimizer("lars", schedule, momentum=0.9, weight_decay=1e-6)
"""

from __future__ import annotations

import math
import numbers

import keras
from keras import ops

from kerascon.choices import OPTIMIZERS
from kerascon.errors import ConfigError, StateError

__all__ = [
    "LARS",
    "CoupledDecaySGD",
    "WarmupCosineDecay",
    "build_optimizer",
    "scale_learning_rate",
]


# --------------------------------------------------------------------------- helpers


def _as_patterns(patterns, argname):
    """Normalise ``None`` / a string / an iterable of strings to a tuple of strings."""
    if patterns is None:
        return ()
    if isinstance(patterns, str):
        return (patterns,)
    try:
        out = tuple(patterns)
    except TypeError:
        raise ConfigError(f"`{argname}` must be a list of name substrings, got {patterns!r}.") from None
    if not all(isinstance(p, str) for p in out):
        raise ConfigError(f"`{argname}` must contain only strings, got {patterns!r}.")
    return out


def _variable_names(variable):
    """The names a pattern is matched against: the Keras path and the plain name."""
    names = []
    for attr in ("path", "name"):
        value = getattr(variable, attr, None)
        if value:
            names.append(str(value))
    return names


def _matches_any(variable, patterns):
    """Whether any pattern is a substring of the variable's path or name."""
    names = _variable_names(variable)
    return any(p in n for p in patterns for n in names)


def _is_vector(variable):
    """Rank ≤ 1: biases, batch-norm gamma/beta, scalars."""
    return len(variable.shape) <= 1


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, bool):
        raise ConfigError(f"`learning_rate` must be a positive number or a schedule, got {learning_rate!r}.")
    if isinstance(learning_rate, numbers.Number) and not learning_rate > 0:
        raise ConfigError(f"`learning_rate` must be > 0, got {learning_rate}.")


def _check_momentum(momentum):
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum < 1.0:
        raise ConfigError(f"`momentum` must be a float in [0, 1), got {momentum!r}.")


def _check_weight_decay(weight_decay):
    if weight_decay is None:
        return 0.0
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or weight_decay < 0:
        raise ConfigError(f"`weight_decay` must be a float >= 0, got {weight_decay!r}.")
    return float(weight_decay)


# --------------------------------------------------------------------------- LARS


class _CoupledDecayMomentum(keras.optimizers.Optimizer):
    """Shared by LARS and SGD: momentum slots and a coupled L2 term (``g + wd * w``)
    whose exclusions (rank <= 1 variables, name patterns, Keras' own
    ``exclude_from_weight_decay``) are fixed per variable when the optimizer is built."""

    def __init__(self, learning_rate, momentum, weight_decay, nesterov,
                 exclude_from_weight_decay, exclude_vectors, name, **kwargs):
        _check_learning_rate(learning_rate)
        _check_momentum(momentum)
        weight_decay = _check_weight_decay(weight_decay)
        # Keras' decoupled weight decay stays off: the coupled L2 is added in update_step.
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, weight_decay=None, name=name, **kwargs)
        self.momentum = float(momentum)
        self.weight_decay_rate = weight_decay
        self.nesterov = bool(nesterov)
        self.exclude_vectors = bool(exclude_vectors)
        self.weight_decay_exclusions = _as_patterns(exclude_from_weight_decay, "exclude_from_weight_decay")
        self._scaled_ids = frozenset()
        self._scaled_multiplier = 1.0
        self._frozen_steps = 0

    def scale_learning_rate_of(self, variables, multiplier, *, frozen_steps=0):
        """Train ``variables`` at ``multiplier`` times the learning rate, not at all for the
        first ``frozen_steps`` steps (fine-tuning a pretrained backbone). Call before the
        optimizer is built; :class:`~kerascon.model.SupConModel` does it in ``compile``.

        While frozen, the variables' gradients are dropped (their momentum does not build
        up). The setting is not saved with the optimizer: the model sets it again when it
        is compiled after loading.

        Example:
            >>> import keras
            >>> backbone = keras.layers.Dense(4)
            >>> backbone.build((None, 8))
            >>> optimizer = CoupledDecaySGD(0.1)
            >>> optimizer.scale_learning_rate_of(backbone.trainable_variables, 0.1, frozen_steps=100)
        """
        if self.built:
            raise StateError("scale_learning_rate_of must be called before the optimizer is built "
                             "(before the first training step)")
        multiplier = float(multiplier)
        if not multiplier >= 0 or not math.isfinite(multiplier):
            raise ConfigError(f"the learning-rate multiplier must be a finite number >= 0, got {multiplier}")
        if isinstance(frozen_steps, bool) or int(frozen_steps) != frozen_steps or frozen_steps < 0:
            raise ConfigError(f"frozen_steps must be an integer >= 0, got {frozen_steps!r}")
        self._scaled_ids = frozenset(id(v) for v in variables)
        self._scaled_multiplier = multiplier
        self._frozen_steps = int(frozen_steps)

    def _decays(self, variable):
        """Whether the coupled L2 term applies to ``variable`` (decided at build)."""
        if self.weight_decay_rate == 0.0:
            return False
        if self.exclude_vectors and _is_vector(variable):
            return False
        if _matches_any(variable, self.weight_decay_exclusions):
            return False
        # Honour Keras' own optimizer.exclude_from_weight_decay(var_list, var_names).
        return self._use_weight_decay(variable)

    def build(self, var_list):
        """Creates one momentum slot per variable (if ``momentum > 0``) and fixes the
        weight-decay rule of each variable."""
        if self.built:
            return
        super().build(var_list)
        self.momentums = []
        if self.momentum != 0.0:
            self.momentums = [self.add_variable_from_reference(v, name="momentum") for v in var_list]
        # Python bools, fixed once, read by index in update_step (which on TF gets the
        # underlying tf.Variable, without the Keras path).
        self._decay_flags = tuple(self._decays(v) for v in var_list)
        self._scaled_flags = tuple(id(v) in self._scaled_ids for v in var_list)

    def _learning_rate_scale(self, index, dtype):
        """The multiplier of variable ``index``'s learning rate this step (None: 1)."""
        if not self._scaled_flags[index]:
            return None
        scale = ops.cast(self._scaled_multiplier, dtype)
        if self._frozen_steps:
            frozen = ops.less(self.iterations, self._frozen_steps)
            scale = ops.where(frozen, ops.zeros_like(scale), scale)
        return scale

    def _decayed_gradient(self, gradient, variable):
        """``(index, g + wd * w)``: the gradient with the coupled L2 term where it applies,
        in the variable's dtype."""
        index = self._get_variable_index(variable)
        grad = ops.cast(gradient, variable.dtype)
        if self._decay_flags[index]:
            decay = ops.cast(self.weight_decay_rate, variable.dtype)
            grad = ops.add(grad, ops.multiply(decay, variable))
        return index, grad


@keras.saving.register_keras_serializable(package="kerascon")
class LARS(_CoupledDecayMomentum):
    """Layer-wise Adaptive Rate Scaling (You et al., 2017), as in SimCLR and SupCon.

    A port of SimCLR's ``lars_optimizer.py``. For each variable ``w`` with gradient
    ``g``, learning rate ``lr``, momentum ``m`` and momentum buffer ``v`` (zeros at
    the start)::

        if decay(w):  g = g + weight_decay * w             # coupled L2
        if adapt(w):  trust = eta * ||w|| / ||g||  if ||w|| > 0 and ||g|| > 0 else 1
        else:         trust = 1
        v = m * v + lr * trust * g
        w = w - v                                          # nesterov=False
        w = w - (m * v + lr * trust * g)                   # nesterov=True

    ``||g||`` is the norm of the gradient *after* the weight decay is added, as in
    SimCLR. ``||.||`` is the L2 norm over all entries of the variable (one "layer").

    **Exclusions.** A variable is left out of weight decay (``decay(w)`` is false) if
    it has rank ≤ 1 (biases, batch-norm ``gamma``/``beta``; switch off with
    ``exclude_vectors=False``), or if any string of ``exclude_from_weight_decay`` is
    a substring of its path (e.g. ``"dense/kernel"``) or name, or if it was excluded
    through Keras' ``optimizer.exclude_from_weight_decay(var_list=..., var_names=...)``.
    It is left out of the trust ratio (``adapt(w)`` is false; plain momentum SGD) if
    it has rank ≤ 1 or matches a string of ``exclude_from_layer_adaptation``; when
    that argument is ``None`` it takes the value of ``exclude_from_weight_decay``,
    as in SimCLR.

    **Weight decay.** The decay is the *coupled* L2 term of SimCLR, added to the
    gradient inside :meth:`update_step`. Keras' own decoupled weight decay of the
    base class is not used (it is given ``weight_decay=None``), so the decay is not
    applied twice.

    Args:
        learning_rate: A float or a ``keras.optimizers.schedules.LearningRateSchedule``
            (e.g. :class:`WarmupCosineDecay`). SimCLR uses ``0.3 × batch / 256``
            (``scale_learning_rate(0.3, batch)``).
        momentum: Momentum ``m`` in ``[0, 1)``.
        weight_decay: Coupled L2 coefficient, ``>= 0``.
        eta: Trust coefficient ``> 0``, the ``eeta`` of SimCLR.
        nesterov: Whether to use Nesterov momentum.
        exclude_from_weight_decay: Name substrings of variables to leave out of the
            weight decay, e.g. ``["batch_normalization", "bias"]``.
        exclude_from_layer_adaptation: Name substrings of variables to leave out of
            the trust ratio. ``None``: same as ``exclude_from_weight_decay``.
        exclude_vectors: Leave every variable of rank ≤ 1 out of both (default).
        name: Optimizer name.
        **kwargs: Other arguments of ``keras.optimizers.Optimizer`` (``clipnorm``,
            ``global_clipnorm``, ``use_ema``, ``loss_scale_factor``, ...), except
            ``weight_decay``.

    Example:

    >>> import keras, numpy as np
    >>> from kerascon.optimizers import LARS, WarmupCosineDecay
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> schedule = WarmupCosineDecay(1.2, warmup_steps=10, total_steps=100)
    >>> model.compile(optimizer=LARS(schedule, momentum=0.9, weight_decay=1e-6), loss="mse")
    >>> _ = model.fit(np.ones((16, 8)), np.zeros((16, 4)), epochs=1, verbose=0)
    """

    def __init__(
        self,
        learning_rate=0.1,
        momentum=0.9,
        weight_decay=1e-6,
        eta=0.001,
        nesterov=False,
        exclude_from_weight_decay=None,
        exclude_from_layer_adaptation=None,
        name="lars",
        exclude_vectors=True,
        **kwargs,
    ):
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not eta > 0:
            raise ConfigError(f"`eta` must be a float > 0, got {eta!r}.")
        super().__init__(learning_rate, momentum, weight_decay, nesterov,
                         exclude_from_weight_decay, exclude_vectors, name, **kwargs)
        self.eta = float(eta)
        if exclude_from_layer_adaptation is None:
            self.layer_adaptation_exclusions = self.weight_decay_exclusions
            self._adaptation_follows_decay = True
        else:
            self.layer_adaptation_exclusions = _as_patterns(
                exclude_from_layer_adaptation, "exclude_from_layer_adaptation"
            )
            self._adaptation_follows_decay = False

    # -- per-variable rules ------------------------------------------------------

    def _adapts(self, variable):
        """Whether the trust ratio applies to ``variable`` (decided at build)."""
        if self.exclude_vectors and _is_vector(variable):
            return False
        return not _matches_any(variable, self.layer_adaptation_exclusions)

    def build(self, var_list):
        """Momentum slots and weight-decay rules (base class), plus the trust-ratio rule."""
        if self.built:
            return
        super().build(var_list)
        self._adapt_flags = tuple(self._adapts(v) for v in var_list)

    def update_step(self, gradient, variable, learning_rate):
        """One LARS update of ``variable`` (see the class docstring for the formula)."""
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        index, grad = self._decayed_gradient(gradient, variable)

        if self._adapt_flags[index]:
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            g_norm = ops.sqrt(ops.sum(ops.square(grad)))
            ok = ops.logical_and(ops.greater(w_norm, 0.0), ops.greater(g_norm, 0.0))
            safe_g_norm = ops.where(ok, g_norm, ops.ones_like(g_norm))  # no 0/0 in either branch
            trust_ratio = ops.where(
                ok, ops.cast(self.eta, dtype) * w_norm / safe_g_norm, ops.ones_like(w_norm)
            )
            lr = ops.multiply(lr, trust_ratio)

        scale = self._learning_rate_scale(index, dtype)
        if scale is not None:
            lr = ops.multiply(lr, scale)
        scaled_grad = ops.multiply(lr, grad)
        if self.momentum == 0.0:
            self.assign_sub(variable, scaled_grad)
            return
        momentum = ops.cast(self.momentum, dtype)
        v = self.momentums[index]
        self.assign(v, ops.add(ops.multiply(momentum, v), scaled_grad))
        if self.nesterov:
            self.assign_sub(variable, ops.add(ops.multiply(momentum, v), scaled_grad))
        else:
            self.assign_sub(variable, v)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "weight_decay": self.weight_decay_rate,
                "eta": self.eta,
                "nesterov": self.nesterov,
                "exclude_from_weight_decay": list(self.weight_decay_exclusions),
                "exclude_from_layer_adaptation": (
                    None if self._adaptation_follows_decay else list(self.layer_adaptation_exclusions)
                ),
                "exclude_vectors": self.exclude_vectors,
            }
        )
        return config


# --------------------------------------------------------------------------- SGD


@keras.saving.register_keras_serializable(package="kerascon")
class CoupledDecaySGD(_CoupledDecayMomentum):
    """Momentum SGD with *coupled* L2 weight decay, as PyTorch's ``torch.optim.SGD``.

    The SupCon authors train with ``torch.optim.SGD(lr, momentum, weight_decay)``,
    where the decay is an L2 term added to the gradient, which then goes through the
    momentum buffer. Keras' ``keras.optimizers.SGD(weight_decay=...)`` instead
    shrinks the weights directly (decoupled, "SGDW"), which is not the same. This
    class reproduces PyTorch's rule (dampening 0), with ``v`` zeros at the start::

        if decay(w):  g = g + weight_decay * w
        v = m * v + g
        w = w - lr * v                     # nesterov=False
        w = w - lr * (g + m * v)           # nesterov=True

    As in PyTorch, the learning rate multiplies the buffer rather than entering it,
    so a learning-rate schedule rescales the whole step at once.

    ``decay(w)`` is false for variables of rank ≤ 1 (biases, batch-norm parameters;
    ``exclude_vectors=False`` decays them too, exactly like the reference code, which
    decays every parameter), for variables whose path or name contains a string of
    ``exclude_from_weight_decay``, and for those excluded through Keras'
    ``optimizer.exclude_from_weight_decay(...)``.

    Args:
        learning_rate: A float or a learning-rate schedule.
        momentum: Momentum ``m`` in ``[0, 1)``; ``0`` gives plain SGD.
        weight_decay: Coupled L2 coefficient, ``>= 0``.
        nesterov: Whether to use Nesterov momentum.
        exclude_from_weight_decay: Name substrings of variables not to decay.
        exclude_vectors: Leave variables of rank ≤ 1 out of the decay (default).
        name: Optimizer name.
        **kwargs: Other ``keras.optimizers.Optimizer`` arguments (``clipnorm``, ...).

    Example:

    >>> from kerascon.optimizers import CoupledDecaySGD
    >>> opt = CoupledDecaySGD(learning_rate=0.05, momentum=0.9, weight_decay=1e-4)
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        weight_decay=1e-4,
        nesterov=False,
        exclude_from_weight_decay=None,
        exclude_vectors=True,
        name="sgd",
        **kwargs,
    ):
        super().__init__(learning_rate, momentum, weight_decay, nesterov,
                         exclude_from_weight_decay, exclude_vectors, name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        """One PyTorch-style SGD update of ``variable``."""
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        index, grad = self._decayed_gradient(gradient, variable)
        scale = self._learning_rate_scale(index, dtype)
        if scale is not None:
            lr = ops.multiply(lr, scale)
            grad = ops.multiply(grad, ops.cast(ops.greater(scale, 0), dtype))  # frozen: no momentum
        if self.momentum == 0.0:
            self.assign_sub(variable, ops.multiply(lr, grad))
            return
        momentum = ops.cast(self.momentum, dtype)
        v = self.momentums[index]
        self.assign(v, ops.add(ops.multiply(momentum, v), grad))
        if self.nesterov:
            self.assign_sub(variable, ops.multiply(lr, ops.add(grad, ops.multiply(momentum, v))))
        else:
            self.assign_sub(variable, ops.multiply(lr, v))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "weight_decay": self.weight_decay_rate,
                "nesterov": self.nesterov,
                "exclude_from_weight_decay": list(self.weight_decay_exclusions),
                "exclude_vectors": self.exclude_vectors,
            }
        )
        return config


# --------------------------------------------------------------------------- schedule


@keras.saving.register_keras_serializable(package="kerascon")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup, then cosine decay, then constant.

    With ``b = base_learning_rate``, ``s0 = warmup_start``, ``W = warmup_steps`` and
    ``T = total_steps``::

        step < W:       lr = s0 + (b - s0) * step / W
        W <= step < T:  p = (step - W) / (T - W)
                        lr = b * (alpha + (1 - alpha) * 0.5 * (1 + cos(pi * p)))
        step >= T:      lr = alpha * b

    So ``lr(0) = s0``, ``lr(W) = b`` and ``lr(T) = alpha · b``. With ``W = 0`` there
    is no warmup; with ``T = W`` the rate drops to ``alpha · b`` after the warmup.
    SimCLR warms up over 10 epochs from 0 and decays to 0 (``alpha=0``).

    Args:
        base_learning_rate: Peak learning rate, ``> 0``.
        warmup_steps: Steps of linear warmup, ``>= 0``.
        total_steps: Step at which the decay ends, ``>= warmup_steps``.
        alpha: Final rate as a fraction of the peak, in ``[0, 1]``.
        warmup_start: Rate at step 0, ``>= 0``.
        name: Name of the schedule.

    The step may be a Python int or an integer/float tensor; the schedule uses
    ``keras.ops`` only, so it works eagerly, in ``tf.function`` and under JAX ``jit``.

    Example:

    >>> from kerascon.optimizers import WarmupCosineDecay
    >>> schedule = WarmupCosineDecay(1.0, warmup_steps=10, total_steps=110)
    >>> [round(float(schedule(s)), 3) for s in (0, 5, 10, 60, 110, 200)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        base_learning_rate,
        warmup_steps,
        total_steps,
        alpha=0.0,
        warmup_start=0.0,
        name="warmup_cosine_decay",
    ):
        super().__init__()
        if isinstance(base_learning_rate, bool) or not isinstance(base_learning_rate, numbers.Real):
            raise ConfigError(f"`base_learning_rate` must be a float > 0, got {base_learning_rate!r}.")
        if not base_learning_rate > 0:
            raise ConfigError(f"`base_learning_rate` must be > 0, got {base_learning_rate}.")
        for argname, value in (("warmup_steps", warmup_steps), ("total_steps", total_steps)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ConfigError(f"`{argname}` must be an integer, got {value!r}.")
        if warmup_steps < 0:
            raise ConfigError(f"`warmup_steps` must be >= 0, got {warmup_steps}.")
        if total_steps < warmup_steps:
            raise ConfigError(
                f"`total_steps` must be >= `warmup_steps`, got total_steps={total_steps} < warmup_steps={warmup_steps}."
            )
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"`alpha` must be in [0, 1], got {alpha}.")
        if not 0.0 <= warmup_start:
            raise ConfigError(f"`warmup_start` must be >= 0, got {warmup_start}.")
        self.base_learning_rate = float(base_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.alpha = float(alpha)
        self.warmup_start = float(warmup_start)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base = self.base_learning_rate
        w = float(self.warmup_steps)
        warm = self.warmup_start + (base - self.warmup_start) * step / max(w, 1.0)
        progress = ops.clip((step - w) / max(float(self.total_steps - self.warmup_steps), 1.0), 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = base * (self.alpha + (1.0 - self.alpha) * cosine)
        end = ops.full_like(step, self.alpha * base)
        lr = ops.where(step < w, warm, ops.where(step >= float(self.total_steps), end, decayed))
        return ops.cast(lr, "float32")

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "alpha": self.alpha,
            "warmup_start": self.warmup_start,
            "name": self.name,
        }


# --------------------------------------------------------------------------- factories


def scale_learning_rate(base_lr, batch_size, rule="linear", base_batch=256):
    """Scales a learning rate with the batch size, as SimCLR and SupCon do.

    * ``"linear"``: ``base_lr × batch_size / base_batch`` (SimCLR/SupCon, base 256);
    * ``"sqrt"``: ``base_lr × sqrt(batch_size / base_batch)``; SimCLR's square-root
      rule ``0.075 × sqrt(batch_size)`` is ``scale_learning_rate(0.075, bs, "sqrt", 1)``;
    * ``"none"``: ``base_lr`` unchanged.

    Example:

    >>> from kerascon.optimizers import scale_learning_rate
    >>> scale_learning_rate(0.3, 4096)
    4.8
    """
    if isinstance(base_lr, bool) or not isinstance(base_lr, numbers.Real) or not base_lr > 0:
        raise ConfigError(f"`base_lr` must be a float > 0, got {base_lr!r}.")
    for argname, value in (("batch_size", batch_size), ("base_batch", base_batch)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise ConfigError(f"`{argname}` must be a positive integer, got {value!r}.")
    rule = str(rule).lower()
    if rule == "linear":
        return float(base_lr) * batch_size / base_batch
    if rule == "sqrt":
        return float(base_lr) * math.sqrt(batch_size / base_batch)
    if rule == "none":
        return float(base_lr)
    raise ConfigError(f"Unknown scaling rule {rule!r}; valid rules: 'linear', 'sqrt', 'none'.")


def build_optimizer(name, learning_rate, *, momentum=0.9, weight_decay=1e-4, nesterov=False, **kw):
    """Builds an optimizer by name: ``"sgd"``, ``"lars"`` or ``"rmsprop"``.

    * ``"sgd"``: :class:`CoupledDecaySGD`, momentum SGD with *coupled* L2 weight decay as in
      PyTorch (the SupCon authors' optimizer); rank ≤ 1 variables are not decayed.
    * ``"lars"``: :class:`LARS` with coupled L2 weight decay and trust ratio, as in
      SimCLR. Extra keywords (``eta``, ``exclude_from_weight_decay``, ...) pass on.
    * ``"rmsprop"``: ``keras.optimizers.RMSprop(momentum=momentum)``. Its weight
      decay is Keras' built-in *decoupled* one (``w -= lr · weight_decay · w``
      each step; ``0`` turns it off); ``nesterov`` does not apply and must be False.

    Args:
        name: Optimizer name, case-insensitive.
        learning_rate: A float ``> 0`` or a learning-rate schedule / callable.
        momentum: Momentum coefficient.
        weight_decay: Weight-decay coefficient, ``>= 0`` (see above per optimizer).
        nesterov: Nesterov momentum (``"sgd"`` and ``"lars"``).
        **kw: Further keyword arguments for the optimizer's constructor.

    Returns:
        A ``keras.optimizers.Optimizer``.

    Raises:
        ValueError: for an unknown name or a non-positive learning rate.

    Example:

    >>> from kerascon.optimizers import build_optimizer, WarmupCosineDecay
    >>> opt = build_optimizer("sgd", 0.05, momentum=0.9, weight_decay=1e-4)
    >>> opt = build_optimizer("lars", WarmupCosineDecay(4.8, 500, 10_000), weight_decay=1e-6)
    """
    key = str(name).strip().lower()
    if key not in OPTIMIZERS:
        raise ConfigError(f"Unknown optimizer {name!r}; valid names: {', '.join(OPTIMIZERS)}.")
    _check_learning_rate(learning_rate)
    weight_decay = _check_weight_decay(weight_decay)
    if key == "sgd":
        return CoupledDecaySGD(learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay,
                               nesterov=nesterov, **kw)
    if key == "lars":
        return LARS(learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov, **kw)
    if nesterov:
        raise ConfigError("`nesterov=True` is not supported for 'rmsprop'.")
    return keras.optimizers.RMSprop(
        learning_rate=learning_rate,
        momentum=float(momentum),
        weight_decay=weight_decay or None,
        **kw,
    )


# Files saved before the rename name the class "kerascon>SGD"; they still load.
keras.saving.get_custom_objects().setdefault("kerascon>SGD", CoupledDecaySGD)
