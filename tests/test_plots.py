"""What the figures draw: the points and intervals of the numbers they show, read back from
the matplotlib figure before it is saved."""

import numpy as np
import pandas as pd
import pytest

from taskladder import plots
from taskladder.chain import PAPER, predict_targets
from taskladder.datasets import olmo2_ladder


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Each figure a plot function saves, kept open instead of written."""
    figs = []

    def keep(fig, path, tight=True):
        figs.append(fig)
        return path

    monkeypatch.setattr(plots, "save", keep)
    yield figs
    import matplotlib.pyplot as plt

    for f in figs:
        plt.close(f)


def _points(ax, label=None):
    """Every scatter point of an axis (those of the collection labelled ``label``, if given)."""
    cols = [c for c in ax.collections if label is None or c.get_label() == label]
    return np.concatenate([c.get_offsets() for c in cols]) if cols else np.zeros((0, 2))


def _has(points, x, y):
    return bool(np.any(np.isclose(points[:, 0], x, rtol=1e-9) & np.isclose(points[:, 1], y, rtol=1e-9)))


def _rows(ax):
    """y of each row of a row plot, by its label ("Task · target")."""
    return {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}


@pytest.fixture(scope="module")
def bundled():
    d = olmo2_ladder()
    targets = [d.targets["7B-4T"], d.targets["13B-5T"]]
    preds, fits = predict_targets(d.ladder, targets, ["mmlu", "piqa"], PAPER)
    return targets, preds, fits


def test_intervals_figure_draws_each_rows_interval_prediction_and_actual(drawn):
    # the figure of predicted vs actual with intervals (plot_auto, predict --out): per (task,
    # target) row its interval as a bar, the prediction as an x and the actual as a circle
    preds = pd.DataFrame({"task": ["mmlu", "mmlu", "piqa", "piqa"], "target": ["7B-4T", "13B-5T"] * 2,
                          "predicted": [0.48, 0.55, 0.79, 0.81], "lower": [0.43, 0.49, 0.75, 0.78],
                          "upper": [0.53, 0.60, 0.82, 0.84], "actual": [0.49, 0.56, np.nan, 0.83]})
    plots.plot_auto(preds, "auto.png")
    (ax,) = drawn[0].axes
    rows = _rows(ax)
    assert list(rows) == ["MMLU · 7B-4T", "MMLU · 13B-5T", "PIQA · 7B-4T", "PIQA · 13B-5T"]
    bars = {(tuple(ln.get_xdata()), ln.get_ydata()[0]) for ln in ax.lines}
    actual = _points(ax, "actual")
    for r in preds.itertuples():
        y = rows[f"{'MMLU' if r.task == 'mmlu' else 'PIQA'} · {r.target}"]
        assert (pytest.approx((100 * r.lower, 100 * r.upper)), y) in [(b, yy) for b, yy in bars]
        assert _has(_points(ax, f"{r.target} predicted"), 100 * r.predicted, y)
        assert _has(actual, 100 * r.actual, y) == (r.actual == r.actual)
    assert len(actual) == 3
    assert not drawn[0].texts  # no interval method given: no footnote


def test_the_intervals_figure_says_how_its_intervals_were_built(drawn):
    # the tables' "interval" column, one footnote per method: the tasks' and the mean's
    preds = pd.DataFrame({"task": ["mmlu", "mean of 2"], "target": "7B-4T", "predicted": [0.48, 0.6],
                          "lower": [0.43, 0.57], "upper": [0.53, 0.63], "level": 0.9,
                          "interval": ["the tasks' way", "the mean's way"]})
    plots.plot_predictions(preds, {"7B-4T": 1.6e23}, "p.png")
    (note,) = drawn[0].texts
    assert note.get_text() == "Interval: the tasks' way.\nThe mean's interval: the mean's way."
    # below the axes, not over them
    drawn[0].canvas.draw()
    assert note.get_window_extent().y1 < drawn[0].axes[0].get_tightbbox().y0


def test_summary_figure_draws_predicted_and_actual(drawn, bundled):
    _, preds, _ = bundled
    plots.plot_summary(preds, "sum.png")
    (ax,) = drawn[0].axes
    rows = _rows(ax)
    for r in preds.itertuples():
        y = rows[f"{plots._display(r.task)} · {r.target}"]
        assert _has(_points(ax, f"{r.target} predicted"), 100 * r.predicted, y)
        assert _has(_points(ax, f"{r.target} actual"), 100 * r.actual, y)
    # each row's gap is written beside it, predicted minus actual
    gaps = sorted(t.get_text() for t in ax.texts)
    assert gaps == sorted(f"{100 * (r.predicted - r.actual):+.1f}" for r in preds.itertuples())


def test_step1_and_chained_figures_draw_the_ladder_and_each_targets_prediction(drawn, bundled):
    targets, _, fits = bundled
    plots.plot_step1(fits, targets, "s1.png")
    plots.plot_chained(fits, targets, "ch.png",
                       final_acc={k: dict(zip(f.step1_data_["run"], f.step1_data_["value"])) for k, f in fits.items()})
    plots.plot_step2(fits, targets, "s2.png")
    s1, ch, s2 = drawn
    for ax, (task, fit) in zip(s1.axes, fits.items()):
        assert ax.get_title().startswith(plots._display(task))
        pts = _points(ax)
        for run in fit.step1_data_.itertuples():  # every run's final (D, task loss)
            assert _has(pts, run.d, run.value)
        for t in targets:
            assert _has(_points(ax, f"{t.name} (predicted)"), t.d, float(fit.predict_feature(t.n, t.d)))
            assert _has(_points(ax, f"{t.name} (actual)"), t.d, t.actual(task, "bpb"))
    for ax, (task, fit) in zip(ch.axes, fits.items()):
        for t in targets:
            assert _has(_points(ax, f"{t.name} (predicted)"), t.d, float(fit.predict(t.n, t.d)))
            assert _has(_points(ax, f"{t.name} (actual)"), t.d, t.actual(task))
    for ax, (task, fit) in zip(s2.axes, fits.items()):  # every checkpoint step 2 was fitted on
        data = fit.step2_data_
        ladder = np.concatenate([c.get_offsets() for c in ax.collections if c.get_label().startswith("_")
                                 and len(c.get_offsets()) > 2])
        assert len(ladder) == len(data)
        np.testing.assert_allclose(np.sort(ladder[:, 0]), np.sort(data["x"].to_numpy()))
        for t in targets:
            x = t.actual(task, "bpb")
            assert _has(_points(ax, f"{t.name} (actual)"), x, t.actual(task))
            assert _has(_points(ax, f"{t.name} (step-2 prediction at its loss)"), x, float(fit.step2_.predict(x)))


def test_a_sweep_is_a_curve_over_compute_with_its_band(drawn):
    # five targets in any order: the curve runs by compute, the band spans each one's interval
    names = ["30B", "1B", "13B", "3B", "7B"]
    compute = {"1B": 1e21, "3B": 3e21, "7B": 7e21, "13B": 1.3e22, "30B": 3e22}
    pred = {"1B": 0.40, "3B": 0.45, "7B": 0.50, "13B": 0.55, "30B": 0.60}
    preds = pd.DataFrame({"task": "mmlu", "target": names, "predicted": [pred[n] for n in names],
                          "lower": [pred[n] - 0.05 for n in names], "upper": [pred[n] + 0.04 for n in names],
                          "level": 0.9, "actual": [np.nan, np.nan, np.nan, np.nan, 0.52]})
    fig = plots.sweep_figure(preds, compute)
    ax = fig.axes[0]
    (line,) = [ln for ln in ax.lines if ln.get_label() == "predicted"]
    order = sorted(compute, key=compute.get)
    np.testing.assert_allclose(line.get_xdata(), [compute[n] for n in order])
    np.testing.assert_allclose(line.get_ydata(), [100 * pred[n] for n in order])
    (band,) = [c for c in ax.collections if c.get_label() == "90% interval"]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(100 * (0.40 - 0.05)) and ys.max() == pytest.approx(100 * (0.60 + 0.04))
    assert _has(_points(ax, "actual"), 7e21, 52.0)  # the last row: 7B
    assert [t.get_text() for t in fig.texts] == ["Predicted RC accuracy of 5 targets"]  # no method: no footnote
    with_method = plots.sweep_figure(preds.assign(interval="the way"), compute)
    assert with_method.texts[0].get_text() == "Interval: the way."
    with_method.canvas.draw()  # below the legend, which is below the panels
    legend = with_method.legends[0].get_window_extent()
    assert with_method.texts[0].get_window_extent().y1 <= legend.y0 < with_method.axes[0].get_tightbbox().y0
    # 1.5 decades of compute: the 2s and 5s labelled beside the decade (matplotlib's default showed only 10^21 and 10^22)
    fig.canvas.draw()
    shown = {round(t.get_loc() / 10 ** np.floor(np.log10(t.get_loc()))) for t in ax.xaxis.get_minor_ticks()
             if t.label1.get_text() and ax.get_xlim()[0] <= t.get_loc() <= ax.get_xlim()[1]}
    assert shown == {2, 5}
    import matplotlib.pyplot as plt

    plt.close(fig)
    plt.close(with_method)


def test_plan_figure_places_every_rung_and_the_target_and_shows_progress():
    import matplotlib.pyplot as plt

    from taskladder.planprogress import plan_progress
    from taskladder.ladder import PlanConfig, plan

    cfg = PlanConfig()
    rungs = plan(cfg)
    lad = olmo2_ladder().ladder
    big = lad["run"] == "1B-10xC"
    now = lad[~(big & (lad["step"] > 0.6 * lad.loc[big, "step"].max())) & (lad["run"] != "1B-1xC")]
    prog, _ = plan_progress(rungs, now)
    fig = plots.plan_figure(rungs, cfg.target_n, cfg.target_tokens, prog)
    (ax,) = fig.axes
    for r in rungs:
        assert _has(_points(ax, r.name), r.n, r.tokens)
    assert _has(_points(ax, "target"), cfg.target_n, cfg.target_tokens)
    face = {c.get_label(): c.get_facecolor() for c in ax.collections}
    def filled(fc):
        return len(fc) > 0 and fc[0][3] > 0

    assert not filled(face["1B-1xC"]) and filled(face["190M-1xC"])  # not started: hollow; done: filled
    assert not filled(face["1B-10xC"]) and filled(face["1B-10xC so far"])  # training: its outline, filled in part
    assert set(face) - {r.name for r in rungs} == {"target", "1B-10xC so far"}  # the one rung training
    assert [t.get_text() for t in ax.texts if t.get_text().endswith("%")] == ["60%"]
    total = sum(r.flops for r in rungs)
    assert f"{total:.2e} FLOPs = {100 * total / (6 * cfg.target_n * cfg.target_tokens):.2f}% of the target" \
        in ax.get_title()
    plt.close(fig)


def test_the_reach_figure_hatches_the_compute_past_a_thousand_times_the_ladder(drawn, tmp_path):
    from taskladder.reach import Reach

    c = np.geomspace(1e19, 1e26, 48)
    curve = (c, np.linspace(0.3, 0.7, 48), np.linspace(0.25, 0.6, 48), np.linspace(0.35, 0.8, 48))
    row = {"task": "mmlu", "goal": 0.5, "level": 0.9, "compute": 1e23, "compute_lower": 3e22, "compute_upper": 1e24,
           "reached": "yes", "family": "D = 5xC"}
    # a ladder whose largest run is 2e21 FLOPs: hatched from 2e24 to the search's end; one of 2e23: none
    plots.plot_reach(Reach([{**row, "ladder_compute": 2e21}, {**row, "task": "piqa", "ladder_compute": 2e23}],
                           {"mmlu": curve, "piqa": curve}), tmp_path / "reach.png")
    axes = [ax for ax in drawn[0].axes if ax.get_title()]
    hatched = [[p for p in ax.patches if p.get_hatch()] for ax in axes]
    assert [len(h) for h in hatched] == [1, 0]
    (span,) = hatched[0]
    assert span.get_label() == "past 1,000x the ladder: untested"
    assert span.get_x() == pytest.approx(2e24) and span.get_x() + span.get_width() == pytest.approx(1e26)
