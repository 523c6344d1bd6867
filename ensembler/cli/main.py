"""The ``ensembler`` command.

Importing this module must stay cheap (``ensembler --help`` under a second): the
command modules import click and the config package only; torch, pandas,
scikit-learn and the pipeline are imported inside the commands that use them.
"""

from __future__ import annotations

import sys

import click

from ensembler import __version__
from ensembler.cli.errors import report_click_error, report_error
from ensembler.utils.threads import disable_spinning


@click.group()
@click.version_option(__version__, prog_name="ensembler")
@click.option("--debug", is_flag=True,
              help="Show the Python traceback of an error instead of the one-line message.")
def cli(debug: bool) -> None:
    """Build, compare and ship stacked ensembles of deep ECG classifiers."""


# --- command registration (one line per command module) ---
from ensembler.cli.train_cmd import train_cmd  # noqa: E402

cli.add_command(train_cmd)
from ensembler.cli.distill_cmd import distill_cmd  # noqa: E402
from ensembler.cli.stack_cmd import stack_cmd  # noqa: E402

cli.add_command(stack_cmd)
cli.add_command(distill_cmd)
from ensembler.cli.compare_cmd import compare_cmd  # noqa: E402

cli.add_command(compare_cmd)
from ensembler.cli.run_cmd import run_cmd  # noqa: E402

cli.add_command(run_cmd)
from ensembler.cli.tune_cmd import tune_cmd  # noqa: E402

cli.add_command(tune_cmd)
from ensembler.cli.evidence_cmd import evidence_cmd  # noqa: E402

cli.add_command(evidence_cmd)


def main(argv: list[str] | None = None) -> None:
    """Entry point: a user-input error becomes one line on stderr and exit code 2; any other
    error one line and exit code 1; ``--debug`` (before the command) shows the traceback."""
    disable_spinning()  # before any command imports torch
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args[: _first_command(args)]
    try:
        cli.main(args=args, prog_name="ensembler", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        sys.exit(report_click_error(exc))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # every error ends as one line (or a traceback with --debug)
        sys.exit(report_error(exc, debug))


def _first_command(args: list[str]) -> int:
    """Index of the first argument that is not a group option (the subcommand)."""
    for i, a in enumerate(args):
        if not a.startswith("-"):
            return i
    return len(args)


import ensembler.cli.bundle_cmds  # noqa: E402  (registers export, verify, inspect, predict, evaluate)
import ensembler.cli.data_cmds  # noqa: E402  (registers synth, cache, split on cli)
import ensembler.cli.explain_cmd  # noqa: E402, F401  (registers explain on cli)
