"""Render docs/templates/results.md with numbers read from bench/results/*.json.

Hand-written because it is a page-specific renderer: each benchmark JSON has its own
layout. Readers tolerate missing keys (the cell shows "n/a") and a ``contended`` flag
anywhere on the path to a number (the cell gets a "(contended)" marker), so a
benchmark that adds fields or re-measures under load does not break the docs build.
"""

from __future__ import annotations

import json
import re
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
                    _dev_auc(r),
                    num(get(r, "latency_ms", "1", "p50_ms"), ".1f"), str(r.get("n_members", ""))])
    return table(["model", "kind", "test AUC [95% CI]", "Δ vs best_single [CI]", "p",
                  "dev AUC", "ms/ECG", "members"], out)


def _dev_auc(r: dict[str, Any]) -> str:
    """The row's development AUC with what it is (the report's label): a distilled student's
    or a refit model's figure is its teacher's or fold bag's, and says so."""
    text = num(r.get("dev_oof_auc"), ".3f")
    label = r.get("dev_oof_auc_label")
    return f"{text} ({label})" if label and text != "n/a" else text


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
            f"p = {num(p.get('p_value'), '.3f')}{verdict}")


def _study(s: dict[str, Any]) -> str:
    return (f"optimistic inner best {num(s.get('inner_best_cv_auc'), '.3f')}; nested-CV "
            f"estimate {num(get(s, 'nested', 'mean'), '.3f')} ± "
            f"{num(get(s, 'nested', 'sd'), '.3f')}")


def _parity(p: dict[str, Any]) -> str:
    return (f"max |Δ| = {num(p.get('max_abs_diff'), '.1e')} on {p.get('n_records', 'n/a')} "
            f"records (tolerance {num(p.get('tolerance'), '.0e')})")


# ---- benchmark tables (bench/README.md schema 1) -------------------------------------

def _all_results() -> list[dict[str, Any]]:
    out = []
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("schema"):
            out.append(data)
    return out


def _load_text(d: dict[str, Any]) -> str:
    ld = d.get("load") or {}
    before = (ld.get("before") or [None])[0]
    return (f"{num(before, '.1f')} / {num(ld.get('during_max'), '.1f')} "
            f"(others {num(ld.get('other_busy_cores'), '.1f')} of {ld.get('cores', '?')} cores)")


def benchmarks() -> str:
    """One row per schema-1 result: headline ratio, load, contended flag, how it was run."""
    rows = []
    for d in _all_results():
        h = d.get("headline") or {}
        mark = "**yes**" if d.get("contended") else "no"
        extra = [f"{h['better']} is better"] if h.get("better") else []
        extra += [f"target {h['target']}"] if "target" in h else []
        rows.append([f"`{d['name']}`", str(h.get("label", "n/a")),
                     num(h.get("ratio"), ".2f") + (f" ({'; '.join(extra)})" if extra else ""),
                     _load_text(d), mark,
                     f"{'quick' if d.get('quick') else 'full'}, {d.get('commit', '?')}",
                     f"`{d.get('command', 'n/a')}`"])
    if not rows:
        return "n/a (no results in the bench/README.md format yet)"
    return table(["result", "headline", "ratio", "load 1-min before / during max", "contended",
                  "run", "command"], rows)


def _r(v: Any) -> str:
    return num(v, ".2f") + "×" if isinstance(v, (int, float)) else "n/a"


def train_speed() -> str:
    """Per family: fp32 and bf16 training ECG/s and the option ratios (> 1: faster)."""
    d = load("train_speed")
    fam = get(d, "details", "per_family") or {}
    if not fam:
        return "n/a (run bench/bench_train_speed.py)"
    rows = [[f"`{f}`", num(r.get("train_ecg_per_s_fp32"), ".0f"),
             num(r.get("train_ecg_per_s_bf16"), ".0f"), _r(r.get("train_bf16_over_fp32")),
             _r(r.get("train_bf16_over_fp32_cpu")), _r(r.get("eval_bf16_over_fp32")),
             _r(r.get("eval_batch_512_over_128")), _r(r.get("eval_fused_over_plain")),
             _r(r.get("threads_2_over_n"))] for f, r in fam.items()]
    mark = CONTENDED if d.get("contended") else ""
    return (table(["family", "train ECG/s fp32", "train ECG/s bf16", "bf16 speed-up (wall)",
                   "bf16 (CPU time)", "eval bf16", "eval batch 512 vs 128",
                   "eval conv+BN folded", "2 threads vs 1"], rows)
            + f"\n\nLoad: {_load_text(d)}{mark}; `{d.get('command', '')}`.")


def inference() -> str:
    """vit1d time / member time per profile, batch size and backend (> 1: member faster)."""
    d = load("inference")
    det = d.get("details") or {}
    rows = []
    for prof in ("cpu", "full"):
        for bs in ("batch_1", "batch_64"):
            r = get(det, prof, bs, "vit1d_over_member") or {}
            for member in r.get("torch", {}):
                rows.append([prof, bs.replace("_", " "), f"`{member}`",
                             _r(get(r, "torch", member)), _r(get(r, "onnx", member)),
                             num(get(det, prof, bs, "ms_per_ecg", f"torch/{member}"), ".2f"),
                             num(get(det, prof, bs, "ms_per_ecg", f"onnx/{member}"), ".2f")])
    if not rows:
        return "n/a (run bench/bench_inference.py)"
    mark = CONTENDED if d.get("contended") else ""
    return (table(["profile", "batch", "member", "vit1d / member, torch",
                   "vit1d / member, ONNX Runtime", "member ms/ECG torch",
                   "member ms/ECG ORT"], rows)
            + f"\n\nLoad: {_load_text(d)}{mark}; `{d.get('command', '')}`.")


def compile_summary() -> str:
    """torch.compile: step speed-up and compile seconds per family (train_speed_compile)."""
    d = load("train_speed_compile")
    comp = get(d, "details", "compile") or {}
    if not comp:
        return "not measured (`bench/bench_train_speed.py --compile`)"
    parts = [f"`{a}` step {_r(c.get('compiled_over_eager'))} after "
             f"{num(c.get('compile_s'), '.0f')} s of compilation" for a, c in comp.items()]
    mark = CONTENDED if d.get("contended") else ""
    return "measured: " + ", ".join(parts) + mark


def inference_summary() -> str:
    """One sentence per profile: the range of vit1d / member ratios at batch 1 and 64."""
    d = load("inference")
    det = d.get("details") or {}
    parts = []
    for prof, label in (("cpu", "CPU profile"), ("full", "`--profile full`")):
        for backend, bname in (("torch", "torch eager"), ("onnx", "ONNX Runtime")):
            vals = {f"{m} b{bs[6:]}": v for bs in ("batch_1", "batch_64")
                    for m, v in (get(det, prof, bs, "vit1d_over_member", backend) or {}).items()}
            if vals:
                lo, hi = min(vals, key=vals.__getitem__), max(vals, key=vals.__getitem__)
                parts.append(f"{label}, {bname}: from {_r(vals[lo])} ({lo}) to "
                             f"{_r(vals[hi])} ({hi})")
    if not parts:
        return "n/a (run bench/bench_inference.py)"
    mark = CONTENDED if d.get("contended") else ""
    return "vit1d's time over each CNN member's ranges " + "; ".join(parts) + mark + "."


def ensemble() -> str:
    """Ensemble latency / sum of members per bundle mode, batch size and backend."""
    d = load("bundle")
    det = d.get("details") or {}
    rows = []
    for mode in ("fold-average", "refit-full"):
        for bs, row in (get(det, mode, "batch") or {}).items():
            for backend in ("torch", "onnx"):
                r = row.get(backend) or {}
                rows.append([mode, bs.replace("_", " "), backend,
                             num(r.get("ensemble_ms_per_ecg"), ".2f"),
                             num(r.get("sum_of_members_ms_per_ecg"), ".2f"),
                             _r(r.get("ensemble_over_sum")),
                             _r(r.get("ensemble_over_sum_cpu"))])
    if not rows:
        return "n/a (run bench/bench_bundle.py)"
    mark = CONTENDED if d.get("contended") else ""
    return (table(["bundle", "batch", "backend", "ensemble ms/ECG", "sum of members ms/ECG",
                   "ensemble / sum (wall)", "ensemble / sum (CPU time)"], rows)
            + f"\n\nLoad: {_load_text(d)}{mark}; `{d.get('command', '')}`.")


def gpu() -> str:
    """bench/gpu_smoke.py's per-family figures, or a plain statement that it has not run."""
    d = load("gpu_smoke")
    det = d.get("details") or {}
    members = det.get("members") or {}
    if not members or det.get("dry") or det.get("device") == "cpu":
        return ("**Not run on a GPU yet**: no CUDA machine was available when "
                "`bench/gpu_smoke.py` was written; only its CPU dry run is tested.")
    rows = [[f"`{n}`", str(m.get("autocast", "?")), num(m.get("train_ecg_per_s"), ",.0f"),
             num(m.get("cpu_2threads_ecg_per_s"), ",.1f"), _r(m.get("device_over_cpu_2threads")),
             num(m.get("max_abs_diff_cpu_vs_device"), ".1e"),
             num(m.get("max_abs_diff_cpu_vs_device_fp32"), ".1e")] for n, m in members.items()]
    return (f"On {det.get('gpu', 'a GPU')}:\n\n"
            + table(["member", "precision", "GPU train ECG/s", "CPU (2 threads) ECG/s",
                     "GPU / CPU", "max abs Δ, CPU bundle vs GPU (bf16)",
                     "max abs Δ vs GPU fp32"], rows))


def _pct(v: Any) -> str:
    return num(100 * v, ".1f") + "%" if isinstance(v, (int, float)) else "n/a"


def _explain_one(d: dict[str, Any]) -> str:
    """One explain_conformal result: coverage, abstention, per-lead table, timings."""
    det = d.get("details") or {}
    mark = CONTENDED if d.get("contended") else ""
    cov = [[r.get("model", "?"), num(r.get("alpha"), "g"), str(r.get("class", "?")),
            _pct(r.get("target")), _pct(r.get("coverage")),
            f"{_pct((r.get('binomial_95') or [None])[0])}–"
            f"{_pct((r.get('binomial_95') or [None, None])[1])}",
            str(r.get("verdict", "n/a"))] for r in det.get("coverage") or []]
    sel = det.get("abstention_alpha_0.1") or {}
    ab = [[m, _pct(get(sel, m, "abstention")), _pct(get(sel, m, "error_kept")),
           str(get(sel, m, "n_kept"))] for m in ("best_single", "stack") if m in sel]
    pl = det.get("per_lead") or {}
    leads = pl.get("lead_names") or []
    lead_rows = []
    for key, vals in (pl.get("rows") or {}).items():
        top = max(vals) if vals else 0
        lead_rows.append([f"`{key}`", *(num(v / top if top else None, ".2f") for v in vals)])
    times = [[f"`{k.split('/', 1)[1]}`", k.split("/", 1)[0], num(v, ".3f")]
             for k, v in (det.get("attribution_seconds_per_ecg") or {}).items()]
    return "\n\n".join([
        f"**Run `{det.get('run', '?')}`** ({det.get('n_test', '?')} test ECGs, "
        f"{det.get('n_test_patients', '?')} patients; stack `{det.get('stack', '?')}`, best "
        f"single `{det.get('best_single_member', '?')}`). Coverage of the per-class conformal "
        "sets (each model calibrated on its own development OOF) against 1 − α, with the "
        "binomial 95 % range of n test ECGs:",
        table(["model", "α", "class", "target", "test coverage", "binomial 95 %", "verdict"],
              cov),
        "Abstention at α = 0.1 (some class's set not a single label) and error among the "
        "kept ECGs (measured, not guaranteed):",
        table(["model", "abstention", "error among kept", "ECGs kept"], ab),
        f"Per-lead importance for `{pl.get('class', '?')}` over {pl.get('n_sample', '?')} "
        "test ECGs drawn with the run seed (each row relative to its largest lead):",
        table(["map", *leads], lead_rows),
        f"Attribution seconds per ECG on {det.get('threads', '?')} threads (ig: Integrated "
        "Gradients, 32 steps; gxi: gradient × input; pred_contrib: features + TreeSHAP):",
        table(["member", "method", "s / ECG"], times),
        f"Load: {_load_text(d)}{mark}; `{d.get('command', '')}`."])


def explain_conformal() -> str:
    """Every bench/results/explain_conformal_*.json, one block each."""
    found = [d for d in _all_results() if str(d.get("name", "")).startswith("explain_conformal")]
    if not found:
        return "n/a (run bench/bench_explain_conformal.py RUN_DIR)"
    return "\n\n".join(_explain_one(d) for d in found)


def _run_summary(data: dict[str, Any]) -> dict[str, Any]:
    """A bench_ptbxl result: schema-1 files keep the summary under ``details``."""
    if data.get("schema"):
        return {**(data.get("details") or {}), "contended": data.get("contended")}
    return data


def _delta_ci(delta: Any, ci: Any) -> str:
    lo, hi = ci if isinstance(ci, list) and len(ci) == 2 else (None, None)
    return f"{_signed(delta, '+.4f')} [{_signed(lo, '+.4f')}, {_signed(hi, '+.4f')}]"


def speed_auc() -> str:
    """bench_speed_auc: per member fit seconds fp32 -> auto and the dev OOF AUC check."""
    d = load("speed_auc")
    members = get(d, "details", "members") or {}
    if not members:
        return "not measured (`bench/bench_speed_auc.py`)"
    rows = [[f"`{m}`", str(r.get("auto_chose", "n/a")),
             f"{num(r.get('fit_s_before'), '.0f')} → {num(r.get('fit_s_after'), '.0f')}",
             f"{num(r.get('speedup'), '.2f')}×",
             f"{num(r.get('oof_auc_before'), '.4f')} → {num(r.get('oof_auc_after'), '.4f')}",
             _delta_ci(r.get("delta_auc"), r.get("delta_ci")),
             "yes" if r.get("within_noise") else "**no**"]
            for m, r in members.items()]
    h = d.get("headline") or {}
    mark = CONTENDED if d.get("contended") else ""
    return "\n\n".join([
        table(["member", "auto chose", "fit s (fp32 → auto)", "speed-up",
               "fold OOF macro-AUC (fp32 → auto)", "Δ AUC [95% CI]", "within noise"], rows),
        f"Training stage (sum of the members' fit seconds): **{num(h.get('ratio'), '.2f')}×** "
        f"(goal {h.get('target', 'n/a')}){mark}. Fold {get(d, 'details', 'fold')}, one run, "
        f"load {_load_text(d)}, commit {d.get('commit', 'n/a')}; `{d.get('command', '')}`."])


def readme_speed() -> str:
    """The README's speed lines: the headline ratios, each with its settings and load flag."""
    inf, bun, spd = load("inference"), load("bundle"), load("speed_auc")

    def flag(d: dict[str, Any]) -> str:
        return CONTENDED if d.get("contended") else ""

    gpu_ran = bool(get(load("gpu_smoke"), "details", "members"))
    return "\n".join([
        f"- **CNN vs Transformer at inference** (PTB-XL CPU profile, 2 threads, torch eager, "
        f"batch 64, 10 s records): vit1d needs {_r(get(inf, 'headline', 'ratio'))} the "
        f"median CNN member's time{flag(inf)} — the profile's CNNs are the slower ones, not "
        "5–10× faster.",
        f"- **Ensemble cost:** a bundle's latency / the sum of its members' is at most "
        f"{_r(get(bun, 'headline', 'ratio'))} (target ≤ 1.1; fold-average and refit-full, "
        f"batch 1 and 64, torch and ONNX Runtime){flag(bun)}.",
        f"- **Training:** `precision: auto` (bf16 autocast where the CPU and the network gain) "
        f"makes the frozen CPU profile's training stage {_r(get(spd, 'headline', 'ratio'))} "
        f"faster at fold OOF AUC within noise (goal 1.5×){flag(spd)}. GPU: "
        + ("see the results page." if gpu_ran else "`bench/gpu_smoke.py` has not run on a "
           "CUDA machine yet."),
    ])


def context() -> dict[str, str]:
    out = {"benchmarks": benchmarks(), "train_speed": train_speed(),
           "inference": inference(), "inference_summary": inference_summary(),
           "compile": compile_summary(), "speed_auc": speed_auc(),
           "readme_speed": readme_speed(),
           "ensemble": ensemble(), "gpu": gpu(), "explain_conformal": explain_conformal()}
    out.update(ptbxl_context("sd", _run_summary(load("ptbxl_superdiag"))))
    out.update(ptbxl_context("mi", _run_summary(load("ptbxl_mi_binary"))))
    return out


def render(template: str) -> str:
    values = context()

    def fill(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise KeyError(f"docs/templates/results.md: unknown placeholder {{{{{m.group(1)}}}}}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(fill, template)
