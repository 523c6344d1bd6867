"""The run context: config, run directory, and the cohort and split every stage shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.pipeline.stage import Stage
from ensembler.utils.atomic import check_target, write_text


def is_run_dir(folder: Path) -> bool:
    """Whether ``folder`` is a run directory (``config.resolved.yaml``) or holds nothing but
    the run lock: only such a folder is written into by a run."""
    from ensembler.utils.runlock import LOCK_NAME

    return (folder / "config.resolved.yaml").is_file() or \
        all(p.name == LOCK_NAME for p in folder.iterdir())


def check_run_dir(folder: Path) -> None:
    """Refuse (FolderExistsError) a non-empty folder that is not a run directory."""
    check_target(folder, is_run_dir)

if TYPE_CHECKING:
    from ensembler.splits import Split


@dataclass
class RunContext:
    """Lazily loads the cohort (cache) and split once per process."""

    cfg: RunConfig
    run_dir: Path
    progress: bool = True
    lock_token: str | None = None  # token of the run-directory lock this process holds
    _extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, cfg: RunConfig, run_dir: str | Path | None = None,
               progress: bool = True) -> RunContext:
        rd = Path(run_dir) if run_dir else cfg.resolved_run_dir()
        # a non-empty folder without config.resolved.yaml is not a run: never write into it
        check_run_dir(rd)
        rd.mkdir(parents=True, exist_ok=True)
        ctx = cls(cfg=cfg, run_dir=rd, progress=progress)
        ctx.write_resolved_config()
        return ctx

    def say(self, line: str) -> None:
        """A stage's note (why it reruns); silent under ``--quiet``."""
        if self.progress:
            print(line)

    def write_resolved_config(self) -> None:
        import yaml

        text = yaml.safe_dump(self.cfg.model_dump(mode="json"), sort_keys=False)
        path = self.run_dir / "config.resolved.yaml"
        if not path.is_file() or path.read_text() != text:
            write_text(path, text)

    @cached_property
    def cohort(self) -> Cohort:
        from ensembler.data import load_cohort

        return load_cohort(self.cfg, self.run_dir / "cohort", progress=self.progress)

    @cached_property
    def split(self) -> Split:
        """The run's split: the split stage's result (computed once, saved as ``split.json``)."""
        return self.split_stage().execute()

    def split_stage(self) -> Stage[Split]:
        """The split stage: a pure function of the cohort, ``split`` config and seed; a new
        split is checked for duplicate recordings across folds before it is saved."""
        from ensembler.splits import Split, make_split

        path = self.run_dir / "split.json"

        def run() -> tuple[Split, dict[str, Any]]:
            split = make_split(self.cohort, self.cfg.split, self.cfg.seed)
            self.check_duplicates(split.fold)
            split.to_json(path)
            return split, {"fingerprint": split.fingerprint}

        return Stage("split", self.run_dir / "split.stage.json",
                     inputs={"cohort": self.cohort.fingerprint, "split config": self.cfg.split,
                             "seed": self.cfg.seed},
                     run=run, load=lambda _: Split.from_json(path),
                     outputs=[path, self.run_dir / "duplicates.json"], say=self.say)

    def check_duplicates(self, fold: Any) -> list[Any]:
        """Near-identical recordings under different patient ids across folds: written to
        ``duplicates.json``; a warning, or a SplitError with ``split.duplicate_check: refuse``."""
        import warnings

        from ensembler.splits import find_duplicate_recordings
        from ensembler.utils.atomic import write_json

        sc = self.cfg.split
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pairs = find_duplicate_recordings(self.cohort, fold, sc.duplicate_check,
                                              sc.duplicate_corr)
        for w in caught:
            print(f"warning: {w.message}")
        write_json(self.run_dir / "duplicates.json",
                   [{"records": [p.record_i, p.record_j], "patients": [p.patient_i, p.patient_j],
                     "folds": [p.fold_i, p.fold_j]} for p in pairs])
        return pairs
