"""``unified-bench train``: Unified-GRPO training of UAE (``train uae``) and its curves (``train plot``).

Thin wiring over ``unified_bench_adapters.uae.train``; torch is imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from unified_bench.cli import output as out
from unified_bench.cli.options import QuietOpt, VerboseOpt

train_app = typer.Typer(
    help="Train models whose training code ships with their adapter (UAE's Unified-GRPO).",
    no_args_is_help=True,
)

TRAIN_EXAMPLES = """
[bold]Examples[/]\n
  unified-bench train uae --stage u4g --config tiny-u4g --output runs/train/tiny-u4g\n
  unified-bench train uae --stage g4u --config g4u.yaml --set dataset=data/train.jsonl --output runs/g4u\n
  accelerate launch --config_file ACCELERATE.yaml -m unified_bench train uae --stage u4g -o runs/u4g\n
  unified-bench train uae --stage u4g --config tiny-u4g --output runs/train/tiny-u4g --resume\n
  unified-bench train plot runs/train/tiny-u4g
"""


@train_app.command("uae", epilog=TRAIN_EXAMPLES)
def train_uae(
    stage: Annotated[str, typer.Option(help="sft, cold-start, g4u (encoder RL) or u4g (decoder RL).")],
    config: Annotated[
        str | None,
        typer.Option(help="YAML config file, or a shipped one by name (tiny-sft, tiny-g4u, u4g, ...)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE override of a config field; repeat.", show_default=False),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Run folder (checkpoints, metrics.jsonl, final/).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --output from its newest checkpoint.")
    ] = False,
    print_config: Annotated[
        bool, typer.Option(help="Print the effective config with each field's help, and exit.")
    ] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Unified-GRPO training of UAE: one stage per run; every checkpoint runs in `unified-bench run`."""
    out.configure(quiet=quiet, verbose=verbose)
    from unified_bench.errors import UserError
    from unified_bench_adapters.uae.train.config import load_config, render_config

    settings = load_config(stage, config, set_)
    if print_config:
        out.stdout.print(render_config(settings), markup=False, highlight=False)
        return
    if output is None:
        raise UserError("--output is required: the folder for checkpoints and metrics.")
    from unified_bench_adapters.uae.train.trainer import train

    with out.progress_hooks() as hooks:
        result = train(settings, output, resume=resume, hooks=hooks)
    if not result.is_main_process:
        return
    out.note(f"Final checkpoint: {result.final}")
    out.note(score_hint(settings, result.final, output))


def score_hint(settings: Any, checkpoint: Path, output: Path) -> str:
    """The `run` that scores a trained checkpoint; on the tiny base model, with the tiny scorers,
    so it runs offline as printed."""
    from unified_bench_adapters.uae.adapter import TINY_BASE_MODEL

    on_tiny = getattr(settings, "model", "") == TINY_BASE_MODEL
    dataset = getattr(settings, "eval_dataset", "") or ("samples" if on_tiny else "unibench")
    tiny = " --scorer-set tiny" if on_tiny else ""
    return (
        f"Score it: unified-bench run --model uae --adapter-arg checkpoint={checkpoint} "
        f"--dataset {dataset}{tiny} --output {output / 'bench'}"
    )


@train_app.command("plot")
def train_plot(
    run: Annotated[Path, typer.Argument(help="A training run folder (holds metrics.jsonl).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="PNG path. Default: RUN/curves.png.")
    ] = None,
    title: Annotated[
        str | None, typer.Option(help="Figure title. Default: the run's stage and folder.")
    ] = None,
) -> None:
    """Draw reward and caption-length curves (and held-out scores) of a training run as a PNG."""
    from unified_bench_adapters.uae.train.plot import plot_run

    target = plot_run(run, output or run / "curves.png", title=title)
    out.note(f"Wrote {target}")
