"""`spine eval`: evaluate the agent a spec describes on a dataset (needs
`spine-agents[eval]`).

Exit codes: 0 when the evaluation meets its bars, 1 when the pass rate is under `--fail-under`,
an expected failure passed, a case regressed against `--baseline`, or anything failed to load
(one line on stderr). The pass rate leaves out the cases marked as expected failures (see
`spine.eval_table`) that failed. `spine_eval` is imported only when the command runs, so
`spine` works without the extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import anyio
import typer

from spine_core import Agent, SpineError, provider_name

from . import render
from .errors import SpecError
from .eval_table import expected_failures, print_eval, scorer_labels

if TYPE_CHECKING:
    from collections.abc import Callable

    from spine_eval import Dataset, EvalProgress, EvalReport, Scorer

__all__ = ["register"]

_MISSING = "spine eval needs the evaluation extra: pip install 'spine-agents[eval]'"


def register(app: typer.Typer) -> None:
    """Add the `eval` command to `app`."""
    app.command(name="eval", no_args_is_help=True)(eval_command)


def eval_command(
    spec: Annotated[Path, typer.Argument(help="The agent spec (YAML).", show_default=False)],
    dataset: Annotated[
        Path, typer.Argument(help="The dataset (YAML or JSON).", show_default=False)
    ],
    scorer: Annotated[
        list[str] | None,
        typer.Option(
            "--scorer",
            "-s",
            help="Scorer for every case, NAME or NAME:PARAMS (k=v,k=v or a JSON object); "
            "repeatable. Cases may name their own scorers in the dataset.",
            metavar="NAME[:PARAMS]",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Runs in flight at once.")
    ] = 1,
    repeats: Annotated[
        int, typer.Option("--repeats", "-k", min=1, help="Runs per case (gives pass@k, pass^k).")
    ] = 1,
    report: Annotated[
        list[Path] | None,
        typer.Option(
            "--report",
            "-o",
            help="Write the report; format by suffix: .html, .md or .json. Repeatable.",
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="A JSON report to compare with; a regression exits 1."),
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under", min=0.0, max=1.0, help="Exit 1 when the pass rate is below this."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Override the spec's model.", metavar="SCHEME:MODEL"),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="Only cases with this tag (repeatable: any of them)."),
    ] = None,
    timeout_s: Annotated[
        float | None, typer.Option("--timeout", help="Seconds allowed per run.", min=0.0)
    ] = None,
) -> None:
    """Evaluate the agent in SPEC on the cases in DATASET and report the results."""
    try:
        import spine_eval
    except ImportError:
        render.print_error(_MISSING)
        raise typer.Exit(1) from None
    from .spec import load_agent

    try:
        data = spine_eval.load_dataset(dataset)
        if tag:
            data = data.filter(tag)
        scorers = [spine_eval.build_scorer(s) for s in scorer or []]
        old = spine_eval.EvalReport.load(baseline) if baseline is not None else None
        probe = load_agent(spec, model=model)  # a bad spec fails here, before any run
        name, provider = probe.label, provider_name(probe.provider)
        specs = [spine_eval.parse_scorer_spec(s) for s in scorer or []]
    except (SpineError, ValueError, TypeError, OSError) as exc:
        render.print_error(_one_line(exc, baseline))
        raise typer.Exit(1) from None
    for path in report or []:
        if path.suffix.lower() not in (".html", ".md", ".json"):
            render.print_error(f"{path}: unknown report format; use .html, .md or .json")
            raise typer.Exit(1)

    def factory() -> Agent:
        return load_agent(spec, model=model)

    render.print_offline_note(provider)
    result = anyio.run(lambda: _run(factory, name, data, scorers, concurrency, repeats, timeout_s))
    out = render.console()
    labels = {c.id: scorer_labels([*specs, *data.scorers, *c.scorers]) for c in data.cases}
    verdicts = print_eval(out, result, labels, expected_failures(data, provider))
    result.provider = provider  # the saved reports mark the spec's expected failures
    for path in report or []:
        out.print(f"report: {result.save(path)}")
    failed = False
    if fail_under is not None and verdicts.pass_rate < fail_under:
        render.print_error(
            f"pass rate {verdicts.pass_rate:.1%} is under --fail-under {fail_under:.1%}"
        )
        failed = True
    for case_id in verdicts.xpassed:
        render.print_error(f"case '{case_id}' is marked as an expected failure but passed")
        failed = True
    if old is not None:
        comparison = result.compare(old)
        out.print(f"baseline {baseline}: {comparison.describe()}")
        if comparison.has_regressions:
            render.print_error(f"regression against the baseline {baseline}")
            failed = True
    raise typer.Exit(1 if failed else 0)


def _one_line(exc: BaseException, baseline: Path | None) -> str:
    if isinstance(exc, SpecError | SpineError):
        return str(exc)
    if baseline is not None and type(exc).__name__ == "ValidationError":
        return f"{baseline}: not a JSON report written by spine eval --report"
    return f"{type(exc).__name__}: {exc}"


async def _run(
    factory: Callable[[], Agent],
    name: str,
    data: Dataset,
    scorers: list[Scorer],
    concurrency: int,
    repeats: int,
    timeout_s: float | None,
) -> EvalReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from spine_eval import evaluate

    with Progress(
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pass {task.fields[rate]}"),
        TextColumn("cost ${task.fields[cost]:.4f}"),
        TimeElapsedColumn(),
        console=render.console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("eval", total=len(data) * repeats, rate="-", cost=0.0)

        def update(progress: EvalProgress) -> None:
            bar.update(
                task,
                completed=progress.done,
                rate=f"{progress.pass_rate:.0%}",
                cost=progress.cost_usd,
            )

        return await evaluate(
            factory,
            data,
            scorers,
            concurrency=concurrency,
            repeats=repeats,
            timeout_s=timeout_s,
            progress=update,
            agent_name=name,
        )
