"""The `kerascon` command: wires the command groups, turns known errors into one line.

Each command lives in its own module and stays thin: parse options, call the library,
print. Errors become one line, ``Error: <what went wrong>; <how to fix it>``, on stderr
with exit code 1; usage errors (a missing or malformed option) keep click's exit code 2.
Training stopped by SIGTERM or Ctrl-C checkpoints its step and exits with the shell's
code for the signal (143, 130), also in one line.
``--debug`` or ``KERASCON_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import click

from kerascon.cli.hints import render_error
from kerascon.errors import KerasconError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Errors the library raises on purpose, with a message that names the problem and the fix:
# every KerasconError (ConfigError, ConfigTypeError, DependencyError, StateError, ...), and
# the built-in kinds they extend that other libraries raise for bad input (a missing file).
_EXPECTED = (KerasconError, ValueError, OSError, RuntimeError, KeyError)

EXAMPLES = """\b
Examples:
  kerascon train --data pets/ --arch resnet18 --epochs 100 --output runs/pets
  kerascon train --stage linear --run runs/pets --epochs 30
  kerascon eval --frozen --run runs/pets
  kerascon eval --frozen --run runs/pets --knn --calibration --corruptions --reference runs/ce
  kerascon report runs/pets runs/ce --output report/
  kerascon export --run runs/pets
  kerascon zoo list 'resnet*'
  KERASCON_DEBUG=1 kerascon train ...      (full traceback on errors)
"""


def one_line(error: BaseException) -> str:
    """The line of an exception's message that says what went wrong (hints as flags)."""
    lines = [line.strip() for line in render_error(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if type(error).__module__.startswith("tensorflow") and len(lines) > 1:
        # "Graph execution error:" then the op's traceback; the cause is the last real line.
        cause = [line for line in lines[1:] if not line.startswith(("File ", "[[", "Detected at"))
                 and not line.endswith(":")]
        if cause:
            return f"{type(error).__name__}: {cause[-1]}"
    return lines[0] if isinstance(error, _EXPECTED) else f"{type(error).__name__}: {lines[0]}"


class KerasconGroup(click.Group):
    """A click group that reports expected failures as one actionable line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click prints usage errors itself and exits with 2
        except KeyboardInterrupt:
            # Training says itself what it kept (cli/train.py); elsewhere nothing is half
            # written (every write is atomic), and there is nothing to resume.
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as error:  # noqa: BLE001 - the CLI's single error boundary
            if (ctx.obj or {}).get("debug"):
                raise
            status = getattr(error, "exit_status", None)
            if isinstance(status, int) and status > 128:  # stopped by a signal, checkpointed
                click.echo(f"Interrupted: {one_line(error)}", err=True)
                sys.exit(status)
            message = one_line(error)
            if not isinstance(error, _EXPECTED):
                message += " (unexpected; rerun with --debug or KERASCON_DEBUG=1 for the traceback)"
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)


@click.group(cls=KerasconGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXAMPLES)
@click.option("--debug", is_flag=True, envvar="KERASCON_DEBUG", show_envvar=True,
              help="Show full tracebacks on errors.")
@click.version_option(package_name="kerascon")
@click.pass_context
def main(ctx, debug):
    """Supervised Contrastive Learning with Keras and TensorFlow.

    Train an encoder with the SupCon loss on labelled images (an image folder, a .npz file
    or a TFDS dataset), train a linear classifier on the frozen encoder, evaluate and
    export it. Every command writes into or reads from one run directory.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


_ZOO_EXAMPLES = """\b
Examples:
  kerascon zoo list
  kerascon zoo list 'resnet*'
  kerascon zoo show resnet50
"""


def _register():
    from kerascon.cli.evaluate import evaluate
    from kerascon.cli.export import export
    from kerascon.cli.freeze import freeze
    from kerascon.cli.report import report
    from kerascon.cli.train import train
    from kerascon.cli.zoo import zoo

    if not zoo.epilog:  # cli/zoo.py may define its own
        zoo.epilog = _ZOO_EXAMPLES
    for command in (train, evaluate, freeze, export, report, zoo):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
