"""Several representations and scorers on the same splits: a Markdown table and a bar chart.

Every method sees the same users and the same seeds, so each row is also compared, user by
user, with the paper's mean-profile scorer on the same representation (paired bootstrap).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..extras import require
from .protocol import Run
from .runner import Evaluation
from .stats import PairedComparison, paired

log = logging.getLogger(__name__)

BASELINE_SCORER = "mean"
TABLE_METRICS = ("recall@10", "ndcg@10", "hit@10", "recall@20", "same_type@10", "similarity@10")
# Scorers that ignore the item vectors: measured once, on the first representation.
WITHOUT_CONTENT = ("popularity", "cooccurrence")


@dataclass
class Comparison:
    runs: list[Run] = field(default_factory=list)
    versus_mean: dict[tuple[str, str, str], PairedComparison] = field(default_factory=dict)

    def add(self, run: Run, baseline: Run | None, metric: str = "recall@10") -> None:
        self.runs.append(run)
        if baseline is not None and baseline is not run:
            self.versus_mean[(run.task, run.representation, run.scorer)] = paired(
                run.per_user[metric], baseline.per_user[metric]
            )

    def rows(self) -> list[dict]:
        out = []
        for run in self.runs:
            row = run.summary()
            versus = self.versus_mean.get((run.task, run.representation, run.scorer))
            if versus is not None:
                row["recall@10_vs_mean"] = versus.as_dict()
            out.append(row)
        return out


def run_comparison(
    session: Evaluation,
    representations: Sequence[str],
    scorers: Sequence[str],
    shop_the_look: bool = False,
) -> Comparison:
    comparison = Comparison()
    for position, representation in enumerate(representations):
        baseline = session.holdout(representation, BASELINE_SCORER)
        for scorer in scorers:
            if scorer in WITHOUT_CONTENT and position > 0:
                continue
            run = baseline if scorer == BASELINE_SCORER else session.holdout(representation, scorer)
            comparison.add(run, baseline)
            log.info("%s / %s: recall@10 %.4f", representation, scorer, run.summary()["recall@10"])
    if shop_the_look:
        for representation in representations:
            comparison.add(session.shop_the_look(representation), None)
    return comparison


def _cell(run: Run, metric: str) -> str:
    if metric not in run.per_user:
        return "–"
    estimate = run.estimate(metric)
    return f"{estimate.mean:.3f} ({estimate.low:.3f}–{estimate.high:.3f})"


def markdown_table(comparison: Comparison) -> str:
    lines = []
    for task in dict.fromkeys(run.task for run in comparison.runs):
        runs = [run for run in comparison.runs if run.task == task]
        lines += [
            f"### {task} ({len(runs[0].users)} {'queries' if task == 'shop-the-look' else 'users'}, "
            f"{runs[0].seeds} seed{'s' if runs[0].seeds > 1 else ''})",
            "",
            "| representation | scorer | " + " | ".join(TABLE_METRICS) + " | Recall@10 vs mean (paired 95% CI) |",
            "|---|---|" + "---|" * (len(TABLE_METRICS) + 1),
        ]
        for run in runs:
            versus = comparison.versus_mean.get((run.task, run.representation, run.scorer))
            if versus is None:
                against = "baseline" if run.scorer == BASELINE_SCORER else "–"
            else:
                r = versus.relative
                against = f"{r.mean:+.0%} ({r.low:+.0%} to {r.high:+.0%}){' *' if versus.significant else ''}"
            cells = " | ".join(_cell(run, metric) for metric in TABLE_METRICS)
            lines.append(f"| {run.representation} | {run.scorer} | {cells} | {against} |")
        lines.append("")
    lines.append(
        "Each cell: mean and bootstrap 95% interval over users. `*`: the paired interval of the "
        "difference in Recall@10 with the mean-profile scorer on the same representation excludes zero. "
        "`same_type@10`: share of the top 10 in product types the profile already holds (lower: more "
        "complements); `similarity@10`: mean cosine between the top 10's pairs (lower: more varied). "
        "`popularity` and `cooccurrence` do not read the item vectors and are measured once."
    )
    training = next((run.extra["training"] for run in comparison.runs if "training" in run.extra), None)
    if training:
        lines.append(f"\nThe {training}; no evaluated user's items ever reach the model that scores them.")
    return "\n".join(lines) + "\n"


def bar_chart(comparison: Comparison, path: Path, metric: str = "recall@10") -> Path:
    """One panel per task: a bar per method with its 95% interval as an error bar."""
    require("eval", "the comparison chart")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    tasks = list(dict.fromkeys(run.task for run in comparison.runs))
    counts = [sum(run.task == task for run in comparison.runs) for task in tasks]
    figure, axes = plt.subplots(
        len(tasks),
        1,
        figsize=(11, 1.2 + 0.9 * len(tasks) + 0.26 * len(comparison.runs)),
        squeeze=False,
        gridspec_kw={"height_ratios": [c + 2 for c in counts]},
    )
    for axis, task in zip(axes[:, 0], tasks):
        runs = [run for run in comparison.runs if run.task == task]
        estimates = [run.estimate(metric) for run in runs]
        labels = [
            run.representation if task == "shop-the-look" else f"{run.representation} / {run.scorer}" for run in runs
        ]
        means = [e.mean for e in estimates]
        errors = [[e.mean - e.low for e in estimates], [e.high - e.mean for e in estimates]]
        colours = ["#9aa5b1" if run.scorer in (BASELINE_SCORER, "query") else "#2f7ed8" for run in runs]
        axis.barh(range(len(runs)), means, xerr=errors, color=colours, capsize=3)
        axis.set_yticks(range(len(runs)), labels, fontsize=8)
        axis.invert_yaxis()
        axis.set_xlabel(f"{metric} (bars: 95% bootstrap interval over users)")
        axis.set_title(task)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_outputs(comparison: Comparison, folder: Path, stem: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"table": folder / f"{stem}.md", "chart": folder / f"{stem}.png", "json": folder / f"{stem}.json"}
    paths["table"].write_text(markdown_table(comparison), encoding="utf-8")
    bar_chart(comparison, paths["chart"])
    paths["json"].write_text(json.dumps(comparison.rows(), indent=1) + "\n", encoding="utf-8")
    return paths
