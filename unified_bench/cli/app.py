"""``unified-bench``: wiring only. Each command parses its flags, calls one library function, prints.

Heavy libraries (torch, transformers, diffusers) are imported inside the commands, so ``--help``
answers at once. Every error ends in ``main``: a usage mistake is one line plus the command's usage
(exit 2), an error a user can fix (``UserError``) is one line; UNIFIED_BENCH_DEBUG=1 shows tracebacks.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from unified_bench import __version__
from unified_bench.cli import output as out
from unified_bench.cli.compare_cmd import COMPARE_EXAMPLES, compare
from unified_bench.cli.leaderboard_cmd import leaderboard_app, submit
from unified_bench.cli.options import LogFileOpt, QuietOpt, VerboseOpt
from unified_bench.cli.report_cmd import REPORT_EXAMPLES, report
from unified_bench.cli.train_cmd import train_app
from unified_bench.errors import UserError

try:  # typer >= 0.16 bundles its own click and raises that copy's exceptions
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover - older typer on the standalone click
    from click import exceptions as click  # type: ignore[no-redef]

ENVIRONMENT_HELP = """
[bold]Environment[/]\n
  UNIFIED_BENCH_CACHE: cache folder (datasets, weights, embeddings; default $XDG_CACHE_HOME/unified-bench)\n
  UNIFIED_BENCH_DEBUG=1: show the Python traceback of any error\n
  HF_HOME: Hugging Face cache; HF_HUB_OFFLINE=1: never use the network\n
  RANK, WORLD_SIZE, LOCAL_RANK: set by torchrun; default --shard and GPU (rank 0 merges)\n
  SLURM_PROCID, SLURM_NTASKS: set by srun; default --shard when RANK is unset\n
  UNIFIED_BENCH_MERGE_TIMEOUT: seconds rank 0 waits for the other shards (default 86400)
"""

app = typer.Typer(
    name="unified-bench",
    help="Measure how unified a multimodal model is: caption each image, regenerate it from the caption, "
    "score the reconstruction (Unified-Bench, UAE arXiv 2509.09666).",
    epilog=ENVIRONMENT_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
adapters_app = typer.Typer(help="List and inspect model adapters.", no_args_is_help=True)
app.add_typer(adapters_app, name="adapters")
app.add_typer(leaderboard_app, name="leaderboard")
app.add_typer(train_app, name="train")
tasks_app = typer.Typer(
    help="List and inspect tasks (YAML: direction, dataset, scorers).", no_args_is_help=True
)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("list")
def tasks_list() -> None:
    """Every installed task: name, direction, dataset."""
    from unified_bench.tasks import find_task, task_files

    for name in sorted(task_files()):
        task = find_task(name)
        what = f"group of {', '.join(task.group)}" if task.group else f"{task.direction} on {task.dataset}"
        out.stdout.print(f"{name}  v{task.version}  {what}", markup=False, highlight=False)


@tasks_app.command("show")
def tasks_show(name: Annotated[str, typer.Argument(help="Task name.")]) -> None:
    """The task resolved (includes applied), as YAML, with its source file."""
    import yaml

    from unified_bench.tasks import find_task

    task = find_task(name)
    out.stdout.print(f"# {task.source}", markup=False, highlight=False)
    out.stdout.print(yaml.safe_dump(task.resolved, sort_keys=False).rstrip(), markup=False, highlight=False)


def _print_version(value: bool) -> None:
    if value:
        out.stdout.print(f"unified-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Measure how unified a multimodal model is: caption each image, regenerate it from the caption,
    score the reconstruction (Unified-Bench, UAE arXiv 2509.09666)."""


# -- shared options ------------------------------------------------------------------------------
ScorerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scorer",
        "-s",
        help="NAME or NAME=MODEL (hub id or local path); repeat. Default: all.",
        show_default=False,
    ),
]
RescoreOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rescore",
        help="NAME (repeat) or all: replace those stored scores. Without it a rerun keeps every score "
        "in results.json, computes the missing ones and refuses a scorer whose weights or dtype changed.",
        show_default=False,
    ),
]
ScorerSetOpt = Annotated[
    str | None,
    typer.Option(
        "--scorer-set",
        help="tiny: offline random-weight scorers, as the demo (numbers mean nothing); paper: the "
        "paper's four; all: every scorer. --scorer entries are added to the set.",
        show_default=False,
    ),
]
DeviceOpt = Annotated[
    str | None, typer.Option(help="torch device (cpu, cuda, cuda:1); default: cuda if present.")
]
DtypeOpt = Annotated[
    str | None,
    typer.Option(help="Model precision: float32, bfloat16 or float16; default: bf16 on GPU, fp32 on CPU."),
]
ScoreDtypeOpt = Annotated[
    str | None,
    typer.Option(
        help="Scorer precision: float32, bfloat16 or float16 (faster on GPU, recorded in each scorer's "
        "fingerprint). Default: the official one (float32; Long-CLIP as its load(): fp16 on GPU)."
    ),
]
ScoreBatchOpt = Annotated[int, typer.Option("--score-batch-size", help="Images per scorer forward pass.")]
ImageColumnOpt = Annotated[
    str | None, typer.Option(help="hf: datasets: the image column. Default: the one Image column.")
]
CaptionColumnOpt = Annotated[
    str | None,
    typer.Option(help="hf: datasets: the reference captions column ('' for none). Default: guessed."),
]
StreamingOpt = Annotated[
    bool, typer.Option(help="hf: datasets: stream the split instead of downloading it first (large sets).")
]

RUN_EXAMPLES = """
[bold]Examples[/]\n
  unified-bench run --model uae --dataset unibench --output runs/uae\n
  unified-bench run --model uae --adapter-arg model=/models/UAE --batch-size 8 --output runs/uae\n
  unified-bench run --model uae-tiny --dataset samples --limit 4 --output runs/tiny\n
  unified-bench run --model uae --dataset hf:OWNER/NAME:CONFIG@SPLIT --image-column image\n
  unified-bench run --model uae --direction t2i2t --dataset unified-prompts --output runs/uae-t2i2t
"""


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """``KEY=VALUE`` per item; an item may also hold several, ``k=1,k2=2`` (lm-eval's ``--model_args``
    style): a comma splits items only where the text after it starts a new ``KEY=``."""
    pairs: dict[str, str] = {}
    for item in values or []:
        for part in re.split(r",(?=\s*[A-Za-z_][\w.-]*=)", item):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise UserError(f"{flag} {item!r}: expected KEY=VALUE (or KEY=VALUE,KEY2=VALUE2).")
            pairs[key.strip()] = value
    return pairs


def _whole(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{flag} {text!r}: not a whole number (or auto).") from None


def _size(text: str | None) -> tuple[int, int] | None:
    from unified_bench.images import parse_size

    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as error:
        raise UserError(f"--size {error}") from None


def _read_config(ctx: typer.Context, value: Path | None) -> Path | None:
    """Eager: the file's options become this command's defaults, so command-line flags win."""
    if value is not None:
        from unified_bench.cli.config_file import load_option_file

        ctx.default_map = {**(ctx.default_map or {}), **load_option_file(value, ctx.command)}
    return value


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="YAML or JSON file of this command's options (keys as the flags: batch_size: 8); flags win.",
        is_eager=True,
        callback=_read_config,
        show_default=False,
    ),
]


# -- commands ------------------------------------------------------------------------------------
@app.command(epilog=RUN_EXAMPLES)
def run(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Adapter name (see `unified-bench adapters list`).")
    ],
    dataset: Annotated[
        str | None,
        typer.Option(
            help="unibench, samples, a folder of images, a JSONL manifest, or a Hugging Face dataset: "
            "hf: then OWNER/NAME, optionally :CONFIG and @SPLIT (see Examples); t2i2t: unified-prompts, "
            "a JSONL of {id, prompt}, a folder of .txt, or hf: + --prompt-column. "
            "Default: unibench (t2i2t: unified-prompts).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Run folder. Default: runs/MODEL.")
    ] = None,
    batch_size: Annotated[
        str,
        typer.Option(
            help="Samples per adapter call (outputs never depend on it), or auto: 32 on a GPU (4 on CPU), "
            "halved on out-of-memory until a batch fits."
        ),
    ] = "4",
    seed: Annotated[int, typer.Option(help="Run seed; each sample's seed derives from (seed, id).")] = 0,
    limit: Annotated[int | None, typer.Option(help="Only the first N samples in dataset order.")] = None,
    scorer: ScorerOpt = None,
    rescore: RescoreOpt = None,
    scorer_set: ScorerSetOpt = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="I/N: every N-th sample from the I-th (after --limit). Default: "
            "RANK/WORLD_SIZE from the environment."
        ),
    ] = None,
    adapter_arg: Annotated[
        list[str] | None,
        typer.Option("--adapter-arg", "-a", help="KEY=VALUE adapter setting; repeat.", show_default=False),
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="Generated image size WIDTHxHEIGHT. Default: the model's.")
    ] = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    score_dtype: ScoreDtypeOpt = None,
    score_batch_size: ScoreBatchOpt = 16,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a run of another configuration in --output.")
    ] = False,
    protocol: Annotated[
        str,
        typer.Option(
            help="text: only the caption text goes from I2T to T2I (comparable across models); native: "
            "the adapter's own representation, where it offers one. Recorded; never mixed with text."
        ),
    ] = "text",
    repeats: Annotated[
        int,
        typer.Option(
            help="K seeds (seed..seed+K-1) into OUTPUT/repeat-1..K, combined in OUTPUT/results.json "
            "with the across-seed spread."
        ),
    ] = 1,
    image_column: ImageColumnOpt = None,
    caption_column: CaptionColumnOpt = None,
    streaming: StreamingOpt = False,
    direction: Annotated[
        str | None,
        typer.Option(
            help="i2t2i: caption each image, draw it back, score image vs image (Unified-Bench); t2i2t: "
            "draw each prompt, caption the drawing, score caption vs prompt (--dataset a prompt set). "
            "Default: i2t2i.",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="A task (`unified-bench tasks list`): it sets direction, dataset, scorers, size and "
            "caption instruction; --scorer NAME=PATH then picks weights for its scorers."
        ),
    ] = None,
    task_file: Annotated[Path | None, typer.Option(help="A task YAML file (see README: tasks).")] = None,
    prompt_column: Annotated[
        str | None,
        typer.Option(help="t2i2t with hf: prompt sets: the prompt column. Default: prompt/text/caption."),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option(
            "--merge/--no-merge",
            help="Under torchrun / accelerate launch / srun: rank 0 waits for every shard and merges them "
            "into --output (--no-merge: leave the shard-* folders for `unified-bench merge`).",
        ),
    ] = True,
    config: ConfigOpt = None,
    log_file: LogFileOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Caption, regenerate and score a dataset with one model (or draw and caption a prompt set,
    --direction t2i2t). Rerun the same command to resume."""
    out.configure(quiet=quiet, verbose=verbose, log_file=log_file)
    from unified_bench.api import check_names
    from unified_bench.api import run as run_api
    from unified_bench.sharding import parse_shard, shard_from_environment

    output = output or Path("runs") / model
    this_shard = parse_shard(shard) if shard else shard_from_environment()
    adapter_args = _pairs(adapter_arg, "--adapter-arg")
    check_names(  # before torch loads
        model=model,
        dataset=dataset,
        scorers=scorer,
        scorer_set=scorer_set,
        direction=direction,
        task=task is not None or task_file is not None,
    )
    with out.progress_hooks() as hooks:
        results = run_api(
            model,
            dataset,
            output,
            scorers=scorer,
            scorer_set=scorer_set,
            seed=seed,
            batch_size=batch_size if batch_size == "auto" else _whole(batch_size, "--batch-size"),
            limit=limit,
            shard=shard,
            adapter_args=adapter_args,
            size=_size(size),
            protocol=protocol,
            repeats=repeats,
            device=device,
            dtype=dtype,
            score_batch_size=score_batch_size,
            score_dtype=score_dtype,
            rescore=rescore or (),
            overwrite=overwrite,
            image_column=image_column,
            caption_column=caption_column,
            streaming=streaming,
            direction=direction,
            prompt_column=prompt_column,
            task=task,
            task_file=task_file,
            merge=merge,
            hooks=hooks,
        )
    if isinstance(results, dict):  # a group task: its summary
        out.stdout.print(out.group_summary_table(results))
        out.note(f"Summary: {output / 'summary.json'}")
        return
    from unified_bench.store import RESULTS_FILE

    if shard is None and merge and repeats == 1 and this_shard is not None:  # launched: rank 0 merged
        if this_shard.index != 0:
            out.note(f"Shard {this_shard} finished; rank 0 merges the shards into {output}.")
            return
        out.print_results(results, f"{model}: {this_shard.count} shards merged")
        out.note(f"Results: {output / RESULTS_FILE}")
        return
    out.print_results(results, f"{model} on {results.dataset['name']}")
    if results.repeats:
        from unified_bench.cli.report_cmd import repeats_table

        out.stdout.print(repeats_table(results))
    folder = output / this_shard.dirname if this_shard else output
    out.note(f"Results: {folder / RESULTS_FILE}")


@app.command()
def score(
    generated: Annotated[Path, typer.Argument(help="Folder of reconstructions.")],
    references: Annotated[Path, typer.Argument(help="Folder of reference images.")],
    scorer: ScorerOpt = None,
    rescore: RescoreOpt = None,
    scorer_set: ScorerSetOpt = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="results.json path. Default: GENERATED/results.json."),
    ] = None,
    allow_missing: Annotated[
        bool, typer.Option(help="Exit 0 even if some references have no match.")
    ] = False,
    match: Annotated[
        str,
        typer.Option(
            help="unique: a reference with several reconstructions is an error; all: score each as its "
            "own pair, as Score_i2i.py does (means over pairs)."
        ),
    ] = "unique",
    device: DeviceOpt = None,
    dtype: ScoreDtypeOpt = None,
    score_batch_size: ScoreBatchOpt = 16,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    log_file: LogFileOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Score an existing folder of reconstructions against the references (matched by file name)."""
    out.configure(quiet=quiet, verbose=verbose, log_file=log_file)
    from unified_bench.api import check_names
    from unified_bench.api import score as score_api
    from unified_bench.store import RESULTS_FILE

    check_names(scorers=scorer, scorer_set=scorer_set)  # before torch loads
    with out.progress_hooks() as hooks:
        results = score_api(
            generated,
            references,
            scorers=scorer,
            scorer_set=scorer_set,
            rescore=rescore or (),
            output=output,
            allow_missing=allow_missing,
            match=match,
            seed=seed,
            device=device,
            dtype=dtype,
            batch_size=score_batch_size,
            hooks=hooks,
        )
    out.print_results(results, f"{generated} vs {references}")
    if results.samples["missing"]:
        out.note(f"{len(results.samples['missing'])} references had no reconstruction (counted in results).")
    out.note(f"Results: {output or generated / RESULTS_FILE}")


@app.command()
def merge(
    runs: Annotated[list[Path], typer.Argument(help="Shard run folders (all N of them).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the merged run.")],
    overwrite: Annotated[bool, typer.Option(help="Replace a different run in --output.")] = False,
    allow_version_mix: Annotated[
        bool,
        typer.Option(
            help="Accept shards made by different unified-bench versions (recorded in the results)."
        ),
    ] = False,
) -> None:
    """Join the shards of one run into a single run, equal to the unsharded one."""
    from unified_bench.merge import merge_runs

    results = merge_runs(runs, output, overwrite=overwrite, allow_version_mix=allow_version_mix)
    out.print_results(results, f"merged {len(runs)} runs")
    from unified_bench.store import RESULTS_FILE

    out.note(f"Results: {output / RESULTS_FILE}")


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder.")] = Path("demo-run"),
    seed: Annotated[int, typer.Option(help="Run seed, as for `run`.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Only the first N sample photos.")] = None,
    batch_size: Annotated[int, typer.Option(help="Samples per adapter call.")] = 4,
    log_file: LogFileOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """The whole round trip offline: uae-tiny on the bundled sample photos, tiny scorers (random weights).
    The same as `run --model uae-tiny --dataset samples --scorer-set tiny`."""
    out.configure(quiet=quiet, verbose=verbose, log_file=log_file)
    from unified_bench.demo import DEMO_NOTICE, REAL_RUN_COMMAND, next_steps, run_demo
    from unified_bench.store import RESULTS_FILE

    with out.progress_hooks() as hooks:
        results = run_demo(output, seed=seed, limit=limit, batch_size=batch_size, hooks=hooks)
    out.print_results(results, "demo: uae-tiny on samples")
    out.stderr.print(f"[yellow]{DEMO_NOTICE}[/]")
    out.note(f"Results: {output / RESULTS_FILE}")
    for step in next_steps(output, seed, limit):
        out.note(step)
    out.note(f"A real run (GPU, downloads the weights): {REAL_RUN_COMMAND}")


@app.command("worker-template")
def worker_template() -> None:
    """Print a complete, runnable worker (standard library only) to fill in: the protocol loop, the
    messages, and two functions, caption() and generate().

    Usage: unified-bench worker-template > my_worker.py"""
    from unified_bench_adapters.workers import worker_protocol

    sys.stdout.write(Path(worker_protocol.__file__).read_text("utf-8"))


@adapters_app.command("list")
def adapters_list() -> None:
    """Every installed adapter (built-in and from plugins): what it needs and whether that is here."""
    from rich.table import Table

    from unified_bench.loading import describe_needs
    from unified_bench.registry import default_registry

    headers = ("protocols", "weights (download)", "GPU", "packages", "ready", "description")
    caption = "GPU memory: estimated peak at --batch-size 1 with the default settings."
    rows = []
    for manifest in default_registry().manifests():
        needs = describe_needs(manifest)
        name = manifest.name + "".join(f"\n({alias})" for alias in manifest.aliases)
        if not needs.declared:
            ready = "not declared"
        else:
            ready = "[green]yes[/]" if needs.ready else "[yellow]no:[/] " + "; ".join(needs.missing)
        cells = (", ".join(manifest.protocols), "\n".join(needs.weights) or "-", needs.gpu_memory)
        rows.append((name, *cells, ", ".join(needs.packages) or "-", ready, manifest.description))
    table = Table(caption=caption)
    table.add_column("name", no_wrap=True)
    for column in headers:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)

    def stacked() -> Table:
        """One block per adapter, a field per line: readable at 80 columns."""
        grid = Table(show_header=False, box=None, caption=caption, caption_justify="left", pad_edge=False)
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column()
        for name, *cells in rows:
            grid.add_row(f"[bold]{name.splitlines()[0]}[/]", " ".join(name.splitlines()[1:]))
            for header, cell in zip(headers, cells, strict=True):
                grid.add_row(
                    f"  {header}", cell.replace("\n", ", ") if header == "weights (download)" else cell
                )
        return grid

    out.print_table(table, narrow=stacked)
    for manifest in default_registry().manifests():
        if manifest.setup:
            out.stdout.print(f"\n[bold]{manifest.name}[/]")
            for line in manifest.setup:
                out.stdout.print(f"  {line}", markup=False, soft_wrap=True, highlight=False)


app.command(epilog=COMPARE_EXAMPLES)(compare)
app.command(epilog=REPORT_EXAMPLES)(report)
app.command()(submit)


# -- entry point ---------------------------------------------------------------------------------
_PLAIN_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "path": "PATH"}


def _plain_type(param: Any, ctx: Any) -> str | None:
    """``--help`` type column without Python names: ``TEXT``/``INTEGER``/``PATH``, choices as ``a|b``,
    nothing for flags; a repeatable option shows its element type."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    label = type(param).display_type(param, ctx).strip("<>")
    while label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    return _PLAIN_TYPES.get(label, label)


def _plain_help_types(command: Any) -> None:
    for param in command.params:
        if hasattr(param, "display_type"):
            param.display_type_rich = lambda ctx, param=param: _plain_type(param, ctx)
        if getattr(param, "param_type_name", "") == "argument" and param.metavar is None and param.name:
            param.metavar = param.name.upper()  # usage reads `score GENERATED REFERENCES`, not `{generated}`
    make_help_option = command.get_help_option  # built per context, not in command.params

    def help_option(ctx: Any) -> Any:
        option = make_help_option(ctx)
        if option is not None:
            option.display_type_rich = lambda ctx: None
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _plain_help_types(sub)


def build_command() -> Any:
    """The click command tree of ``app``, with plain type names in ``--help``."""
    command = typer.main.get_command(app)
    _plain_help_types(command)
    return command


# typer's value checks speak pydantic; say the same in plain words.
_PLAIN_VALIDATION = {
    "Value error, ": "",
    "Input should be a valid integer, unable to parse string as an integer": "not a whole number",
    "Input should be a valid number, unable to parse string as a number": "not a number",
}
INTERRUPTED = "interrupted; finished samples are saved: rerun the same command to resume."


def _usage_error(exc: Any) -> int:
    """One line saying what is wrong, then the command's usage and where its help is; exit 2."""
    ctx = exc.ctx
    where = f"{ctx.command_path}: " if ctx is not None and ctx.parent is not None else ""
    message = " ".join(exc.format_message().split())
    for validator_words, plain in _PLAIN_VALIDATION.items():
        message = message.replace(validator_words, plain)
    out.error(f"{where}{message}")
    if ctx is not None:
        usage = " ".join(ctx.get_usage().split())
        help_flag = ctx.help_option_names[0] if ctx.help_option_names else "--help"
        out.hint(f"{usage}\nTry '{ctx.command_path} {help_flag}' for help.")
    return 2


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Every way out goes through here: usage mistakes (exit 2), ``UserError`` (its
    exit code), Ctrl-C (exit 130), out of memory (exit 3); anything else is a bug and keeps its traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("UNIFIED_BENCH_DEBUG") not in (None, "", "0")
    out.configure()  # commands with --quiet / --verbose set their own; the others start from the default
    try:
        command = build_command()
        # Not command.main(): it turns Ctrl-C into a silent exit 130 and prints errors its own way.
        with command.make_context("unified-bench", args) as ctx:
            code = command.invoke(ctx)
    except typer.Exit as exc:  # --help, --version, or a command's explicit exit code
        code = exc.exit_code
    except click.NoArgsIsHelpError as exc:  # a bare group: its help, as if -h were given
        help_text = exc.ctx.get_help()
        if help_text:
            out.stdout.print(help_text, markup=False, highlight=False)
        sys.exit(0)
    except click.UsageError as exc:
        if debug:
            raise
        sys.exit(_usage_error(exc))
    except click.ClickException as exc:
        if debug:
            raise
        out.error(" ".join(exc.format_message().split()))
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # `unified-bench ... | head` closed the pipe: stop quietly, as `cat` would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        out.error(INTERRUPTED)
        sys.exit(130)
    except UserError as exc:
        if debug:
            raise
        out.error(str(exc))
        sys.exit(exc.exit_code)
    except Exception as exc:
        if type(exc).__name__ == "OutOfMemoryError" and not debug:
            out.error(
                f"out of memory ({str(exc).splitlines()[0]}); retry with a smaller --batch-size or "
                "--score-batch-size."
            )
            sys.exit(3)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
