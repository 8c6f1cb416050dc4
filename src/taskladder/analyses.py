"""The paper's analyses beyond Figure 2: design choices (section 6) and variance (5.1)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from .chain import ChainConfig, Ladder, as_ladder, chain_key, feature_key, fit_predictor, predict_targets, run_table
from .errors import TaskladderError
from .io import records
from .laws import PowerLaw, SingleStep
from .parallel import fits_over_cores
from .predictor import ChainState
from .tasks import ACC, BPB, chance

#: The paper's alternative pipelines (section 6 and appendix C), by name.
DESIGNS: dict[str, ChainConfig | None] = {
    # main recipe: task bpb -> sigmoid (sections 3.1-3.3)
    "task_bpb": ChainConfig(),
    # 6.1: step 1 on compute only, L(C) = A / C^alpha + E, C = 6 N D
    "flops": ChainConfig(step1="flops"),
    # 6.2 / C.2: TaskCE as the feature; log-sigmoid on the last 50% of each run,
    # no smoothing and no anchor point (the released scripts' settings)
    "taskce": ChainConfig(feature="taskce", step2="log_sigmoid", final_window=1, smooth_window=1,
                          skip_frac=0.5, anchor=False),
    # 6.3 / C.3: C4 language-modelling loss as the feature
    "c4": ChainConfig(feature="c4"),
    # 6.4 / C.4: one function from (N, D) to accuracy (eq. 6), on final checkpoints
    "single_step": None,
}

#: The FLOPs design with compute as OLMo's runs logged it (FLOPs per token of the model,
#: attention included, x D): the paper's own numbers (Table 6).  Known for the paper's
#: sizes only, so it is a design of the analyses, never a pipeline of the automatic
#: choice; "flops" always means C = 6 N D.
FLOPS_OLMO = "flops_olmo"


def default_designs(ladder, targets) -> list[str]:
    """The designs of the paper's comparison: ``flops`` is ``flops_olmo`` wherever OLMo's
    per-token FLOPs are known for every ladder size and target (the paper's runs)."""
    olmo = _olmo_compute_known(as_ladder(ladder), list(targets))
    return [FLOPS_OLMO if (d == "flops" and olmo) else d for d in DESIGNS]


def single_step_law(ladder, task: str, final_window: int = 5) -> SingleStep:
    """Eq. 6 fitted on each run's final accuracy (mean of its last checkpoints), kept in the
    on-disk cache like every chained fit."""
    from . import cache

    lad = as_ladder(ladder)
    pts = lad.final_points(task, ACC, final_window)
    return cache.cached(single_step_key(lad, task, final_window),
                        lambda: SingleStep(chance=lad.chance(task)).fit(pts["n"], pts["d"], pts["value"]))


def single_step_key(lad: Ladder, task: str, final_window: int = 5) -> str:
    """The cache key of :func:`single_step_law`'s fit."""
    from . import cache

    return cache.key("single_step", lad.content_hash, task, final_window)


def design_choices(ladder, targets, tasks, designs: Iterable[str] | None = None) -> pd.DataFrame:
    """Chained prediction errors of every pipeline, for every task and target (Tables 5, 6, 8).

    Columns: design, task, target, predicted, actual, abs_error (points),
    relative_error, and for two-step designs the step-1 feature's relative error.
    With the default designs (:func:`default_designs`), a design is left out when the
    ladder lacks its feature (C4 loss, or TaskCE) for any of the tasks, and the single step
    when a task has fewer runs than its 7 parameters.
    """
    lad = as_ladder(ladder)
    targets, tasks = list(targets), list(tasks)
    frames = []
    explicit = designs is not None
    names = designs if explicit else default_designs(lad, targets)
    configs = {name: design_config(name, lad, targets) for name in names}
    if not explicit:
        configs = {name: cfg for name, cfg in configs.items() if not _left_out(cfg, lad, tasks)}
    # every task of every design fitted in one pass over the cores
    jobs = [(lad, task, cfg) for cfg in configs.values() for task in tasks]
    fitted = iter(fits_over_cores(_fit_design, jobs, keys=[
        single_step_key(lad, task) if cfg is None else chain_key(lad, task, cfg) for _, task, cfg in jobs]))
    for name, cfg in configs.items():
        if cfg is None:
            df = pd.DataFrame([r for task in tasks for r in ChainState(task, next(fitted), None).rows(targets)])
            df["feature_rel_error"] = np.nan
        else:
            df = pd.DataFrame([r for _ in tasks for r in ChainState.of(next(fitted)).rows(targets)])
            df = df[["task", "target", "predicted", "actual", "feature_rel_error", "flags"]]
        df.insert(0, "design", name)
        df["compute"] = cfg.compute if cfg is not None and cfg.step1 == "flops" else None
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    act = out["actual"].astype(float)
    out["abs_error"] = (out["predicted"] - act).abs() * 100
    out["relative_error"] = (out["predicted"] - act).abs() / act
    return out


def _fit_design(lad: Ladder, task: str, cfg: ChainConfig | None):
    """One task's fit of one design of :func:`design_choices`: its chain, or the single step (cfg None)."""
    return single_step_law(lad, task) if cfg is None else fit_predictor(lad, task, cfg)


def _left_out(cfg: ChainConfig | None, lad: Ladder, tasks) -> str | None:
    """Why a default design cannot be fitted on this ladder, or None."""
    if cfg is not None and not all(lad.has(*feature_key(t, cfg.feature)) for t in tasks):
        return f"the ladder lacks {dict(c4='C4 loss', taskce='TaskCE').get(cfg.feature, cfg.feature)} for some task"
    if cfg is None and any(len(lad.series(t, ACC)) < SingleStep.n_params for t in tasks):
        return f"fewer runs with accuracy than its {SingleStep.n_params} parameters"
    return None


def left_out_designs(ladder, targets, tasks) -> dict[str, str]:
    """The default designs :func:`design_choices` leaves out on this ladder, with the reason."""
    lad = as_ladder(ladder)
    targets = list(targets)
    return {name: why for name in default_designs(lad, targets)
            if (why := _left_out(design_config(name, lad, targets), lad, tasks))}


def design_config(name: str, ladder, targets) -> ChainConfig | None:
    """The configuration of a named design (:data:`DESIGNS`, or ``flops_olmo``).

    ``flops`` counts compute as C = 6 N D; ``flops_olmo`` as the paper's runs logged it
    (OLMo's FLOPs per token x D, :func:`taskladder.ladder.olmo_flops_per_token`), which
    reproduces the paper's released numbers and needs every ladder size and target to be
    one of the paper's.
    """
    if name == FLOPS_OLMO:
        if not _olmo_compute_known(as_ladder(ladder), targets):
            from .ladder import OLMO_FLOPS_UNKNOWN

            raise TaskladderError(OLMO_FLOPS_UNKNOWN)
        return replace(DESIGNS["flops"], compute="olmo")
    if name not in DESIGNS:
        raise TaskladderError(f"unknown design {name!r}; choose from {', '.join([*DESIGNS, FLOPS_OLMO])}")
    return DESIGNS[name]


def _olmo_compute_known(lad, targets) -> bool:
    """Whether OLMo's per-token FLOPs are known for every ladder size and target."""
    from .ladder import known_flops_per_token

    ns = set(int(v) for v in lad.results["n"].unique()) | {int(t.n) for t in targets}
    return all(known_flops_per_token(n) is not None for n in ns)


def variance(ladder, tasks: Sequence[str], run: str | None = None, last_n: int = 10) -> pd.DataFrame:
    """Checkpoint-to-checkpoint noise of each task (paper section 5.1, Table 4).

    Standard deviation (population, ddof = 0) and relative SD (SD / mean) of the task
    loss and of the accuracy over the last ``last_n`` checkpoints of ``run``, by
    default the ladder's largest run (most parameters, then most tokens), or for a task
    not evaluated on it, the largest run it was evaluated on (column ``run``); ``last_n``: the
    checkpoints measured, fewer where the run has fewer (an SD of under 3 says nothing).
    """
    lad = as_ladder(ladder)
    largest = run_table(lad.results).sort_values(["n", "d"]).index[::-1].tolist()
    rows = []
    for task in tasks:
        use = run
        if use is None:  # the largest run with both metrics of this task
            have = {s.run for s in lad.series(task, BPB)} & {s.run for s in lad.series(task, ACC)}
            use = next((r for r in largest if r in have), largest[0])
        row = {"task": task, "run": use, "last_n": last_n}
        for metric, key in ((BPB, "loss"), (ACC, "acc")):
            s = next((s for s in lad.series(task, metric) if s.run == use), None)
            if s is None:
                raise TaskladderError(f"run {use!r} has no {metric!r} values for task {task!r}")
            v = s.value[-last_n:]
            row["last_n"] = min(row["last_n"], len(v))
            row[f"{key}_sd"] = float(np.std(v))
            row[f"{key}_rel_sd"] = float(np.std(v) / np.mean(v))
        rows.append(row)
    return pd.DataFrame(rows)


def prediction_errors(ladder, target, tasks, config: ChainConfig = ChainConfig()) -> pd.DataFrame:
    """Signed relative errors of each step for one target (the error columns of the
    released variance table, ``src/scripts/paper/figures/variance.csv``).

    ``loss_rel_error``: step 1's predicted feature vs the target's; ``acc_rel_error``:
    step 2 evaluated at the target's actual feature vs its accuracy; ``stacked_rel_error``:
    the chained prediction vs the accuracy.  Actuals are means of the last 5 checkpoints.
    """
    preds, fits = predict_targets(as_ladder(ladder), [target], tasks, config)
    rows = []
    for r in preds.to_dict(orient="records"):
        s2 = float(fits[r["task"]].step2_.predict(r["actual_feature"]))
        rows.append({"task": r["task"], "loss_rel_error": (r["predicted_feature"] - r["actual_feature"]) / r["actual_feature"],
                     "acc_rel_error": (s2 - r["actual"]) / r["actual"],
                     "stacked_rel_error": (r["predicted"] - r["actual"]) / r["actual"]})
    return pd.DataFrame(rows)


def table4_correlation(var: pd.DataFrame, errors: pd.DataFrame, column: str = "loss_sd",
                       error: str = "acc_rel_error") -> float:
    """Pearson r of Table 4: a task's loss SD over the last 10 checkpoints against the
    absolute relative error of step 2 at its actual loss, over all 10 tasks.

    This pairing gives the paper's r ~ 0.82 from the released variance table (0.821)
    and from ours (its columns match to 4 decimals; docs/method.md shows the search).
    """
    return _pearson(var.set_index("task")[column], errors.set_index("task")[error].abs())


def variance_runs(var: pd.DataFrame) -> str:
    """The run(s) a :func:`variance` table measured, for a title: ``1B-10xC``, or with the
    tasks measured on another (not evaluated on the largest) named after it."""
    first = var["run"].iloc[0]
    other = var[var["run"] != first]
    return first + "".join(f" ({t}: {r})" for t, r in zip(other["task"], other["run"]))


def variance_error_correlation(var: pd.DataFrame, errors: pd.DataFrame, column: str = "acc_rel_sd",
                               error: str = "relative_error") -> float:
    """Pearson r between a variance column and each task's mean prediction error over targets."""
    return _pearson(var.set_index("task")[column], errors.groupby("task")[error].mean())


def _pearson(v: pd.Series, e: pd.Series) -> float:
    """Pearson r over the tasks both series have."""
    common = v.index.intersection(e.index)
    if len(common) < 3:
        raise TaskladderError("need at least 3 tasks to correlate variance with error")
    return float(np.corrcoef(v[common], e[common])[0, 1])


def run_all(ladder: Ladder, targets, tasks, var_tasks) -> dict[str, pd.DataFrame]:
    """Everything the report and ``reproduce --json`` carry beyond the main predictions."""
    out = {"design_choices": design_choices(ladder, targets, tasks),
           "variance": variance(ladder, var_tasks)}
    if targets:  # Table 4's r: loss SD against |step-2 error| on the first target (the paper's 7B)
        errs = prediction_errors(ladder, targets[0], var_tasks)
        out["variance_correlation"] = {"target": targets[0].name, "r": table4_correlation(out["variance"], errs),
                                       "errors": records(errs)}
    if all(t.full is not None and t.name in MC_STEP_RANGES for t in targets):
        out["mc"] = mc_predictions(ladder, targets, [t for t in MC_TASKS if t in tasks])
    return out


def _subset(ladder: Ladder, runs: Sequence[str]) -> Ladder:
    return Ladder(ladder.results[ladder.results["run"].isin(runs)])


def ladder_subsets(ladder) -> list[tuple[str, str, list[str]]]:
    """The rung subsets of paper section 5.2: by size (N), by Chinchilla multiple, by FLOPs.

    Each subset grows from the cheapest rungs upward, ending with the full ladder.
    Returns (axis, label, runs) triples.
    """
    lad = as_ladder(ladder)
    runs = lad.results.groupby("run").agg(size=("size", "first"), n=("n", "first"), d=("d", "max"))
    runs["c"] = 6.0 * runs["n"] * runs["d"]
    runs["mult"] = (runs["d"] / (20.0 * runs["n"])).round(1)
    out = []
    sizes = runs.sort_values("n")["size"].drop_duplicates().tolist()
    for k in range(2, len(sizes) + 1):
        out.append(("N", f"≤ {sizes[k - 1]}", runs.index[runs["size"].isin(sizes[:k])].tolist()))
    mults = sorted(runs["mult"].unique())
    for k in range(2, len(mults) + 1):
        out.append(("xC", f"≤ {mults[k - 1]:g}xC", runs.index[runs["mult"] <= mults[k - 1]].tolist()))
    order = runs.sort_values("c").index.tolist()
    for k in range(8, len(order) + 1, 2):
        out.append(("FLOPs", f"{k} cheapest runs", order[:k]))
    return out


def compute_vs_error(ladder, targets, tasks, config: ChainConfig = ChainConfig()) -> pd.DataFrame:
    """Prediction error as rungs are added (paper section 5.2, Figures 6-8).

    For each subset of :func:`ladder_subsets` with at least as many runs as step 1 has
    parameters (5), refit the chain and predict every target.
    Columns: axis, subset, runs, ladder_flops, flops_share (of the first target's 6ND),
    task, target, predicted, actual, abs_error, relative_error, flags.
    """
    lad = as_ladder(ladder)
    targets = list(targets)
    finals = run_table(lad.results)
    frames = []
    for axis, label, runs in ladder_subsets(lad):
        if len(runs) < PowerLaw.n_params:  # a small ladder's first subsets cannot fit step 1
            continue
        sub = _subset(lad, runs)
        df, _ = predict_targets(sub, targets, tasks, config)
        c = float((6.0 * finals.loc[runs, "n"] * finals.loc[runs, "d"]).sum())
        df.insert(0, "axis", axis)
        df.insert(1, "subset", label)
        df.insert(2, "runs", len(runs))
        df.insert(3, "ladder_flops", c)
        df["flops_share"] = df["target"].map({t.name: c / (6.0 * t.n * t.d) for t in targets})
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["relative_error"] = out["rel_error"]
    return out[["axis", "subset", "runs", "ladder_flops", "flops_share", "task", "target", "predicted", "actual",
                "abs_error", "relative_error", "flags"]]


#: Appendix B.2: the target's own intermediate checkpoints used to fit step 2 for the
#: MC format (the ladder models are too small to do better than chance on MC).
MC_STEP_RANGES = {"7B-4T": (170_000, 450_000), "13B-5T": (50_000, 150_000)}
#: Tasks the released scripts predict in MC format (their ``main_mc`` set).
MC_TASKS = ("mmlu", "arc_challenge")


def mc_predictions(ladder, targets, tasks, step_ranges=MC_STEP_RANGES, smooth_window: int = 5) -> pd.DataFrame:
    """MC-format accuracy: step 1 from the ladder, step 2 on the target's own checkpoints.

    The released scripts run it for MMLU and ARC-Challenge (``main_mc``); on other
    tasks the target's MC accuracy jumps within a few checkpoints and the fit is
    poorly determined.

    Step 2 (sigmoid, anchor point (0, 1)) maps task bpb to MC accuracy on the target's
    intermediate checkpoints within ``step_ranges[target]`` (paper appendix B.2); the
    chained prediction evaluates it at the step-1 loss of the final model.
    """
    from . import cache
    from .chain import fit_predictor, moving_average
    from .laws import Sigmoid
    from .tasks import MC_ACC

    lad = as_ladder(ladder)
    rows = []
    for task in tasks:
        s1 = fit_predictor(lad, task)
        for t in targets:
            if t.full is None or t.name not in step_ranges:
                raise TaskladderError(f"target {t.name!r}: MC prediction needs its intermediate checkpoints and a step range")
            lo, hi = step_ranges[t.name]
            f = Ladder(t.full)
            x = next(iter(f.series(task, BPB)))
            y = next(iter(f.series(task, MC_ACC)))
            common, ix, iy = np.intersect1d(x.step, y.step, return_indices=True)
            keep = (common >= lo) & (common <= hi)
            if keep.sum() < 4:
                raise TaskladderError(f"target {t.name!r}: fewer than 4 checkpoints in steps {lo}-{hi} for {task!r}")
            xs = moving_average(x.value[ix][keep], smooth_window)
            ys = moving_average(y.value[iy][keep], smooth_window)
            # Released-scripts recipe for MC: the curve is pinned to chance at high loss
            # (a + b = chance) and to 1 at zero loss (b ~ 1); those bounds are by design.
            ch = chance(task)

            def fit(ch=ch, xs=xs, ys=ys):
                law = Sigmoid(chance=ch, bounds=((ch - 1.0, 0.0, 0.0, 0.999), (ch - 0.999, np.inf, np.inf, 1.0)))
                law._natural = frozenset({("a", ch - 1.0), ("a", ch - 0.999), ("b", 0.999), ("b", 1.0)})
                return law.fit(xs, ys)

            # cached like the ladder's fits (~0.2 s each, a quarter of a warm `reproduce`'s analyses)
            law = cache.cached(cache.key("mc-step2", xs.tobytes(), ys.tobytes(), ch), fit)
            loss = float(s1.predict_feature(t.n, t.d))
            pred = float(law.predict(loss))
            actual = t.actual(task, MC_ACC)
            rows.append({"task": task, "target": t.name, "predicted_feature": loss, "predicted": pred,
                         "actual": actual, "abs_error": abs(pred - actual) * 100,
                         "relative_error": abs(pred - actual) / actual, "step2": law.formula(),
                         "flags": "; ".join(s1.flags_ + [f"step 2: {x}" for x in law.flags_])})
    return pd.DataFrame(rows)
