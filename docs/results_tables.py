"""Render docs/templates/results.md with numbers read from bench/results/*.json.

Hand-written because it is a page-specific renderer: each benchmark JSON has its own
layout. Readers tolerate missing keys (the cell shows "n/a") and a ``contended`` flag
anywhere on the path to a number (the cell gets a "(contended)" marker), so a
benchmark that adds fields or re-measures under load does not break the docs build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
_PLACEHOLDER = re.compile(r"\{\{([\w.]+)\}\}")
CONTENDED = " (contended)"


def load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def get(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]…``, or None when any step is missing."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def contended(data: Any, *path: str) -> bool:
    """True when ``contended`` is truthy on ``data`` or any dict along ``path``."""
    for key in (None, *path):
        if key is not None:
            data = data.get(key) if isinstance(data, dict) else None
        if isinstance(data, dict) and data.get("contended"):
            return True
    return False


def num(value: Any, fmt: str) -> str:
    return "n/a" if not isinstance(value, (int, float)) else format(value, fmt)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _signed(v: Any, fmt: str = "+.3f") -> str:
    return num(v, fmt).replace("-", "−")


def _ci(d: Any) -> str:
    if not isinstance(d, dict):
        return "—"
    point = d.get("point", d.get("delta"))
    fmt = "+.3f" if "delta" in d else ".3f"
    text = f"{num(point, fmt)} [{num(d.get('lo'), fmt)}, {num(d.get('hi'), fmt)}]"
    return text.replace("-", "−")


# ---- PTB-XL run summaries (bench/bench_ptbxl.py) -------------------------------------

def ptbxl_context(prefix: str, data: dict[str, Any]) -> dict[str, str]:
    mark = CONTENDED if contended(data) else ""
    return {
        f"{prefix}.data": (f"{data.get('n_dev', 'n/a')} development ECGs in "
                           f"{data.get('n_folds', 'n/a')} patient-grouped folds; "
                           f"{data.get('n_test', 'n/a')} test ECGs."),
        f"{prefix}.classes": ", ".join(data.get("classes", [])) or "n/a",
        f"{prefix}.stages": _stages(data.get("stage_seconds") or {}) + mark,
        f"{prefix}.members": _members(data.get("members") or {}),
        f"{prefix}.leaderboard": _leaderboard(data.get("leaderboard") or []),
        f"{prefix}.primary": _primary(data.get("primary") or {}),
        f"{prefix}.study": _study(data.get("stack_study") or {}),
        f"{prefix}.parity": _parity(data.get("bundle_parity") or {}),
    }


def _stages(stages: dict[str, Any]) -> str:
    parts = [f"{name} {num(s, ',.0f')}" for name, s in stages.items()]
    total = sum(s for s in stages.values() if isinstance(s, (int, float)))
    return ", ".join(parts) + f" (sum {num(total / 60, '.0f')} min)" if parts else "n/a"


def _members(members: dict[str, Any]) -> str:
    order = sorted(members, key=lambda m: -(get(members, m, "oof_macro_auc") or 0.0))
    rows = [[m, num(get(members, m, "oof_macro_auc"), ".3f"),
             num(get(members, m, "test_macro_auc"), ".3f"),
             num(get(members, m, "train_seconds"), ",.0f"),
             num(get(members, m, "n_params"), ",d")] for m in order]
    return table(["member", "OOF AUC (development)", "test AUC", "train s (all folds)",
                  "parameters (one model)"], rows)


def _leaderboard(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        delta = r.get("delta_vs_best_single")
        p = get(delta, "p_value")
        out.append([r.get("name", "n/a"), str(r.get("kind", "n/a")).replace("_", " "),
                    _ci(r.get("test_auc")), _ci(delta), num(p, ".3f") if p is not None else "",
                    num(r.get("dev_oof_auc"), ".3f"),
                    num(get(r, "latency_ms", "1", "p50_ms"), ".1f"), str(r.get("n_members", ""))])
    return table(["model", "kind", "test AUC [95% CI]", "Δ vs best_single [CI]", "p",
                  "dev AUC", "ms/ECG", "members"], out)


def _primary(p: dict[str, Any]) -> str:
    if not p:
        return "n/a"
    lo, hi = p.get("lo"), p.get("hi")
    verdict = ""
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        verdict = ("; the CI includes 0, so the stack is **not shown to beat** the best single "
                   "model" if lo <= 0 <= hi else "; the CI excludes 0")
    delta, lo_s, hi_s = (_signed(v, "+.4f") for v in (p.get("delta"), lo, hi))
    return (f"{p.get('a', '?')} − {p.get('b', '?')} = {delta}, 95% CI [{lo_s}, {hi_s}], "
            f"p = {num(p.get('p_value'), '.2f')}{verdict}")


def _study(s: dict[str, Any]) -> str:
    return (f"optimistic inner best {num(s.get('inner_best_cv_auc'), '.3f')}; nested-CV "
            f"estimate {num(get(s, 'nested', 'mean'), '.3f')} ± "
            f"{num(get(s, 'nested', 'sd'), '.3f')}")


def _parity(p: dict[str, Any]) -> str:
    return (f"max |Δ| = {num(p.get('max_abs_diff'), '.1e')} on {p.get('n_records', 'n/a')} "
            f"records (tolerance {num(p.get('tolerance'), '.0e')})")


# ---- throughput table (the quick benchmarks) ----------------------------------------

def _row(what: str, data: dict[str, Any], path: tuple[str, ...],
         text: Callable[[], str], command: str) -> list[str]:
    mark = CONTENDED if contended(data, *path) else ""
    return [what, (text() if data else "n/a (no JSON)") + mark, f"`{command}`"]


def _case(cases: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next((c for c in cases if str(c.get("name", "")).startswith(name)), {})


def throughput() -> str:
    data, trainer, stack = load("data"), load("trainer"), load("stacking")
    evaluation, bundle = load("evaluation"), load("bundle")
    cases = evaluation.get("cases", [])
    boot, naive = _case(cases, "cluster_bootstrap B=1000 N=2000 C=1"), _case(cases, "naive loop")
    rows = [
        _row("synthesise + write 1,000 ECGs", data, ("synth_1000_ecgs",), lambda: (
            f"{num(get(data, 'synth_1000_ecgs', 'wall_s_median'), '.1f')} s wall / "
            f"{num(get(data, 'synth_1000_ecgs', 'cpu_s_median'), '.1f')} s CPU"),
            "bench/bench_data.py"),
        _row("PTB-XL cache build", data, ("ptbxl", "build"), lambda: (
            f"{num(get(data, 'ptbxl', 'build', 'records_per_s'), '.0f')} records/s over "
            f"{num(get(data, 'ptbxl', 'build', 'n_records'), ',d')} records; second load "
            f"{num(get(data, 'ptbxl', 'reuse_second_load', 'wall_s_median'), '.1f')} s"),
            "bench/bench_data.py"),
        _row("one epoch from the cache vs `wfdb.rdsamp`", data, ("ptbxl",), lambda: (
            f"{num(get(data, 'ptbxl', 'epoch_cache', 'wall_s_median'), '.3f')} s vs "
            f"{num(get(data, 'ptbxl', 'epoch_rdsamp', 'wall_s_median'), '.1f')} s "
            f"({num(get(data, 'ptbxl', 'epoch_records'), ',d')} records)"), "bench/bench_data.py"),
        _row(f"training loop vs bare PyTorch loop ({trainer.get('arch', '?')}, "
             f"{trainer.get('records', '?')} records, {trainer.get('epochs', '?')} epochs)",
             trainer, (), lambda: (
                 f"{_pct(trainer.get('overhead_cpu'))} CPU, {_pct(trainer.get('overhead_wall'))} "
                 "wall (medians, interleaved)"), "bench/bench_trainer.py"),
        _row("joint stacking study", stack, (), lambda: (
            f"{stack.get('trials', 'n/a')} trials on {_shape(stack.get('shape'))}: "
            f"{num(stack.get('median_wall_s'), '.0f')} s wall, "
            f"{num(stack.get('median_cpu_s'), '.0f')} s CPU"), "bench/bench_stacking.py"),
        _row("patient-cluster bootstrap, 1,000 resamples × 2,000 rows", evaluation, (), lambda: (
            f"{num(_ms(boot.get('cpu_s_median')), '.0f')} ms CPU (a naive loop: "
            f"{num(naive.get('cpu_s_median'), '.2f')} s CPU)"), "bench/bench_evaluation.py"),
        _row("bundle: ONNX Runtime vs torch eager at batch 64", bundle, ("fold-average",),
             lambda: _onnx_speedups(bundle), "bench/bench_bundle.py"),
    ]
    return table(["what", "result", "command"], rows)


def _pct(v: Any) -> str:
    return "n/a" if not isinstance(v, (int, float)) else f"{v * 100:+.1f}%"


def _ms(v: Any) -> Any:
    return v * 1000 if isinstance(v, (int, float)) else None


def _shape(shape: Any) -> str:
    if not isinstance(shape, dict):
        return "n/a"
    return (f"{shape.get('n_dev', '?')} rows × {shape.get('members', '?')} members × "
            f"{shape.get('classes', '?')} classes")


def _onnx_speedups(bundle: dict[str, Any]) -> str:
    members = get(bundle, "fold-average", "members") or {}
    speed = [get(m, "batch_64", "onnx_speedup") for m in members.values()]
    speed = [s for s in speed if isinstance(s, (int, float))]
    return f"{min(speed):.1f}–{max(speed):.1f}× faster" if speed else "n/a"


def context() -> dict[str, str]:
    out = {"throughput": throughput()}
    out.update(ptbxl_context("sd", load("ptbxl_superdiag")))
    out.update(ptbxl_context("mi", load("ptbxl_mi_binary")))
    return out


def render(template: str) -> str:
    values = context()

    def fill(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise KeyError(f"docs/templates/results.md: unknown placeholder {{{{{m.group(1)}}}}}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(fill, template)
