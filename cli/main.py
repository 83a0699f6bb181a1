"""The `kerascon` command: wires the command groups, turns known errors into one line.

Each command lives in its own module and stays thin: parse options, call the library,
print. Known errors become ``Error: <what> ...`` and exit code 1; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class KerasconGroup(click.Group):
    """A click group that reports expected failures as one actionable line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted: the last finished epoch is checkpointed; rerun with "
                       "--resume to continue.", err=True)
            sys.exit(130)
        except Exception as error:  # noqa: BLE001 - the CLI's single error boundary
            if ctx.obj and ctx.obj.get("debug"):
                raise
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)


@click.group(cls=KerasconGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="kerascon")
@click.pass_context
def main(ctx, debug):
    """Supervised Contrastive Learning with Keras and TensorFlow."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register():
    from kerascon.cli.evaluate import evaluate
    from kerascon.cli.export import export
    from kerascon.cli.freeze import freeze
    from kerascon.cli.train import train
    from kerascon.cli.zoo import zoo

    for command in (train, evaluate, freeze, export, zoo):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
