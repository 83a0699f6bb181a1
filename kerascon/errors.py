"""Errors that say what went wrong and how to fix it, in one line, for any front end.

A library error names the problem and a fix. The fix refers to settings (the arguments
and :class:`~kerascon.runs.config.TrainConfig` fields a user changes) and to steps (run a
training stage, evaluate a run) as structured *hints*, not as words of one front end: the
message a Python user reads says ``split=None``; the command line renders the same hint as
its own option (:mod:`kerascon.cli.hints`). So nothing below the command line speaks of
flags or commands.

Example:
    >>> error = ConfigError("temperature must be > 0, got 0; set {0}", Setting("temperature", 0.1))
    >>> str(error)
    'temperature must be > 0, got 0; set temperature=0.1'
    >>> error.render(lambda hint: f"<{hint.name}>")
    'temperature must be > 0, got 0; set <temperature>'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

__all__ = [
    "ConfigError",
    "ConfigTypeError",
    "DataError",
    "DataNotFoundError",
    "DataUnavailableError",
    "DependencyError",
    "KerasconError",
    "PathNotFoundError",
    "Placeholder",
    "RunError",
    "Setting",
    "StateError",
    "Step",
    "UnknownArchitectureError",
    "python_words",
]

_SWITCH = object()  # a setting named without a value: `data`, not `data=...`


class Placeholder(str):
    """A value the user fills in (``PATH``, ``DIR``, ``RUN``): shown as it is, unquoted."""


@dataclass(frozen=True)
class Setting:
    """A setting to change: ``Setting("split", None)``, ``Setting("resume", True)``.

    ``value`` left out names the setting alone (``Setting("data")``).
    """

    name: str
    value: object = _SWITCH

    @property
    def has_value(self) -> bool:
        return self.value is not _SWITCH


@dataclass(frozen=True)
class Step:
    """A step to take first: an action (``"train"``, ``"evaluate"``, ``"report"``,
    ``"freeze"``, ``"export"``, or a look-up: ``"list_architectures"``,
    ``"list_pretrained"``) with the settings it needs.

    Example:
        >>> python_words(Step("train", (Setting("stage", "linear"), Setting("run_dir", "runs/a"))))
        "run_stage(stage='linear', run_dir='runs/a')"
    """

    action: str
    settings: tuple = field(default_factory=tuple)


#: The library function that performs each action, for Python users.
ACTION_FUNCTIONS = {
    "train": "run_stage",
    "evaluate": "run_evaluation",
    "report": "write_report",
    "freeze": "export_keras",
    "export": "export_saved_model",
    "list_architectures": "kerascon.encoders.list_architectures",
    "list_pretrained": "kerascon.zoo.list_pretrained",
}


def _python_value(value) -> str:
    return str(value) if isinstance(value, Placeholder) else repr(value)


def python_words(hint) -> str:
    """A hint in a Python user's words: ``split=None``, ``run_stage(stage='linear')``."""
    if isinstance(hint, Setting):
        return f"{hint.name}={_python_value(hint.value)}" if hint.has_value else hint.name
    if isinstance(hint, Step):
        arguments = ", ".join(python_words(setting) for setting in hint.settings)
        return f"{ACTION_FUNCTIONS.get(hint.action, hint.action)}({arguments})"
    return str(hint)


def _edit_distance(a: str, b: str) -> int:
    """Edits from ``a`` to ``b``: insert, delete, replace, or swap two neighbours (one edit)."""
    previous2, previous = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def closest_names(name, known, n: int = 3, cutoff: float = 0.6) -> list:
    """The ``known`` names that ``name`` was probably meant to be (at most ``n``).

    Among difflib's close matches, those at the smallest edit distance (a swap of two
    neighbouring characters counts as one edit), so a transposition such as ``resnet05``
    finds ``resnet50`` rather than ``resnet56``, and a name equally close to two (``resnet51``)
    names both.

    Example:
        >>> closest_names("resnet05", ["resnet18", "resnet50", "resnet56"])
        ['resnet50']
        >>> closest_names("resnet51", ["resnet18", "resnet50", "resnet56"])
        ['resnet50', 'resnet56']
    """
    import difflib

    from kerascon._utils.natural_order import natural_key

    name = str(name)
    matches = difflib.get_close_matches(name, [str(k) for k in known], n=max(2 * n, 6),
                                        cutoff=cutoff)
    if not matches:
        return []
    distances = {match: _edit_distance(name, match) for match in matches}
    best = min(distances.values())
    return sorted((m for m in matches if distances[m] == best), key=natural_key)[:n]


def did_you_mean(names) -> str:
    """``"did you mean 'a'?"`` or ``"did you mean 'a' or 'b'?"`` ("" for no names)."""
    return ("did you mean " + " or ".join(repr(n) for n in names) + "?") if names else ""


class KerasconError(Exception):
    """Base of kerascon's errors on bad input: ``"problem; fix"`` with structured hints.

    Args:
        template: the message, with ``{0}``, ``{1}``... where the hints go (other braces
            are left as they are; no ``str.format`` escaping needed).
        *hints: :class:`Setting` and :class:`Step` objects (or plain strings).

    Example:
        >>> raise RunError("run {0} has no model.keras; train its first stage: {1}",
        ...                Placeholder("runs/a"), Step("train", (Setting("output_dir", "runs/a"),)))
        Traceback (most recent call last):
        ...
        kerascon.errors.RunError: run runs/a has no model.keras; train its first stage: run_stage(output_dir='runs/a')
    """

    # Raised while TensorFlow traces a function (a Keras train step), an exception whose
    # class AutoGraph does not know comes out as AutoGraph's StagingError, which is no
    # ValueError and holds a traceback dump. With this attribute AutoGraph lets it pass
    # unchanged (TensorFlow's own UnliftableError does the same).
    ag_pass_through = True

    def __init__(self, template: str, *hints):
        self.template = template
        self.hints = hints
        super().__init__(self.render(python_words))

    def render(self, words: Callable[[object], str]) -> str:
        """The message with every hint written by ``words`` (one front end's wording)."""
        # Only {0}, {1}... are hint slots: other braces in the text (a user's value) stay.
        return re.sub(r"\{(\d+)\}", lambda match: words(self.hints[int(match.group(1))]),
                      self.template) if self.hints else self.template

    def __reduce__(self):
        return (type(self), (self.template, *self.hints))


class ConfigError(KerasconError, ValueError):
    """A configuration value or key, or an argument's value, is invalid."""


class ConfigTypeError(KerasconError, TypeError):
    """An argument of the wrong type: a string where a Keras model is needed, a float seed..."""


class DataError(KerasconError, ValueError):
    """Data cannot be used as given: an empty folder, a corrupt image, one class..."""


class DataNotFoundError(KerasconError, FileNotFoundError):
    """A data path does not exist."""


class DataUnavailableError(KerasconError, RuntimeError):
    """A dataset exists by name but cannot be had here: not prepared and not downloadable."""


class PathNotFoundError(KerasconError, FileNotFoundError):
    """A file the user named that is not data (a weights file, a checkpoint) does not exist."""


class DependencyError(KerasconError, ImportError):
    """An optional package is missing (keras-hub, torch, matplotlib), or a Keras backend
    kerascon does not support is selected; the message says what to install or set."""


class StateError(KerasconError, RuntimeError):
    """Something is called in the wrong order or on an object in the wrong state: a model
    trained after changing its stage without compiling again, an optimizer changed after
    it was built."""


class RunError(KerasconError, RuntimeError):
    """A run directory is missing, incomplete or would be overwritten."""


class UnknownArchitectureError(KerasconError, ValueError):
    """An architecture name that is not registered (:mod:`kerascon.encoders.registry`).

    Defined here, not in the registry, so that names can be checked without importing
    Keras (:mod:`kerascon.zoo.catalogue`).
    """

    @classmethod
    def for_name(cls, name, known) -> "UnknownArchitectureError":
        """The error for ``name``, with the closest of the ``known`` names if one is close.

        Example:
            >>> str(UnknownArchitectureError.for_name("resnet81", ["resnet18", "resnet50"]))
            "unknown architecture 'resnet81'; did you mean 'resnet18'? see kerascon.encoders.list_architectures()"
        """
        close = closest_names(name, known)
        listing = Step("list_architectures")
        if close:
            return cls(f"unknown architecture {name!r}; {did_you_mean(close)} see {{0}}", listing)
        return cls(f"unknown architecture {name!r}; see {{0}} for the available names", listing)
