"""The run context: config, run directory, and the cohort and split every stage shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ensembler.config import RunConfig
from ensembler.data.cohort import Cohort
from ensembler.utils.atomic import write_text


@dataclass
class RunContext:
    """Lazily loads the cohort (cache) and split once per process."""

    cfg: RunConfig
    run_dir: Path
    progress: bool = True
    _extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, cfg: RunConfig, run_dir: str | Path | None = None,
               progress: bool = True) -> RunContext:
        rd = Path(run_dir) if run_dir else cfg.resolved_run_dir()
        rd.mkdir(parents=True, exist_ok=True)
        ctx = cls(cfg=cfg, run_dir=rd, progress=progress)
        ctx.write_resolved_config()
        return ctx

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
    def split(self) -> Any:
        """The run's split, recomputed (a pure function) and saved as ``split.json``."""
        from ensembler.splits import make_split

        split = make_split(self.cohort, self.cfg.split, self.cfg.seed)
        path = self.run_dir / "split.json"
        if path.is_file():
            from ensembler.splits import Split

            old = Split.from_json(path)
            if old.fingerprint == split.fingerprint:
                return old
        split.to_json(path)
        return split
