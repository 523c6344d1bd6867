"""The test-set read ledger: how many times a test set has been read, across runs.

A run's ``test_set_reads`` lists the stages of *that run* that read the test labels. The
ledger remembers reads by *other* runs: an append-only JSON-lines file outside any run
directory, one line per read, identified by the test set's fingerprint (the sorted test
record ids: another task on the same ECGs still reads those ECGs' labels) and by what was
evaluated (the models and stacks, not the report settings). Distinct ``evaluated`` digests
of one fingerprint are distinct reads; re-rendering the same models is not a new read.
Reads the ledger never saw (before it existed, another machine) are declared in
``report.declared_test_reads`` and counted first.

Where it lives: ``report.test_ledger``, else ``$ENSEMBLER_TEST_LEDGER``, else
``$XDG_STATE_HOME/ensembler/test_reads.jsonl`` (``~/.local/state/...``); ``none`` or an
empty value disables it. Hand-written (a few dozen lines): the file is read and appended
under one exclusive ``fcntl`` lock, so two runs at once neither interleave lines nor both
count themselves as the same read; no maintained library keeps such a count.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ensembler.errors import DataError
from ensembler.report.schema import EarlierRead, TestLedger
from ensembler.utils.hashing import fingerprint
from ensembler.utils.jsonclass import SchemaError, from_json_dict, to_json_dict

__all__ = [
    "ENV",
    "LedgerEntry",
    "code_version",
    "fingerprint_test_set",
    "ledger_path",
    "ledger_sentence",
    "read_ledger",
    "record_read",
]

ENV = "ENSEMBLER_TEST_LEDGER"
_OFF = ("", "none")


@dataclass
class LedgerEntry:
    """One line of the ledger: one read of one test set."""

    fingerprint: str  # of the sorted test record ids (fingerprint_test_set)
    n_test: int
    classes: list[str]
    config: str  # the run config's name
    run_dir: str  # absolute
    evaluated: str  # digest of what was evaluated (models and stacks)
    code: str  # "git <commit>" or "ensembler <version>"
    time: str  # UTC, ISO 8601
    what: str
    extra: dict[str, Any] = field(default_factory=dict)  # keys of a newer writer, kept


_REQUIRED = [f for f in LedgerEntry.__dataclass_fields__ if f != "extra"]


def code_version() -> str:
    """``git <commit>`` of the checkout ensembler is imported from, when ``git`` can tell;
    else ``ensembler <version>``."""
    import subprocess

    from ensembler import __version__

    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        out = None
    sha = out.stdout.strip() if out is not None and out.returncode == 0 else ""
    return f"git {sha}" if sha else f"ensembler {__version__}"


def fingerprint_test_set(record_ids: Sequence[Any]) -> str:
    """SHA-256 (16 hex) of the sorted test record ids: the test set's identity."""
    return fingerprint(sorted(str(r) for r in record_ids))


def ledger_path(configured: str | None, environ: Mapping[str, str] | None = None
                ) -> Path | None:
    """The ledger file: ``configured`` (``report.test_ledger``), else ``$ENSEMBLER_TEST_LEDGER``,
    else the user's XDG state folder; None when the chosen value is ``none`` or empty."""
    env = os.environ if environ is None else environ
    value = configured if configured is not None else env.get(ENV)
    if value is None:
        # the XDG base-directory rule by hand (platformdirs is not a dependency)
        state = env.get("XDG_STATE_HOME", "")
        base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
        return base / "ensembler" / "test_reads.jsonl"
    if value.strip().lower() in _OFF:
        return None
    return Path(value).expanduser().absolute()


def _entry(line: str, path: Path, number: int) -> LedgerEntry:
    where = f"{path}, line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg}); expected one test-read "
                        "entry per line (fix or delete the line)") from None
    if not isinstance(data, dict):
        raise DataError(f"{where}: expected a JSON object (one test-read entry per line)")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise DataError(f"{where}: test-read entry lacks {', '.join(missing)} "
                        "(fix or delete the line)")
    try:
        return from_json_dict(LedgerEntry, data, "entry", strict=True)
    except SchemaError as exc:
        raise DataError(f"{where}: {exc}") from None


def _parse(text: str, path: Path) -> list[LedgerEntry]:
    return [_entry(line, path, i) for i, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def read_ledger(path: Path) -> list[LedgerEntry]:
    """Every entry of the ledger file (none when it does not exist); a malformed line
    raises :class:`DataError` naming the file and the line number."""
    return _parse(path.read_text(), path) if path.is_file() else []


def record_read(path: Path | None, entry: LedgerEntry,
                declared: Sequence[Mapping[str, str]] = ()) -> TestLedger:
    """Count this read among the reads of its test set and append it to the ledger unless
    the same models were recorded before (then it is re-reported, not a new read).

    ``declared``: earlier reads the ledger did not record (``when``, ``what``, ``config``),
    counted before every ledger entry. With ``path`` None (disabled) only they are counted.
    """
    if path is None:
        return _block(None, entry, [], declared, new=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes
        fh.seek(0)
        same = [e for e in _parse(fh.read(), path) if e.fingerprint == entry.fingerprint]
        new = all(e.evaluated != entry.evaluated for e in same)
        if new:
            fh.write(json.dumps(to_json_dict(entry), sort_keys=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    return _block(path, entry, same, declared, new)


def _distinct(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """The first entry of each evaluated digest, in ledger order (one per read)."""
    seen: dict[str, LedgerEntry] = {}
    for e in entries:
        seen.setdefault(e.evaluated, e)
    return list(seen.values())


def _block(path: Path | None, entry: LedgerEntry, same: Sequence[LedgerEntry],
           declared: Sequence[Mapping[str, str]], new: bool) -> TestLedger:
    reads = [EarlierRead(source="declared", when=d["when"], config=d["config"],
                         what=d["what"]) for d in declared]
    distinct = _distinct(same)
    reads += [EarlierRead(source="ledger", when=e.time, config=e.config, what=e.what,
                          run_dir=e.run_dir, code=e.code) for e in distinct]
    digests = [None] * len(declared) + [e.evaluated for e in distinct]
    if new:
        index, n_reads = len(reads) + 1, len(reads) + 1
    else:
        index, n_reads = digests.index(entry.evaluated) + 1, len(reads)
    block = TestLedger(path=None if path is None else str(path),
                       fingerprint=entry.fingerprint, n_test=entry.n_test,
                       evaluated=entry.evaluated, read_index=index, new_read=new,
                       n_reads=n_reads, earlier=reads[:index - 1], sentence="")
    block.sentence = ledger_sentence(block)
    return block


def _listed(r: EarlierRead) -> str:
    where = f" at {r.run_dir}" if r.run_dir else ""
    return f"{r.source}: {r.when}, {r.config}{where} — {r.what}"


def ledger_sentence(b: TestLedger) -> str:
    """The report's sentence on this read's place among the reads of its test set."""
    size = f"{b.n_test:,} ECGs"
    if b.path is None:
        head = ("The test-read ledger is disabled (report.test_ledger or $ENSEMBLER_TEST_LEDGER "
                "is none), so reads of "
                f"this test set by other runs are not counted; this is at least read "
                f"{b.read_index} of this test set ({size})")
    elif b.read_index == 1:
        head = f"This is the first read of this test set ({size}) recorded in {b.path}"
    else:
        head = f"This is read {b.read_index} of this test set ({size})"
    if not b.new_read:
        head += (", re-reported, not a new read: these models were read before"
                 f" ({b.n_reads} read(s) of this test set known in all)")
    n = len(b.earlier)
    if n == 0:
        return head + ("; no earlier read is declared." if b.read_index == 1 else ".")
    return (f"{head}: {n} earlier read(s) by other configurations "
            f"({'; '.join(_listed(r) for r in b.earlier)}); its figures are not a first read.")
