"""The ``ensembler`` entry point: cheap to import, and every error is one line on stderr."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from ensembler.cli.main import cli, main
from ensembler.errors import ConfigError

HEAVY = ("torch", "pandas", "sklearn", "optuna", "lightgbm", "scipy", "numpy", "pydantic")


def test_importing_the_cli_and_help_load_no_heavy_library() -> None:
    code = ("import sys\n"
            "from ensembler.cli.main import main\n"
            "for cmd in ([], ['run'], ['predict'], ['export'], ['train'], ['tune'], ['cache']):\n"
            "    sys.argv = ['ensembler', *cmd, '--help']\n"
            "    try:\n"
            "        main()\n"
            "    except SystemExit as e:\n"
            "        assert not e.code, e.code\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stderr.strip().splitlines()[-1] == "[]", res.stderr


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ensembler", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture
def failing() -> Iterator[Callable[[Callable[[], None]], None]]:
    """Register a throw-away ``ensembler fail`` command that calls the given function."""
    import click

    def install(fn: Callable[[], None]) -> None:
        cli.add_command(click.Command("fail", callback=fn))

    yield install
    cli.commands.pop("fail", None)


def _stacking_argument() -> None:
    from stacking.calibration import Calibrator

    Calibrator.fit("bogus", np.zeros((4, 1)), np.zeros((4, 1)))


def _base_models_argument() -> None:
    from base_models import create_model

    create_model("no_such_arch", n_leads=12, n_classes=1)


def _config() -> None:
    raise ConfigError("cfg.yaml: models[0].arch: unknown\narchitecture 'x'")


def _missing_file() -> None:
    Path("/nonexistent/dir/file.csv").read_text()


@pytest.mark.parametrize("fn, words", [
    (_stacking_argument, "bogus"), (_base_models_argument, "no_such_arch"),
    (_config, "models[0].arch"), (_missing_file, "/nonexistent/dir/file.csv"),
])
def test_user_input_errors_are_one_line_and_exit_2(monkeypatch, capsys, failing, fn,  # type: ignore[no-untyped-def]
                                                   words) -> None:
    failing(fn)
    code, err = run_cli(monkeypatch, capsys, "fail")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert "Traceback" not in err


def test_internal_errors_are_one_line_exit_1_and_debug_shows_the_traceback(  # type: ignore[no-untyped-def]
        monkeypatch, capsys, failing) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    failing(boom)
    code, err = run_cli(monkeypatch, capsys, "fail")
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "internal error: RuntimeError: boom (rerun as `ensembler --debug ...` for the traceback)"]
    code, err = run_cli(monkeypatch, capsys, "--debug", "fail")
    assert code == 1 and "Traceback (most recent call last)" in err and "boom" in err
    failing(_config)
    code, err = run_cli(monkeypatch, capsys, "--debug", "fail")
    assert code == 2 and "Traceback" in err and err.strip().endswith("architecture 'x'")


def test_a_missing_config_is_one_line(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, err = run_cli(monkeypatch, capsys, "train", str(tmp_path / "nope.yaml"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nope.yaml" in err


def test_predict_refuses_an_existing_folder_as_out(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "rec.hea").write_text("rec 12 100 250\n")
    code, err = run_cli(monkeypatch, capsys, "predict", str(tmp_path / "no_bundle"),
                        str(tmp_path / "rec"), "--out", str(tmp_path))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"error: Invalid value for --out: {tmp_path} is a folder; give the CSV file to write, "
        f"e.g. {tmp_path / 'preds.csv'} (see `ensembler predict --help`)"]


def test_usage_errors_are_one_line(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    code, err = run_cli(monkeypatch, capsys, "predict")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "BUNDLE" in err
    code, err = run_cli(monkeypatch, capsys, "nosuch")
    assert code == 2 and err.strip() == "error: No such command 'nosuch'. (see `ensembler --help`)"


def test_bare_ensembler_prints_the_help(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["ensembler"])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    assert info.value.code == 0 and "Commands:" in out.out and "predict" in out.out
    assert out.err == ""


def test_inspect_prints_the_test_auc_as_a_sentence() -> None:
    from ensembler.cli.bundle_cmds import test_auc_line

    metrics = {"status": "evaluated", "n_test": 240,
               "stack": {"test_auc": {"point": 0.7351, "lo": 0.6912, "hi": 0.7789}}}
    assert test_auc_line(metrics) == (
        "test AUC (macro): 0.735 (95% CI 0.691-0.779) on 240 held-out ECGs")
    assert test_auc_line({"status": "not evaluated", "reason": "no report/metrics.json"}) == (
        "test AUC: not evaluated (no report/metrics.json)")


def _numpy_values() -> None:
    from ensembler.errors import DataError

    raise DataError(f"m.csv: bad at lines {list(np.flatnonzero([0, 1, 1]) + 2)}, ids "
                    f"{list(np.array(['a', 'b']))}, p {np.float64(0.5)}, {[np.True_]}")


def test_numpy_scalars_never_reach_the_user(monkeypatch, capsys, failing) -> None:  # type: ignore[no-untyped-def]
    failing(_numpy_values)
    code, err = run_cli(monkeypatch, capsys, "fail")
    assert code == 2
    assert err.strip() == "error: m.csv: bad at lines [3, 4], ids ['a', 'b'], p 0.5, [True]"


def test_record_mismatch_messages_show_plain_ids() -> None:
    from ensembler.errors import PredictionsError
    from ensembler.training.runner import _align

    with pytest.raises(PredictionsError) as info:
        _align(np.array(["a", "b"]), np.array(["a", "c"]), "ext.npz", "development")
    assert "['c']" in str(info.value) and "np." not in str(info.value)


def test_distill_before_stacking_is_one_line(monkeypatch, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"name: d\nrun_dir: {tmp_path / 'run'}\nmodels:\n"
                   "  - {name: cnn, arch: cnn1d}\ndistill: {alpha: 0.5}\n")
    code, err = run_cli(monkeypatch, capsys, "distill", str(cfg), "--student", "cnn")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no stacks yet; run `ensembler stack` first" in err
