"""One self-contained HTML report: every table and figure, images embedded."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

import pandas as pd

from . import analyses, plots
from .chain import PAPER, Ladder, predict_targets
from .io import write_bytes_atomic
from .paper import FIGURE2_MAE
from .tasks import ACC, BPB, REGISTRY
from .trust import AUTO_MIN_RUNS
from .units import percent

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.1em}h2{margin-top:2em;border-bottom:2px solid #eee;padding-bottom:.2em}
.sub{color:#666;margin-top:0}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0}
th,td{padding:.28em .65em;border-bottom:1px solid #e5e5e5;text-align:right}
th{background:#f6f6f8}td:first-child,th:first-child{text-align:left}td{white-space:nowrap}
.notes td:last-child{white-space:normal;max-width:30em;text-align:left;font-size:.92em;color:#555}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.kpi{display:inline-block;background:#f6f6f8;border-radius:8px;padding:.6em 1.1em;margin:.3em .6em .3em 0}
.kpi b{font-size:1.5em;display:block}.flag{color:#a15c00}.note{color:#555;font-size:.92em}
"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _name(task: str) -> str:
    return REGISTRY[task].display if task in REGISTRY else task


def _pct(v) -> str:
    return "–" if v is None or v != v else f"{100 * v:.1f}"


def _table(df: pd.DataFrame, notes: bool = False) -> str:
    """An HTML table; ``notes``: its last column is free text (flags, formulas), set as a grey note."""
    t = df.to_html(index=False, escape=True, border=0, na_rep="–")
    return f'<div class="notes">{t}</div>' if notes else t


class _Figures:
    """The report's figures, drawn together at the end over the cores (:func:`plots.draw_all`:
    forked workers inherit the data) and then inlined where :meth:`add` left a placeholder:
    drawn one after another they were two thirds of a warm report's time."""

    def __init__(self, folder: Path):
        self.folder, self.jobs = folder, []

    def add(self, draw, *args, name: str, **kwargs) -> str:
        """Queue ``draw(*args, folder / name, **kwargs)``; returns the placeholder of its image."""
        path = self.folder / name
        self.jobs.append((draw, (*args, path), kwargs))
        return f"\0{name}\0"

    def inline(self, text: str) -> str:
        plots.draw_all(self.jobs)  # in the order queued: the costly panel grids first
        for _, args, _ in self.jobs:
            text = text.replace(f"\0{args[-1].name}\0", _img(args[-1]))
        return text


def build(ladder, targets, tasks, var_tasks, title: str = "taskladder report", paper: bool = False,
          intervals: pd.DataFrame | None = None, calibration: bool = False,
          running: tuple | None = None, compared: tuple | None = None, provenance: dict | None = None) -> str:
    """Fit everything and return the report as one HTML string.

    ``intervals``: per task (and ``target``, when there are several) the chained
    prediction's ``lower``/``upper`` bounds and ``chance``, shown beside it
    (``taskladder run``, :func:`taskladder.pipeline.chained_predictions`).
    ``calibration``: add the automatic intervals' coverage on the ladder's own splits
    (:mod:`taskladder.calibration`; it refits the automatic choice on every split).
    ``running``: what :func:`running_forecast` returns, a section after the automatic prediction.
    ``compared``: what :func:`comparison` returns, a section after that.
    ``provenance``: the versions and the data's digests (:mod:`taskladder.provenance`), in the footer."""
    lad = ladder if isinstance(ladder, Ladder) else Ladder(ladder)
    targets = list(targets)
    # the paper's chain goes through bits-per-byte: a W&B export of accuracies, or a team's own
    # table, may lack it for some tasks or for all; those are predicted by the automatic choice
    # alone, from the pipelines that need none
    chain = [t for t in tasks if lad.has(t, BPB)]
    said = _warnings(lad, targets, tasks)  # what predict would warn about, every task's
    # Table 4 covers every task of the logs (BoolQ and Winogrande too); on a ladder of the
    # user's own tasks, those reported
    var = [t for t in var_tasks if t in lad.tasks and lad.has(t, BPB) and lad.has(t, ACC)] or chain
    with tempfile.TemporaryDirectory() as tmp:
        fig = _Figures(Path(tmp))
        parts = [f"<h1>{html.escape(title)}</h1>"]
        if chain:
            have_actual, chained = _paper_chain(lad, targets, chain, [t for t in tasks if t not in chain], said,
                                                fig, intervals, paper)
            parts += chained
        else:
            have_actual = False
            parts += [_subtitle(lad, targets), "<h2>Chained predictions (task loss → accuracy)</h2>",
                      '<p class="note">Not shown: no task of this ladder has bits-per-byte values, the task loss '
                      "of the paper's chain; the automatic prediction below uses the pipelines that need none.</p>",
                      *said]
        parts += _automatic(lad, targets, tasks, fig, calibration)
        if running is not None:
            parts += _running(*running, fig)
        if compared is not None:
            parts += _compared(*compared, fig)
        if chain:
            parts += _designs(lad, targets, chain, analyses.design_choices(lad, targets, chain), have_actual, fig)
            parts += _mc(lad, targets, chain)
        if var:
            parts += _variance(analyses.variance(lad, var), fig)
        if have_actual:
            parts += _compute_vs_error(analyses.compute_vs_error(lad, targets, chain), fig)
        parts += _ladder(lad, fig)
        parts.append(_footer(provenance))
        return fig.inline(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                          f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")


def _paper_chain(lad: Ladder, targets, tasks, no_loss, said: list[str], fig: _Figures, intervals,
                 paper: bool) -> tuple[bool, list[str]]:
    """The paper's chain on ``tasks``: each target's mean error, the predictions and ``said``
    (the warnings), the fitted laws and their figures; whether any target has actuals.
    ``no_loss``: the tasks left out of it."""
    preds, fits = predict_targets(lad, targets, tasks, PAPER)
    if paper:  # the paper's Figure 2 values beside ours
        from .paper import figure2_table

        ref = figure2_table().rename(columns={"predicted": "paper_predicted", "actual": "paper_actual"})
        preds = preds.merge(ref, on=["task", "target"], how="left")
    have_actual = bool(preds["actual"].notna().any())
    parts = [_subtitle(lad, targets), *_kpis(preds, paper), *_chained(preds, intervals, paper), *said]
    if no_loss:
        parts.append(f'<p class="note">Not in the chain (no bits-per-byte values): '
                     f'{html.escape(", ".join(map(_name, no_loss)))}; see the automatic prediction.</p>')
    rows = [{"task": _name(k), "step 1": f.step1_.formula(), "fit err 1": f"{f.step1_.fit_error_:.2%}",
             "step 2": f.step2_.formula(), "fit err 2": f"{f.step2_.fit_error_:.2%}"} for k, f in fits.items()]
    parts += ["<h2>Fitted laws</h2>", _table(pd.DataFrame(rows))]
    finals = plots.final_accuracy(lad, fits)
    figs = [("Step 1: task loss vs tokens", fig.add(plots.plot_step1, fits, targets, name="s1.png")),
            ("Step 2: accuracy vs task loss (shaded: 95% band of the fitted curve)",
             fig.add(plots.plot_step2, fits, targets, name="s2.png")),
            ("Chained: accuracy vs tokens", fig.add(plots.plot_chained, fits, targets, name="ch.png", final_acc=finals))]
    if have_actual:
        figs.append(("Predicted vs actual", fig.add(plots.plot_summary, preds, name="sum.png")))
    for cap, p in figs:
        parts += [f"<h2>{html.escape(cap)}</h2>", p]
    return have_actual, parts


def _footer(provenance: dict | None) -> str:
    """Which release made the report, from which data (the digests of :mod:`taskladder.provenance`)."""
    if provenance is None:
        return '<p class="note">Generated by taskladder. Ladder data: allenai/OLMo-ladder (Apache-2.0).</p>'
    from .provenance import BUNDLED

    v = provenance["versions"]
    libs = ", ".join(f"{k} {x}" for k, x in v.items() if k != "taskladder" and x)
    sources = {role: src for role, src in provenance.items() if role != "versions"}
    data = "; ".join(f"{role.replace('_', ' ').capitalize()}: {_files(src['files'])} (digest "
                     f"{(src['digest'] or '?')[:16]})" for role, src in sources.items())
    credit = "" if any(src["files"] == BUNDLED for src in sources.values()) else \
        " Bundled data: allenai/OLMo-ladder (Apache-2.0)."
    return (f'<p class="note">Generated by taskladder {html.escape(v["taskladder"])} ({html.escape(libs)}). '
            f"{html.escape(data)}.{credit}</p>")


def _files(files) -> str:
    return files if isinstance(files, str) else ", ".join(files)


def _subtitle(lad: Ladder, targets) -> str:
    return (f'<p class="sub">Two-step task scaling laws (Bhagia et al., 2024) fitted on '
            f'{lad.results["run"].nunique()} ladder runs; targets: {", ".join(html.escape(t.name) for t in targets)}.</p>')


def _kpis(preds: pd.DataFrame, paper: bool) -> list[str]:
    """Each target's mean error, the paper's beside it."""
    parts = []
    if preds["actual"].notna().any():
        for tgt, v in preds.groupby("target", sort=False)["abs_error"].mean().items():
            ref = FIGURE2_MAE.get(tgt) if paper else None
            parts.append(f'<span class="kpi">{html.escape(tgt)} mean abs. error<b>{v:.2f} pts</b>'
                         + (f"paper: {ref}" if ref else "") + "</span>")
    return parts


def _warnings(lad: Ladder, targets, tasks) -> list[str]:
    """What ``predict`` would warn about, as the report's flagged paragraphs."""
    from .chain import ladder_span
    from .predictor import prediction_notes

    return [f'<p class="flag">warning: {html.escape(n)}</p>' for n in prediction_notes(ladder_span(lad), targets, tasks)]


def _chained(preds: pd.DataFrame, intervals, paper: bool) -> list[str]:
    """The paper's chained predictions, with ``intervals`` and the paper's values where given."""
    t = pd.DataFrame({
        "task": preds["task"].map(_name), "target": preds["target"],
        "predicted": preds["predicted"].map(_pct), "actual": preds["actual"].map(_pct),
        "abs err (pts)": preds["abs_error"].map(lambda v: "–" if v != v or v is None else f"{v:.1f}"),
        "rel err": preds["rel_error"].map(lambda v: "–" if v != v or v is None else f"{v:.1%}"),
        # step 1 alone: where accuracy is at chance (micro ladders), this is the number to judge
        "pred. task loss": preds["predicted_feature"].map(lambda v: f"{v:.3f}"),
        "actual task loss": preds["actual_feature"].map(lambda v: "–" if v is None or v != v else f"{v:.3f}"),
    })
    if intervals is not None:
        on = ["task", "target"] if "target" in intervals else ["task"]
        iv = preds[on].merge(intervals, on=on, how="left")
        t.insert(3, "90% interval", [f"[{_pct(a)}, {_pct(b)}]" for a, b in zip(iv["lower"], iv["upper"])])
        t.insert(5, "chance", iv["chance"].map(_pct))
    if paper and "paper_predicted" in preds:
        t["paper pred"] = preds["paper_predicted"].map(_pct)
        t["paper actual"] = preds["paper_actual"].map(_pct)
    t["flags"] = preds["flags"]
    return ["<h2>Chained predictions (task loss → accuracy)</h2>", _table(t, notes=True)]


def _automatic(lad: Ladder, targets, tasks, fig: _Figures, calibration: bool) -> list[str]:
    """The automatic prediction with its intervals (and their calibration on the ladder)."""
    parts = ["<h2>Automatic prediction with 90% intervals</h2>"]
    n_runs = lad.results["run"].nunique()
    if n_runs < AUTO_MIN_RUNS:
        return parts + [f'<p class="note">Not shown: the automatic choice backtests every pipeline on the 4 '
                        f"largest rungs and needs at least {AUTO_MIN_RUNS} runs; this ladder has {n_runs}.</p>"]
    from .trust import auto_predict

    got = auto_predict(lad, targets, tasks)
    auto = got.predictions
    parts.append('<p class="note">Per task, the pipelines below are weighted by how well each predicted '
                 "the ladder's own largest rungs when they were held out (by N and by compute); the interval "
                 "adds the pipelines' fit uncertainty to the weighted prediction's own backtest error, grown "
                 "with the distance extrapolated. Nothing about the targets is used. See docs/trust.md.</p>")
    shown = plots.with_mean(auto, got.mean)  # the mean over the tasks in the last rows, "mean of K"
    at = pd.DataFrame({"task": shown["task"].map(_name), "target": shown["target"],
                       "predicted": shown["predicted"].map(_pct),
                       "90% interval": [f"[{_pct(a)}, {_pct(b)}]" for a, b in zip(shown["lower"], shown["upper"])],
                       "actual": shown["actual"].map(_pct),
                       "abs err (pts)": shown["abs_error"].map(lambda v: "–" if v is None or v != v else f"{v:.1f}"),
                       "pipelines (weight)": shown["pipeline"].fillna("its own backtest error (below)")
                       .str.removeprefix("weighted: ")})
    parts += [_table(at, notes=True)] + [f'<p class="note">{html.escape(n)}</p>' for n in got.notes]
    if len(got.mean):
        parts.append('<p class="note">The interval of the mean over the tasks carries the mean\'s own backtest '
                     "error (the tasks' errors on each held-out rung averaged first, so errors they share stay and "
                     "errors that cancel cancel; at least those of errors correlated 0.25) and the tasks' fit "
                     "variances as independent: usually much narrower than the tasks'. See docs/trust.md, \"The mean over "
                     "tasks\".</p>")
    parts.append(fig.add(plots.plot_auto, shown, name="auto.png"))
    if auto["actual"].notna().any():
        m = auto.groupby("target", sort=False)["abs_error"].mean()
        parts.append('<p class="note">Mean absolute error: ' + ", ".join(
            f"{html.escape(k)} {v:.2f} pts" for k, v in m.items())
            + f"; {int(auto['covered'].sum())}/{len(auto)} actuals inside the intervals.</p>")
    return parts + (_calibration_section(lad, tasks, fig) if calibration else [
        '<p class="note">How these intervals cover on the ladder\'s own splits: '
        "<code>taskladder report --calibration</code> or <code>taskladder backtest --calibration</code>.</p>"])


def running_forecast(ladder, log_file, target, tasks, sizes=None) -> tuple | None:
    """The report's forecast of a run still training: ``target`` (made from its eval log
    ``log_file``) forecast to its tokens from its checkpoints so far (:func:`forecast.forecast`),
    when the log stops short of them, as ``predict`` then shows no actual for it.

    Returns None for a finished log (its actuals are in the report), else (the target's name,
    the :class:`forecast.ForecastResult` or None, the notes: what the forecast says, or why
    there is none)."""
    from .errors import TaskladderError, recording_input_warnings
    from .forecast import forecast, forecastable, target_log

    if target.results is not None:
        return None
    log, _, _ = target_log(target_file=log_file, n=target.n, sizes=sizes)  # read as `forecast --target-file` reads it
    have = [t for t in tasks if forecastable(log, t)]
    if not have:
        return target.name, None, [f"{log_file}: no forecast: the log has no task of this report with both task "
                                   "loss (bpb) and accuracy"]
    try:  # a log too short to forecast from leaves the rest of the report standing
        res, notes = recording_input_warnings(forecast, ladder, log, target.n, tokens=target.d, tasks=have,
                                              name=target.name)
    except TaskladderError as e:
        return target.name, None, [f"no forecast: {e}"]
    return target.name, res, notes


def comparison(ladder, candidate, targets, tasks=None, sizes=None, level: float = 0.9) -> tuple:
    """What ``report --candidate`` adds: :func:`compare.compare` of ``candidate`` (files or a folder)
    minus ``ladder`` (the report's: files, or None for the bundled one) at the report's targets, on
    ``tasks`` (default: those both have accuracy for).  Returns (table, notes, (base, cand) names)."""
    from pathlib import Path

    from .compare import compare, read_pair
    from .errors import recording_input_warnings

    base = "the bundled ladder" if not ladder else ", ".join(Path(p).name for p in ladder)
    la, lb, names = read_pair(ladder, candidate, tasks, sizes)
    table, notes = recording_input_warnings(compare, la, lb, targets, names, level, mean=True)
    return table, list(notes), (base, Path(candidate).name)


def _compared(table: pd.DataFrame, notes, names: tuple, fig: _Figures) -> list[str]:
    """The candidate ladder against the report's (:func:`comparison`): its table, figure and notes."""
    from .aggregate import labelled
    from .compare import INTERVAL_METHOD, multiplier_text, verdict

    base, cand = names
    level = float(table["level"].iloc[0])
    table = labelled(table)  # the mean over the tasks, last per target, named "mean of K"
    t = pd.DataFrame({"task": table["task"].map(_name), "target": table["target"],
                      # by role, not name: two ladders' files may share a name (runs/ladder.csv, mix/ladder.csv)
                      "baseline": table["baseline"].map(_pct), "candidate": table["candidate"].map(_pct),
                      "difference (pts)": table["difference"].map(lambda v: f"{100 * v:+.1f}"),
                      f"{percent(level)} interval": [f"[{100 * a:+.1f}, {100 * b:+.1f}]"
                                                     for a, b in zip(table["lower"], table["upper"])],
                      "verdict": [verdict(a, b) for a, b in zip(table["lower"], table["upper"])],
                      "x compute": [multiplier_text(r, bounds=True) for r in table.to_dict(orient="records")]})
    return [f"<h2>{html.escape(cand)} minus {html.escape(base)}</h2>",
            f'<p class="note">Each ladder\'s automatic prediction at the targets, their pipelines weighted '
            f"alike; the difference's interval: {html.escape(INTERVAL_METHOD)}. A verdict is higher or lower "
            "where the interval excludes 0 (docs/trust.md, \"Comparing two ladders\"). The mean over the tasks "
            "carries its own backtest error, as the automatic prediction's mean does. x compute: the compute the "
            "baseline's prediction needs to match the candidate's, over the target's, N and D scaled together "
            "(its range from the difference's interval).</p>",
            _table(t), fig.add(plots.plot_compare, table, name="compare.png", names=(base, cand)),
            *[f'<p class="flag">warning: {html.escape(n)}</p>' for n in notes]]


def _running(name: str, res, notes, fig: _Figures) -> list[str]:
    """The forecast of a run still training: its table, notes and figure (docs/forecast.md)."""
    parts = [f"<h2>Forecast of {html.escape(name)} from its own checkpoints</h2>"]
    if res is not None:
        first = res.forecasts.iloc[0]
        fc = plots.with_mean(res.forecasts, res.mean)  # the mean over the tasks last, "mean of K"
        parts.append(f'<p class="sub">At D={first["tokens"]:.3g} tokens from {first["checkpoints"]} checkpoints '
                     f"({first['seen_frac']:.0%} of the tokens): the ladder's task-loss curve anchored to the "
                     "run's recent task losses and corrected for its schedule, step 2 shifted by the run's own "
                     "accuracy residuals (<code>taskladder forecast</code>, docs/forecast.md).</p>")
        level = f"{percent(first['level'])} interval"
        t = pd.DataFrame({"task": fc["task"].map(_name), "forecast": fc["predicted"].map(_pct),
                          level: [f"[{_pct(a)}, {_pct(b)}]" for a, b in zip(fc["lower"], fc["upper"])],
                          "task loss": fc["predicted_loss"].map(lambda v: "–" if v != v else f"{v:.3f}"),
                          "ladder only": fc["ladder_predicted"].map(_pct)})
        parts.append(_table(t))
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    if res is not None:
        parts.append(fig.add(plots.plot_forecast, res, res.forecaster, name="forecast.png"))
    return parts


def _designs(lad: Ladder, targets, tasks, design: pd.DataFrame, have_actual: bool, fig: _Figures) -> list[str]:
    """Every pipeline of the paper's section 6: relative errors where the actuals are known."""
    parts = ["<h2>Design choices (paper section 6)</h2>",
             '<p class="note">task_bpb: the main recipe. flops: step 1 on C = 6ND only (flops_olmo: on the FLOPs OLMo logged). taskce: '
             "cross-entropy over choices with the log-sigmoid. c4: C4 loss as the middle feature. "
             "single_step: one function from (N, D) to accuracy.</p>"]
    if left := analyses.left_out_designs(lad, targets, tasks):
        parts.append('<p class="note">Not shown: ' + "; ".join(f"{d} ({html.escape(why)})" for d, why in left.items())
                     + ".</p>")
    if have_actual:
        piv = design.pivot_table(index="task", columns=["design", "target"], values="relative_error", sort=False)
        piv.index = [_name(i) for i in piv.index]
        piv.columns = [f"{d} · {tg}" for d, tg in piv.columns]
        return parts + [piv.map(lambda v: f"{v:.1%}").reset_index(names="task").to_html(index=False, border=0),
                        fig.add(plots.plot_design_choices, design, name="dc.png")]
    piv = design.pivot_table(index="task", columns=["design", "target"], values="predicted", sort=False)
    piv.columns = [f"{d} · {tg}" for d, tg in piv.columns]
    return parts + [piv.map(lambda v: f"{100 * v:.1f}").reset_index().to_html(index=False, border=0)]


def _mc(lad: Ladder, targets, tasks) -> list[str]:
    """MC-format predictions (appendix B.2), for the bundled targets whose checkpoints step 2 needs."""
    if not all(t.full is not None and t.name in analyses.MC_STEP_RANGES for t in targets):
        return []
    mc = analyses.mc_predictions(lad, targets, [t for t in analyses.MC_TASKS if t in tasks])
    if not len(mc):
        return []
    return ["<h2>MC format (paper appendix B.2)</h2>",
            '<p class="note">Step 1 from the ladder; step 2 fitted on the target\'s own '
            "intermediate checkpoints (7B: steps 170k-450k, 13B: 50k-150k), since ladder models "
            "stay at chance in MC format.</p>",
            _table(pd.DataFrame({
                "task": mc["task"].map(_name), "target": mc["target"], "predicted": mc["predicted"].map(_pct),
                "actual": mc["actual"].map(_pct), "abs err (pts)": mc["abs_error"].map("{:.1f}".format),
                "step 2": mc["step2"]}), notes=True)]


def _variance(var: pd.DataFrame, fig: _Figures) -> list[str]:
    """Table 4: the SD of task loss and accuracy over the last checkpoints."""
    if var["last_n"].min() < 3:  # a ladder scored only at its runs' ends
        return ["<h2>Variance over the last checkpoints (paper section 5.1)</h2>",
                f'<p class="note">Not shown: run {html.escape(analyses.variance_runs(var))} has '
                f'{var["last_n"].min()} checkpoint(s) scored; an SD needs at least 3.</p>']
    vt = pd.DataFrame({"task": var["task"].map(_name), "loss SD": var["loss_sd"].map("{:.4f}".format),
                       "loss rel SD": var["loss_rel_sd"].map("{:.2%}".format),
                       "acc SD": var["acc_sd"].map("{:.4f}".format),
                       "acc rel SD": var["acc_rel_sd"].map("{:.2%}".format)})
    return ["<h2>Variance over the last checkpoints (paper section 5.1)</h2>",
            f'<p class="note">run {html.escape(analyses.variance_runs(var))}, last {var["last_n"].iloc[0]} '
            "checkpoints. Noisy tasks are harder to predict.</p>", _table(vt),
            fig.add(plots.plot_variance, var, name="var.png")]


def _compute_vs_error(cv: pd.DataFrame, fig: _Figures) -> list[str]:
    """Section 5.2: the error as rungs are added, against the ladder's share of the target's compute."""
    g = cv.groupby(["axis", "subset", "runs", "target"], sort=False).agg(
        flops_share=("flops_share", "first"), mae=("abs_error", "mean")).reset_index()
    g["flops_share"] = g["flops_share"].map("{:.2%}".format)
    g["mae"] = g["mae"].map("{:.2f}".format)
    return ["<h2>Prediction error vs ladder compute (paper section 5.2)</h2>",
            fig.add(plots.plot_compute_vs_error, cv, name="cv.png"),
            _table(g.rename(columns={"flops_share": "ladder / target compute", "mae": "MAE (pts)"}))]


def _ladder(lad: Ladder, fig: _Figures) -> list[str]:
    """The ladder itself (:func:`describe.describe`): each run's N, tokens and Chinchilla multiple
    (reached, and planned where it falls short), checkpoints and tasks; each task's runs; every
    run's accuracy over training (``data --out``'s figure)."""
    from .describe import describe

    d = describe(lad)
    runs = pd.DataFrame({
        "run": d.runs["run"], "N": d.runs["n"].map("{:,}".format), "final D": d.runs["d"].map("{:.3e}".format),
        "× Chinchilla": [f"{m:.3g}" + (f" of {p:g}" if short else "")
                         for m, p, short in zip(d.runs["multiple"], d.runs["planned"], d.runs["short"])],
        "checkpoints": d.runs["checkpoints"], "tasks": d.runs["tasks"]})
    tasks = pd.DataFrame({"task": d.tasks["task"].map(_name), "runs": d.tasks["runs"], "metrics": d.tasks["metrics"],
                          "final acc": [f"{_pct(lo)}–{_pct(hi)}" for lo, hi in zip(d.tasks["acc_low"],
                                                                                d.tasks["acc_high"])]})
    curves = [fig.add(plots.plot_ladder_curves, lad.results, ACC, name="ladder_accuracy.png")] \
        if lad.results["metric"].eq(ACC).any() else []
    return ["<h2>The ladder</h2>", f'<p class="sub">Supports {html.escape(d.supports)}.</p>',
            _table(runs), _table(tasks), *curves]


def _calibration_section(lad: Ladder, tasks, fig: _Figures) -> list[str]:
    """Coverage and width of the automatic intervals when the whole procedure is replayed
    on the ladder's splits (rolling origins, top compute, largest multiple)."""
    from .aggregate import MEAN, mean_label
    from .calibration import LEVELS, calibration_table, rolling_auto, splits_text

    parts = ["<h2>Calibration of the intervals on the ladder</h2>"]
    rolled = rolling_auto(lad.results, tasks)
    if rolled.empty:
        return parts + ['<p class="note">Not shown: no split of this ladder leaves the 10 runs the automatic '
                        "prediction needs to train on.</p>"]
    table = calibration_table(rolled)
    splits = html.escape(splits_text(rolled))
    parts.append(f'<p class="note">The automatic prediction (its own backtest, weights and interval) refitted on '
                 f"each split and scored on the runs it did not see: {splits}. Mean log-extrapolation of the held-out "
                 f"runs {rolled.loc[rolled['task'] != MEAN, 'log_extrapolation'].mean():.1f} (a target such as "
                 "7B-4T: about 7.4), so this "
                 "measures calibration nearer the ladder than a target sits. See docs/trust.md.</p>")
    rows = []
    for task, g in table.groupby("task", sort=False):
        g = g.set_index("level")
        rows.append({"task": "pooled" if task == "all" else mean_label(len(tasks)) if task == MEAN else _name(task),
                     **{f"coverage {lv:.0%}": f"{g.loc[lv, 'coverage']:.0%}" for lv in LEVELS},
                     **{f"± {lv:.0%} (pts)": f"{g.loc[lv, 'half_width']:.1f}" for lv in LEVELS},
                     "n": int(g["n"].iloc[0])})
    return parts + [_table(pd.DataFrame(rows)), fig.add(plots.plot_reliability, table, name="rel.png")]


def write(path: Path, html_text: str) -> Path:
    return write_bytes_atomic(Path(path), html_text.encode())
