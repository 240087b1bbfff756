"""``unified-bench run`` and ``unified_bench.run`` build the same request from the same options.

Both hand their request to ``evaluate.execute_request``; each test stops there (a stand-in that
records the request and refuses, as a user error would) and compares what arrived.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import unified_bench
import unified_bench.evaluate as evaluate
from unified_bench.errors import UserError
from unified_bench.evaluate import RunRequest


class Stopped(UserError):
    """Raised by the stand-in once it has the request: nothing runs."""


@pytest.fixture
def requests(monkeypatch) -> list[tuple[RunRequest, int, bool]]:
    received: list[tuple[RunRequest, int, bool]] = []

    def record(request: RunRequest, repeats: int = 1, hooks=None, *, merge_shards: bool = False):
        received.append((request, repeats, merge_shards))
        raise Stopped("stopped before the run")

    monkeypatch.setattr(evaluate, "execute_request", record)
    return received


def _cli_request(cli, requests, *args: str) -> tuple[RunRequest, int, bool]:
    result = cli("run", *args)
    assert result.code != 0 and "stopped before the run" in result.err, result.err
    return requests.pop()


def _api_request(requests, model: str, **options) -> tuple[RunRequest, int, bool]:
    with pytest.raises(Stopped):
        unified_bench.run(model, **options)
    return requests.pop()


def test_every_option_gives_the_same_request(cli, requests, tmp_path):
    from_cli = _cli_request(
        cli, requests,
        "-m", "uae-tiny", "--dataset", "samples", "-o", str(tmp_path / "run"), "--seed", "7",
        "--batch-size", "3", "--limit", "5", "--shard", "1/2", "-a", "guidance_scale=2.5", "-a", "x=a=b",
        "--size", "64x48", "--protocol", "native", "--device", "cpu", "--dtype", "bfloat16",
        "--score-dtype", "float16", "--scorer", "ssim", "--scorer", "psnr", "--score-batch-size", "8",
        "--overwrite", "--repeats", "3", "--image-column", "img", "--caption-column", "text", "--streaming",
    )  # fmt: skip
    from_api = _api_request(
        requests,
        "uae-tiny",
        dataset="samples",
        output=tmp_path / "run",
        seed=7,
        batch_size=3,
        limit=5,
        shard="1/2",
        adapter_args={"guidance_scale": "2.5", "x": "a=b"},
        size=(64, 48),
        protocol="native",
        device="cpu",
        dtype="bfloat16",
        score_dtype="float16",
        scorers=["ssim", "psnr"],
        score_batch_size=8,
        overwrite=True,
        repeats=3,
        image_column="img",
        caption_column="text",
        streaming=True,
    )
    assert from_cli == from_api
    request, repeats, _ = from_api
    assert (request.dtype, request.scoring.dtype, repeats) == ("bfloat16", "float16", 3)


def test_the_defaults_give_the_same_request(cli, requests):
    assert _cli_request(cli, requests, "-m", "uae-tiny") == _api_request(requests, "uae-tiny")
    request, _, _ = _api_request(requests, "uae-tiny")
    assert request.output == Path("runs") / "uae-tiny" and request.dataset == "unibench"


def test_the_model_dtype_leaves_the_scorers_at_their_own(cli, requests):
    """A bf16 model run scores with the scorers' official dtype, so its fingerprints match an fp32 run's."""
    request, _, _ = _api_request(requests, "uae-tiny", dtype="bfloat16")
    assert request.dtype == "bfloat16" and request.scoring.dtype is None
    from_cli, _, _ = _cli_request(cli, requests, "-m", "uae-tiny", "--dtype", "bfloat16")
    assert from_cli.scoring.dtype is None
