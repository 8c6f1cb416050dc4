"""Figures in the spirit of the paper's Figures 1-4 (step 1, step 2, chained, summary)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .chain import TaskPredictor, feature_key
from .results import parse_run_name
from .tasks import ACC, REGISTRY
from .units import percent


@lru_cache(maxsize=1)
def _plt():
    """matplotlib's pyplot, on the Agg backend (files, no window), imported when a figure is drawn:
    a figure copied from the cache (:func:`draw_all`) needs none, and importing it took a quarter of
    a warm ``reproduce``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


FEATURE_LABEL = {"bpb": "Task loss (bpb)", "taskce": "TaskCE", "c4": "C4 loss"}
_MARKERS = {1.0: "s", 2.0: "P", 5.0: "p", 10.0: "*"}
_SIZE_COLORS = ["#8c2d04", "#d94801", "#238b45", "#08519c", "#6a51a3", "#525252"]
_TARGET_COLORS = ["#7a0177", "#c51b8a", "#dd3497", "#f768a1"]


def _display(task: str) -> str:
    t = REGISTRY.get(task)
    return t.display if t else task


def _size_colors(fits: dict[str, TaskPredictor]) -> dict[str, str]:
    any_fit = next(iter(fits.values()))
    sizes = any_fit.step1_data_.sort_values("n")["size"].drop_duplicates().tolist()
    return {s: _SIZE_COLORS[i % len(_SIZE_COLORS)] for i, s in enumerate(sizes)}


def _grid(n: int):
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = _plt().subplots(rows, cols, figsize=(3.3 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def save(fig, path: Path, tight: bool = True) -> Path:
    """Write a figure atomically (temp file, then rename), so no half-written PNG is left.

    ``tight=False`` for figures laid out by hand (the panel grids): a tight bounding box
    draws the figure twice more, which cost ~2/3 of the time on log axes.
    """
    from .io import _atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _atomic(path, lambda tmp: fig.savefig(tmp, dpi=130, format=path.suffix.lstrip(".") or "png",
                                                     bbox_inches="tight" if tight else None))
    finally:
        _plt().close(fig)


def _ladder_handles(fits: dict[str, TaskPredictor], multiples: bool = True) -> list:
    """Legend entries for the ladder: one colour per size in numeric order, one marker per Chinchilla multiple."""
    from matplotlib.lines import Line2D

    hs = [Line2D([], [], color=c, marker="o", ls="--", lw=1, ms=5, label=s) for s, c in _size_colors(fits).items()]
    if multiples:
        any_fit = next(iter(fits.values()))
        mults = sorted({m for m in (parse_run_name(r)[1] for r in any_fit.step1_data_["run"]) if m is not None})
        hs += [Line2D([], [], color="#555", marker=_MARKERS.get(m, "o"), ls="", ms=6, label=f"{m:g}xC") for m in mults]
    return hs


def _mark_target(ax, t, pred: float, act, c):
    """A target's prediction (x) at its tokens and, if known, its actual (o); returns the actual."""
    ax.scatter(t.d, pred, marker="x", color=c, s=30, label=f"{t.name} (predicted)", zorder=4)
    if act is not None:
        ax.scatter(t.d, act, marker="o", facecolors="none", edgecolors=c, s=30, label=f"{t.name} (actual)", zorder=4)
    return act


def _error_box(ax, lines: list[tuple[str, str]], where: str = "upper right") -> None:
    """Each target's error in one box in a corner of the panel (labels beside points overlapped)."""
    if not lines:
        return
    x, ha = (0.97, "right") if "right" in where else (0.03, "left")
    y, va = (0.97, "top") if "upper" in where else (0.03, "bottom")
    for i, (text, color) in enumerate(lines):
        dy = -0.09 * i if va == "top" else 0.09 * (len(lines) - 1 - i)
        ax.text(x, y + dy, text, transform=ax.transAxes, ha=ha, va=va, fontsize=7, color=color)


def _log_x(ax) -> None:
    """A log x axis with minor ticks at 2 and 5 of each decade: matplotlib's default 8 per decade
    made a Tick object each, ~40% of the time of a panel grid of token axes."""
    from matplotlib.ticker import LogLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))


def _minor_labels(ax, decades: int) -> None:
    """Label the 2s and 5s of a log x axis (:func:`_log_x`'s minor ticks) spanning up to ``decades``:
    past one decade matplotlib labels no minor tick, leaving one or two labels on the axis."""
    from matplotlib.ticker import LogFormatterSciNotation

    ax.xaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(decades, decades)))


def _finals_scatter(ax, runs, ds, ys, color) -> None:
    """The runs' final points (a None y is skipped), one scatter per Chinchilla multiple (its
    marker) rather than one per run."""
    by: dict = {}
    for r, d, y in zip(runs, ds, ys):
        if y is not None:
            by.setdefault(_MARKERS.get(parse_run_name(r)[1], "o"), []).append((d, y))
    for marker, pts in by.items():
        x, y = zip(*pts)
        ax.scatter(x, y, color=color, marker=marker, s=28, zorder=3)


def _draw(f, args, kwargs) -> None:
    f(*args, **kwargs)


def draw_all(jobs: list, n_jobs: int | None = None) -> None:
    """Draw figures, each ``(function, args, kwargs)`` with the figure's path last in ``args``,
    in parallel over forked processes (:func:`parallel.over_cores`: they inherit the data,
    nothing is pickled but a job's index); the costliest figures should come first.  Here, in
    order, where the platform cannot fork.

    A figure drawn before from the same data is copied from the on-disk cache instead
    (:func:`figure_key`): rendering was most of a warm ``reproduce`` or ``report``."""
    from . import cache
    from .io import _atomic
    from .parallel import over_cores

    todo, keys = [], []
    for f, args, kwargs in jobs:
        k = figure_key(f, args, kwargs) if cache.enabled() else None
        png = cache.load(k) if k is not None else None
        if isinstance(png, bytes):
            Path(args[-1]).parent.mkdir(parents=True, exist_ok=True)  # as save() makes it
            _atomic(Path(args[-1]), lambda tmp, b=png: Path(tmp).write_bytes(b))
            continue
        todo.append((f, args, kwargs))
        keys.append(k)
    for _ in over_cores(_draw, todo, n_jobs):
        pass
    for (_, args, _), k in zip(todo, keys):
        if k is not None and Path(args[-1]).is_file():  # a test's stand-in for save() writes none
            cache.store(k, Path(args[-1]).read_bytes())


@lru_cache(maxsize=1)
def _matplotlib_version() -> str:
    """matplotlib's version, read from its installed metadata: a figure's key needs no matplotlib import."""
    from importlib.metadata import version

    return version("matplotlib")


def figure_key(f, args, kwargs) -> str | None:
    """The cache key of a figure: its function, its data (``args`` but the path, and
    ``kwargs``, pickled item by item), the path's name, this module's source and matplotlib's
    version, so a change to the data, to how a figure is drawn or to the renderer draws it
    anew.  None where the data cannot be pickled (then it is drawn every time)."""
    import hashlib
    import pickle

    from . import cache

    def digest(obj) -> bytes:
        # containers item by item: pickle shares an object that two items hold (fits fitted in
        # one process share their config), so a dict of fits fitted here and the same fits read
        # from the cache one by one would pickle apart though equal
        if isinstance(obj, dict):
            parts = [repr(k).encode() + digest(v) for k, v in obj.items()]
        elif isinstance(obj, (list, tuple)):
            parts = [digest(v) for v in obj]
        else:
            return hashlib.sha256(pickle.dumps(obj, protocol=5)).digest()
        return hashlib.sha256(type(obj).__name__.encode() + b"".join(parts)).digest()

    try:
        data = digest((f.__module__, f.__qualname__, args[:-1], kwargs))
    except Exception:  # an object pickle cannot take: no key, the figure is drawn
        return None
    return cache.key("figure", Path(args[-1]).name, data.hex(), _source_hash(), _matplotlib_version())


@lru_cache(maxsize=1)
def _source_hash() -> str:
    """A hash of this module's source: a figure's look is defined here, which the package
    version (a developer's checkout keeps one across edits) does not follow."""
    import hashlib

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _legend(fig, axes, ncol=8, first=(), title: str | None = None):
    handles, labels = [], []
    for h in first:
        handles.append(h)
        labels.append(h.get_label())
    for ax in axes:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    w, h = fig.get_size_inches()
    head = 0.3 if title else 0.0
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / h)
    top_in = 0.35 + head + 0.2 * ((len(labels) + ncol - 1) // ncol)  # room for the title and legend rows
    fig.legend(handles, labels, loc="upper center", ncol=min(ncol, len(labels)), fontsize=8,
               bbox_to_anchor=(0.5, 1.0 - (0.08 + head) / h), frameon=False)
    # a fixed layout in inches (tight_layout measured every tick label: 2/3 of the drawing time)
    fig.subplots_adjust(left=0.75 / w, right=1 - 0.15 / w, bottom=0.5 / h, top=1 - (top_in + 0.3) / h,
                        wspace=0.32, hspace=0.5)


def plot_step1(fits: dict[str, TaskPredictor], targets: Sequence, path: Path) -> Path:
    """Step 1: the intermediate feature against tokens, one fitted curve per size."""
    colors = _size_colors(fits)
    fig, axes = _grid(len(fits))
    dmax = max(t.d for t in targets) * 1.5 if targets else None
    for ax, (task, fit) in zip(axes, fits.items()):
        pts = fit.step1_data_
        lo = pts["d"].min() * 0.8
        hi = dmax or pts["d"].max() * 1.5
        ds = np.geomspace(lo, hi, 100)
        for size, g in pts.groupby("size", sort=False):
            n = g["n"].iloc[0]
            ax.plot(ds, fit.predict_feature(n, ds), "--", color=colors[size], lw=1, alpha=0.7)
            _finals_scatter(ax, g["run"], g["d"], g["value"], colors[size])
        fkey = feature_key(task, fit.config.feature)
        errs = []
        for i, t in enumerate(targets):
            c = _TARGET_COLORS[i % len(_TARGET_COLORS)]
            pred = float(fit.predict_feature(t.n, t.d))
            ax.plot(np.geomspace(lo, hi, 100), fit.predict_feature(t.n, np.geomspace(lo, hi, 100)), ":",
                    color=c, lw=1)
            act = _mark_target(ax, t, pred, t.actual(*fkey), c)
            if act is not None:
                errs.append((f"{t.name}: {abs(pred - act) / act:.1%} off", c))
        _error_box(ax, errs, "upper right")
        _log_x(ax)
        ax.set_title(f"{_display(task)}  (fit error {fit.step1_.fit_error_:.2%})", fontsize=9, fontweight="bold")
        ax.set_xlabel("Tokens D", fontsize=8)
        ax.set_ylabel(FEATURE_LABEL[fit.config.feature], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    _legend(fig, axes, first=_ladder_handles(fits))
    return save(fig, path, tight=False)


def plot_step2(fits: dict[str, TaskPredictor], targets: Sequence, path: Path) -> Path:
    """Step 2: accuracy against the feature over all checkpoints, with the fitted curve."""
    colors = _size_colors(fits)
    fig, axes = _grid(len(fits))
    for ax, (task, fit) in zip(axes, fits.items()):
        pts = fit.step2_data_
        for size, g in pts.groupby("size", sort=False):
            ax.scatter(g["x"], g["y"], s=4, color=colors[size], alpha=0.6, edgecolors="none")
        fkey = feature_key(task, fit.config.feature)
        xs_all = [pts["x"].min(), pts["x"].max()]
        errs = []
        for i, t in enumerate(targets):
            c = _TARGET_COLORS[i % len(_TARGET_COLORS)]
            x, y = t.actual(*fkey), t.actual(task, ACC)
            if x is None or y is None:
                continue
            xs_all.append(x)
            pred = float(fit.step2_.predict(x))
            ax.scatter(x, pred, marker="x", color=c, s=30, label=f"{t.name} (step-2 prediction at its loss)", zorder=4)
            ax.scatter(x, y, marker="o", facecolors="none", edgecolors=c, s=30, label=f"{t.name} (actual)", zorder=4)
            errs.append((f"{t.name}: {abs(pred - y) / y:.1%} off", c))
        _error_box(ax, errs, "upper right")
        lo, hi = min(xs_all), max(xs_all)
        xs = np.linspace(lo - 0.15 * (hi - lo), hi + 0.05 * (hi - lo), 200)
        if hasattr(fit.step2_, "predict_interval"):  # the fitted curve's 95% band (paper Figure 4)
            band_lo, band_hi = fit.step2_.predict_interval(xs, level=0.95)
            # drawn with edges, under the curve: on ~1,000 checkpoints the band is only a few
            # tenths of a point wide, and a pale fill alone vanished under the line
            ax.fill_between(xs, band_lo, band_hi, color="#dd3497", alpha=0.45, lw=0.6, edgecolor="#7a0177",
                            label="95% band of the fitted curve", zorder=2)
        ax.plot(xs, fit.step2_.predict(xs), color="k", lw=0.6, alpha=0.8, zorder=3)
        ax.set_title(f"{_display(task)}  (fit error {fit.step2_.fit_error_:.2%})", fontsize=9, fontweight="bold")
        ax.set_xlabel(FEATURE_LABEL[fit.config.feature], fontsize=8)
        ax.set_ylabel("RC accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    _legend(fig, axes, first=_ladder_handles(fits, multiples=False))
    return save(fig, path, tight=False)


def final_accuracy(ladder, tasks, window: int = 5) -> dict[str, dict[str, float]]:
    """Per task, each run's final accuracy (the mean of its last ``window`` checkpoints): the
    ladder points of :func:`plot_chained`."""
    return {t: dict(zip(*ladder.final_points(t, ACC, window)[["run", "value"]].T.values)) for t in tasks}


def plot_chained(fits: dict[str, TaskPredictor], targets: Sequence, path: Path, final_acc=None) -> Path:
    """Chained: accuracy against tokens, ladder finals and each target's prediction."""
    colors = _size_colors(fits)
    fig, axes = _grid(len(fits))
    for ax, (task, fit) in zip(axes, fits.items()):
        pts = fit.step1_data_
        lo = pts["d"].min() * 0.8
        hi = max([pts["d"].max()] + [t.d for t in targets]) * 1.5
        ds = np.geomspace(lo, hi, 100)
        acc_final = final_acc.get(task) if final_acc else None
        for size, g in pts.groupby("size", sort=False):
            n = g["n"].iloc[0]
            ax.plot(ds, fit.predict(n, ds), "--", color=colors[size], lw=1, alpha=0.7)
            if acc_final is not None:
                _finals_scatter(ax, g["run"], g["d"], [acc_final.get(r) for r in g["run"]], colors[size])
        errs = []
        for i, t in enumerate(targets):
            c = _TARGET_COLORS[i % len(_TARGET_COLORS)]
            ax.plot(ds, fit.predict(t.n, ds), ":", color=c, lw=1)
            pred = float(fit.predict(t.n, t.d))
            act = _mark_target(ax, t, pred, t.actual(task, ACC), c)
            if act is not None:
                errs.append((f"{t.name}: {abs(pred - act) * 100:.1f} pts off", c))
        _error_box(ax, errs, "lower right")
        _log_x(ax)
        ax.set_title(_display(task), fontsize=9, fontweight="bold")
        ax.set_xlabel("Tokens D", fontsize=8)
        ax.set_ylabel("RC accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    _legend(fig, axes, first=_ladder_handles(fits, multiples=final_acc is not None))
    return save(fig, path, tight=False)


def _row_plot(preds: pd.DataFrame, draw, path: Path, title: str | None = None,
              xlabel: str = "RC accuracy (points)") -> Path:
    """One row per (task, target), grouped by task; ``draw(ax, row, y, color)`` draws a row."""
    tasks = list(dict.fromkeys(preds["task"]))
    targets = list(dict.fromkeys(preds["target"]))
    fig, ax = _plt().subplots(figsize=(9.5, 0.45 * len(tasks) * len(targets) + 1.2))
    y, ticks, labels = 0, [], []
    for task in tasks:
        for i, tgt in enumerate(targets):
            r = preds[(preds["task"] == task) & (preds["target"] == tgt)]
            if r.empty:
                continue
            draw(ax, r.iloc[0], y, _TARGET_COLORS[i % len(_TARGET_COLORS)])
            ticks.append(y)
            labels.append(f"{_display(task)} · {tgt}")
            y -= 1
        y -= 0.5
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    h, l = ax.get_legend_handles_labels()
    uniq = dict(zip(l, h))
    # beside the rows, not over them: a corner of the axes holds some row's interval
    ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title, fontsize=10, fontweight="bold")
    fig.tight_layout(rect=(0, _interval_note(fig, preds), 1, 1))
    return save(fig, path)


def _interval_note(fig, preds: pd.DataFrame) -> float:
    """How the intervals drawn were built (the rows' ``interval`` column, as the tables and JSON
    state it), as a footnote: a figure read apart from its table still says what its bars mean.
    Returns the share of the figure's height the note takes (0 without one)."""
    import textwrap

    if "interval" not in preds:
        return 0.0
    rows = preds[preds["interval"].notna()]
    said = {text: "The mean's interval" if g["task"].astype(str).str.startswith("mean").all() else "Interval"
            for text, g in rows.groupby("interval", sort=False)}
    if not said:
        return 0.0
    lines = [line for text, what in said.items() for line in textwrap.wrap(f"{what}: {text}.", 150)]
    inches = 0.13 * len(lines) + 0.1
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=6.5, color="0.3", va="bottom", ha="left")
    return inches / fig.get_figheight()


def plot_summary(predictions: pd.DataFrame, path: Path) -> Path:
    """Predicted against actual accuracy for every task and target (dot plot)."""
    def draw(ax, r, y, c):
        p, tgt = 100 * r["predicted"], r["target"]
        if pd.notna(r.get("actual")):
            a = 100 * r["actual"]
            ax.plot([a, p], [y, y], color=c, lw=1, alpha=0.5)
            ax.scatter(a, y, facecolors="none", edgecolors=c, s=40, label=f"{tgt} actual")
            ax.annotate(f"{p - a:+.1f}", (max(a, p), y), xytext=(5, -3), textcoords="offset points", fontsize=7)
        ax.scatter(p, y, marker="x", color=c, s=40, label=f"{tgt} predicted")

    return _row_plot(predictions, draw, path, title="Predicted (x) vs actual (o) RC accuracy, chained prediction")


def plot_design_choices(design: pd.DataFrame, path: Path) -> Path:
    """Heat map of chained relative error per task and pipeline, one panel per target."""
    from matplotlib.ticker import PercentFormatter

    targets = list(dict.fromkeys(design["target"]))
    designs = list(dict.fromkeys(design["design"]))
    tasks = list(dict.fromkeys(design["task"]))
    fig, axes = _plt().subplots(1, len(targets), squeeze=False,
                                figsize=(1.2 * len(designs) * len(targets) + 2.5, 0.42 * len(tasks) + 1.6))
    vmax = float(np.nanmax(design["relative_error"])) if len(design) else 1.0
    for k, (ax, tgt) in enumerate(zip(axes[0], targets)):
        piv = design[design["target"] == tgt].pivot_table(index="task", columns="design", values="relative_error",
                                                          sort=False).reindex(index=tasks, columns=designs)
        im = ax.imshow(piv.to_numpy(), cmap="Reds", vmin=0, vmax=vmax, aspect="auto")
        for i in range(len(tasks)):
            best = np.nanargmin(piv.to_numpy()[i])
            for j in range(len(designs)):
                v = piv.iat[i, j]
                ax.text(j, i, f"{v:.1%}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 * vmax else "black", fontweight="bold" if j == best else None)
        ax.set_xticks(range(len(designs)), designs, fontsize=8, rotation=20)
        ax.set_yticks(range(len(tasks)), [_display(t) for t in tasks] if k == 0 else [], fontsize=8)
        ax.set_title(f"{tgt}: relative error (bold = best)", fontsize=9, fontweight="bold")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, format=PercentFormatter(1.0))
    return save(fig, path)


def plot_variance(var: pd.DataFrame, path: Path) -> Path:
    """Relative SD of task loss and accuracy over the last checkpoints (paper Figure 5 / Table 4)."""
    fig, ax = _plt().subplots(figsize=(7.5, 3.2))
    x = np.arange(len(var))
    ax.bar(x - 0.2, 100 * var["loss_rel_sd"], 0.4, label="task loss", color="#3182bd")
    ax.bar(x + 0.2, 100 * var["acc_rel_sd"], 0.4, label="accuracy", color="#e6550d")
    ax.set_xticks(x, [_display(t) for t in var["task"]], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("relative SD (%)", fontsize=8)
    from .analyses import variance_runs

    ax.set_title(f"Noise over the last {var['last_n'].iloc[0]} checkpoints of {variance_runs(var)}",
                 fontsize=9, fontweight="bold")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def plot_compute_vs_error(cv: pd.DataFrame, path: Path) -> Path:
    """Mean absolute error as rungs are added, by N, by Chinchilla multiple and by FLOPs (Figures 6-8)."""
    axes_names = list(dict.fromkeys(cv["axis"]))
    fig, axes = _plt().subplots(1, len(axes_names), figsize=(4.2 * len(axes_names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], axes_names):
        sub = cv[cv["axis"] == name]
        for i, tgt in enumerate(dict.fromkeys(sub["target"])):
            g = sub[sub["target"] == tgt].groupby(["subset", "ladder_flops"], sort=False)["abs_error"].mean().reset_index()
            ax.plot(g["ladder_flops"], g["abs_error"], "o-", color=_TARGET_COLORS[i % 4], label=tgt)
            for r in g.itertuples():
                ax.annotate(r.subset, (r.ladder_flops, r.abs_error), fontsize=6, xytext=(3, 3), textcoords="offset points")
        _log_x(ax)
        ax.set_xlabel("ladder compute (6ND, FLOPs)", fontsize=8)
        ax.set_ylabel("mean abs. error (points)", fontsize=8)
        ax.set_title(f"adding rungs by {name}", fontsize=9, fontweight="bold")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def _draw_prediction(ax, r, y, c) -> None:
    """One (task, target) row: its interval (where the pipeline gives one), the prediction, the actual."""
    tgt = r["target"]
    if pd.notna(r.get("lower")) and pd.notna(r.get("upper")):
        ax.plot([100 * r["lower"], 100 * r["upper"]], [y, y], color=c, lw=3, alpha=0.35,
                solid_capstyle="butt", label=f"{tgt} interval")
    ax.scatter(100 * r["predicted"], y, marker="x", color=c, s=40, label=f"{tgt} predicted")
    if pd.notna(r.get("actual")):
        ax.scatter(100 * r["actual"], y, facecolors="none", edgecolors="k", s=40, label="actual")


def with_mean(preds: pd.DataFrame, mean) -> pd.DataFrame:
    """``preds`` and below them the mean over the tasks (:mod:`aggregate`'s rows), named "mean of K"
    so that a figure's row or panel says what it averages."""
    from .aggregate import labelled

    mean = pd.DataFrame(list(mean)) if not isinstance(mean, pd.DataFrame) else mean
    if mean.empty:
        return preds
    named = labelled(mean)
    return pd.concat([preds, named[[c for c in named.columns if c in preds.columns]]], ignore_index=True)


def plot_auto(preds: pd.DataFrame, path: Path) -> Path:
    """Automatic predictions with their intervals, and the actual values where known."""
    return _row_plot(preds, _draw_prediction, path)


def plot_predictions(preds: pd.DataFrame, compute: dict[str, float], path: Path) -> Path:
    """What ``predict --out`` draws (``predictions.png``).  Below :data:`datasets.SWEEP` targets,
    one row per (task, target): the prediction, its interval where the pipeline gives one and
    the actual where known.  A sweep of more targets (``--n 1B,3B,7B,13B,30B``) is read as a
    curve instead: :func:`sweep_figure`."""
    from .datasets import SWEEP

    if preds["target"].nunique() < SWEEP:
        level = preds["level"].iloc[0] if "level" in preds and preds["level"].notna().all() else None
        return _row_plot(preds, _draw_prediction, path,
                         title="Predicted RC accuracy" + (f", {percent(level)} intervals" if level else ""))
    return save(sweep_figure(preds, compute), path)


def sweep_figure(preds: pd.DataFrame, compute: dict[str, float]):
    """One panel per task: predicted accuracy against each target's compute (``compute``:
    target name -> 6ND), its interval as a band where the pipeline gives one, actuals as
    circles; where each task saturates or crosses a threshold is read off at a glance."""
    tasks = list(dict.fromkeys(preds["task"]))
    band = {"lower", "upper"} <= set(preds) and bool(preds[["lower", "upper"]].notna().all().all())
    level = preds["level"].iloc[0] if band and "level" in preds else None
    fig, axes = _grid(len(tasks))
    for ax, task in zip(axes, tasks):
        g = preds[preds["task"] == task]
        g = g.assign(compute=g["target"].map(compute).astype(float)).sort_values("compute", kind="stable")
        x = g["compute"].to_numpy()
        color = _TARGET_COLORS[0]
        if band:
            ax.fill_between(x, 100 * g["lower"].to_numpy(float), 100 * g["upper"].to_numpy(float), color=color,
                            alpha=0.2, lw=0, label=f"{percent(level)} interval" if level else "interval")
        ax.plot(x, 100 * g["predicted"].to_numpy(float), "-o", color=color, lw=1.2, ms=3, label="predicted")
        if "actual" in g and g["actual"].notna().any():
            a = g[g["actual"].notna()]
            ax.scatter(a["compute"], 100 * a["actual"].to_numpy(float), facecolors="none", edgecolors="k", s=30,
                       zorder=3, label="actual")
        _log_x(ax)
        if 1.0 <= np.log10(x.max() / x.min()) <= 2.0:
            _minor_labels(ax, 2)
        ax.set_title(_display(task), fontsize=9)
        ax.set_xlabel("target compute, 6ND (FLOPs)", fontsize=7)
        ax.tick_params(which="both", labelsize=7)  # a sweep within a decade labels its minor ticks too
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("RC accuracy (points)", fontsize=8)
    h, l = axes[0].get_legend_handles_labels()
    note = _interval_note(fig, preds) if band else 0.0
    fig.legend(h, l, fontsize=7, loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, note))
    fig.suptitle(f"Predicted RC accuracy of {preds['target'].nunique()} targets", fontsize=10, fontweight="bold")
    fig.tight_layout(rect=(0, note + (0.08 if len(tasks) > 4 else 0.14), 1, 0.96))
    return fig


def plot_compare(table: pd.DataFrame, path: Path, names: tuple[str, str] = ("baseline", "candidate")) -> Path:
    """Two ladders compared (:func:`compare.compare`): each task's difference with its interval,
    against the zero line; an interval clear of it is a verdict."""
    def draw(ax, r, y, c):
        tgt = r["target"]
        ax.plot([100 * r["lower"], 100 * r["upper"]], [y, y], color=c, lw=3, alpha=0.35, solid_capstyle="butt",
                label=f"{tgt} {percent(r['level'])} interval")
        ax.scatter(100 * r["difference"], y, marker="x", color=c, s=40, label=f"{tgt} difference")
        ax.axvline(0.0, color="k", lw=0.8)

    return _row_plot(table, draw, path, xlabel=f"{names[1]} minus {names[0]} (accuracy points)")


def plot_forecast(result, forecaster, path: Path) -> Path:
    """A running target's accuracy so far against its forecast, one panel per task, and one for
    the mean over the tasks where the forecast has it (:func:`forecast.mean_forecast`).

    Dots: the checkpoints seen; grey dots: checkpoints past the cut (replays only);
    line: the forecast trajectory to the forecast point, with its interval as a bar;
    x: the ladder-only prediction; open circle: the actual, where known.
    """
    from .aggregate import mean_label

    fc = result.forecasts
    mean = getattr(result, "mean", None)
    rows = fc.to_dict(orient="records")
    fig, axes = _grid(len(fc) + (mean is not None and len(mean) > 0))
    obs, hidden = _accuracy_by_step(result.observed), _accuracy_by_step(result.hidden)
    d0 = max(float(obs[r["task"]].dropna().index.max()) for r in rows)
    ds = np.geomspace(d0, rows[0]["tokens"], 40)  # every task's trajectory on one grid, for the mean's
    trajs = {r["task"]: _trajectory(forecaster, result.n, r, ds) for r in rows}
    panels = [(r, obs[r["task"]], None if hidden is None else hidden.get(r["task"]), trajs[r["task"]], _display(r["task"]))
              for r in rows]
    if mean is not None and len(mean):
        m = mean.iloc[0].to_dict()
        tasks = [r["task"] for r in rows]
        panels.append((m, obs[tasks].mean(axis=1, skipna=False),  # checkpoints with every task's accuracy
                       None if hidden is None else hidden.reindex(columns=tasks).mean(axis=1, skipna=False),
                       np.mean([trajs[t] for t in tasks], axis=0), mean_label(len(tasks))))
    for ax, (r, seen, after, traj, title) in zip(axes, panels):
        seen = seen.dropna()
        ax.scatter(seen.index, 100 * seen.to_numpy(), s=6, color="#08519c", label="checkpoints seen")
        if after is not None:
            after = after.dropna()
            ax.scatter(after.index, 100 * after.to_numpy(), s=6, color="#bdbdbd", label="checkpoints after the cut")
        ax.plot(ds, 100 * traj, color="#d94801", lw=1.5, label="forecast")
        ax.errorbar([r["tokens"]], [100 * r["predicted"]],
                    yerr=[[100 * (r["predicted"] - r["lower"])], [100 * (r["upper"] - r["predicted"])]],
                    fmt="o", color="#d94801", ms=4, capsize=3, label=f"forecast, {percent(r['level'])} interval")
        ax.scatter([r["tokens"]], [100 * r["ladder_predicted"]], marker="x", color="k", s=30, label="ladder only")
        if r.get("actual") is not None and r["actual"] == r["actual"]:
            ax.scatter([r["tokens"]], [100 * r["actual"]], facecolors="none", edgecolors="#238b45", s=60, lw=1.5,
                       label="actual (its last checkpoints)", zorder=5)
        _accuracy_panel(ax, title, "tokens")
    _legend(fig, axes, ncol=3, title=f"Forecast of {result.name} from its checkpoints so far")
    return save(fig, path, tight=False)


def plot_reach(result, path: Path) -> Path:
    """Where each goal is reached (:func:`reach.reach_rows`), one panel per task and the mean:
    the prediction over the compute searched with its interval, the goal as a dashed line, the
    compute where the prediction reaches it (dot) and where the interval's bounds do (shaded), the
    ladder's largest run (dotted) and, hatched, the compute past :data:`predictor.FAR_COMPUTE` times
    it, farther than the method has been checked: how far each answer extrapolates."""
    from .aggregate import MEAN, mean_label
    from .predictor import FAR_COMPUTE

    rows = result.rows
    fig, axes = _grid(len(rows))
    for ax, r in zip(axes, rows):
        c, centre, lower, upper = result.curves[r["task"]]
        level = percent(r["level"])
        ax.fill_between(c, 100 * lower, 100 * upper, color="#9ecae1", alpha=0.6, lw=0, label=f"{level} interval")
        ax.plot(c, 100 * centre, color="#08519c", lw=1.5, label="prediction")
        ax.axhline(100 * r["goal"], color="k", ls="--", lw=1, label="goal")
        lo = r["compute_lower"] if r["compute_lower"] is not None else c[0]
        hi = r["compute_upper"] if r["compute_upper"] is not None else c[-1]
        if r["reached"] != "no" or r["compute_lower"] is not None:
            ax.axvspan(lo, hi, color="#fdae6b", alpha=0.3, lw=0, label="compute range")
        if r["compute"] is not None:
            ax.scatter([r["compute"]], [100 * r["goal"]], color="#d94801", zorder=5, s=25, label="reached")
        ax.axvline(r["ladder_compute"], color="#525252", lw=1, ls=":", label="the ladder's largest run")
        far = FAR_COMPUTE * r["ladder_compute"]  # where prediction_notes says "farther than checked"
        if far < c[-1]:
            ax.axvspan(far, c[-1], facecolor="none", edgecolor="#bdbdbd", hatch="//", lw=0,
                       label=f"past {FAR_COMPUTE:,.0f}x the ladder: untested")
        _accuracy_panel(ax, mean_label(len(r["tasks"])) if r["task"] == MEAN else _display(r["task"]),
                        "compute 6ND (FLOPs)")
    _legend(fig, axes, ncol=3, title=f"Compute to reach each goal ({rows[0]['family']})")
    return save(fig, path, tight=False)


def _accuracy_panel(ax, title: str, xlabel: str) -> None:
    """A panel of accuracy (points) against a log axis, as the forecast and reach figures draw theirs."""
    _log_x(ax)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("accuracy (points)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def _accuracy_by_step(log: pd.DataFrame | None) -> pd.DataFrame | None:
    """A tidy log's accuracy as tokens x task (checkpoints at d = 0 left out), for the forecast figure."""
    if log is None:
        return None
    a = log[(log["metric"] == ACC) & (log["d"] > 0)]
    return a.pivot_table(index="d", columns="task", values="value", aggfunc="mean").sort_index()


def _trajectory(forecaster, n: float, r: dict, ds: np.ndarray) -> np.ndarray:
    """A task's accuracy along ``ds`` as its forecast implies it: the ladder's task-loss curve times the
    target's offset (and the schedule's lag), through step 2, plus the target's accuracy shift."""
    p = forecaster.predictors_[r["task"]]
    lag = forecaster.lag(r["tokens"] / (20.0 * n))
    lag_v = lag(ds / r["tokens"]) if lag is not None else 0.0
    return p.step2_.predict(p.step1_.predict(n, ds) * np.exp(r["offset"] + lag_v)) + r["shift"]


def plot_backtest(bt: pd.DataFrame, path: Path) -> Path:
    """Each pipeline's signed error (predicted - actual, points) on every held-out run, one
    panel per task, split by split; a filled marker where the pipeline's own interval covered
    the run.  The table gives the mean absolute error; this shows what it hides: whether the
    pipelines miss alike (a shared bias) or scatter."""
    tasks = list(dict.fromkeys(bt["task"]))
    designs = list(dict.fromkeys(bt["design"]))
    splits = list(dict.fromkeys(bt["split"]))
    fig, axes = _grid(len(tasks))
    for ax, task in zip(axes, tasks):
        g = bt[bt["task"] == task]
        for k, split in enumerate(splits):
            c = ("tab:blue", "tab:orange", "tab:green")[k % 3]
            h = g[g["split"] == split]
            x = h["design"].map({d: i for i, d in enumerate(designs)}).to_numpy() + (k - (len(splits) - 1) / 2) * 0.22
            err = 100 * (h["predicted"] - h["actual"]).to_numpy()
            cov = h["covered"].fillna(False).astype(bool).to_numpy()
            ax.scatter(x[cov], err[cov], color=c, s=14, label=f"held out by {split}, inside its interval")
            ax.scatter(x[~cov], err[~cov], facecolors="none", edgecolors=c, s=14,
                       label=f"held out by {split}, outside")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xticks(range(len(designs)), [d.replace("_", " ") for d in designs], rotation=45, ha="right",
                      fontsize=7)
        ax.set_title(_display(task), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("predicted - actual (points)")
    h, l = axes[0].get_legend_handles_labels()
    uniq = dict(zip(l, h))
    fig.legend(uniq.values(), uniq.keys(), fontsize=7, loc="lower center", ncol=2, frameon=False)
    fig.suptitle("Backtest: each pipeline on the held-out runs", fontsize=10, fontweight="bold")
    fig.tight_layout(rect=(0, 0.08 if len(tasks) > 4 else 0.14, 1, 0.96))
    return save(fig, path)


def plot_reliability(table: pd.DataFrame, path: Path) -> Path:
    """Nominal vs empirical coverage of the automatic intervals on the ladder's own splits:
    one thin line per task, the pooled one bold, the diagonal for perfect calibration."""
    fig, (ax, aw) = _plt().subplots(1, 2, figsize=(9.5, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="nominal")
    for task, g in table.groupby("task", sort=False):
        pooled, mean = task == "all", task == "mean"  # the mean over tasks (taskladder.aggregate): dashed
        style = dict(marker="o", lw=2.5 if pooled or mean else 0.8, ls="--" if mean else "-",
                     color="black" if pooled or mean else None, alpha=1.0 if pooled or mean else 0.6)
        ax.plot(g["level"], g["coverage"], **style, zorder=3 if pooled else 2,
                label="pooled" if pooled else "mean of the tasks" if mean else _display(task))
        aw.plot(g["level"], g["half_width"], **style)
    ax.set(xlim=(0.4, 1.0), ylim=(0.4, 1.02), xlabel="nominal level", ylabel="share of held-out runs covered",
           title="Coverage on the ladder's own splits")
    aw.set(xlabel="nominal level", ylabel="mean half-width (points)", title="Interval width")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    return save(fig, path)


def plot_plan(rungs: Sequence, target_n: float, target_tokens: float, path: Path,
              progress: pd.DataFrame | None = None) -> Path:
    """``plan.png``: :func:`plan_figure`, saved."""
    return save(plan_figure(rungs, target_n, target_tokens, progress), path)


def plan_figure(rungs: Sequence, target_n: float, target_tokens: float, progress: pd.DataFrame | None = None):
    """A ladder plan (:func:`ladder.plan`) in the (N, D) plane, as one reads a compute budget:
    one marker per rung (colour: its size, marker: its Chinchilla multiple, area: its compute),
    the target as a diamond, dotted lines of equal 6ND by decade and of D = k x 20 N for each
    multiple.  With ``progress`` (:func:`planprogress.plan_progress`), a rung not started is hollow,
    one training is filled in proportion and labelled with its share of the planned tokens."""
    from matplotlib.lines import Line2D

    fig, ax = _plt().subplots(figsize=(7.0, 5.0))
    sizes = list(dict.fromkeys(r.size for r in sorted(rungs, key=lambda r: r.n)))
    color = {s: _SIZE_COLORS[i % len(_SIZE_COLORS)] for i, s in enumerate(sizes)}
    share = {} if progress is None else dict(zip(progress["rung"], progress["share"]))
    status = {} if progress is None else dict(zip(progress["rung"], progress["status"]))
    big = max(r.flops for r in rungs)
    mults = sorted({float(r.multiple) for r in rungs})
    others = iter(["o", "^", "v", "<", ">", "h", "8"] * len(mults))  # multiples outside the paper's 1/2/5/10
    marker_of = {m: _MARKERS.get(m) or next(others) for m in mults}
    for r in rungs:
        area = 30 + 220 * np.sqrt(r.flops / big)
        marker, c = marker_of[float(r.multiple)], color[r.size]
        st = status.get(r.name, "done")
        ax.scatter(r.n, r.tokens, s=area, marker=marker, facecolors=c if st == "done" else "none", edgecolors=c,
                   alpha=0.9, zorder=3, label=r.name)
        if st == "training":  # filled up to its share of the planned tokens
            ax.scatter(r.n, r.tokens, s=area * min(share[r.name], 1.0), marker=marker, color=c, alpha=0.6, zorder=3,
                       label=f"{r.name} so far")
            ax.annotate(f"{share[r.name]:.0%}", (r.n, r.tokens), xytext=(7, -3), textcoords="offset points",
                        fontsize=7, color=c)
    ax.scatter(target_n, target_tokens, marker="D", s=110, color=_TARGET_COLORS[0], zorder=4,  # '*' is 10xC
               label="target")
    ax.annotate(f"target\nN={target_n:.3g}, D={target_tokens:.3g}", (target_n, target_tokens), xytext=(-10, -6),
                textcoords="offset points", ha="right", va="top", fontsize=8, color=_TARGET_COLORS[0])
    ns = np.array([r.n for r in rungs] + [target_n], float)
    ds = np.array([r.tokens for r in rungs] + [target_tokens], float)
    xlim = (ns.min() / 1.8, ns.max() * 1.8)
    ylim = (ds.min() / 2.5, ds.max() * 2.5)
    x = np.geomspace(*xlim, 50)
    total = sum(r.flops for r in rungs)
    c_target = 6.0 * target_n * target_tokens
    for e in range(int(np.floor(np.log10(6 * xlim[0] * ylim[0]))), int(np.ceil(np.log10(6 * xlim[1] * ylim[1]))) + 1):
        c = 10.0 ** e
        ax.plot(x, c / (6 * x), color="0.8", lw=0.7, ls=":", zorder=1)
        # labelled where the line leaves the box: its right edge, else its bottom edge
        xe, ye = (xlim[1], c / (6 * xlim[1])) if c / (6 * xlim[1]) > ylim[0] else (c / (6 * ylim[0]), ylim[0])
        if xlim[0] < xe <= xlim[1] and ylim[0] <= ye < ylim[1]:
            ax.annotate(f"1e{e}", (xe, ye), xytext=(-2, 2), textcoords="offset points", ha="right", va="bottom",
                        fontsize=6, color="0.5")
    for m in mults:
        ax.plot(x, 20 * m * x, color="0.7", lw=0.7, ls="--", zorder=1)
    _log_x(ax)
    ax.set_yscale("log")
    ax.set(xlim=xlim, ylim=ylim, xlabel="non-embedding parameters N", ylabel="training tokens D")
    if np.log10(xlim[1] / xlim[0]) <= 3.0:
        _minor_labels(ax, 3)
        ax.tick_params(axis="x", which="minor", labelsize=7)
    cost = total / c_target  # a percent up to 10x the target (a micro plan for a smaller target runs past it)
    title = (f"Ladder plan: {len(rungs)} rungs, {total:.2e} FLOPs = "
             + (f"{100 * cost:.2f}% of" if cost < 10 else f"{cost:,.0f}x") + " the target's 6ND")
    if progress is not None:
        done = float(progress["flops"].sum())
        title += f"\n{done:.2e} FLOPs trained so far ({100 * done / total:.0f}% of the plan)"
    ax.set_title(title, fontsize=9)
    hs = [Line2D([], [], color=color[s], marker="o", ls="", ms=7, label=s) for s in sizes]
    hs += [Line2D([], [], color="#555", marker=marker_of[m], ls="", ms=7, label=f"{m:g}xC (D = {20 * m:g}N)")
           for m in mults]
    hs += [Line2D([], [], color="0.7", ls="--", lw=0.7, label="D = k x 20N"),
           Line2D([], [], color="0.8", ls=":", lw=0.7, label="equal 6ND (FLOPs)")]
    if progress is not None:
        hs += [Line2D([], [], color="#555", marker="o", ls="", ms=7, mfc="none", label="not started"),
               Line2D([], [], color="#555", marker="o", ls="", ms=7, label="done")]
    ax.legend(handles=hs, fontsize=7, loc="upper left", frameon=False, ncol=2)
    ax.grid(alpha=0.2, which="major")
    return fig


#: What ``data --out`` draws per metric: file stem, y label, scale of the values.
CURVES = {ACC: ("accuracy", "RC accuracy (points)", 100.0), "bpb": ("task_loss", "task loss (bpb)", 1.0)}


def plot_ladder_curves(results: pd.DataFrame, metric: str, path: Path) -> Path:
    """``accuracy.png`` / ``task_loss.png`` of ``data --out``: :func:`ladder_curves_figure`, saved."""
    return save(ladder_curves_figure(results, metric), path, tight=False)


def ladder_curves_figure(results: pd.DataFrame, metric: str):
    """Every run's ``metric`` over its training tokens, one panel per task (the paper's tasks
    first): a line per run coloured by its size, its last checkpoint marked by its Chinchilla
    multiple.  What one looks at before fitting: a run that stopped early, a spike, an evaluation
    that failed, a task that never leaves chance."""
    from matplotlib.lines import Line2D

    from .tasks import PAPER_TASKS

    _, ylabel, scale = CURVES[metric]
    rows = results[results["metric"] == metric]
    have = set(rows["task"])
    tasks = [t for t in PAPER_TASKS if t in have] + sorted(have - set(PAPER_TASKS))
    runs = rows[["run", "size", "n"]].drop_duplicates("run").sort_values(["n", "run"], kind="stable")
    sizes = list(dict.fromkeys(runs["size"]))
    color = {s: _SIZE_COLORS[i % len(_SIZE_COLORS)] for i, s in enumerate(sizes)}
    size_of = dict(zip(runs["run"], runs["size"]))
    fig, axes = _grid(len(tasks))
    # sorted once (runs by N, so the larger runs' lines lie on top) and cut into (task, run) stretches
    rows = rows.assign(_o=rows["run"].map({r: i for i, r in enumerate(runs["run"])})).sort_values(
        ["task", "_o", "step"], kind="stable")
    task_of, run_of = rows["task"].astype(str).to_numpy(), rows["run"].astype(str).to_numpy()
    same = (task_of[1:] == task_of[:-1]) & (run_of[1:] == run_of[:-1])
    cuts = np.flatnonzero(~same) + 1
    d_all, v_all = rows["d"].to_numpy(float), scale * rows["value"].to_numpy(float)
    by_task: dict = {}
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(rows)]):
        by_task.setdefault(task_of[lo], []).append((run_of[lo], d_all[lo:hi], v_all[lo:hi]))
    mults = set()
    for ax, task in zip(axes, tasks):
        for run, d, v in by_task[task]:
            c = color[size_of[run]]
            ax.plot(d, v, color=c, lw=0.8, alpha=0.8, label=run)
            m = parse_run_name(str(run))[1]
            mults.add(m)
            ax.scatter(d[-1:], v[-1:], color=c, marker=_MARKERS.get(m, "o"), s=22, zorder=3)
        _log_x(ax)
        ax.set_title(_display(task), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel, fontsize=8)
    for ax in axes[len(tasks) - min(4, len(tasks)):len(tasks)]:
        ax.set_xlabel("training tokens D", fontsize=8)
    hs = [Line2D([], [], color=color[s], lw=1.5, label=s) for s in sizes]
    hs += [Line2D([], [], color="#555", marker=_MARKERS.get(m, "o"), ls="", ms=6, label=f"{m:g}xC (last checkpoint)")
           for m in sorted(x for x in mults if x is not None)]
    _legend(fig, [], ncol=8, first=hs, title=f"{ylabel[0].upper() + ylabel[1:]} of every ladder run over training")
    return fig
