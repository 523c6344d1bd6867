"""Lead names: case-insensitive mapping to the standard order and limb-lead derivation.

Records that store only the 8 independent leads (I, II, V1-V6, common in hospital
exports) get III, aVR, aVL, aVF derived with Einthoven's and Goldberger's relations:
``III = II - I``, ``aVR = -(I + II) / 2``, ``aVL = I - II / 2``, ``aVF = II - I / 2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ensembler.data.cohort import STANDARD_LEADS

_CANON = {name.lower(): name for name in STANDARD_LEADS}
_DERIVED = ("III", "aVR", "aVL", "aVF")


def canonical_lead(name: str) -> str | None:
    """Standard spelling of ``name`` (``"AVR"`` -> ``"aVR"``), or None if not a standard lead."""
    return _CANON.get(name.strip().lower())


def resolve_leads(leads: Sequence[str] | None) -> list[str]:
    """Validate a configured lead selection and return it in standard spelling.

    ``None`` means the 12 standard leads. Raises ``ValueError`` naming unknown leads.
    """
    if leads is None:
        return list(STANDARD_LEADS)
    out, unknown = [], []
    for name in leads:
        canon = canonical_lead(name)
        (unknown.append(name) if canon is None else out.append(canon))
    if unknown:
        raise ValueError(f"unknown lead name(s) {unknown}; expected some of {list(STANDARD_LEADS)}")
    if len(set(out)) != len(out):
        raise ValueError(f"lead selection repeats a lead: {list(leads)}")
    return out


def map_leads(
    signal: np.ndarray, lead_names: Sequence[str], wanted: Sequence[str]
) -> np.ndarray:
    """Reorder (and derive where needed) the leads of one record.

    Parameters
    ----------
    signal : ndarray of shape (samples, n_in)
    lead_names : names of the ``n_in`` columns, any case (``"AVR"`` is ``aVR``)
    wanted : standard lead names (already canonical) in output order

    Returns
    -------
    ndarray of shape (samples, len(wanted)), same dtype as ``signal``

    Raises
    ------
    ValueError
        If a wanted lead is absent and cannot be derived (derivation needs I and II);
        the message lists what the record has.
    """
    index: dict[str, int] = {}
    for i, name in enumerate(lead_names):
        canon = canonical_lead(name)
        if canon is not None and canon not in index:
            index[canon] = i
    missing = [w for w in wanted if w not in index]
    if missing and not (set(missing) <= set(_DERIVED) and {"I", "II"} <= index.keys()):
        raise ValueError(
            f"has leads {[str(n) for n in lead_names]}; cannot provide {missing} "
            "(need them stored, or I and II to derive III/aVR/aVL/aVF)"
        )
    cols = []
    for w in wanted:
        if w in index:
            cols.append(signal[:, index[w]])
            continue
        lead_i, lead_ii = signal[:, index["I"]], signal[:, index["II"]]
        derived = {
            "III": lead_ii - lead_i,
            "aVR": -(lead_i + lead_ii) / 2,
            "aVL": lead_i - lead_ii / 2,
            "aVF": lead_ii - lead_i / 2,
        }[w]
        cols.append(derived)
    return np.stack(cols, axis=1) if cols else signal[:, :0]
