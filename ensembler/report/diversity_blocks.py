"""The report's diversity section: heat map, member table, greedy path, what it means."""

from __future__ import annotations

import warnings

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure
from matplotlib.image import AxesImage

from ensembler.report.diversity import (
    CorrelationBlock,
    DiversityPanel,
    DropOneBlock,
    DropOneRow,
    as_float,
)
from ensembler.report.document import Block, Figure, Heading, Paragraph, Table
from ensembler.report.figures import _png
from ensembler.report.tables import fmt

__all__ = ["correlation_figure", "diversity_blocks", "gain_sentence"]

#: Classes drawn one row each; with more, the figure shows the mean over classes.
MAX_CLASS_ROWS = 3
#: Greedy additions listed in the report (every step is in metrics.json).
MAX_STEPS = 8

WHAT_IT_MEANS = (
    "**How to read the diversity panel** (development out-of-fold predictions only; no test "
    "label is read). *Within-class correlation*: Pearson correlation of two members' "
    "log-odds among the ECGs with the label and, separately, among those without it. Over "
    "all ECGs two members that both separate the classes correlate highly just because both "
    "follow the label; within one label value what remains is whether they make the same "
    "errors. Low within-class correlation is room for a stack to gain, not a gain: a member "
    "can differ by being noise. *Drop-one*: the nested stacking study rerun without the "
    "member; a CI above 0 means the procedure's honest development estimate is lower "
    "without it. It is not the member's weight, and two near-copies can each show ≈ 0 "
    "(the other stands in for it) although dropping both would cost. *Greedy path*: the "
    "order in which greedy ensemble selection adds members, scored on the rows it was "
    "fitted on (in-sample, optimistic). *Share*: how much each member moves the shipped "
    "stack's score on development rows (blend weights for blends); it describes the fitted "
    "combination, not what the stack would score without the member."
)


def _cell(ax: Axes, m: np.ndarray, names: list[str], title: str) -> AxesImage:
    im = ax.imshow(m, vmin=-1.0, vmax=1.0, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_title(title, fontsize=9)
    if len(names) <= 10:
        for i in range(len(names)):
            for j in range(len(names)):
                if np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(m[i, j]) > 0.6 else "black")
    return im


Row = tuple[str, np.ndarray, np.ndarray, int | None, int | None]


def _arr(values: object) -> np.ndarray:
    """Numbers (None read from JSON as NaN) as a float array."""
    return np.asarray(values, dtype=float)


def _panels(corr: list[CorrelationBlock]) -> list[Row]:
    """(label, positives, negatives, n_pos, n_neg) per drawn row: each class, or their mean."""
    if len(corr) <= MAX_CLASS_ROWS:
        return [(c.class_name, _arr(c.positives), _arr(c.negatives), c.n_pos, c.n_neg)
                for c in corr]
    with warnings.catch_warnings():  # an all-NaN cell (a constant member) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        pos = np.nanmean([_arr(c.positives) for c in corr], axis=0)
        neg = np.nanmean([_arr(c.negatives) for c in corr], axis=0)
    return [(f"mean over {len(corr)} classes", pos, neg, None, None)]


def _n(n: int | None) -> str:
    return "" if n is None else f" (n={n})"


def correlation_figure(panel: DiversityPanel) -> bytes:
    """Heat maps of the within-class correlation: one row per class (or their mean),
    within positives on the left, within negatives on the right."""
    rows = _panels(panel.correlation)
    side = 1.2 + 0.42 * len(panel.members)
    fig = MplFigure(figsize=(2 * side + 0.8, side * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 2, squeeze=False)
    images = [(_cell(a_pos, pos, panel.members, f"{label}: within positives{_n(n_pos)}"),
               _cell(a_neg, neg, panel.members, f"{label}: within negatives{_n(n_neg)}"))
              for (label, pos, neg, n_pos, n_neg), (a_pos, a_neg)
              in zip(rows, axes, strict=True)]
    fig.colorbar(images[0][0], ax=axes.ravel().tolist(), shrink=0.8,
                 label="correlation of log-odds")
    return _png(fig)


def _closest(panel: DiversityPanel, i: int) -> str:
    """The other member most correlated with member ``i`` within classes (mean over
    classes of the positives' and negatives' correlation): ``name pos / neg``."""
    with warnings.catch_warnings():  # a constant member: NaN, never the closest
        warnings.simplefilter("ignore", RuntimeWarning)
        pos = np.nanmean([_arr(c.positives)[i] for c in panel.correlation], axis=0)
        neg = np.nanmean([_arr(c.negatives)[i] for c in panel.correlation], axis=0)
    both = np.where(np.arange(pos.size) == i, np.nan, (pos + neg) / 2)
    if not np.isfinite(both).any():
        return "n/a"
    j = int(np.nanargmax(both))
    return f"`{panel.members[j]}` {fmt(float(pos[j]), 2)} / {fmt(float(neg[j]), 2)}"


def _member_table(panel: DiversityPanel) -> Table:
    drop = {r.member: r for r in panel.drop_one.rows} if panel.drop_one else {}
    blend = bool(panel.contributions) and panel.contributions[0].weights is not None
    share = "weight" if blend else "share of mean abs. contribution"
    header = ["member", "in shipped stack", share,
              "closest member: within-class corr. (pos / neg)", "nested without it",
              "drop-one effect [95% CI]", "p"]
    rows = []
    for i, m in enumerate(panel.members):
        vals = [v for c in panel.contributions
                if (v := (c.weights or {}).get(m) if blend else c.share.get(m)) is not None]
        r = drop.get(m)
        rows.append([
            f"`{m}`", "yes" if vals else "no", fmt(float(np.mean(vals))) if vals else "",
            _closest(panel, i),
            fmt(r.nested_without) if r else "n/a",
            f"{fmt(r.effect, sign=True)} [{fmt(r.lo, sign=True)}, {fmt(r.hi, sign=True)}]"
            if r else "n/a",
            fmt(r.p_value) if r else "n/a"])
    if any(c.share.get("tabular") is not None for c in panel.contributions) and not blend:
        tab = float(np.nanmean(_arr([c.share["tabular"] for c in panel.contributions])))
        rows.append(["tabular passthrough", "yes", fmt(tab), "", "", "", ""])
    cap = (f"Shipped stack `{panel.shipped_stack}`: {panel.shipped_label}. Closest member: "
           "the other member with the highest within-class correlation of log-odds (mean "
           "over classes). Weight/share: mean over classes.")
    return Table(header, rows, cap)


def _greedy_table(panel: DiversityPanel) -> Table:
    rows = []
    for g in panel.greedy:
        kept = " → ".join(f"`{s.member}` ({fmt(s.score)})"
                          for s in g.steps[: min(g.best_step + 1, MAX_STEPS)])
        if g.best_step + 1 > MAX_STEPS:
            kept += (f" → … {g.best_step + 1 - MAX_STEPS} more to the kept step "
                     f"({fmt(g.steps[g.best_step].score)})")
        weights = ", ".join(f"`{m}` {w:.2f}" for m, w in g.weights.items() if w > 0)
        rows.append([g.class_name, kept or "constant", weights, str(len(g.steps))])
    return Table(["class", "additions up to the kept step (score after each)", "kept weights",
                  "steps tried"], rows,
                 f"Greedy ensemble selection (`{panel.greedy_stack}` stack) fitted on all "
                 f"development OOF; score: {panel.greedy[0].metric if panel.greedy else 'auc'} "
                 f"on those rows (in-sample); the first {MAX_STEPS} additions are listed, "
                 "every step is in metrics.json (diversity.greedy).")


def _drop_one_note(panel: DiversityPanel) -> Paragraph:
    d = panel.drop_one
    if d is None:
        return Paragraph(f"Drop-one effects were not computed ({panel.drop_one_skipped}).")
    how = ("the same study as the nested estimate" if d.same_procedure else
           f"a cheaper rerun with {d.n_trials} trials per inner study (the nested estimate "
           f"used {d.stacking_trials})")
    return Paragraph(
        f"Drop-one: one nested stacking study per member, {how}; nested estimate with every "
        f"member {fmt(d.reference)}; {len(d.rows)} reruns took {d.seconds:.1f} s. "
        f"Effect = with every member − without it; CI: paired patient bootstrap "
        f"({d.n_bootstrap} resamples) of the two nested out-of-fold predictions, given the "
        "stacks each study chose (rerunning a study with another seed moves it too).")


def diversity_blocks(panel: DiversityPanel) -> list[Block]:
    """The ``Diversity`` section of the report."""
    return [
        Heading("Diversity (why the stack helps or not)"),
        Paragraph(panel.sentence),
        _member_table(panel),
        _drop_one_note(panel),
        Figure("diversity", "Within-class correlation of members' out-of-fold log-odds "
               "(development data)", correlation_figure(panel)),
        _greedy_table(panel),
        Paragraph(WHAT_IT_MEANS),
    ]


def _change(r: DropOneRow, sign: float) -> str:
    """``|effect| [ci]`` oriented so the number is positive (lower / raise)."""
    lo, hi = sorted((sign * as_float(r.lo), sign * as_float(r.hi)))
    return f"{fmt(sign * as_float(r.effect))} [{fmt(lo)}, {fmt(hi)}]"


def gain_sentence(block: DropOneBlock | None, skipped: str | None = None) -> str:
    """Which members carry the stack's nested estimate, from the drop-one numbers."""
    if block is None:
        return f"Drop-one effects were not computed ({skipped or 'disabled'})."
    carry = sorted((r for r in block.rows if r.carries), key=lambda r: -as_float(r.effect))
    hurt = sorted((r for r in block.rows if r.hurts), key=lambda r: as_float(r.effect))
    parts = [f"dropping `{r.member}` lowers the nested estimate by {_change(r, 1.0)}"
             for r in carry]
    parts += [f"dropping `{r.member}` raises the nested estimate by {_change(r, -1.0)}"
              for r in hurt]
    if parts:
        text = "; ".join(parts)
        text = text[0].upper() + text[1:]
        others = "other " if len(parts) < len(block.rows) else ""
        tail = f"; no {others}member's drop-one CI excludes 0." if others else "."
        text += tail
    else:
        top = max(block.rows, key=lambda r: as_float(r.effect))
        text = (f"No member's drop-one CI excludes 0, so no single member carries the stack's "
                f"nested estimate (largest: dropping `{top.member}` changes it by "
                f"{fmt(-as_float(top.effect), sign=True)} [{fmt(-as_float(top.hi), sign=True)}, "
                f"{fmt(-as_float(top.lo), sign=True)}]).")
    if not block.same_procedure:
        text += (f" (Drop-one reruns used {block.n_trials} trials per inner study against "
                 f"{block.stacking_trials} for the nested estimate: a cheaper rerun.)")
    return text
