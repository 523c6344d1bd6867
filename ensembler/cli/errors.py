"""How the CLI reports an exception: one line on stderr and an exit code, never a traceback
(unless ``--debug``).

User-input errors exit with code 2: every ``EnsemblerError`` (config, data, bundle,
predictions, stage), every ``base_models`` error (unknown architecture, bad
hyper-parameter), a ``ValueError``/``TypeError`` raised inside the ``stacking`` package
(it never imports ensembler, so its argument errors are plain builtins) and a file-system
error naming a path. Anything else is a bug of ours: one line, exit code 1, and the
hint to rerun with ``--debug``.
"""

from __future__ import annotations

import re
import traceback

import click

USER_ERROR = 2
INTERNAL_ERROR = 1
_USER_PACKAGES = ("stacking",)  # standalone packages whose ValueErrors are argument errors
_PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
                PermissionError)


def _defined_in(exc: BaseException, module: str) -> bool:
    return any(c.__module__ == module or c.__module__.startswith(module + ".")
               for c in type(exc).__mro__)


def _raised_in(exc: BaseException, packages: tuple[str, ...]) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame
        tb = tb.tb_next
    name = str(last.f_globals.get("__name__", "")) if last is not None else ""
    return any(name == p or name.startswith(p + ".") for p in packages)


def is_user_error(exc: BaseException) -> bool:
    """True when ``exc`` describes bad input (config, data, bundle, arguments)."""
    if _defined_in(exc, "ensembler.errors") or _defined_in(exc, "base_models.errors"):
        return True
    if isinstance(exc, _PATH_ERRORS) and exc.filename is not None:
        return True
    return isinstance(exc, ValueError | TypeError) and _raised_in(exc, _USER_PACKAGES)


def one_line(exc: BaseException) -> str:
    """The exception's message on a single line."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return _flatten(str(exc).strip() or type(exc).__name__)


# numpy 2 scalar reprs (np.int64(3), np.str_('a'), np.float64(0.5)) -> their plain value.
# Messages are built from plain values at the source; this is the last line of defence.
_NUMPY_SCALAR = re.compile(r"\bnp\.(?:u?int\d*|float\d*|bool_?|str_|bytes_|complex\d*)"
                           r"\(((?:[^()]|\([^()]*\))*)\)")


def _flatten(text: str) -> str:
    text = _NUMPY_SCALAR.sub(r"\1", text).replace("np.True_", "True").replace("np.False_", "False")
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def report_error(exc: BaseException, debug: bool) -> int:
    """Print ``exc`` for the user and return the exit code."""
    if debug:
        click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    if is_user_error(exc):
        click.echo(f"error: {one_line(exc)}", err=True)
        return USER_ERROR
    hint = "" if debug else " (rerun as `ensembler --debug ...` for the traceback)"
    click.echo(f"internal error: {type(exc).__name__}: {one_line(exc)}{hint}", err=True)
    return INTERNAL_ERROR


def report_click_error(exc: click.ClickException) -> int:
    """A bad command line: one line naming the option, plus where to find the usage."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `ensembler`: the help, as asked
        click.echo(exc.format_message())
        return 0
    hint = ""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        hint = f" (see `{exc.ctx.command_path} --help`)"
    click.echo(f"error: {_flatten(exc.format_message())}{hint}", err=True)
    return exc.exit_code
