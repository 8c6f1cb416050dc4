"""The ``taskladder`` command line: a thin layer over the library."""

# No ``from __future__ import annotations`` here: typer reads every command's option annotations on
# each call, and as strings they were evaluated anew each time (~0.05 s of a warm command, docs/speed.md).
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table as _RichTable

from . import io, provenance
from .errors import FitWarning, TaskladderError, did_you_mean, recording_input_warnings
from .progress import Progress
from .tasks import ALL_TASKS, REGISTRY, parse_names
from .units import parse_count, parse_counts, parse_flops, parse_level, parse_tokens, percent


class Table(_RichTable):
    """rich's table with its caption on the left: a caption here is a sentence or two of notes,
    which read as text when wrapped left-aligned rather than centred line by line."""

    def __init__(self, *args, caption_justify="left", **kwargs):
        super().__init__(*args, caption_justify=caption_justify, **kwargs)


# The options most commands share, declared once (their help the same everywhere)
NoCache = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the on-disk cache of fits.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
Mixed = Annotated[bool, typer.Option(help="Fit files scored under different metric conventions together (refused otherwise).")]
Sizes = Annotated[Optional[Path], typer.Option(help="CSV with columns size,n (and batch_tokens where files log steps only).")]


# Plain click help (rich_markup_mode=None): flags print without a "<bool>" metavar.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Predict a large model's task accuracy from a ladder of small models.")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"taskladder {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                                help="Print the version and exit.")] = False) -> None:
    """Predict a large model's task accuracy from a ladder of small models."""


# Piped output is 80 columns wide whatever the terminal: scripts see the same text everywhere
out_console = Console(width=None if sys.stdout.isatty() else 80)
err_console = Console(stderr=True)


def _file_out(raw: str) -> Path:
    """An output file's path.  One ending in a separator names a folder, which pathlib would
    silently turn into a file of that name: refused."""
    if raw.endswith(("/", os.sep)):
        raise typer.BadParameter(f"{raw} ends with '/', a folder: give a file name")
    return Path(raw)


def _target_tokens(text: str, n: int) -> int:
    """A planned target's tokens: a count, or a multiple of its Chinchilla budget (2xC)."""
    from .units import resolve_tokens

    return resolve_tokens(_one_tokens(text, "--target-tokens (--tokens)"), n, "--target-tokens (--tokens)")


def _budgets(text: str | None, one: bool = False):
    """--flops: one training budget, or a comma-separated list of them (a sweep)."""
    if not text:
        return None
    parts = [parse_flops(t, "--flops") for t in text.split(",")]
    if one and len(parts) > 1:
        raise TaskladderError(f"--flops: one value for one target, got {len(parts)} ({text!r})")
    return parts[0] if len(parts) == 1 else parts


def _one_tokens(text: str | None, what: str = "--tokens"):
    """One target's --tokens: a count or a multiple of its Chinchilla budget (2xC), not a list."""
    if not text:
        return None
    got = parse_tokens(text, what)
    if isinstance(got, list):
        raise TaskladderError(f"{what}: one value for one target, got {len(got)} ({text!r})")
    return got


def _default_tasks(results, named: list[str] | None) -> list[str]:
    """The tasks named, ``all`` standing for every task a tidy results table has accuracy for;
    none named, the paper's it has (:func:`tasks.choose_tasks`)."""
    from .tasks import ACC, choose_tasks

    return choose_tasks(named, results.loc[results["metric"] == ACC, "task"].unique())


def _fit_progress(n_tasks: int, quiet: bool, label: str = "fitting tasks"):
    """A rich progress bar on stderr; returns (context manager, advance callback)."""
    prog = Progress(console=err_console, transient=True, disable=quiet or not err_console.is_terminal)
    tid = prog.add_task(label, total=n_tasks)
    # share < 1: part of a task (the automatic choice reports each of a task's pipelines)
    return prog, lambda share=1.0: prog.advance(tid, share)


def _print_all(tables: list) -> None:
    for t in tables:
        out_console.print(t)


def _set_cache(no_cache: bool) -> None:
    if no_cache:
        import os

        os.environ["TASKLADDER_NO_CACHE"] = "1"


cache_app = typer.Typer(help="The on-disk cache of fits (see docs/speed.md).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info():
    """Where the cache is, how many entries it holds and their size."""
    from .cache import info, max_bytes

    d, n, size = info()
    out_console.print(f"{d}: {n} entries, {size / 1e6:.1f} MB of at most {max_bytes() / 1e6:.0f} MB "
                      "(TASKLADDER_CACHE_MAX_MB; the least recently used go first)", soft_wrap=True)


@cache_app.command("clear")
def cache_clear():
    """Remove every cache entry."""
    from .cache import cache_dir, clear

    n, size = clear()
    out_console.print(f"removed {n} entries ({size / 1e6:.1f} MB) from {cache_dir()}", soft_wrap=True)


class _Stages:
    """A progress display of named stages (stage k of n, elapsed time) on stderr."""

    def __init__(self, names: list[str], quiet: bool):
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.names = names
        self.prog = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                             TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=err_console,
                             transient=True, disable=quiet or not err_console.is_terminal)

    def __enter__(self):
        self.prog.__enter__()
        self.tid = self.prog.add_task(self.names[0], total=len(self.names))
        self.i = 0
        return self

    def next(self) -> None:
        self.i += 1
        self.prog.update(self.tid, completed=self.i, description=self.names[min(self.i, len(self.names) - 1)])

    def __exit__(self, *exc):
        return self.prog.__exit__(*exc)


def _display(task: str) -> str:
    return REGISTRY[task].display if task in REGISTRY else task


def _fmt(v, f: str) -> str:
    return "–" if v is None or v != v else f.format(v)


def _per_target(rows: list[dict], build) -> list[Table]:
    """One table per target (``build(rows, target)``): rows stay one line each and every table
    fits 80 columns."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["target"], []).append(r)
    return [build(g, tgt) for tgt, g in groups.items()]


def _prediction_table(rows: list[dict], title: str, paper: bool = False) -> list[Table]:
    """Chained predictions, one table per target (a sweep: :func:`_sweep_tables`)."""
    def build(g, tgt):
        t = Table(title=f"{title}: {tgt}", title_style="bold")
        for c in ("task", "pred", "actual", "err", "rel err", *(("paper", "paper act") if paper else ()), "!"):
            t.add_column(c, justify="left" if c in ("task", "!") else "right", no_wrap=True,
                         style="yellow" if c == "!" else None)
        notes: dict[str, int] = {}
        for r in g:
            row = [_display(r["task"]), _fmt(100 * r["predicted"], "{:.1f}"),
                   _fmt(None if r.get("actual") is None else 100 * r["actual"], "{:.1f}"),
                   _fmt(r.get("abs_error"), "{:.1f}"), _fmt(r.get("rel_error"), "{:.1%}")]
            if paper:
                row += [_fmt(100 * r["paper_predicted"], "{:.1f}"), _fmt(100 * r["paper_actual"], "{:.1f}")]
            flag = r.get("flags") or ""
            if flag:  # one note per distinct flag: the row already names the task
                notes.setdefault(flag, len(notes) + 1)
            row.append(f"[{notes[flag]}]" if flag else "")
            t.add_row(*row)
        t.caption = "\n".join([f"[{i}] {text}" for text, i in notes.items()]
                              + ["accuracy in points; err: absolute error in points"])
        t.caption_justify = "left"
        return t
    from .datasets import SWEEP

    if len({r["target"] for r in rows}) >= SWEEP and not paper:
        flags = dict.fromkeys(f"{_display(r['task'])}: {r['flags']}" for r in rows if r.get("flags"))
        return _sweep_tables(rows, title, "\n".join(["accuracy in points", *flags]))
    return _per_target(rows, build)


def _sweep_tables(rows: list[dict], title: str, caption: str, per_table: int = 4, mean: list[dict] = ()) -> list[Table]:
    """A sweep of targets (:data:`datasets.SWEEP` or more) as tasks x targets, ``per_table`` targets a
    table so it fits 80 columns: each cell the prediction, its interval where the pipeline gives
    one, and the actual where known, one per line (points); the mean over the tasks below them."""
    from .aggregate import MEAN, mean_label

    targets = list(dict.fromkeys(r["target"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    by = {(r["task"], r["target"]): r for r in [*rows, *mean]}
    per_table = -(-len(targets) // -(-len(targets) // per_table))  # balanced: 6 targets as 3 + 3, not 4 + 2
    tables = []
    for k in range(0, len(targets), per_table):
        chunk = targets[k:k + per_table]
        t = Table(title=f"{title}, targets {k + 1}-{k + len(chunk)} of {len(targets)}", title_style="bold")
        t.add_column("task", no_wrap=True)
        for tgt in chunk:  # N=7e+09,D=4e+12 and 7B-4T@8e+12 over two lines
            t.add_column(tgt.replace(",", "\n").replace("@", "\n@"), justify="right", no_wrap=True)
        for task in tasks:
            t.add_row(_display(task), *[_cell(by.get((task, tgt))) for tgt in chunk])
        if mean:
            t.rows[-1].end_section = True
            t.add_row(f"[bold]{mean_label(len(tasks))}[/]", *[_cell(by.get((MEAN, tgt))) for tgt in chunk])
        scored = [[r for task in tasks if (r := by.get((task, tgt))) is not None and r.get("abs_error") is not None]
                  for tgt in chunk]
        if any(scored):  # the targets with actuals: mean absolute error, and coverage where intervals
            t.add_row("[bold]mean abs. err[/]", *[
                "" if not g else f"[bold]{sum(r['abs_error'] for r in g) / len(g):.2f}[/]" + (
                    f"\n{sum(bool(r['covered']) for r in g)}/{len(g)} covered" if g[0].get("covered") is not None
                    else "") for g in scored])
        t.caption = caption
        tables.append(t)
    return tables


def _cell(r: dict | None) -> str:
    """A sweep table's cell: the prediction, its interval where the pipeline gives one, and the
    actual where known, one per line (points)."""
    if r is None:
        return "–"
    lines = [f"{100 * r['predicted']:.1f}"]
    if r.get("lower") is not None:
        lines.append(f"[{100 * r['lower']:.1f}, {100 * r['upper']:.1f}]")
    act = r.get("actual")
    if act is not None and act == act:
        lines.append(f"act. {100 * act:.1f}")
    return "\n".join(lines)


_AUTO_CAPTION = ("pipelines weighted per task by backtest (every weight in --json); interval: the weighted "
                 "prediction's bootstrap SD + its backtest error grown with the extrapolation; its coverage on the "
                 "ladder: taskladder backtest --calibration")


def _pipeline_tables(weights: list[dict]) -> list[Table]:
    """Per target, every (task, pipeline) of the automatic choice: its own prediction and SD, its
    backtest error and the weight applied (:func:`predictor.applied_weights`)."""
    tables = []
    for tgt in dict.fromkeys(w["target"] for w in weights):
        t = Table(title=f"Pipelines of the automatic prediction, {tgt}", title_style="bold")
        for c in ("task", "pipeline", "pred", "SD", "backtest RMSE", "weight"):
            t.add_column(c, justify="left" if c in ("task", "pipeline") else "right", no_wrap=True)
        rows = [w for w in weights if w["target"] == tgt]
        top: dict[str, float] = {}
        for w in rows:
            top[w["task"]] = max(top.get(w["task"], w["weight"]), w["weight"])
        last = None
        for w in rows:
            best = w["weight"] == top[w["task"]]
            t.add_row(_display(w["task"]) if w["task"] != last else "", w["design"], f"{100 * w['predicted']:.1f}",
                      f"{100 * w['sd']:.1f}", f"{100 * w['backtest_rmse']:.2f}",
                      f"[bold]{w['weight']:.2f}[/]" if best else f"{w['weight']:.2f}")
            last = w["task"]
        t.caption = ("points; SD: the pipeline's bootstrap SD at the target; backtest RMSE: its error on the "
                     "ladder's held-out rungs, whose inverse square sets the weight")
        tables.append(t)
    return tables


def _auto_table(rows: list[dict], level: float, mean: list[dict] = ()) -> list[Table]:
    """One table per target of the automatic prediction's rows (:class:`predictor.AutoPrediction`; a
    sweep: :func:`_sweep_tables`), with the mean over the tasks (:mod:`aggregate`) below them."""
    from .aggregate import mean_label

    means = {r["target"]: r for r in mean}

    def build(g, tgt):
        t = Table(title=f"Automatic prediction, {tgt}, {percent(level)} intervals", title_style="bold")
        for c in ("task", "pred", "interval", "actual", "err", "top pipeline"):
            t.add_column(c, justify="right" if c in ("pred", "actual", "err") else "left", no_wrap=True)
        errs = []
        for r in g:
            act = r.get("actual")
            has = act is not None and act == act
            top = r["top_pipeline"]
            t.add_row(_display(r["task"]), f"{100 * r['predicted']:.1f}",
                      f"[{100 * r['lower']:.1f}, {100 * r['upper']:.1f}]", f"{100 * act:.1f}" if has else "–",
                      f"{r['abs_error']:.1f}" if has else "–", f"{top} {r['weights'][top]:.2f}")
            if has:
                errs.append((r["abs_error"], bool(r["covered"])))
        if (m := means.get(tgt)) is not None:
            t.rows[-1].end_section = True
            has = m["actual"] is not None
            t.add_row(f"[bold]{mean_label(len(m['tasks']))}[/]", f"[bold]{100 * m['predicted']:.1f}[/]",
                      f"[bold][{100 * m['lower']:.1f}, {100 * m['upper']:.1f}][/]",
                      f"{100 * m['actual']:.1f}" if has else "–", f"{m['abs_error']:.1f}" if has else "–", "")
        if errs:
            t.add_row("[bold]per task[/]", "", f"{sum(c for _, c in errs)}/{len(g)} covered", "",
                      f"[bold]{sum(e for e, _ in errs) / len(errs):.2f}[/]", "mean abs. err")
        t.caption = _AUTO_CAPTION + (_MEAN_CAPTION if means else "")
        return t
    from .datasets import SWEEP

    if len({r["target"] for r in rows}) >= SWEEP:
        return _sweep_tables(rows, f"Automatic prediction, {percent(level)} intervals",
                             _AUTO_CAPTION + (_MEAN_CAPTION if means else ""), mean=mean)
    return _per_target(rows, build)


_MEAN_CAPTION = "; the mean's interval: its own backtest error (docs/trust.md)"


def _design_table(design) -> list[Table]:
    def build(g, tgt):
        t = Table(title=f"Design choices, {tgt}: relative error (paper Tables 5/6)", title_style="bold")
        piv = g.pivot_table(index="task", columns="design", values="relative_error", sort=False)
        t.add_column("task", no_wrap=True)
        for d in piv.columns:
            t.add_column(d, justify="right", no_wrap=True)
        for task, row in piv.iterrows():
            t.add_row(_display(task), *[f"{v:.1%}" for v in row])
        means = g.groupby("design", sort=False)["abs_error"].mean()
        t.add_row("[bold]MAE (pts)[/]", *[f"[bold]{means[c]:.2f}[/]" for c in piv.columns])
        return t
    return [build(g, tgt) for tgt, g in design.groupby("target", sort=False)]


def _variance_table(var) -> Table:
    from .analyses import variance_runs

    n = var["last_n"].iloc[0]
    t = Table(title=f"Variance over the last {n} checkpoints of {variance_runs(var)} (paper Table 4)",
              title_style="bold")
    for c in ("task", "loss SD", "loss rel SD", "acc SD", "acc rel SD"):
        t.add_column(c, justify="left" if c == "task" else "right")
    for r in var.itertuples():
        t.add_row(REGISTRY[r.task].display if r.task in REGISTRY else r.task, f"{r.loss_sd:.4f}",
                  f"{r.loss_rel_sd:.2%}", f"{r.acc_sd:.4f}", f"{r.acc_rel_sd:.2%}")
    return t


def _provenance(ladder=None, sizes: Path | None = None, mixed_conventions: bool = False, **more) -> dict:
    """The ``provenance`` of a command's JSON (:mod:`taskladder.provenance`): versions, and the
    ladder's files with their digest; ``more``: other sources (a target's log)."""
    return provenance.stamp(ladder=provenance.source(ladder, sizes, mixed_conventions), **more)


def _target_source(target_file: Path | None) -> dict:
    """A target's own log, where one was given, as a source of the result."""
    return {} if target_file is None else {"target_log": provenance.source(target_file)}


def _emit(result: dict, json_: bool, out: Path | None, stem: str, tables: dict) -> bool:
    """Write 'result' (JSON) and 'tables' (flat Parquet and CSV) under 'out'; print the JSON when asked.

    Returns True when the JSON went to stdout, so the caller prints no table.  The result's
    ``provenance`` may be given as a function: it is computed only when written (reading the
    libraries' versions imports importlib.metadata, ~30 ms of a warm prediction's table).
    """
    if (json_ or out is not None) and callable(result.get("provenance")):
        result["provenance"] = result["provenance"]()
    if out is not None:
        from .export import write

        io.write_json(out / f"{stem}.json", result)
        for name, df in tables.items():  # flat tables for dashboards (taskladder.export)
            write(df, out / f"{name}.parquet", result.get("provenance"))
            write(df, out / f"{name}.csv")
    if json_:
        print(io.dumps(result))
    return json_


@app.command()
def reproduce(
    out: Annotated[Path, typer.Option(help="Folder for tables and figures.")] = Path("taskladder-out"),
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    figures: Annotated[bool, typer.Option(help="Draw the step-1, step-2 and chained figures.")] = True,
    no_cache: NoCache = False,
):
    """Recompute the paper's Figure 2 (7B-4T and 13B-5T) from the bundled ladder."""
    _set_cache(no_cache)
    from .paper import FIGURE2_MAE, TABLE4_R
    from .reproduction import STAGES, run

    with _Stages(list(STAGES[:3 + figures]), quiet=json_) as st:
        rep = run(out, figures, st.next)
    result = rep.result
    if json_:
        out_console.print_json(io.dumps(result)) if sys.stdout.isatty() else print(io.dumps(result))
        return
    _print_all(_prediction_table(rep.predictions.to_dict(orient="records"), "Chained prediction (paper Figure 2)",
                                 paper=True))
    for tgt, v in result["mean_abs_error"].items():
        out_console.print(f"mean absolute error {tgt}: [bold]{v:.2f}[/] points (paper: {FIGURE2_MAE.get(tgt, float('nan')):.1f})")
    _print_all(_auto_table(rep.auto.to_dict(orient="records"), 0.9, result["auto_mean"]))
    _print_all(_design_table(rep.design))
    out_console.print(_variance_table(rep.variance))
    if result["variance_correlation"]:
        vc = result["variance_correlation"]
        out_console.print(f"Table 4: Pearson r of loss SD vs |step-2 error| ({vc['target']}, {len(rep.variance)} tasks): "
                          f"[bold]{vc['r']:.2f}[/] (paper: {TABLE4_R})")
    out_console.print(f"wrote tables and figures to {out}/")


@app.command()
def predict(
    n: Annotated[Optional[str], typer.Option("--n", help="Target non-embedding parameters (e.g. 6.9e9 or 6.9B; 3B,7B,13B for several targets).")] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Target training tokens (e.g. 3.9e12 or 4T, or 2xC: 2 x 20 N of each target's N; a list like --n's, or one value for all).")] = None,
    flops: Annotated[Optional[str], typer.Option(help="Training budget C = 6ND (3e23; a list for several targets): with --n or --tokens, sets the other (with --tokens 1xC, the Chinchilla-optimal N).")] = None,
    name: Annotated[Optional[str], typer.Option(help="Label for the target.")] = None,
    target: Annotated[Optional[list[str]], typer.Option(metavar="<name>", help="A bundled target (7B-4T, 13B-5T), repeatable; with --tokens alone, at those tokens.")] = None,
    target_file: Annotated[Optional[Path], typer.Option(help="The target's own eval log, to compare with its actual accuracy.")] = None,
    task: Annotated[Optional[list[str]], typer.Option(metavar="<task,...>", help="Task(s): names, 'paper' or 'all' (default: the paper's 8 that the ladder has, else every task it has).")] = None,
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Ladder result files or folders (default: bundled OLMo 2 ladder).")] = None,
    sizes: Annotated[Optional[Path], typer.Option(help="CSV with columns size,n giving each rung's N (and batch_tokens where files log steps only).")] = None,
    mixed_conventions: Mixed = False,
    paper: Annotated[bool, typer.Option("--paper", help="Use the paper's fixed design (task bpb -> sigmoid) instead of the automatic choice.")] = False,
    feature: Annotated[Optional[str], typer.Option(help="Fixed pipeline: intermediate feature bpb, taskce or c4.")] = None,
    step1: Annotated[Optional[str], typer.Option(help="Fixed pipeline: step-1 law nd or flops.")] = None,
    step2: Annotated[Optional[str], typer.Option(help="Fixed pipeline: step-2 law sigmoid or log_sigmoid.")] = None,
    design: Annotated[Optional[str], typer.Option(help="A named pipeline of the paper: task_bpb, flops (C = 6ND), flops_olmo (OLMo's logged FLOPs), taskce, c4, single_step.")] = None,
    level: Annotated[Optional[str], typer.Option(metavar="<level>", help="Interval level of the automatic prediction: 0.9, 90 or 90% (default 0.9; a fixed pipeline gives no interval).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Also write predict.json, predictions.parquet and .csv, and predictions.png here.")] = None,
    json_: JsonOut = False,
    pipelines: Annotated[bool, typer.Option("--pipelines", help="Also print each pipeline's prediction, SD, backtest error and weight (the automatic choice; in --json always).")] = False,
    no_cache: NoCache = False,
):
    """Predict task accuracies for any target (N, D) from a ladder.

    By default each task's pipelines are weighted by a backtest on the ladder's own
    largest rungs and the prediction carries an interval; --paper, --design or
    --feature/--step1/--step2 select one fixed pipeline instead.
    """
    _set_cache(no_cache)
    from .datasets import make_targets
    from .serve import default_tasks

    named = parse_names(task)
    built = [f"--{k}" for k, v in (("feature", feature), ("step1", step1), ("step2", step2)) if v is not None]
    chosen = ["--paper"] * paper + ["--design"] * (design is not None) + built[:1]
    if len(chosen) > 1:  # each names a whole fixed pipeline: two could disagree, and one would be dropped
        raise TaskladderError(f"{' and '.join(chosen)} each choose the fixed pipeline: give one of --paper, "
                              "--design, or --feature/--step1/--step2")
    fixed = bool(chosen)
    if fixed and pipelines:
        raise TaskladderError(f"--pipelines shows how the automatic choice weighs its pipelines; {chosen[0]} is one "
                              "fixed pipeline")
    if fixed and level is not None:
        raise TaskladderError(f"--level sets the automatic prediction's interval; {chosen[0]} (a fixed pipeline) "
                              "gives no interval")
    level = 0.9 if level is None else parse_level(level)
    if fixed and design is not None:
        from .serve import DESIGN_NAMES

        if design not in DESIGN_NAMES:
            raise TaskladderError(f"unknown design {design!r}{did_you_mean(design, DESIGN_NAMES)}; "
                                  f"choose from {', '.join(DESIGN_NAMES)}")
    size_table = None
    if sizes is not None:
        from .results import load_sizes

        size_table = load_sizes(sizes)
    # what the target's log cannot tell (no actual at another --tokens) is a note, as the ladder's are
    targets, said = recording_input_warnings(
        make_targets, target or (), target_file, parse_counts(n, "--n") if n else None,
        parse_tokens(tokens, "--tokens") if tokens else None, size_table, name, flops=_budgets(flops))
    if not targets:
        raise TaskladderError("no target: give --n and --tokens, --target NAME, or --target-file FILE")
    if out is not None:
        io.ensure_writable_dir(out)
    tasks = default_tasks(ladder, sizes, mixed_conventions, named)  # cached like the fits: no table read warm
    if not fixed:
        # the fitted state is cached by the ladder files' bytes: a repeated prediction reads no table
        from .predictor import INTERVAL_METHOD
        from .serve import auto_prediction

        prog, advance = _fit_progress(len(tasks), quiet=json_)
        with prog:
            auto = auto_prediction(targets, tasks, ladder, sizes, mixed_conventions, level, progress=advance)
        hidden = ("weights", "design_predictions", "design_sd")
        notes = [*said, *auto.notes]
        result = {"predictions": io.records([{k: v for k, v in r.items() if k not in hidden} for r in auto.rows]),
                  "mean": io.records(auto.mean),  # over the tasks, per target, with its own interval
                  "weights": io.records(auto.weights),  # as applied
                  "config": {"design": "auto", "level": level, "interval": INTERVAL_METHOD}, "notes": notes,
                  "provenance": lambda: _provenance(ladder, sizes, mixed_conventions, **_target_source(target_file))}
        if out is not None:
            _plot_predictions(auto.predictions, targets, out, auto.mean)
        tables = {} if out is None else {"predictions": auto.predictions,  # frames only for files: no pandas warm
                                         **({"mean": auto.mean_frame} if auto.mean else {})}
        if _emit(result, json_, out, "predict", tables):
            return
        _print_all(_auto_table(auto.rows, level, auto.mean))
        if pipelines:
            _print_all(_pipeline_tables(auto.weights))
        _print_notes(notes)
        return
    # a fixed pipeline, cached like the automatic choice: a repeated prediction reads no table
    from .serve import fixed_prediction

    prog, advance = _fit_progress(len(tasks), quiet=json_)
    with prog:
        fp = fixed_prediction(targets, tasks, (design, feature, step1, step2), ladder, sizes, mixed_conventions,
                              progress=advance)
    notes = [*said, *fp.notes]
    result = {"predictions": io.records(fp.rows), **({"fits": fp.fits} if fp.fits is not None else {}),
              "config": fp.config, "notes": notes,
              "provenance": lambda: _provenance(ladder, sizes, mixed_conventions, **_target_source(target_file))}
    if out is not None:
        _plot_predictions(fp.predictions, targets, out)
    if _emit(result, json_, out, "predict", {"predictions": fp.predictions} if out is not None else {}):
        return
    how = "single step (N, D) -> accuracy" if fp.fits is None else f"{fp.config['feature']} -> accuracy"
    _print_all(_prediction_table(fp.rows, f"Prediction ({how})"))
    errs: dict[str, list[float]] = {}
    for r in fp.rows:
        if r["abs_error"] is not None:
            errs.setdefault(r["target"], []).append(r["abs_error"])
    for tgt, v in errs.items():
        out_console.print(f"mean absolute error {tgt}: [bold]{sum(v) / len(v):.2f}[/] points")
    _print_notes(notes)


def _plot_predictions(table, targets, out: Path, mean: list[dict] = ()) -> None:
    """``predictions.png``: rows for a few targets, a curve over compute for a sweep (plots.plot_predictions),
    the mean over the tasks last."""
    from .plots import plot_predictions, with_mean

    plot_predictions(with_mean(table, mean), {t.name: 6.0 * t.n * t.d for t in targets}, out / "predictions.png")


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        out_console.print(f"[yellow]warning:[/] {note}")


def _forecast_table(fc: list[dict], name: str, level: float, means: list[dict] = ()) -> Table:
    """The forecasts (JSON records, as ``forecast --json`` has them) as a table, the mean over the
    tasks below them."""
    from .aggregate import mean_label

    first = fc[0]
    t = Table(title=f"Forecast of {name} at D={first['tokens']:.3g} from {first['checkpoints']} checkpoints "
                    f"({first['seen_frac']:.0%} of the tokens)", title_style="bold")
    for c in ("task", "forecast", f"{percent(level)} interval", "task loss", "ladder", "actual", "err"):
        t.add_column(c, justify="left" if c == "task" else "right", no_wrap=True)
    f = lambda v, s: "–" if v is None or v != v else s.format(v)  # noqa: E731
    for r in fc:
        t.add_row(REGISTRY[r["task"]].display if r["task"] in REGISTRY else r["task"], f"{100 * r['predicted']:.1f}",
                  f"[{100 * r['lower']:.1f}, {100 * r['upper']:.1f}]", f"{r['predicted_loss']:.3f}",
                  f"{100 * r['ladder_predicted']:.1f}", f(None if r["actual"] is None else 100 * r["actual"], "{:.1f}"),
                  f(r["abs_error"], "{:.1f}"))
    for m in means:  # the mean over the tasks, with its own interval
        t.rows[-1].end_section = True
        t.add_row(f"[bold]{mean_label(len(m['tasks']))}[/]", f"[bold]{100 * m['predicted']:.1f}[/]",
                  f"[bold][{100 * m['lower']:.1f}, {100 * m['upper']:.1f}][/]", "", f"{100 * m['ladder_predicted']:.1f}",
                  f(None if m["actual"] is None else 100 * m["actual"], "{:.1f}"), f(m["abs_error"], "{:.1f}"))
    checked = [r for r in fc if r["abs_error"] is not None]
    if checked:
        mean = lambda k: sum(r[k] for r in checked) / len(checked)  # noqa: E731
        t.add_row("[bold]per task[/]", "", f"{sum(bool(r['covered']) for r in checked)}/{len(fc)} covered", "",
                  f"{mean('ladder_abs_error'):.2f}", "", f"[bold]{mean('abs_error'):.2f}[/]")
    t.caption = "accuracy in points; ladder: the ladder-only prediction at the same tokens" + (
        "; per task: mean absolute error" if checked else "")
    return t


@app.command()
def compare(
    baseline: Annotated[Path, typer.Argument(help="The baseline ladder: a file or folder in any format --ladder reads.")],
    candidate: Annotated[Path, typer.Argument(help="The ladder with the change (data mix, architecture, ...).")],
    n: Annotated[Optional[str], typer.Option(help="Target non-embedding parameters (7B, 6.9e9, ...; 3B,7B for several targets).")] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Target training tokens (4T, or 2xC: 2 x 20 N; a list like --n's, or one value for all).")] = None,
    flops: Annotated[Optional[str], typer.Option(help="Training budget C = 6ND: with --n or --tokens, sets the other.")] = None,
    target: Annotated[Optional[list[str]], typer.Option(metavar="<name>", help="A bundled target's N and D: 7B-4T or 13B-5T (repeatable; with --tokens alone, its N at those tokens).")] = None,
    task: Annotated[Optional[list[str]], typer.Option(metavar="<task,...>", help="Task(s), comma-separated; default: those both ladders have.")] = None,
    sizes: Sizes = None,
    level: Annotated[str, typer.Option(metavar="<level>", help="Level of the intervals of the differences: 0.9, 90 or 90%.")] = "0.9",
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Also write compare.json, comparison.parquet and .csv, and compare.png here.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache of fits.")] = False,
):
    """Compare two ladders at a target: candidate minus baseline per task, with an interval.

    The error both ladders' predictions share (the laws' form) cancels in the difference;
    draws of their bootstraps resample the same runs, so noise the two share cancels too
    (docs/trust.md, "Comparing two ladders").
    """
    _set_cache(no_cache)
    from .compare import INTERVAL_METHOD
    from .datasets import make_targets
    from .serve import comparison_answer

    level = parse_level(level)
    # a comparison shows no actuals: the note that a bundled target at other tokens has none is moot
    targets, _ = recording_input_warnings(make_targets, target or (), None, parse_counts(n, "--n") if n else None,
                                          parse_tokens(tokens, "--tokens") if tokens else None, flops=_budgets(flops))
    if not targets:
        raise TaskladderError("no target: give --n and --tokens, or --target NAME")
    if out is not None:
        io.ensure_writable_dir(out)
    # what the two ladders give before any target is cached by their files: a repeated comparison reads no table
    got = comparison_answer(baseline, candidate, targets, parse_names(task), sizes, level,
                            progress=lambda k: _fit_progress(k, quiet=json_, label="fitting both ladders"))
    notes = got.notes
    mean = [{k: v for k, v in r.items() if k != "weights"} for r in got.mean]
    result = {"comparisons": io.records(got.rows), "mean": io.records(mean),
              "config": {"level": level, "interval": INTERVAL_METHOD,
                                                          "baseline": str(baseline), "candidate": str(candidate)},
              "notes": notes, "provenance": lambda: provenance.stamp(baseline=provenance.source(baseline, sizes),
                                                                     candidate=provenance.source(candidate, sizes))}
    tables = {}
    if out is not None:  # frames only for files: no pandas on a repeated comparison
        import pandas as pd

        from .aggregate import flat, labelled
        from .plots import plot_compare

        plot_compare(labelled(pd.DataFrame(got.rows + got.mean)), out / "compare.png", (baseline.name, candidate.name))
        tables = {"comparison": got.predictions, **({"mean": flat(pd.DataFrame(mean))} if mean else {})}
    if _emit(result, json_, out, "compare", tables):
        return
    _print_all(_compare_tables(got.rows, baseline.name, candidate.name, level, result["mean"]))
    _print_notes(notes)


def _compare_tables(rows: list[dict], base: str, cand: str, level: float, mean: list[dict] = ()) -> list[Table]:
    """One table per target of a comparison's rows (:func:`compare.compare`), with a verdict, and
    the mean over the tasks below them."""
    from .aggregate import mean_label
    from .compare import multiplier_text, verdict

    def cells(r):
        return (f"{100 * r['baseline']:.1f}", f"{100 * r['candidate']:.1f}", f"{100 * r['difference']:+.1f}",
                f"[{100 * r['lower']:+.1f}, {100 * r['upper']:+.1f}]", verdict(r["lower"], r["upper"]),
                multiplier_text(r))

    tables = []
    for tgt in dict.fromkeys(r["target"] for r in rows):
        t = Table(title=f"{cand} minus {base} at {tgt}, {percent(level)} intervals", title_style="bold")
        for c in ("task", "base", "cand", "diff", "interval", "verdict", "x compute"):
            t.add_column(c, justify="left" if c in ("task", "interval", "verdict") else "right", no_wrap=True)
        for r in (r for r in rows if r["target"] == tgt):
            t.add_row(_display(r["task"]), *cells(r))
        for m in (m for m in mean if m["target"] == tgt):
            t.rows[-1].end_section = True
            t.add_row(f"[bold]{mean_label(len(m['tasks']))}[/]", *cells(m))
        t.caption = ("accuracy in points; diff: cand - base, both ladders' pipelines weighted alike; interval: the "
                     "difference's bootstrap SD (draws paired by run) + its own backtest error, grown with the "
                     "extrapolation; verdict: higher or lower where the interval excludes 0; x compute: the "
                     "compute the baseline's prediction needs to match the candidate's, over the target's (N and D "
                     "scaled together; its range in --json)")
        tables.append(t)
    return tables


@app.command()
def forecast(
    target: Annotated[Optional[list[str]], typer.Option(metavar="<name>", help="A bundled target whose full log is replayed: 7B-4T or 13B-5T.")] = None,
    target_file: Annotated[Optional[Path], typer.Option(help="The target's eval log so far (wide or long).")] = None,
    n: Annotated[Optional[str], typer.Option("--n", help="Target non-embedding parameters (with --target-file).")] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Tokens to forecast at (4T, or 2xC: 2 x 20 N; default: the log's last checkpoint).")] = None,
    upto: Annotated[Optional[float], typer.Option(help="Replay: use only the log's first FRACTION of steps.")] = None,
    task: Annotated[Optional[list[str]], typer.Option(metavar="<task,...>", help="Task(s): names or 'paper' (default: the paper's 8 that the log has, else every task it has).")] = None,
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Ladder result files or folders (default: bundled).")] = None,
    sizes: Sizes = None,
    mixed_conventions: Mixed = False,
    level: Annotated[str, typer.Option(metavar="<level>", help="Interval level: 0.9, 90 or 90%.")] = "0.9",
    out: Annotated[Optional[Path], typer.Option(help="Also write forecast.json, forecast.parquet (and the mean over tasks: mean.parquet) and forecast.png here.")] = None,
    json_: JsonOut = False,
    no_cache: NoCache = False,
):
    """Forecast where a running target will land from its own checkpoints so far.

    The ladder's curve is anchored to the target's recent task losses (corrected for
    the learning-rate schedule) and its step 2 shifted by the target's own accuracy
    residuals; see docs/forecast.md.
    """
    _set_cache(no_cache)
    from .aggregate import flat
    from .serve import forecast_answer

    # --target repeats in predict, report and compare; here a second one would silently replace the first
    if target and len(target) > 1:
        raise TaskladderError(f"forecast follows one run: give one --target (got {', '.join(target)}); "
                              "run it once per target")
    level = parse_level(level)  # as the other commands say it, before ForecastConfig's own check
    with err_console.status("fitting the ladder", spinner="dots") if err_console.is_terminal and not json_ else _null():
        # what the ladder or the log cannot tell: kept as notes, as predict keeps its own; a
        # repeated forecast is answered from the cache (figures need the fitted run: --out computes)
        ans = forecast_answer(target[0] if target else None, target_file, n=parse_count(n, "--n") if n else None,
                              ladder=ladder or None, sizes=sizes, mixed_conventions=mixed_conventions,
                              tokens=_one_tokens(tokens), upto=upto, tasks=parse_names(task), level=level,
                              fresh=out is not None)
    result = {**ans.result,
              "provenance": lambda: _provenance(ladder, sizes, mixed_conventions, **_target_source(target_file))}
    if out is not None:  # created only now: a failed forecast leaves no empty folder behind
        from . import plots

        io.ensure_writable_dir(out)
        plots.plot_forecast(ans.run, ans.run.forecaster, out / "forecast.png")
    tables = {} if out is None else {"forecast": ans.run.forecasts, **(
        {"mean": flat(ans.run.mean)} if len(ans.run.mean) else {})}
    if _emit(result, json_, out, "forecast", tables):
        return
    out_console.print(_forecast_table(result["forecasts"], result["target"], level, result.get("mean", [])))
    _print_notes(list(ans.notes))
    if out is not None:
        more = ", mean.parquet" if len(ans.run.mean) else ""
        out_console.print(f"wrote forecast.json, forecast.parquet{more} and forecast.png to {out}/")


@app.command()
def reach(
    accuracy: Annotated[str, typer.Option(help="The goal in points: 60 for every task, or per task: mmlu=55,hellaswag=80 (mean=65: the mean over --task's tasks).")],
    task: Annotated[Optional[list[str]], typer.Option(metavar="<task,...>", help="Task(s): names, 'paper' or 'all' (default: the paper's 8 that the ladder has, else every task it has).")] = None,
    n: Annotated[Optional[str], typer.Option("--n", help="Fix N (e.g. 7B): the tokens grow until the goal is reached.")] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Fix the tokens (4T) or their multiple of 20 N (5xC): N grows. Default: 1xC, Chinchilla-optimal.")] = None,
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Ladder result files or folders (default: bundled OLMo 2 ladder).")] = None,
    sizes: Annotated[Optional[Path], typer.Option(help="CSV with columns size,n giving each rung's N (and batch_tokens where files log steps only).")] = None,
    mixed_conventions: Mixed = False,
    level: Annotated[str, typer.Option(metavar="<level>", help="Level of the interval whose bounds set the range of compute: 0.9, 90 or 90%.")] = "0.9",
    out: Annotated[Optional[Path], typer.Option(help="Also write reach.json, reach.parquet and .csv, and reach.png here.")] = None,
    json_: JsonOut = False,
    no_cache: NoCache = False,
):
    """How large a target must be to reach an accuracy: the automatic prediction read backwards.

    Along targets of fixed N, fixed tokens or a fixed multiple of 20 N, finds the compute
    C = 6ND at which each task's prediction first reaches the goal, and the range of compute at
    which its interval's bounds do; see docs/reach.md.
    """
    _set_cache(no_cache)
    from .reach import family_of, parse_goals, reach as reach_goals
    from .serve import default_tasks

    level = parse_level(level)
    family = family_of(n, tokens)
    tasks = default_tasks(ladder, sizes, mixed_conventions, parse_names(task))
    goals = parse_goals(accuracy, tasks)  # before the folder: a typo leaves nothing behind
    if out is not None:
        io.ensure_writable_dir(out)
    prog, advance = _fit_progress(len(tasks), quiet=json_)
    with prog:
        got = reach_goals(goals, family, tasks, ladder, sizes, mixed_conventions, level, progress=advance)
    result = {"reach": io.records(got.rows), "config": {"family": family.label, "level": level}, "notes": got.notes,
              "provenance": lambda: _provenance(ladder, sizes, mixed_conventions)}
    if out is not None:
        from .plots import plot_reach

        plot_reach(got, out / "reach.png")
    if _emit(result, json_, out, "reach", {"reach": got.table} if out is not None else {}):
        return
    out_console.print(_reach_table(got.rows, family, level))
    _print_notes(got.notes)
    if out is not None:
        out_console.print(f"wrote reach.json, reach.parquet, reach.csv and reach.png to {out}/")


def _reach_table(rows: list[dict], family, level: float) -> Table:
    """Where each goal is reached, one row per task (and the mean): the N (or D) that grows, its
    range over the interval, the compute and how far beyond the ladder."""
    from .aggregate import MEAN, mean_label
    from .units import short_count

    grows = "D" if family.n is not None else "N"
    key = grows.lower()
    t = Table(title=f"Size to reach each goal ({family.label})", title_style="bold")
    for c in ("task", "goal", grows, f"{percent(level)} range of {grows}", "compute", "x ladder"):
        t.add_column(c, justify="left" if c == "task" else "right", no_wrap=True)
    for r in rows:
        first, last = (short_count(family.at(r[k])[grows == "D"]) for k in ("search_start", "search_end"))

        def size(suffix):  # the centre's, or a bound's: found, below the search's start, or past its end
            status = r["reached" + suffix]
            return short_count(r[key + suffix]) if status == "yes" else f"<{first}" if status == "at start" \
                else f">{last}"
        name = f"[bold]{mean_label(len(r['tasks']))}[/]" if r["task"] == MEAN else _display(r["task"])
        times = r["times_ladder"]
        t.add_row(name, f"{100 * r['goal']:.1f}", size(""), f"[{size('_lower')}, {size('_upper')}]",
                  "–" if r["compute"] is None else f"{r['compute']:.1e}",
                  "–" if times is None else f"{times:,.0f}" if times >= 10 else f"{times:.2g}")
    t.caption = (f"goal in points; {grows} and compute (6ND FLOPs) where the prediction reaches the goal; range: "
                 f"where its {percent(level)} interval's upper and lower bounds do; x ladder: that compute as a "
                 "multiple of the largest ladder run's")
    return t


@app.command()
def backtest(
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Ladder result files or folders (default: bundled).")] = None,
    sizes: Sizes = None,
    mixed_conventions: Mixed = False,
    task: Annotated[Optional[list[str]], typer.Option(metavar="<task,...>", help="Task(s): names, 'paper' or 'all' (default: the paper's 8 that the ladder has, else every task it has).")] = None,
    holdout: Annotated[Optional[int], typer.Option(help="How many of the largest runs to hold out (by N, and by compute; default 4).")] = None,
    level: Annotated[Optional[str], typer.Option(metavar="<level>", help="Level of each pipeline's own interval, for coverage: 0.9, 90 or 90% (default 0.9).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Also write the per-run backtest table (JSON, Parquet, CSV) and backtest.png here.")] = None,
    json_: JsonOut = False,
    calibration: Annotated[bool, typer.Option("--calibration", help="Replay the automatic prediction on rolling origins and report its intervals' coverage and width at 50/80/90/95%.")] = False,
    no_cache: NoCache = False,
):
    """Hold out the largest rungs and score every pipeline on them, per task.

    With --calibration, the whole automatic prediction is replayed instead on every
    split of the ladder with enough runs (rolling origins: fit on the smaller sizes,
    predict the next; the largest compute; the largest multiple), and the coverage
    and width of its intervals are reported per task and pooled (docs/trust.md).
    """
    from .serve import backtest_answer, default_tasks

    _set_cache(no_cache)
    named = parse_names(task)
    if calibration and (holdout is not None or level is not None):  # its splits and levels are its own
        raise TaskladderError(f"{'--holdout' if holdout is not None else '--level'} sets the plain backtest; "
                              "--calibration replays on the ladder's own splits at 50/80/90/95%")
    holdout, level = 4 if holdout is None else holdout, 0.9 if level is None else parse_level(level)
    if holdout < 1:
        raise TaskladderError(f"--holdout must be at least 1, got {holdout}")
    if calibration:  # replays need the table itself
        from .api import read_ladder

        results = read_ladder(ladder or None, sizes=sizes, mixed_conventions=mixed_conventions)
        tasks = _default_tasks(results, named)
    else:
        tasks = default_tasks(ladder or None, sizes, mixed_conventions, named)  # cached: no table read warm
    if out is not None:
        io.ensure_writable_dir(out)
    if calibration:
        return _calibration(results, tasks, out, json_, lambda: _provenance(ladder, sizes, mixed_conventions))
    prog, advance = _fit_progress(len(tasks), json_, "backtesting")
    with prog:  # a repeated backtest is answered from the cache; --out draws from the table itself
        got = backtest_answer(tasks, ladder or None, sizes, mixed_conventions, holdout, level, advance,
                              fresh=out is not None)
    result = {**got.result, "provenance": lambda: _provenance(ladder, sizes, mixed_conventions)}
    if out is not None:
        from . import plots

        plots.plot_backtest(got.table, out / "backtest.png")
    if _emit(result, json_, out, "backtest", {"backtest": got.table} if out is not None else {}):
        return
    by_task: dict[str, dict] = {}
    for r in got.result["summary"]:
        by_task.setdefault(r["task"], {})[r["design"]] = r
    # two tables (error, then coverage), each within 80 columns
    for what, col, fmt in (("mean abs. error (points)", "abs_error", "{:.2f}"),
                           (f"coverage of each pipeline's {percent(level)} interval", "coverage", "{:.0%}")):
        t = Table(title=f"Backtest: {what}", title_style="bold")
        t.add_column("task", no_wrap=True)
        for d in got.designs:
            t.add_column(d.replace("_", " "), justify="right")
        if col == "abs_error":
            t.add_column("acc SD", justify="right")
        for task_, g in by_task.items():
            scored = [d for d in g if g[d]["abs_error"] is not None]
            best = min(scored, key=lambda d: g[d]["abs_error"], default=None)
            cells = []
            for d in got.designs:
                v = "–" if d not in g else fmt.format(float("nan") if g[d][col] is None else g[d][col])
                cells.append(f"[bold green]{v}[/]" if d == best and col == "abs_error" else v)
            if col == "abs_error":
                sd = next(iter(g.values()))["predictability_sd"]
                cells.append(f"{100 * (float('nan') if sd is None else sd):.2f}")
            t.add_row(_display(task_), *cells)
        if col == "abs_error":
            t.caption = f"held out {got.held}; acc SD: the held-out runs' checkpoint noise (points)"
        out_console.print(t)
    _print_notes(got.result["notes"])


def _calibration(results, tasks, out: Path | None, json_: bool, provenance) -> None:
    """``backtest --calibration``; ``provenance``: a function giving it, called when written (:func:`_emit`)."""
    from .aggregate import MEAN, mean_label
    from .calibration import LEVELS, auto_splits, calibration_table, rolling_auto, splits_text
    from .chain import ladder_notes

    # the automatic choice refitted on every split: a bar over (split, task), tens of seconds
    prog, advance = _fit_progress(len(auto_splits(results)) * len(tasks), json_, "replaying on the ladder's splits")
    with prog:
        rolled = rolling_auto(results, tasks, progress=advance)
    if rolled.empty:
        raise TaskladderError("no split of this ladder leaves the 10 runs the automatic prediction needs to train on")
    table = calibration_table(rolled)
    notes = ladder_notes(results, tasks)
    result = {"calibration": io.records(table), "runs": io.records(rolled), "notes": notes, "provenance": provenance}
    if out is not None:
        from .plots import plot_reliability

        plot_reliability(table, out / "reliability.png")
    if _emit(result, json_, out, "calibration", {"calibration": table, "calibration_runs": rolled}):
        return
    splits_ = splits_text(rolled)
    t = Table(title="Calibration of the automatic intervals on the ladder", title_style="bold")
    t.add_column("task", no_wrap=True)
    for lv in LEVELS:
        t.add_column(f"cov {lv:.0%}", justify="right")
    for lv in LEVELS:
        t.add_column(f"±{lv:.0%}", justify="right")
    for task_, g in table.groupby("task", sort=False):
        g = g.set_index("level")
        if task_ == MEAN:
            t.rows[-1].end_section = True
        t.add_row("[bold]pooled[/]" if task_ == "all" else mean_label(len(tasks)) if task_ == MEAN else _display(task_),
                  *[f"{g.loc[lv, 'coverage']:.0%}" for lv in LEVELS], *[f"{g.loc[lv, 'half_width']:.1f}" for lv in LEVELS])
    t.caption = (f"share of held-out runs inside the interval, and its mean half-width (points); splits: {splits_}; "
                 f"mean log-extrapolation {rolled.loc[rolled['task'] != MEAN, 'log_extrapolation'].mean():.1f} "
                 "(a 7B-4T target: ~7.4)")
    out_console.print(t)
    _print_notes(notes)


@app.command()
def report(
    out: Annotated[Path, typer.Option(parser=_file_out, metavar="<path>", help="HTML file to write.")] = Path("taskladder-report.html"),
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Ladder result files or folders (default: bundled).")] = None,
    sizes: Sizes = None,
    mixed_conventions: Mixed = False,
    n: Annotated[Optional[str], typer.Option("--n", help="Target non-embedding parameters (e.g. 6.9B).")] = None,
    tokens: Annotated[Optional[str], typer.Option(help="Target training tokens (e.g. 4T, or 2xC: 2 x 20 N).")] = None,
    flops: Annotated[Optional[str], typer.Option(help="Training budget C = 6ND: with --n or --tokens, sets the other.")] = None,
    target: Annotated[Optional[list[str]], typer.Option(metavar="<name>", help="A bundled target (7B-4T, 13B-5T), repeatable (with --tokens alone, at those tokens); with --ladder too (default without --ladder: both).")] = None,
    target_file: Annotated[Optional[Path], typer.Option(help="The target's own eval log: its actuals, or, for a run still short of --tokens, a forecast from its checkpoints.")] = None,
    task: Annotated[Optional[list[str]], typer.Option(metavar="<task,...>", help="Task(s): names, 'paper' or 'all' (default: the paper's 8 that the ladder has, else every task it has).")] = None,
    calibration: Annotated[bool, typer.Option("--calibration", help="Add the automatic intervals' coverage on the ladder's own splits (refits the automatic choice on each; about a minute cold).")] = False,
    candidate: Annotated[Optional[Path], typer.Option(metavar="<path>", help="A candidate ladder (a data mix, an architecture, ...; any format --ladder reads): add its difference from this one at the targets, as 'taskladder compare' gives it.")] = None,
    no_cache: NoCache = False,
):
    """Write one self-contained HTML report: every table and figure, images embedded."""
    from .datasets import make_targets, olmo2_ladder
    from .results import load_sizes, read_results
    _set_cache(no_cache)
    from . import report as rpt

    named = parse_names(task)
    size_table = load_sizes(sizes) if sizes else None
    asked = dict(target_file=target_file, n=parse_count(n, "--n") if n else None,
                 tokens=_one_tokens(tokens), sizes=size_table, tables=True, flops=_budgets(flops, one=True))
    if ladder:
        results = read_results(ladder, sizes=size_table, mixed_conventions=mixed_conventions)
        targets = make_targets(target or (), **asked)
        if not targets:
            raise TaskladderError("a report on your own ladder needs a target: --target NAME, --n and --tokens, "
                                  "or --target-file")
        title, paper = "taskladder report", False
    else:
        from .paper import TARGETS

        results = olmo2_ladder().ladder
        # the paper's two targets unless others are asked for (the paper's values beside those it has)
        targets = make_targets(target or (), **asked) or make_targets(TARGETS, tables=True)
        title, paper = "taskladder report: OLMo 2 ladder (Bhagia et al., 2024)", True
    tasks = _default_tasks(results, named)
    io.check_output_file(out)
    if out.parent != Path(""):
        io.ensure_writable_dir(out.parent)
    # a target log that stops short of its tokens is a run still training: forecast from it
    running = rpt.running_forecast(results, target_file, targets[-1], tasks, size_table) if target_file else None
    sources = _target_source(target_file) | ({"candidate": provenance.source(candidate, sizes)}
                                             if candidate else {})
    with err_console.status("fitting and drawing", spinner="dots") if err_console.is_terminal else _null():
        # the candidate against this ladder, on the tasks both have (of those asked for)
        compared = rpt.comparison(ladder or None, candidate, targets, named, sizes) if candidate else None
        text = rpt.build(results, targets, tasks, ALL_TASKS, title=title, paper=paper, calibration=calibration,
                         running=running, compared=compared,
                         provenance=_provenance(ladder, sizes, mixed_conventions, **sources))
    rpt.write(out, text)
    out_console.print(f"wrote {out} ({len(text) / 1e6:.1f} MB)")


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@app.command()
def plan(
    target_n: Annotated[str, typer.Option("--target-n", "--n", help="Target non-embedding parameters (e.g. 6.9B; --n as in predict).")] = "6887575552",
    target_tokens: Annotated[str, typer.Option("--target-tokens", "--tokens", help="Target training tokens (e.g. 4T or 2xC; --tokens as in predict).")] = "3945065873408",
    seq_len: Annotated[int, typer.Option(help="Sequence length in tokens (the paper's ladder: 4096, for which the peak learning rate is divided by 4, as in AI2's ladder).")] = 4096,
    sizes: Annotated[str, typer.Option(help="Comma-separated ladder sizes (OLMo 2 shapes 14M-13B, micro 3k-87k), or auto: four sizes below the target, the largest at most 1/5 of it (for 7B and 13B the paper's 190M,370M,760M,1B).")] = "auto",
    multiples: Annotated[str, typer.Option(help="Comma-separated Chinchilla multiples.")] = "1,2,5,10",
    budget: Annotated[Optional[str], typer.Option(help="Refuse plans above this many training FLOPs.")] = None,
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Runs so far (files or folders, any format --ladder reads): how far each rung has got.")] = None,
    mixed_conventions: Annotated[bool, typer.Option(help="Read --ladder files scored under different metric conventions together.")] = False,
    json_: JsonOut = False,
    out: Annotated[Optional[Path], typer.Option(help="Also write plan.json, plan.parquet and .csv (a row per rung, with its progress under --ladder), and plan.png (the rungs and the target in N and D) here.")] = None,
):
    """Plan a ladder: sizes, batch, learning rate, schedule and compute of every rung.

    With no options: the paper's ladder for OLMo 2 7B-4T.  With --ladder, how far the runs
    so far have got through the plan (files without N take the plan's N and batch).
    """
    from .planprogress import plan_and_progress
    from .ladder import PlanConfig, size_names

    try:
        mults = tuple(float(m) for m in multiples.split(",") if m.strip())
    except ValueError:
        raise TaskladderError(f"--multiples: {multiples!r} is not a comma-separated list of numbers") from None
    n = parse_count(target_n, "--target-n (--n)")
    cfg = PlanConfig(target_n=n, target_tokens=_target_tokens(target_tokens, n),
                     seq_len=seq_len, sizes=size_names(sizes, n), multiples=mults,
                     budget_flops=parse_flops(budget, "--budget") if budget else None)
    rungs, notes, progress = plan_and_progress(cfg, ladder, mixed_conventions)
    total = sum(r.flops for r in rungs)
    result = {"rungs": [r.as_dict() for r in rungs], "total_flops": total,
              "target_flops": 6.0 * cfg.target_n * cfg.target_tokens, "config": cfg.__dict__,
              "notes": notes} | ({"progress": io.records(progress)} if progress is not None else {}) \
        | {"provenance": (lambda: _provenance(ladder, None, mixed_conventions)) if ladder else provenance.stamp}
    if out is not None:
        from .ladder import plan_table
        from .plots import plot_plan

        io.ensure_writable_dir(out)
        plot_plan(rungs, cfg.target_n, cfg.target_tokens, out / "plan.png", progress)
    if _emit(result, json_, out, "plan", {"plan": plan_table(rungs, progress)} if out is not None else {}):
        return
    wrote = f"wrote plan.json, plan.parquet, plan.csv and plan.png to {out}/" if out is not None else None
    if progress is not None:
        out_console.print(_progress_table(progress, total))
        _print_notes(notes)
        if wrote:
            out_console.print(wrote)
        return
    title = (f"Ladder plan for a target of N={cfg.target_n:.3g}, D={cfg.target_tokens:.3g} ({seq_len}-token sequences"
             + ("; sizes chosen for it" if sizes.strip().lower() == "auto" else "") + ")")
    # two tables, shape and budget, each within 80 columns
    shape = Table(title=title, title_style="bold")
    for c in ("rung", "N", "d/L/H", "batch tokens", "peak LR", "warmup"):
        shape.add_column(c, justify="left" if c == "rung" else "right", no_wrap=True)
    budget_t = Table(title="... and its budget", title_style="bold")
    for c in ("rung", "tokens", "steps", "ckpt every", "FLOPs (6ND)", "% target"):
        budget_t.add_column(c, justify="left" if c == "rung" else "right", no_wrap=True)
    for r in rungs:
        shape.add_row(r.name, f"{r.n / 1e6:,.1f}M", f"{r.d_model}/{r.n_layers}/{r.n_heads}",
                      f"{r.batch_tokens:,}", f"{r.peak_lr:.2e}", str(r.warmup_steps))
        budget_t.add_row(r.name, f"{r.tokens:.3e}", f"{r.steps:,}", str(r.checkpoint_interval), f"{r.flops:.2e}",
                         _share(r.target_share))
    budget_t.caption = (f"total {total:.3e} FLOPs = {_share(total / (6.0 * cfg.target_n * cfg.target_tokens))} "
                        "of the target's 6ND; cosine decay to 0.1 x peak; warmup = N tokens; exact N, batch "
                        "sequences and every other field: --json")
    out_console.print(shape)
    out_console.print(budget_t)
    _print_notes(notes)
    if wrote:
        out_console.print(wrote)


def _share(x: float) -> str:
    """A share of the target's compute in percent, two significant digits below 0.1% (the smallest
    rung of a 7B plan is 0.0026% of it, which two decimals print as 0.00%)."""
    pct = 100 * x
    return f"{pct:.2f}%" if pct >= 0.1 else f"{pct:#.2g}%"


def _progress_table(progress, total: float) -> Table:
    """How far each planned rung has got (:func:`planprogress.plan_progress`), within 80 columns."""
    t = Table(title="Ladder progress against the plan", title_style="bold")
    for c in ("rung", "run", "tokens", "of planned", "status"):
        t.add_column(c, justify="right" if c in ("tokens", "of planned") else "left", no_wrap=c != "run")
    style = {"done": "green", "training": "yellow", "not started": "dim"}
    for r in progress.itertuples():
        t.add_row(r.rung, r.run if isinstance(r.run, str) else "–", f"{r.tokens:.3e}" if r.tokens else "–",
                  f"{r.share:.0%}", f"[{style[r.status]}]{r.status}[/]")
    done = float(progress["flops"].sum())
    counts = progress["status"].value_counts()
    t.caption = (f"{counts.get('done', 0)} of {len(progress)} rungs done, {counts.get('training', 0)} training; "
                 f"{done:.3e} of the plan's {total:.3e} FLOPs ({100 * done / total:.0f}%)")
    return t


def _plan_config(preset, target_n, target_tokens, seq_len, sizes, multiples, budget):
    """A PlanConfig from a preset and/or the plan options (options override the preset)."""
    from dataclasses import replace

    from .ladder import PRESETS, PlanConfig

    if preset is not None and preset not in PRESETS:
        raise TaskladderError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    cfg = PRESETS[preset] if preset else PlanConfig()
    kw = {}
    if target_n is not None:
        kw["target_n"] = parse_count(target_n, "--target-n (--n)")
    if target_tokens is not None:
        kw["target_tokens"] = _target_tokens(target_tokens, kw.get("target_n", cfg.target_n))
    if seq_len is not None:
        kw["seq_len"] = seq_len
    if sizes is not None:
        from .ladder import size_names

        kw["sizes"] = size_names(sizes, kw.get("target_n", cfg.target_n), cfg.vocab_size)
    if multiples is not None:
        try:
            kw["multiples"] = tuple(float(m) for m in multiples.split(",") if m.strip())
        except ValueError:
            raise TaskladderError(f"--multiples: {multiples!r} is not a comma-separated list of numbers") from None
    if budget is not None:
        kw["budget_flops"] = parse_flops(budget, "--budget")
    return replace(cfg, **kw) if kw else cfg


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Folder for the runs: <out>/<rung>/step<k> checkpoints.")],
    corpus: Annotated[Optional[Path], typer.Option(help="Training corpus: .txt, .jsonl or .parquet with a text field (default: bundled Tiny Shakespeare).")] = None,
    preset: Annotated[Optional[str], typer.Option(help="A planned ladder: micro or tiny (byte-level, CPU-sized).")] = None,
    rung: Annotated[Optional[list[str]], typer.Option(metavar="<rung>", help="Train only these rungs (e.g. 12k-1xC); default all.")] = None,
    target_n: Annotated[Optional[str], typer.Option("--target-n", "--n", help="Plan option: target parameters (e.g. 6.9B).")] = None,
    target_tokens: Annotated[Optional[str], typer.Option("--target-tokens", "--tokens", help="Plan option: target tokens (e.g. 4T or 2xC).")] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="Plan option: sequence length.")] = None,
    sizes: Annotated[Optional[str], typer.Option(help="Plan option: comma-separated sizes, or auto (see plan).")] = None,
    multiples: Annotated[Optional[str], typer.Option(help="Plan option: comma-separated Chinchilla multiples.")] = None,
    budget: Annotated[Optional[str], typer.Option(help="Refuse plans above this many training FLOPs.")] = None,
    tokenizer: Annotated[str, typer.Option(help="'bytes' or a tokenizer.json / Hugging Face tokenizer folder.")] = "bytes",
    dtype: Annotated[str, typer.Option(help="float32 or bfloat16.")] = "float32",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of the weights and the data order.")] = 0,
    micro_batch: Annotated[Optional[int], typer.Option(help="Sequences per forward pass (gradient accumulation).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop each rung after this many steps.")] = None,
    max_epochs: Annotated[float, typer.Option(help="Refuse plans that pass over the corpus more often than this.")] = 16.0,
):
    """Train a planned ladder (OLMo 2 via transformers): resumable, FSDP2 under torchrun.

    Re-running the same command continues every rung from its last checkpoint; under
    'torchrun --nproc-per-node K -m taskladder.cli train ...' the batches are split
    over K processes with FSDP2.
    """
    import os

    from .ladder import plan as make_plan
    from .ladder import target_rung
    from .pipeline import bundled_corpus

    cfg = _plan_config(preset, target_n, target_tokens, seq_len, sizes, multiples, budget)
    rungs = make_plan(cfg)
    if rung:
        known = {r.name: r for r in rungs}
        try:  # a preset's own target (micro: 87k-5xC) can be named too
            t = target_rung(cfg)
            known.setdefault(t.name, t)
        except TaskladderError:
            pass
        bad = [x for x in rung if x not in known]
        if bad:
            raise TaskladderError(f"unknown rung {bad[0]!r}; the plan has {', '.join(known)}")
        rungs = [known[x] for x in rung]
    io.ensure_writable_dir(out)
    try:
        from .training import TrainConfig, Trainer
    except ImportError:
        raise TaskladderError("training needs the eval extra: pip install 'taskladder[eval]'") from None
    tcfg = TrainConfig(out_dir=out, corpus=corpus or bundled_corpus(), tokenizer=tokenizer, seed=seed, dtype=dtype,
                       device=device, micro_batch=micro_batch, max_steps=max_steps, max_epochs=max_epochs)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    import torch.distributed as dist

    if world > 1:
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        if device.startswith("cuda"):
            import torch

            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            tcfg = TrainConfig(**{**tcfg.__dict__, "device": f"cuda:{torch.cuda.current_device()}"})
    rank = dist.get_rank() if world > 1 else 0
    try:
        trainer = Trainer(tcfg, cfg.vocab_size, rank, world)
        trainer.check_plan(rungs)
        prog = Progress(console=err_console, disable=rank > 0 or not err_console.is_terminal)
        with prog:
            tid = prog.add_task("training", total=None)

            def advance(r, step, last, loss):
                prog.update(tid, completed=step, total=last, description=f"{r.name} loss {loss:.3f}")

            trainer.progress = advance
            for r in rungs:
                s = trainer.train(r)
                if rank == 0:
                    tps = f", {s['tokens_per_s']:,.0f} tokens/s" if s["tokens_per_s"] else ""
                    resumed = f" (resumed at step {s['resumed_from']})" if s["resumed_from"] else ""
                    loss = f"{s['final_loss']:.4f}" if s["final_loss"] is not None else "–"
                    out_console.print(f"{r.name}: {s['steps']} steps{resumed}, final loss {loss}{tps}")
    finally:
        if world > 1:
            dist.destroy_process_group()


@app.command()
def run(
    out: Annotated[Path, typer.Option(help="Folder for checkpoints, results, predictions and the report.")] = Path("taskladder-run"),
    preset: Annotated[str, typer.Option(help="micro (4 sizes x 3 multiples and a 4x larger target, ~10 minutes on 2 CPU cores) or tiny (CI-sized).")] = "micro",
    corpus: Annotated[Optional[Path], typer.Option(help="Training corpus (default: bundled Tiny Shakespeare).")] = None,
    limit: Annotated[int, typer.Option(help="Questions per task.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the weights and the data order.")] = 0,
    workers: Annotated[Optional[int], typer.Option(help="Processes training and scoring side by side, one thread each (default: one per core).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
):
    """Plan, train, evaluate, fit, predict and report a micro ladder, end to end on a CPU.

    The preset's target (micro: 87k-5xC, 4.4x the compute of the largest rung; tiny: its
    largest rung) is trained, held out of every fit, and predicted from the ladder alone;
    every checkpoint is scored on cloze tasks from the corpus's held-out tail.
    Re-running resumes every stage.
    """
    from .pipeline import RunConfig, bundled_corpus
    from .pipeline import run as run_pipeline

    cfg = RunConfig(out_dir=out, corpus=corpus or bundled_corpus(), preset=preset, limit=limit, seed=seed,
                    workers=workers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        summary = run_pipeline(cfg, console=err_console)
    if json_:
        print(io.dumps(summary))
        return
    t = Table(title=f"{preset} ladder: predicting the held-out target {summary['target']} "
                    f"(N={summary['target_n']:,}, D={summary['target_tokens']:,}, "
                    f"{summary['target_compute_ratio']:.1f}x the largest rung's compute)", title_style="bold")
    lvl = f"{summary['level']:.0%}"
    # 8 short columns: readable at 80 characters (accuracies in %, task loss in bits per byte)
    for c in ("task", "loss", "actual", "err", "acc", f"{lvl} int.", "actual", "chance"):
        t.add_column(c, justify="left" if c == "task" else "right")
    f = lambda v, s, k=1: "–" if v is None else s.format(k * v)  # noqa: E731
    for p in summary["predictions"]:
        t.add_row(p["task"].removeprefix("cloze_"), f(p["predicted_feature"], "{:.2f}"),
                  f(p["actual_feature"], "{:.2f}"), f(p["step1_error"], "{:.1%}"), f(p["predicted"], "{:.1f}", 100),
                  f"{100 * p['lower']:.1f}-{100 * p['upper']:.1f}", f(p["actual"], "{:.1f}", 100),
                  f(p["chance"], "{:.0f}", 100))
    lm = summary["heldout_loss"]
    t.caption = ("loss: task loss (bits per byte) predicted by step 1, the target's actual, error; acc: the "
                 f"chained prediction (%); held-out text loss: predicted {lm['predicted']:.3f}, actual "
                 f"{f(lm['actual'], '{:.3f}')} nats/byte ({f(lm['rel_error'], '{:.1%}')} error)")
    out_console.print(t)
    fits = Table(title="fitted on the ladder alone", title_style="bold",
                 caption="step 2 on every checkpoint; fit errors: mean relative error of step 1 (final "
                         "checkpoints) and step 2")
    for c in ("task", "step 2: Acc(L) =", "err 1", "err 2"):
        fits.add_column(c, justify="left" if c in ("task", "step 2: Acc(L) =") else "right")
    for p in summary["predictions"]:
        fits.add_row(p["task"].removeprefix("cloze_"), p["step2"].removeprefix("Acc(L) = "),
                     f"{p['step1_fit_error']:.1%}", f"{p['step2_fit_error']:.1%}")
    out_console.print(fits)
    if summary["caveat"]:
        out_console.print(f"[yellow]note:[/] {summary['caveat']}.")
    tm = summary["timings"]
    out_console.print("time: " + ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in tm.items())
                      + f"; report: {out / 'report.html'}, summary: {out / 'summary.json'}")


@app.command()
def evaluate(
    checkpoints: Annotated[list[Path], typer.Argument(help="Hugging Face model folders (checkpoints of one run).")],
    out: Annotated[Path, typer.Option(parser=_file_out, metavar="<path>", help="Results table (.parquet or .csv); rows already there are skipped.")],
    run: Annotated[Optional[str], typer.Option("--run-name", help="Run name, e.g. 190M-1xC (default: from taskladder's own checkpoints).")] = None,
    n: Annotated[Optional[str], typer.Option("--params", help="Non-embedding parameters N of the run's model.")] = None,
    batch_tokens: Annotated[Optional[str], typer.Option(help="Tokens per optimizer step (D = step x batch tokens).")] = None,
    task: Annotated[Optional[list[str]], typer.Option(metavar="<task,...>", help="Bundled OLMES 5-shot task(s): piqa, arc_challenge_mc, ...")] = None,
    task_file: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Your own task file(s) (see docs/evaluate.md).")] = None,
    heldout: Annotated[Optional[Path], typer.Option(help="Held-out text file for language-modelling loss.")] = None,
    heldout_name: Annotated[Optional[str], typer.Option(help="Task name of the held-out loss (default c4_en, which feeds the C4 pipeline).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Score only the first N questions of each task.")] = None,
    dtype: Annotated[str, typer.Option(help="float32, bfloat16 or float16.")] = "float32",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    zero_shot_: Annotated[bool, typer.Option("--zero-shot", help="Drop the tasks' 5-shot examples (small windows).")] = False,
    overlong: Annotated[str, typer.Option(help="Context longer than the model's window: error, or truncate its start.")] = "error",
    convention: Annotated[str, typer.Option(help="Metric convention: olmo (the bundled ladder's, default), olmo_core, olmes, lm_eval or lighteval.")] = "olmo",
):
    """Score checkpoints on multiple-choice tasks; write the tidy results table predict reads.

    Checkpoints written by 'taskladder train' carry their run, N and batch; other
    folders need --run-name, --params and --batch-tokens.

    Each checkpoint folder's step is read from its name ('step1000', 'step-1000',
    '...-step1000' or the Hugging Face Trainer's 'checkpoint-1000').  Re-running skips (run, step, task) rows already in OUT;
    every checkpoint's rows are written atomically as soon as it is done.  Under
    'torchrun --nproc-per-node K -m taskladder.cli evaluate ...' the checkpoints are
    shared among K processes and their results merged.  (The option names avoid
    prefixes of torchrun's own, which it would otherwise claim.)
    """
    from .evaluation import bundled_task, load_task

    if limit is not None and limit < 1:
        raise TaskladderError(f"--limit must be at least 1, got {limit}")
    if overlong not in ("error", "truncate"):
        raise TaskladderError(f"--overlong: choose error or truncate, got {overlong!r}")
    from .conventions import get as get_convention
    from .training import check_device

    get_convention(convention)
    check_device(device)
    tasks = [bundled_task(t, limit) for t in task or []] + [load_task(p, limit) for p in task_file or []]
    if not tasks:
        raise TaskladderError("no task: give --task NAME (bundled OLMES tasks) or --task-file FILE")
    text = None
    if heldout is None and heldout_name is not None:
        raise TaskladderError("--heldout-name names the loss on a --heldout text file; give the file too")
    heldout_name = "c4_en" if heldout_name is None else heldout_name
    if heldout is not None:
        if not heldout.exists():
            raise TaskladderError(f"{heldout}: no such file")
        text = heldout.read_text(encoding="utf-8", errors="replace")
        if not text.strip():  # refused before any model is loaded, naming the file
            raise TaskladderError(f"{heldout}: the held-out text is empty")
    if zero_shot_:
        from .evaluation import zero_shot

        tasks = [zero_shot(t) for t in tasks]
    from .evaluation import discover_checkpoints, evaluate_to_table

    cks = discover_checkpoints(checkpoints, run, parse_count(n, "--params") if n else None,
                               parse_count(batch_tokens, "--batch-tokens") if batch_tokens else None)
    io.ensure_writable_dir(out.parent)
    prog = Progress(console=err_console, transient=False, disable=not err_console.is_terminal)
    tid = prog.add_task("scoring", total=None)

    def on_checkpoint(ck, rows, rank):
        if rank == 0:
            out_console.print(f"{ck['run']} step {ck['step']}: " + ", ".join(
                f"{r['task']}/{r['metric']}={r['value']:.4f}" for r in rows) if rows else
                f"{ck['run']} step {ck['step']}: already done")

    with prog:
        evaluate_to_table(cks, tasks, out, text, device, dtype, heldout_name, overlong, convention=convention,
                          set_total=lambda total, rank: prog.update(tid, total=total, visible=rank == 0),
                          advance=lambda: prog.advance(tid), on_checkpoint=on_checkpoint)


@app.command()
def export(
    out: Annotated[Path, typer.Option(parser=_file_out, metavar="<path>", help="File to write: .csv, .parquet, .json or .jsonl ('-': CSV on standard output).")],
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Ladder result files or folders, any format --ladder reads (default: bundled).")] = None,
    sizes: Sizes = None,
    mixed_conventions: Mixed = False,
    shape: Annotated[str, typer.Option(help="tidy (a row per run, step, task, metric) or wide (a row per checkpoint).")] = "tidy",
):
    """Write a ladder as one flat file for W&B, MLflow or a spreadsheet.

    Reads whatever --ladder reads (taskladder tables, OLMo and OLMo-core exports,
    lm-evaluation-harness and OLMES outputs), so it also converts them.  Predictions
    come flat from 'predict --out DIR' (predictions.csv / .parquet).
    """
    from .api import read_ladder
    from .export import STDOUT, export_ladder

    df = export_ladder(lambda: read_ladder(ladder or None, sizes=sizes, mixed_conventions=mixed_conventions), out, shape,
                       lambda: _provenance(ladder, sizes, mixed_conventions))
    if str(out) != STDOUT:
        out_console.print(f"wrote {len(df)} rows ({shape}) to {out}")


@app.command()
def data(
    ladder: Annotated[Optional[list[Path]], typer.Option(metavar="<path>", help="Ladder result files or folders, any format --ladder reads (default: bundled).")] = None,
    sizes: Sizes = None,
    mixed_conventions: Annotated[bool, typer.Option(help="Read files scored under different metric conventions together (refused otherwise).")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    export: Annotated[Optional[Path], typer.Option(parser=_file_out, metavar="<path>", help="Write the bundled tidy table to this .parquet, .csv, .json or .jsonl file (as `export` does).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Also write data.json, runs and tasks (.parquet, .csv), and accuracy.png and task_loss.png (every run's curve, a panel per task) here.")] = None,
):
    """Describe a ladder before fitting it: its runs, the tasks scored on them, and what it
    cannot tell (a run still training, a task missing from some runs, ...).  The bundled
    OLMo 2 ladder by default, with its targets."""
    from .ladder import chinchilla_multiple
    from .serve import ladder_description

    if export is not None:
        if out is not None:
            raise TaskladderError("--export writes the bundled table alone; give --out in another call")
        if ladder:
            raise TaskladderError("--export writes the bundled table; 'taskladder export --ladder ...' converts yours")
        from .datasets import olmo2_ladder
        from .export import export_ladder

        df = export_ladder(lambda: olmo2_ladder().ladder, export, provenance=_provenance)
        out_console.print(f"wrote {len(df)} rows to {export}")
        return
    if out is not None:
        io.ensure_writable_dir(out)
    got = ladder_description(ladder or None, sizes, mixed_conventions, figures=out)
    described = got.result
    result = described | {"provenance": lambda: _provenance(ladder, sizes, mixed_conventions)}
    tables = {} if out is None else {"runs": got.description.runs, "tasks": got.description.tasks}
    if _emit(result, json_, out, "data", tables):
        return
    title = ("Bundled ladder (Bhagia et al., 2024; allenai/OLMo-ladder, Apache-2.0)" if not ladder
             else f"Ladder: {', '.join(p.name for p in ladder)}")
    t = Table(title=title)
    for c in ("run", "N", "final D", "xC", "ckpts", "tasks"):
        t.add_column(c, justify="right" if c != "run" else "left")
    for r in described["runs"]:
        # the multiple reached, and the name's where the run falls short of it (still training?)
        xc = f"{r['multiple']:.3g}" + (f"/{r['planned']:g}" if r["short"] else "")
        t.add_row(r["run"], f"{r['n']:,}", f"{r['d']:.3e}", xc, str(r["checkpoints"]), str(r["tasks"]))
    for tg in described.get("targets", []):
        t.add_row(f"[magenta]{tg['name']}[/] (target)", f"{tg['n']:,}", f"{tg['d']:.3e}",
                  f"{chinchilla_multiple(tg['n'], tg['d']):.3g}", str(tg["checkpoints"]), "")
    t.caption = "xC: final tokens / 20 N (reached/planned where short); tasks: how many have accuracy on the run"
    out_console.print(t)
    tt = Table(title="Tasks with accuracy")
    for c in ("task", "runs", "metrics", "final acc"):
        tt.add_column(c, justify="right" if c == "runs" else "left")
    for r in described["tasks"]:
        acc = "–" if r["acc_low"] is None else f"{100 * r['acc_low']:.1f}-{100 * r['acc_high']:.1f}"
        tt.add_row(_display(r["task"]), str(r["runs"]), r["metrics"], acc)
    tt.caption = "final acc: lowest-highest over its runs (points)"
    out_console.print(tt)
    convention = described["convention"]
    out_console.print(f"supports: {described['supports']}"
                      + (f"; scored under the {convention!r} convention" if convention else ""))
    _print_notes(described["notes"])
    for hole in described["holes"]:
        out_console.print(f"[cyan]note:[/] {hole}")
    if out is not None:
        files = ["data.json", "runs.parquet", "runs.csv", "tasks.parquet", "tasks.csv",
                 *(p.name for p in got.description.figures)]
        out_console.print(f"wrote {', '.join(files[:-1])} and {files[-1]} to {out}/")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main() -> None:
    """Entry point: every user error is one line on stderr and exit status 2.

    Click's own usage errors (unknown option, missing value, a value of the wrong
    type) come out the same way instead of in a box; so does an OSError (a file name
    too long, a full disk), and an output folder the failed command created is
    removed again if it stayed empty.
    """
    from typer.exceptions import TyperException  # base of typer's (vendored click's) usage errors

    def fail(msg: str, code: int = 2) -> None:
        io.remove_created_dirs()
        err_console.print(f"taskladder: {msg}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(code)

    from . import cache
    from .cache import CacheWarning

    show = warnings.showwarning
    if err_console.is_terminal:  # a wait for another process's fit, where a progress bar would stand still
        cache.on_wait = lambda key: err_console.print(
            f"taskladder: another process is computing the same fits ({key.rsplit('-', 1)[0]}); waiting for it",
            markup=False, highlight=False, soft_wrap=True)

    from .errors import InputWarning

    def one_line_warning(message, category, *args, **kwargs):
        if issubclass(category, (CacheWarning, InputWarning)):
            err_console.print(f"taskladder: warning: {_one_line(message)}", markup=False, highlight=False,
                              soft_wrap=True)
        else:
            show(message, category, *args, **kwargs)

    with warnings.catch_warnings():
        # Fit problems are reported in each table's flags column instead.
        warnings.simplefilter("ignore", FitWarning)
        warnings.showwarning = one_line_warning
        try:
            rc = app(standalone_mode=False)
        except TyperException as e:
            ctx = getattr(e, "ctx", None)
            if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:  # bare `taskladder`: the help
                print(ctx.get_help())
                sys.exit(0)
            msg = e.format_message() if hasattr(e, "format_message") else str(e)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            fail(f"error: {_one_line(msg)}{hint}")
        except TaskladderError as e:
            fail(f"error: {_one_line(e)}")
        except OSError as e:
            name = str(e.filename) if e.filename is not None else ""
            name = name if len(name) <= 80 else name[:77] + "..."
            fail(f"error: {name + ': ' if name else ''}{e.strerror or e}")
        except (KeyboardInterrupt, typer.Abort):
            fail("interrupted", 130)
        except typer.Exit as e:
            if e.exit_code == 130:  # typer turns Ctrl-C into Exit(130)
                fail("interrupted", 130)
            sys.exit(e.exit_code)
        if rc == 130:  # typer turns Ctrl-C into Exit(130), which click returns when not standalone
            fail("interrupted", 130)
        sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
