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
