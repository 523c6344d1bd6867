"""The ``ensembler`` command."""

from __future__ import annotations

import sys

import click

from ensembler import __version__
from ensembler.errors import EnsemblerError


@click.group()
@click.version_option(__version__, prog_name="ensembler")
def cli() -> None:
    """Build, compare and ship stacked ensembles of deep ECG classifiers."""


# --- command registration (one line per command module) ---
from ensembler.cli.train_cmd import train_cmd  # noqa: E402

cli.add_command(train_cmd)
from ensembler.cli.stack_cmd import stack_cmd  # noqa: E402

cli.add_command(stack_cmd)
from ensembler.cli.compare_cmd import compare_cmd  # noqa: E402

cli.add_command(compare_cmd)
from ensembler.cli.run_cmd import run_cmd  # noqa: E402

cli.add_command(run_cmd)
from ensembler.cli.tune_cmd import tune_cmd  # noqa: E402

cli.add_command(tune_cmd)


def main() -> None:
    """Entry point: known errors become one clear line on stderr and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EnsemblerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


import ensembler.cli.bundle_cmds  # noqa: E402  (registers export, verify, inspect, predict, evaluate)
import ensembler.cli.data_cmds  # noqa: E402, F401  (registers synth, cache, split on cli)
