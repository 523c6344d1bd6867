"""Compare two report/metrics.json files field by field, timing fields excepted.

Used to check that a refactor leaves a run's results unchanged: run the quickstart on
the commit before and after, then

    python bench/compare_metrics.py BEFORE/report/metrics.json AFTER/report/metrics.json

Prints every differing field (a dotted path), the number of fields compared and the
timing fields skipped; exit status 1 when any non-timing field differs. Floats are
compared exactly unless ``--rel-tol`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

#: Fields that measure wall-clock time on the machine (latency, seconds), not results.
TIMING = re.compile(r"(^|\.)(latency_ms|latency_share|[a-z0-9_]*_ms|[a-z_]*seconds"
                    r"|ms_per_ecg)(\.|$|\[)")


def flatten(obj: Any, path: str = "") -> dict[str, Any]:
    """Dotted path -> leaf value (list items as ``[i]``)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{path}.{k}" if path else str(k)))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{path}[{i}]"))
        return out if obj else {path: []}
    return {path: obj}


def same(a: Any, b: Any, rel_tol: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b if rel_tol == 0 else math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0)
    return bool(type(a) is type(b) and a == b)


def compare(before: dict[str, Any], after: dict[str, Any], rel_tol: float = 0.0
            ) -> tuple[list[str], int, int]:
    """(differences as lines, fields compared, timing fields skipped)."""
    fa, fb = flatten(before), flatten(after)
    diffs, compared, skipped = [], 0, 0
    for path in sorted(set(fa) | set(fb)):
        if TIMING.search(path):
            skipped += 1
            continue
        compared += 1
        if path not in fa:
            diffs.append(f"{path}: only after ({fb[path]!r})")
        elif path not in fb:
            diffs.append(f"{path}: only before ({fa[path]!r})")
        elif not same(fa[path], fb[path], rel_tol):
            diffs.append(f"{path}: {fa[path]!r} -> {fb[path]!r}")
    return diffs, compared, skipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rel-tol", type=float, default=0.0)
    args = ap.parse_args(argv)
    diffs, compared, skipped = compare(json.loads(args.before.read_text()),
                                       json.loads(args.after.read_text()), args.rel_tol)
    for line in diffs:
        print(line)
    print(f"{compared} fields compared, {skipped} timing fields skipped, "
          f"{len(diffs)} differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
