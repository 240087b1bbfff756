"""Named prompt sets downloaded on first use: DPG-Bench, GenEval, UniEval, DOCCI descriptions.

Like ``unibench``: the first use downloads the set's file from its canonical location (or from the
mirror its environment variable names, e.g. ``UNIFIED_BENCH_GENEVAL_URL=file:///data/meta.jsonl``)
into ``<cache>/datasets/prompts/NAME/`` and keeps the file's sha256 in
``<cache>/datasets/prompts/NAME.trust.json``, which outlives the folder: a later download whose bytes
differ is refused (trust on first use). Nothing of these sets ships with unified-bench; each has a
data card (``data_cards/``) with its licence and citation, and its card facts go into results.json.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unified_bench.datasets.base import check_sample_id
from unified_bench.errors import InputError
from unified_bench.io import atomic_write_json
from unified_bench.paths import cache_dir

if TYPE_CHECKING:
    from unified_bench.datasets.prompts import PromptSample, PromptSet


@dataclass(frozen=True)
class DownloadedSet:
    """Where a named prompt set comes from, how to read it, and its card."""

    name: str
    url: str
    url_env: str
    filename: str
    parse: Callable[[str, str], list[PromptSample]]  # (file text, where) -> prompts
    license: str
    citation: str
    homepage: str


def _rows(text: str, where: str) -> list[Any]:
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: line {error.lineno}: not valid JSON ({error.msg}).") from None


def _sample(sample_id: str, prompt: Any, where: str, tags=(), questions=()) -> PromptSample:
    from unified_bench.datasets.prompts import PromptSample

    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(f"{where}: sample {sample_id!r} has no prompt text.")
    return PromptSample(check_sample_id(sample_id, where), prompt.strip(), tuple(tags), tuple(questions))


def parse_geneval(text: str, where: str) -> list[PromptSample]:
    """``evaluation_metadata.jsonl``: one ``{"tag", "prompt", ...}`` per line; ids are line numbers."""
    rows = _rows(text, where)
    return [
        _sample(
            f"{i:05d}", row.get("prompt") if isinstance(row, dict) else None, where, [str(row.get("tag"))]
        )
        for i, row in enumerate(rows)
    ]


def parse_docci(text: str, where: str) -> list[PromptSample]:
    """``docci_descriptions.jsonlines``: ``{"example_id", "split", "description", ...}`` per line."""
    samples = []
    for row in _rows(text, where):
        if not isinstance(row, dict) or "example_id" not in row:
            raise InputError(f'{where}: expected {{"example_id", "description"}} objects, got {row!r:.80}.')
        samples.append(
            _sample(str(row["example_id"]), row.get("description"), where, [str(row.get("split"))])
        )
    return samples


def parse_unieval(text: str, where: str) -> list[PromptSample]:
    """``uni_bench.json``: a list of ``{"prompt", "QAs": [{"tag": "L0, L1, L2", "question", ...}]}``;
    ids are positions, tags the level-1 tags of the case's questions."""
    try:
        cases = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: not valid JSON ({error.msg}).") from None
    if not isinstance(cases, list):
        raise InputError(f"{where}: expected a list of cases with 'prompt' and 'QAs'.")
    samples = []
    for index, case in enumerate(cases):
        qas = case.get("QAs") if isinstance(case, dict) else None
        qas = qas if isinstance(qas, list) else []
        tags = sorted(
            {str(q.get("tag", "")).split(", ")[1] for q in qas if str(q.get("tag", "")).count(", ") == 2}
        )
        questions = [str(q["question"]) for q in qas if isinstance(q, dict) and "question" in q]
        prompt = case.get("prompt") if isinstance(case, dict) else None
        samples.append(_sample(f"{index:04d}", prompt, where, tags, questions))
    return samples


def parse_dpg(text: str, where: str) -> list[PromptSample]:
    """``dpg_bench.csv``: one row per question; rows of one ``item_id`` share the prompt ``text``."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"item_id", "text"} <= set(reader.fieldnames):
        raise InputError(f"{where}: expected a CSV with item_id and text columns, got {reader.fieldnames}.")
    by_id: dict[str, dict[str, Any]] = {}
    for row in reader:
        entry = by_id.setdefault(row["item_id"], {"text": row["text"], "tags": set(), "questions": []})
        if row.get("category_broad"):
            entry["tags"].add(row["category_broad"])
        if row.get("question_natural_language"):
            entry["questions"].append(row["question_natural_language"])
    return [
        _sample(item_id, e["text"], where, sorted(e["tags"]), e["questions"]) for item_id, e in by_id.items()
    ]


DOWNLOADED_SETS: dict[str, DownloadedSet] = {
    "dpg-bench": DownloadedSet(
        "dpg-bench",
        "https://raw.githubusercontent.com/TencentQQGYLab/ELLA/main/dpg_bench/dpg_bench.csv",
        "UNIFIED_BENCH_DPG_BENCH_URL",
        "dpg_bench.csv",
        parse_dpg,
        "Apache-2.0",
        "Hu et al., ELLA: Equip Diffusion Models with LLM for Enhanced Semantic Alignment, arXiv 2403.05135",
        "https://github.com/TencentQQGYLab/ELLA",
    ),
    "geneval": DownloadedSet(
        "geneval",
        "https://raw.githubusercontent.com/djghosh13/geneval/main/prompts/evaluation_metadata.jsonl",
        "UNIFIED_BENCH_GENEVAL_URL",
        "evaluation_metadata.jsonl",
        parse_geneval,
        "MIT",
        "Ghosh et al., GenEval: An Object-Focused Framework for Evaluating Text-to-Image Alignment, "
        "NeurIPS 2023 Datasets and Benchmarks",
        "https://github.com/djghosh13/geneval",
    ),
    "unieval": DownloadedSet(
        "unieval",
        "https://raw.githubusercontent.com/xmed-lab/UniEval/main/uni_bench.json",
        "UNIFIED_BENCH_UNIEVAL_URL",
        "uni_bench.json",
        parse_unieval,
        "MIT",
        "Li et al., UniEval: Unified Holistic Evaluation for Unified Multimodal Understanding and "
        "Generation, arXiv 2505.10483",
        "https://github.com/xmed-lab/UniEval",
    ),
    "docci": DownloadedSet(
        "docci",
        "https://storage.googleapis.com/docci/data/docci_descriptions.jsonlines",
        "UNIFIED_BENCH_DOCCI_URL",
        "docci_descriptions.jsonlines",
        parse_docci,
        "CC BY 4.0",
        "Onoe et al., DOCCI: Descriptions of Connected and Contrasting Images, ECCV 2024",
        "https://google.github.io/docci/",
    ),
}


def prompts_cache(cache_root: Path | None = None) -> Path:
    return (cache_root or cache_dir("datasets")) / "prompts"


def load_downloaded(name: str, *, cache_root: Path | None = None) -> PromptSet:
    """The named set from the cache, downloading (and trusting) it on first use."""
    from unified_bench.datasets.prompts import make_prompt_set

    source = DOWNLOADED_SETS[name]
    folder = prompts_cache(cache_root) / name
    path = folder / source.filename
    if not path.is_file():
        _install(source, folder)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read ({error}); delete {folder} to download it again.") from None
    card = {
        "license": source.license,
        "citation": source.citation,
        "homepage": source.homepage,
        **_source_record(folder),
    }
    return make_prompt_set(name, source.parse(text, str(path)), str(path), card=card)


def _source_record(folder: Path) -> dict[str, Any]:
    try:
        record = json.loads((folder / "SOURCE.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: record[k] for k in ("url", "sha256") if k in record} if isinstance(record, dict) else {}


def _install(source: DownloadedSet, folder: Path) -> None:
    from unified_bench.datasets.unibench import _download, check_trusted_sha256

    url = os.environ.get(source.url_env) or source.url
    folder.parent.mkdir(parents=True, exist_ok=True)
    trust_file = folder.parent / f"{source.name}.trust.json"

    def failure(url: str, reason: str, target: Path) -> InputError:
        return InputError(
            f"Could not download prompt set {source.name} from {url} ({reason}); put {source.filename} in "
            f"{target}, or set {source.url_env}=file:///path/to/{source.filename}."
        )

    with tempfile.TemporaryDirectory(prefix=f".{source.name}-", dir=folder.parent) as work_dir:
        work = Path(work_dir) / source.name
        work.mkdir()
        sha256, size = _download(url, work / source.filename, folder, failure=failure)
        trusted = check_trusted_sha256(url, sha256, trust_file, url_env=source.url_env, what="file")
        text = (work / source.filename).read_text(encoding="utf-8", errors="replace")
        source.parse(text, url)  # refuse a file that is not this set before installing it
        atomic_write_json(work / "SOURCE.json", {"url": url, "sha256": sha256, "bytes": size})
        if trusted is None:
            atomic_write_json(trust_file, {"sha256": sha256, "url": url})
        try:
            os.rename(work, folder)
        except OSError:
            if not folder.is_dir():
                raise
