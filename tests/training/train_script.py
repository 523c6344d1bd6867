"""Run the toy OOF training in its own process (used by the kill/resume tests).

``locked`` (4th argument, optional): hold the run-directory lock and give the jobs its
token, as ``ensembler train``/``run`` do."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from toydata import make_cohort, make_split, tiny_config

from ensembler.training.runner import member_specs, train_members
from ensembler.utils.runlock import JobGuard, hold_run_lock


def main(run_dir: str, n_jobs: int, epochs: int, locked: bool = False) -> None:
    cohort = make_cohort(n_patients=60)
    split = make_split(cohort, k=3)
    cfg = tiny_config(epochs=epochs, n_jobs=n_jobs, threads_per_job=1,
                      backend="loky" if n_jobs > 1 else "sequential")
    specs = member_specs(cfg, cohort)
    if not locked:
        train_members(cfg, cohort, split, Path(run_dir), specs, verbose=False)
        return
    with hold_run_lock(run_dir) as lock:
        train_members(cfg, cohort, split, Path(run_dir), specs, verbose=False,
                      guard=JobGuard.for_run(Path(run_dir), lock.token))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] == ["locked"])
