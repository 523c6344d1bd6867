"""Attribution sanity checks (Adebayo et al. 2018 style) on a planted lead-specific effect.

A synthetic cohort: 12 leads of noise; positives carry a Q-wave-like negative deflection
in V1-V3 only. A small CNN learns it; its per-lead importance must rank V1-V3 first,
and a copy with re-initialised weights must give clearly different maps.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

from ensembler.bundle.members import BundleMember, FoldModel
from ensembler.config import TrainingConfig
from ensembler.explain.attribution import lead_importance, member_attribution
from ensembler.training.members import spec_from_description
from ensembler.training.state import FoldState

PLANTED = [6, 7, 8]  # V1, V2, V3 in the standard lead order


def _cohort(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 12, 200)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    t = np.arange(200)
    bump = -3.0 * np.exp(-0.5 * ((t - rng.integers(40, 160, n)[:, None]) / 4.0) ** 2)
    for lead in PLANTED:
        x[:, lead] += (y[:, None] * bump).astype(np.float32)
    return x, y


@pytest.fixture(scope="module")
def trained() -> BundleMember:
    torch.manual_seed(0)
    x, y = _cohort(400, 0)
    spec = spec_from_description({"name": "cnn", "arch": "cnn1d",
                                  "params": {"filters": [8, 8, 8]},
                                  "training": TrainingConfig().model_dump(mode="json")})
    from base_models import create_model

    model = create_model("cnn1d", n_leads=12, n_classes=1, filters=[8, 8, 8])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)[:, None]
    for _ in range(6):
        for lo in range(0, 400, 50):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model(xt[lo:lo + 50], None), yt[lo:lo + 50])
            loss.backward()
            opt.step()
    model.eval()
    state = FoldState([0.0] * 12, [1.0] * 12, [], [], [])
    return BundleMember(spec=spec, window=None, stride=None,
                        models=[FoldModel("fold_0", model, state)])


def test_the_model_learned_the_planted_effect(trained) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import roc_auc_score

    x, y = _cohort(200, 1)
    p = trained.predict(0, x, None)[:, 0]
    assert roc_auc_score(y, p) > 0.9


@pytest.mark.parametrize("method", ["ig", "gxi"])
def test_per_lead_importance_ranks_the_planted_leads_first(trained, method) -> None:  # type: ignore[no-untyped-def]
    x, y = _cohort(60, 2)
    attr = member_attribution(trained, x[y == 1], None, 0, method=method, n_steps=16)
    imp = lead_importance(attr).mean(axis=0)
    assert set(np.argsort(-imp)[:3]) == set(PLANTED), imp


def test_ig_completeness(trained) -> None:  # type: ignore[no-untyped-def]
    x, _ = _cohort(6, 3)
    attr = member_attribution(trained, x, None, 0, method="ig", n_steps=64)
    p = trained.predict(0, x, None)[:, 0]
    p0 = trained.predict(0, np.zeros_like(x), None)[:, 0]
    np.testing.assert_allclose(attr.sum(axis=(1, 2)), p - p0, atol=0.02)


def test_randomised_weights_give_clearly_different_maps(trained) -> None:  # type: ignore[no-untyped-def]
    x, y = _cohort(30, 4)
    pos = x[y == 1]
    rand = copy.deepcopy(trained)
    torch.manual_seed(1)
    for mod in rand.models[0].model.modules():
        if hasattr(mod, "reset_parameters") and mod is not rand.models[0].model:
            mod.reset_parameters()
    a = member_attribution(trained, pos, None, 0, method="ig", n_steps=16)
    b = member_attribution(rand, pos, None, 0, method="ig", n_steps=16)
    # rank correlation of |attribution| per record, as in Adebayo et al.
    from scipy.stats import spearmanr

    rho = [spearmanr(np.abs(a[i]).ravel(), np.abs(b[i]).ravel()).statistic
           for i in range(len(pos))]
    assert np.median(rho) < 0.5, rho
    imp_b = lead_importance(b).mean(axis=0)
    assert set(np.argsort(-imp_b)[:3]) != set(PLANTED)


def test_windowed_member_attribution_covers_the_whole_record(trained) -> None:  # type: ignore[no-untyped-def]
    win = copy.copy(trained)
    win.window, win.stride = 100, 50
    x, _ = _cohort(3, 5)
    attr = member_attribution(win, x, None, 0, method="gxi")
    assert attr.shape == x.shape and np.abs(attr[:, :, -10:]).sum() > 0


def _randomised_copy(trained: Any, seed: int) -> Any:
    """``trained`` with every layer re-initialised (seeded), renamed ``noise``."""
    rand = copy.deepcopy(trained)
    rand.spec = spec_from_description({**trained.spec.describe(), "name": "noise"})
    torch.manual_seed(seed)
    for mod in rand.models[0].model.modules():
        if hasattr(mod, "reset_parameters") and mod is not rand.models[0].model:
            mod.reset_parameters()
    return rand


def test_unknown_method_is_named(trained) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="method: expected one of"):
        member_attribution(trained, np.zeros((1, 12, 200), np.float32), None, 0, method="shap")


def test_stack_map_ranks_the_planted_leads_first(trained) -> None:  # type: ignore[no-untyped-def]
    """A logistic stack over the trained member and a member with random weights: the
    stack gives the trained member the larger share, and the stack map's per-lead
    importance ranks V1-V3 first."""
    from ensembler.explain.records import stack_map
    from stacking import Level1Data, StackSpec, fit_stack
    from stacking.explain import member_shares, stack_contributions

    rand = _randomised_copy(trained, seed=2)
    x, y = _cohort(240, 6)
    probs = {"planted": trained.predict(0, x, None), "noise": rand.predict(0, x, None)}
    x_te, y_te = _cohort(40, 7)
    te = {"planted": trained.predict(0, x_te, None), "noise": rand.predict(0, x_te, None)}
    data = Level1Data(members=["noise", "planted"], class_names=["c"], oof=probs,
                      test_by_fold={m: np.repeat(v[None], 3, axis=0) for m, v in te.items()},
                      y=y[:, None].astype(np.int64), groups=np.arange(240),
                      folds=np.arange(240) % 3)
    fs = fit_stack(data, StackSpec("logistic", ("noise", "planted"), {"C": 1.0},
                                   transform="logit", calibration="none"))
    pos = y_te == 1
    (cc,) = stack_contributions(fs, {m: v[pos] for m, v in te.items()})
    shares = member_shares(cc, ["noise", "planted"])
    assert np.abs(shares["planted"]).mean() > np.abs(shares["noise"]).mean()
    maps = {"planted": member_attribution(trained, x_te[pos], None, 0, "gxi"),
            "noise": member_attribution(rand, x_te[pos], None, 0, "gxi")}
    imp = lead_importance(stack_map(maps, shares)).mean(axis=0)
    assert set(np.argsort(-imp)[:3]) == set(PLANTED), imp


LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


class _MinPerLead:
    """A tiny feature set: each lead's minimum (a Q wave lowers it) and a global RMS."""

    name, version = "min_per_lead", "1"

    def column_specs(self) -> list:  # type: ignore[type-arg]
        return []

    def columns(self, lead_names):  # type: ignore[no-untyped-def]
        return [f"{lead}:min" for lead in lead_names] + ["rms"]

    def compute(self, signal, fs, lead_names):  # type: ignore[no-untyped-def]
        return np.array([*signal.min(axis=1), np.sqrt((signal ** 2).mean())], np.float32)

    def spec(self) -> dict:  # type: ignore[type-arg]
        return {"name": self.name, "version": self.version}


def _feature_member(x: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    import lightgbm as lgb

    from ensembler.bundle.feature_io import FeatureBundleMember, FeatureFoldModel
    from ensembler.training.feature_learners import BoosterModel

    member = FeatureBundleMember(name="feat", feature_set=_MinPerLead(), lead_names=LEADS,
                                 fs=100.0, tabular_names=[])
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "min_child_samples": 5,
                         "num_threads": 1, "verbose": -1, "seed": 0},
                        lgb.Dataset(member.features(x).astype(np.float64), y), 30)
    member.models.append(FeatureFoldModel("fold_0", BoosterModel([booster])))
    return member


def test_stack_with_a_feature_member_ranks_the_planted_leads_first(trained) -> None:  # type: ignore[no-untyped-def]
    """The report's stack per-lead importance (:func:`attribute`): a logistic stack over the
    trained CNN, a CNN with random weights and a LightGBM feature member whose per-lead
    pred_contrib is mapped to leads; V1-V3 rank first for the feature member and the stack,
    and the feature member's global column is kept off the leads."""
    from ensembler.explain.core import attribute
    from stacking import Level1Data, StackSpec, fit_stack

    rand = _randomised_copy(trained, seed=3)
    x_tr, y_tr = _cohort(300, 8)
    feat = _feature_member(x_tr, y_tr)
    members = {"planted": trained, "noise": rand, "feat": feat}
    x, y = _cohort(240, 9)
    probs = {m: b.predict_sets(x, [None])[0] for m, b in members.items()}
    x_te, y_te = _cohort(40, 10)
    pos = x_te[y_te == 1]
    level0 = {m: b.predict_sets(pos, [None]) for m, b in members.items()}  # (1, N, 1)
    names = ("feat", "noise", "planted")
    data = Level1Data(members=list(names), class_names=["c"], oof=probs,
                      test_by_fold={m: np.repeat(v, 3, axis=0) for m, v in level0.items()},
                      y=y[:, None].astype(np.int64), groups=np.arange(240),
                      folds=np.arange(240) % 3)
    fs = fit_stack(data, StackSpec("logistic", names, {"C": 1.0}, transform="logit",
                                   calibration="none"))
    att = attribute(list(members.values()), fs, level0, pos, {}, None, 0, "gxi")
    lead_feat = att.member_lead()["feat"].mean(axis=0)
    assert set(np.argsort(-lead_feat)[:3]) == set(PLANTED), lead_feat
    imp = att.stack_lead.mean(axis=0)
    assert set(np.argsort(-imp)[:3]) == set(PLANTED), imp
    assert np.abs(att.shares["noise"]).mean() < np.abs(att.shares["planted"]).mean()
    assert att.features["feat"].owner[-1] == "global"
    total = sum(np.abs(v) for v in att.shares.values())
    assert np.all(att.stack_lead.sum(axis=1) + att.stack_global + att.stack_tabular
                  <= total + 1e-9)
