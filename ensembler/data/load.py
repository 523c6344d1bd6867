"""``load_cohort``: config in, cached preprocessed Cohort out."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ensembler.config import RunConfig, SyntheticConfig
from ensembler.data.cache import build_cache, open_cache
from ensembler.data.cohort import Cohort
from ensembler.data.manifest import read_manifest
from ensembler.data.ptbxl import load_ptbxl_table
from ensembler.data.synth.condition import class_names
from ensembler.data.synth.writer import (
    MANIFEST,
    manifest_config,
    synthetic_key,
    write_synthetic,
)
from ensembler.data.table import RecordTable
from ensembler.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def synthetic_seed(cfg: RunConfig) -> int:
    """The synthetic cohort's seed: ``data.synthetic.seed``, else the run seed."""
    syn = cfg.data.synthetic
    return cfg.seed if syn.seed is None else syn.seed


def ensure_synthetic(syn: SyntheticConfig, seed: int, cache_root: Path) -> Path:
    """Synthesise under ``cache_root/synthetic/<key>/`` unless already there; return the folder."""
    folder = Path(cache_root) / "synthetic" / synthetic_key(syn, seed)
    if not (folder / MANIFEST).is_file():
        try:
            write_synthetic(syn, seed, folder)
        except DataError:
            if not (folder / MANIFEST).is_file():  # not a concurrent build: real error
                raise
    return folder


def _synthetic_table(cfg: RunConfig, cache_root: Path) -> RecordTable:
    syn = cfg.data.synthetic
    folder = ensure_synthetic(syn, synthetic_seed(cfg), cache_root)
    names = class_names(syn)
    table = read_manifest(manifest_config(folder, names), source="synthetic",
                          expected_fs=syn.fs)
    oracle = pd.read_csv(folder / MANIFEST, usecols=[f"oracle:{n}" for n in names])
    table.oracle_risk = oracle.to_numpy(np.float64)
    table.subgroups = table.subgroups.rename(columns={"sex_group": "sex"})
    table.info["synthetic_dir"] = str(folder)
    return table


def source_table(cfg: RunConfig, cache_root: Path) -> RecordTable:
    """Resolve the configured source into a RecordTable (labels, metadata, record paths)."""
    data = cfg.data
    spec = data.preprocessing
    if data.source == "synthetic":
        return _synthetic_table(cfg, cache_root)
    if data.source == "ptbxl":
        table = load_ptbxl_table(data.ptbxl, spec)
        if spec.source_fs is not None and table.expected_fs != spec.source_fs:
            raise ConfigError(f"data.preprocessing.source_fs: {spec.source_fs:g} Hz declared, "
                              f"but PTB-XL {table.info['records_folder']} is "
                              f"{table.expected_fs:g} Hz")
        return table
    if data.manifest is None:
        raise ConfigError("data.manifest: required when data.source is 'wfdb'")
    return read_manifest(data.manifest, source="wfdb", expected_fs=spec.source_fs)


def load_cohort(cfg: RunConfig, cache_root: Path, progress: bool = True) -> Cohort:
    """Load the configured cohort through the preprocessed cache.

    For ``data.source == "synthetic"`` the WFDB records and manifest are first
    synthesised under ``cache_root/synthetic/<hash of synthetic config + seed>/``
    (skipped when present); they are then read like any manifest source. For
    ``"ptbxl"`` the folder is ``data.ptbxl.path`` or ``$ENSEMBLER_PTBXL_DIR``.

    Records are read in parallel (``preprocessing.n_jobs``), checked, preprocessed
    (lead mapping/derivation, ``resample_poly``, optional band-pass, crop/pad) and
    cached under ``cache_root/<fingerprint>/``; a second call with the same inputs
    and preprocessing config opens that cache without reading any record.

    Returns
    -------
    Cohort
        ``signals`` is a read-only memmap (N, leads, samples); synthetic cohorts
        carry ``oracle_risk`` (N, C) and their ``info.json`` the oracle AUC on dev
        and test.

    Raises
    ------
    ConfigError
        PTB-XL folder not configured or not a PTB-XL layout.
    DataError, BadRecordError
        Bad manifest or records (``on_bad_record: error``), or every record bad.
    """
    cache_root = Path(cache_root)
    table = source_table(cfg, cache_root)
    spec = cfg.data.preprocessing
    fp = table.fingerprint(spec.model_dump(mode="json", exclude={"n_jobs"}))
    cache_dir = cache_root / fp
    if not (cache_dir / "info.json").is_file():
        log.info("building cache %s (%d records)", cache_dir, len(table))
        build_cache(table, spec, cache_dir, progress=progress)
    return open_cache(cache_dir)


def cache_dir_of(cfg: RunConfig, cache_root: Path) -> Path:
    """Where ``load_cohort`` keeps (or would keep) the cache of ``cfg``."""
    table = source_table(cfg, cache_root)
    spec = cfg.data.preprocessing
    return Path(cache_root) / table.fingerprint(spec.model_dump(mode="json", exclude={"n_jobs"}))
