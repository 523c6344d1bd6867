"""Where studies live: a local SQLite file under the run directory, or any Optuna RDB URL.

Heartbeats are on for every storage: a worker that dies mid-trial leaves a RUNNING
trial whose heartbeat stops; the next worker to start a trial marks it FAIL and
``RetryHeartbeatStaleTrialCallback`` (Optuna 5's name for ``RetryFailedTrialCallback``)
enqueues it again with the same parameters. Optuna's JournalStorage has no
heartbeat, which is why the local default is SQLite rather than a journal file.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from ensembler.config import RunConfig
from ensembler.errors import ConfigError

DEFAULT_DB = "optuna.db"


def hpo_dir(run_dir: Path) -> Path:
    """``<run_dir>/hpo``: the default store and the fairness report live here."""
    return Path(run_dir) / "hpo"


def storage_url(cfg: RunConfig, run_dir: Path, override: str | None = None) -> str:
    """The storage URL in force: ``override`` (``--storage``), ``tuning.storage``, or the
    default SQLite file ``<run_dir>/hpo/optuna.db``."""
    url = override or cfg.tuning.storage
    if url:
        return url
    return f"sqlite:///{(hpo_dir(run_dir) / DEFAULT_DB).resolve()}"


def default_store_missing(cfg: RunConfig, run_dir: Path, override: str | None = None) -> bool:
    """True when the default local store is in force and has not been created yet."""
    return not (override or cfg.tuning.storage) and not (hpo_dir(run_dir) / DEFAULT_DB).is_file()


def study_name(cfg: RunConfig, entry_name: str, prefix: str | None = None) -> str:
    """``<study_prefix>-<entry name>``: one study per model entry."""
    return f"{prefix or cfg.tuning.study_prefix}-{entry_name}"


def open_storage(cfg: RunConfig, run_dir: Path, override: str | None = None) -> RDBStorage:
    """An RDBStorage with heartbeats and retry of heartbeat-stale trials.

    Raises ConfigError naming the URL when it is not a database URL Optuna can open.
    """
    url = _with_driver(storage_url(cfg, run_dir, override))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    t = cfg.tuning
    last: Exception | None = None
    for attempt in range(4):
        with warnings.catch_warnings():  # heartbeat arguments are "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                return RDBStorage(
                    url,
                    engine_kwargs=None if url.startswith("sqlite") else {"pool_pre_ping": True},
                    heartbeat_interval=t.heartbeat_interval,
                    grace_period=t.grace_period,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=t.max_retry),
                )
            except ImportError as exc:  # no driver for this URL: retrying cannot help
                last = exc
                break
            except Exception as exc:  # sqlalchemy raises many types
                # workers starting together on an empty database race to create the
                # schema; the loser sees a duplicate type/table and succeeds on retry
                last = exc
                time.sleep(0.5 * (attempt + 1))
    raise ConfigError(
        f"tuning.storage: cannot open Optuna storage {_redact(url)!r}: {last}; expected "
        "a database URL such as sqlite:///path/optuna.db or "
        "postgresql://user:password@host:5432/db"
    )


def _with_driver(url: str) -> str:
    """``postgresql://`` with the installed driver: SQLAlchemy 2.1 defaults to psycopg 3;
    when only psycopg2 is installed, name it explicitly."""
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def _redact(url: str) -> str:
    """The URL without its password (for error messages and logs)."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
