"""Fair per-architecture hyper-parameter search with Optuna (``ensembler tune``).

One study per model entry, the same budget (trials or compute seconds) for each,
objective = macro AUC on a patient-grouped tuning split of the development rows.
"""

from ensembler.tuning.objective import Objective, TuningSplit, make_tuning_split
from ensembler.tuning.results import (
    fairness_table,
    load_best_params,
    trials_frame,
    write_fairness_report,
)
from ensembler.tuning.spaces import (
    get_space,
    list_spaces,
    register_space,
    space_for_entry,
    suggest_member,
    suggest_training,
)
from ensembler.tuning.storage import open_storage, storage_url, study_name
from ensembler.tuning.study import Budget, TuneOutcome, tune_entry

__all__ = [
    "Budget",
    "Objective",
    "TuneOutcome",
    "TuningSplit",
    "fairness_table",
    "get_space",
    "list_spaces",
    "load_best_params",
    "make_tuning_split",
    "open_storage",
    "register_space",
    "space_for_entry",
    "storage_url",
    "study_name",
    "suggest_member",
    "suggest_training",
    "trials_frame",
    "tune_entry",
    "write_fairness_report",
]
