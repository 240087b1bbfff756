"""t2i2t round trip (prompt -> image -> caption): seeds, resume after SIGKILL, batch and shard invariance."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests._prompt_adapter import PromptEchoAdapter
from unified_bench.datasets.prompts import PromptSample
from unified_bench.errors import UserError
from unified_bench.roundtrip import run_prompt_round_trip
from unified_bench.seeds import sample_seed
from unified_bench.sharding import Shard, select
from unified_bench.store import RunSpec, RunStore

PROMPTS = [PromptSample(f"p{i}", f'prompt number {i} with "sign {i}"') for i in range(7)]
SPEC = RunSpec(
    model="echo",
    adapter_args={},
    protocol="text",
    seed=3,
    size=None,
    dtype=None,
    dataset_name="prompts",
    dataset_fingerprint="sha256:" + "0" * 64,
    direction="t2i2t",
)


def _run(root: Path, *, batch_size: int, samples=None, adapter=None) -> RunStore:
    store = RunStore(root)
    store.open(SPEC)
    run_prompt_round_trip(
        adapter or PromptEchoAdapter(),
        samples if samples is not None else list(enumerate(PROMPTS)),
        store,
        run_seed=SPEC.seed,
        batch_size=batch_size,
    )
    return store


def _outputs(root: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    captions = {
        json.loads(line)["id"]: json.loads(line)["caption"]
        for line in (root / "captions.jsonl").read_text().splitlines()
    }
    images = {p.stem: p.read_bytes() for p in sorted((root / "images").glob("*.png"))}
    return captions, images


def test_generate_comes_first_and_each_stage_gets_its_per_sample_seed(tmp_path):
    adapter = PromptEchoAdapter()
    store = _run(tmp_path / "r", batch_size=3, adapter=adapter)
    assert adapter.generated == [p.prompt for p in PROMPTS]  # the prompts themselves are drawn
    records = store.captions()
    assert [records[p.id].seed for p in PROMPTS] == [sample_seed(3, p.id, "caption") for p in PROMPTS]
    assert records["p2"].caption.endswith(f"seed {sample_seed(3, 'p2', 'caption') % 1000}")


def test_outputs_do_not_depend_on_batch_size(tmp_path):
    reference = _outputs(_run(tmp_path / "bs4", batch_size=4).root)
    assert _outputs(_run(tmp_path / "bs1", batch_size=1).root) == reference
    assert len(reference[0]) == len(reference[1]) == len(PROMPTS)


def test_shards_together_equal_the_whole_run(tmp_path):
    reference = _outputs(_run(tmp_path / "whole", batch_size=2).root)
    captions, images = {}, {}
    for index in range(3):
        part = select(list(enumerate(PROMPTS)), limit=None, shard=Shard(index, 3))
        shard_captions, shard_images = _outputs(_run(tmp_path / f"s{index}", batch_size=5, samples=part).root)
        captions.update(shard_captions)
        images.update(shard_images)
    assert (captions, images) == reference


def test_a_run_killed_between_drawing_and_captioning_resumes_to_the_same_outputs(tmp_path):
    reference = _outputs(_run(tmp_path / "reference", batch_size=2).root)
    killed = tmp_path / "killed"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from pathlib import Path
        from tests._prompt_adapter import PromptEchoAdapter
        from tests.test_t2i2t_roundtrip import _run
        _run(Path({str(killed)!r}), batch_size=2, adapter=PromptEchoAdapter(kill_on_caption_call=2))
        """
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert process.returncode == -9, process.stderr.decode()
    captions, images = _outputs(killed)
    # killed in the second batch after its images were written and before its captions were
    assert len(captions) == 2 and len(images) == 4
    resumed = PromptEchoAdapter()
    _run(killed, batch_size=2, adapter=resumed)
    assert _outputs(killed) == reference
    assert resumed.generated == [p.prompt for p in PROMPTS[4:]]  # drawn images are never redrawn
    lines = (killed / "captions.jsonl").read_text().splitlines()
    assert len(lines) == len(PROMPTS)


def test_the_caption_is_made_from_the_png_read_back(tmp_path):
    """A resumed run captions the stored bytes; an uninterrupted one must caption exactly those too."""

    class Recording(PromptEchoAdapter):
        def caption(self, images, *, seeds):
            self.seen = [image.tobytes() for image in images]
            return super().caption(images, seeds=seeds)

    adapter = Recording()
    store = _run(tmp_path / "r", batch_size=len(PROMPTS), adapter=adapter)
    from unified_bench.images import read_image

    assert adapter.seen == [read_image(store.image_path(p.id))[0].tobytes() for p in PROMPTS]


def test_an_adapter_that_needs_references_is_refused_in_t2i2t(tmp_path):
    class Native(PromptEchoAdapter):
        generate_needs_references = True

    with pytest.raises(UserError, match="t2i2t starts from a prompt"):
        _run(tmp_path / "r", batch_size=2, adapter=Native())
    assert not (tmp_path / "r" / "captions.jsonl").exists()
