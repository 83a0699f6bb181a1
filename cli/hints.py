"""Library hints in command-line words: ``Setting("split", None)`` becomes ``--split none``.

The library (:mod:`kerascon.errors`) names the settings and steps that fix an error; this is
the one place that knows which flag and which command each of them is.
"""

from __future__ import annotations

from kerascon.errors import KerasconError, Placeholder, Setting, Step

__all__ = ["cli_words", "render_error"]

#: Settings whose flag is not ``--`` + the name with dashes.
_FLAGS = {"run_dir": "--run", "output_dir": "--output", "config_file": "--config"}
#: The command that performs each library action.
_COMMANDS = {"train": "train", "evaluate": "eval", "report": "report", "freeze": "freeze",
             "export": "export", "list_architectures": "zoo list",
             "list_pretrained": "zoo list --pretrained"}


def _flag(setting: Setting) -> str:
    if setting.name == "data" and setting.value == Placeholder("NAME"):
        return "--dataset"  # the command line's spelling of a TFDS name
    return _FLAGS.get(setting.name, "--" + setting.name.replace("_", "-"))


def _value(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def cli_words(hint) -> str:
    """One hint as the command line writes it.

    Example:
        >>> cli_words(Setting("split", None)), cli_words(Setting("resume", True))
        ('--split none', '--resume')
        >>> cli_words(Step("train", (Setting("stage", "linear"), Setting("run_dir", "r"))))
        'kerascon train --stage linear --run r'
    """
    if isinstance(hint, Setting):
        flag = _flag(hint)
        if not hint.has_value or hint.value is True:
            return flag
        if hint.value is False:
            return f"--no-{flag[2:]}"
        return f"{flag} {_value(hint.value)}"
    if isinstance(hint, Step):
        words = ["kerascon", _COMMANDS.get(hint.action, hint.action)]
        words += [cli_words(setting) for setting in hint.settings]
        return " ".join(words)
    return str(hint)


def render_error(error: BaseException) -> str:
    """The error's message with its hints as flags and commands (others: ``str``)."""
    if isinstance(error, KerasconError):
        return error.render(cli_words)
    return str(error)
