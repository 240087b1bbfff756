"""openai-api as a client of serving engines, against local stubs that enforce each engine's schema.

The stubs (tests/_stub_engines.py) answer 400 to any field their engine does not document, and 400
or 422 to a missing required one, so a run that passes sent only what the engine honours.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests._stub_engines import GREEDY_GENERATION_CONFIG, StubEngine, refused_port
from unified_bench.datasets import load_dataset
from unified_bench.store import RunStore

KEY_ENV = "UB_TEST_SERVED_KEY"
KEY = "sk-served-" + "7e1d" * 8
CAPTIONER, GENERATOR = "Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen-Image"
LIMIT = 3


@pytest.fixture(autouse=True)
def api_key(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "cache"))


def served_run(output: Path, *settings: str, model: str = "openai-api", limit: int = LIMIT) -> list[str]:
    """``unified-bench run`` on the bundled samples, scored by psnr alone (the cheapest scorer)."""
    args = [f"api_key_env={KEY_ENV}", *settings]
    command = ["run", "--model", model, "--dataset", "samples", "--limit", str(limit)]
    command += ["--output", str(output), "--scorer", "psnr", "--device", "cpu"]
    return command + [part for arg in args for part in ("--adapter-arg", arg)]


def two_servers(captions: StubEngine, images: StubEngine, *extra: str) -> tuple[str, ...]:
    return (
        f"caption_engine={captions.engine}",
        f"caption_base_url={captions.base_url}",
        f"caption_model={captions.model}",
        f"image_engine={images.engine}",
        f"image_base_url={images.base_url}",
        f"image_model={images.model}",
        "image_size=32x32",
        *extra,
    )


def outputs(run_dir: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    captions = {sample_id: record.caption for sample_id, record in RunStore(run_dir).captions().items()}
    images = {path.stem: path.read_bytes() for path in (run_dir / "images").glob("*.png")}
    return captions, images


def adapter_info(run_dir: Path) -> dict:
    return json.loads((run_dir / "adapter.json").read_text())


def test_the_stubs_refuse_what_their_engine_does_not_document():
    import openai

    with StubEngine("vllm-omni", GENERATOR, KEY) as omni, StubEngine("openai", "gpt-4o", KEY) as hosted:
        client = openai.OpenAI(api_key=KEY, base_url=omni.base_url, max_retries=0)
        with pytest.raises(openai.BadRequestError, match=r"unknown fields.*output_format"):
            client.post("/images/generations", cast_to=object, body={"prompt": "x", "output_format": "png"})
        with pytest.raises(openai.UnprocessableEntityError):  # FastAPI's validation: 422
            client.post("/images/generations", cast_to=object, body={"size": "8x8"})
        chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "top_k": 5}
        client = openai.OpenAI(api_key=KEY, base_url=hosted.base_url, max_retries=0)
        with pytest.raises(openai.BadRequestError, match="top_k"):
            client.post("/chat/completions", cast_to=object, body=chat)


def test_two_servers_get_every_protocol_setting_and_the_image_first(cli, tmp_path):
    with StubEngine("vllm", CAPTIONER, KEY) as captions, StubEngine("vllm-omni", GENERATOR, KEY) as images:
        settings = two_servers(
            captions, images, "num_inference_steps=30", "true_cfg_scale=4.0", "negative_prompt= "
        )
        result = cli(*served_run(tmp_path / "run", *settings))
        assert result.code == 0, result.err
        caption_bodies, image_bodies = captions.bodies("/chat/completions"), images.bodies("/generations")
    assert captions.bodies("/generations") == [] and images.bodies("/chat/completions") == []
    assert len(caption_bodies) == len(image_bodies) == LIMIT
    samples = {s.id: s for s in load_dataset("samples").samples[:LIMIT]}
    run_captions, run_images = outputs(tmp_path / "run")
    for body in caption_bodies:
        # The protocol's sampling, sent explicitly: the checkpoint's greedy generation_config never applies.
        assert {k: body[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty")} == {
            "temperature": 0.7,
            "top_p": 1.0,
            "top_k": 50,
            "repetition_penalty": 1.0,
        }
        assert body["max_completion_tokens"] == 512 and isinstance(body["seed"], int)
        assert [part["type"] for part in body["messages"][0]["content"]] == ["image_url", "text"]
    for sample_id, caption in run_captions.items():
        width, height = samples[sample_id].image.size  # sent at the dataset's resolution
        assert caption.startswith(f"a photo {width}x{height} ")
        assert "top_k=50" in caption and f"top_k={GREEDY_GENERATION_CONFIG['top_k']} " not in caption
    for body in image_bodies:
        assert body["num_inference_steps"] == 30 and body["true_cfg_scale"] == 4.0
        assert body["negative_prompt"] == " " and body["size"] == "32x32"
        assert body["response_format"] == "b64_json" and isinstance(body["seed"], int)
    assert len({body["seed"] for body in image_bodies}) == LIMIT  # one seed per sample
    assert {Image.open(io.BytesIO(data)).size for data in run_images.values()} == {(32, 32)}
    info = adapter_info(tmp_path / "run")
    assert info["caption"]["served_models"]["id"] == CAPTIONER
    assert info["image"]["served_models"]["root"] == GENERATOR
    assert info["image"]["request"]["body"]["seed"] == "<the sample's seed mod 2**31>"
    assert info["caption"]["request"]["body"]["top_k"] == 50


def test_images_are_seeded_a_rerun_is_identical_and_another_seed_draws_others(cli, tmp_path):
    with StubEngine("vllm", CAPTIONER, KEY) as captions, StubEngine("sglang", GENERATOR, KEY) as images:
        settings = two_servers(captions, images, "cache=false")
        for name, seed in (("first", "0"), ("again", "0"), ("other", "1")):
            result = cli(*served_run(tmp_path / name, *settings), "--seed", seed)
            assert result.code == 0, result.err
        seeds = [body["seed"] for body in images.bodies("/generations")]
    first, again, other = (outputs(tmp_path / name) for name in ("first", "again", "other"))
    assert first == again  # nothing cached: the server drew the same captions and images
    assert set(first[1]) == set(other[1]) and all(first[1][i] != other[1][i] for i in first[1])
    assert sorted(seeds[:LIMIT]) == sorted(seeds[LIMIT : 2 * LIMIT])
    assert not set(seeds[:LIMIT]) & set(seeds[2 * LIMIT :])


def test_unseeded_images_are_named_in_the_warnings(cli, tmp_path):
    with StubEngine("vllm", CAPTIONER, KEY) as captions, StubEngine("vllm-omni", GENERATOR, KEY) as images:
        result = cli(*served_run(tmp_path / "run", *two_servers(captions, images, "send_seed=false")))
        assert result.code == 0, result.err
        assert all("seed" not in body for body in images.bodies("/generations"))
    assert any("not seeded" in warning for warning in adapter_info(tmp_path / "run")["warnings"])
    assert "not seeded" in result.err


def test_sglang_answers_a_server_relative_url_that_is_fetched_from_the_same_server(cli, tmp_path):
    with StubEngine("vllm", CAPTIONER, KEY) as captions, StubEngine("sglang", GENERATOR, KEY) as images:
        result = cli(*served_run(tmp_path / "run", *two_servers(captions, images, "response_format=url")))
        assert result.code == 0, result.err
        bodies = images.bodies("/generations")
        drawn = {body["seed"]: images.draw(body, 32, 32) for body in bodies}
    assert all(body["response_format"] == "url" and body["output_format"] == "png" for body in bodies)
    assert all(body["width"] == body["height"] == 32 for body in bodies)
    assert sorted(outputs(tmp_path / "run")[1].values()) == sorted(drawn.values())


def test_images_from_a_chat_completion_as_data_urls(cli, tmp_path):
    with StubEngine("vllm-omni", "ByteDance-Seed/BAGEL-7B-MoT", KEY) as bagel:
        settings = (
            "engine=vllm-omni",
            f"base_url={bagel.base_url}",
            f"caption_model={bagel.model}",
            f"image_model={bagel.model}",
            "image_api=chat",
            "image_size=24x16",
            "num_inference_steps=50",
        )
        result = cli(*served_run(tmp_path / "run", *settings))
        assert result.code == 0, result.err
        chats = bagel.bodies("/chat/completions")
    drawing = [body for body in chats if body.get("modalities") == ["image"]]
    captioning = [body for body in chats if body.get("modalities") == ["text"]]
    assert len(drawing) == len(captioning) == LIMIT
    assert all(b["width"] == 24 and b["height"] == 16 and b["num_inference_steps"] == 50 for b in drawing)
    images = outputs(tmp_path / "run")[1]
    assert {Image.open(io.BytesIO(data)).size for data in images.values()} == {(24, 16)}


@pytest.mark.parametrize("policy", ["least-loaded", "round-robin"])
def test_a_replica_that_is_down_costs_no_sample(cli, tmp_path, policy):
    with (
        StubEngine("vllm", CAPTIONER, KEY) as captions,
        StubEngine("vllm-omni", GENERATOR, KEY) as live,
        refused_port() as down,
    ):
        settings = (
            *two_servers(captions, live),
            f"image_base_url={down},{live.base_url}",
            f"replica_policy={policy}",
        )
        result = cli(*served_run(tmp_path / "run", *settings), "--batch-size", "3")
        assert result.code == 0, result.err
        assert len(live.bodies("/generations")) == LIMIT  # each sample once, all on the live replica
    assert len(outputs(tmp_path / "run")[1]) == LIMIT
    replicas = adapter_info(tmp_path / "run")["image"]["replicas"]
    assert "unreachable" in replicas[0] and replicas[1]["model"]["id"] == GENERATOR


def test_round_robin_spreads_requests_across_replicas(cli, tmp_path):
    with (
        StubEngine("vllm", CAPTIONER, KEY) as captions,
        StubEngine("vllm-omni", GENERATOR, KEY) as first,
        StubEngine("vllm-omni", GENERATOR, KEY) as second,
    ):
        settings = (
            *two_servers(captions, first),
            f"image_base_url={first.base_url},{second.base_url}",
            "replica_policy=round-robin",
            "concurrency=1",
        )
        result = cli(*served_run(tmp_path / "run", *settings, limit=4), "--batch-size", "4")
        assert result.code == 0, result.err
        assert len(first.bodies("/generations")) == len(second.bodies("/generations")) == 2


def test_replicas_serving_different_models_are_refused(cli, tmp_path):
    with (
        StubEngine("vllm", CAPTIONER, KEY) as captions,
        StubEngine("vllm-omni", GENERATOR, KEY) as first,
        StubEngine("vllm-omni", GENERATOR, KEY, root="/models/other") as second,
    ):
        settings = (*two_servers(captions, first), f"image_base_url={first.base_url},{second.base_url}")
        result = cli(*served_run(tmp_path / "run", *settings))
    assert result.code == 2 and "replicas serve different models" in result.err


def test_a_replica_failing_mid_run_moves_the_request_to_another(tmp_path):
    from unified_bench_adapters.openai_api.adapter import OpenAIAPIAdapter
    from unified_bench_adapters.openai_api.config import OpenAIAPIConfig

    with (
        StubEngine("vllm", CAPTIONER, KEY) as captions,
        StubEngine("vllm-omni", GENERATOR, KEY) as first,
        StubEngine("vllm-omni", GENERATOR, KEY) as second,
    ):
        config = OpenAIAPIConfig(
            caption_base_url=captions.base_url,
            image_base_url=f"{first.base_url},{second.base_url}",
            engine="vllm",
            image_engine="vllm-omni",
            caption_model=CAPTIONER,
            image_model=GENERATOR,
            api_key_env=KEY_ENV,
            replica_policy="round-robin",
            concurrency=1,
            max_retries=1,
            cache=False,
        )
        adapter = OpenAIAPIAdapter(config)  # both replicas list the model
        first.server.shutdown()
        first.server.server_close()
        drawn = adapter.generate(["1 2 3", "4 5 6", "7 8 9", "10 11 12"], seeds=[1, 2, 3, 4], size=(8, 8))
        served = second.bodies("/generations")
    assert len(drawn) == 4 and sorted(body["seed"] for body in served) == [1, 2, 3, 4]
    expected = [second.draw(body, 8, 8) for body in sorted(served, key=lambda body: body["seed"])]
    assert [np.asarray(image).tobytes() for image in drawn] == [
        np.asarray(Image.open(io.BytesIO(data))).tobytes() for data in expected
    ]


def test_resuming_against_a_server_that_now_runs_another_model_is_refused(cli, tmp_path):
    with StubEngine("vllm", CAPTIONER, KEY) as captions, StubEngine("vllm-omni", GENERATOR, KEY) as images:
        args = served_run(tmp_path / "run", *two_servers(captions, images))
        assert cli(*args).code == 0
        assert cli(*args).code == 0  # the same servers: resumes (here: nothing left to do)
        images.root = "/models/Qwen-Image-2512"  # restarted from other weights under the same name
        refused = cli(*args)
    assert refused.code == 2 and "adapter_source" in refused.err and "--overwrite" in refused.err
    assert "Qwen-Image-2512" in refused.err


def test_the_determinism_probe_records_whether_the_engine_repeats_itself(cli, tmp_path):
    results = {}
    for deterministic in (True, False):
        with (
            StubEngine("vllm", CAPTIONER, KEY, deterministic=deterministic) as captions,
            StubEngine("vllm-omni", GENERATOR, KEY, deterministic=deterministic) as images,
        ):
            folder = tmp_path / f"deterministic-{deterministic}"
            result = cli(
                *served_run(folder, *two_servers(captions, images, "determinism_probe=2", "cache=false"))
            )
            assert result.code == 0, result.err
            assert len(images.bodies("/generations")) == LIMIT + 2  # two samples asked for again
        results[deterministic] = adapter_info(folder)["determinism_probe"]
    assert results[True]["images"] == {**results[True]["images"], "checked": 2, "identical": 2}
    assert results[True]["captions"]["identical"] == 2
    assert results[False]["images"]["checked"] == 2 and results[False]["images"]["identical"] == 0
    assert results[False]["captions"]["identical"] == 0


def test_settings_an_engine_cannot_honour_are_refused_in_one_line(cli, tmp_path):
    with StubEngine("openai", "gpt-4o", KEY) as hosted:
        base = (f"base_url={hosted.base_url}", "image_size=16x16")
        steps = cli(*served_run(tmp_path / "steps", *base, "num_inference_steps=20"))
        chat = cli(*served_run(tmp_path / "chat", *base, "image_api=chat"))
        vllm = cli(*served_run(tmp_path / "vllm", *base, "engine=vllm", "caption_model=gpt-4o"))
    assert steps.code == 2 and "takes no num_inference_steps" in steps.err
    assert chat.code == 2 and "offers images (image_api=chat)" in chat.err
    assert vllm.code == 2 and "offers no image generation" in vllm.err
    assert "Traceback" not in steps.err + chat.err + vllm.err


def test_a_preset_sends_its_card_settings_and_takes_overrides(cli, tmp_path):
    with StubEngine("vllm", CAPTIONER, KEY) as captions, StubEngine("vllm-omni", GENERATOR, KEY) as images:
        settings = (
            f"caption_base_url={captions.base_url}",
            f"image_base_url={images.base_url}",
            "num_inference_steps=8",  # the user's value wins over the preset's 50
        )
        result = cli(*served_run(tmp_path / "run", *settings, model="qwen-image-served"), "--size", "16x16")
        assert result.code == 0, result.err
        bodies = images.bodies("/generations")
    assert all(b["true_cfg_scale"] == 4.0 and b["negative_prompt"] == " " for b in bodies)
    assert all(b["num_inference_steps"] == 8 and b["size"] == "16x16" for b in bodies)


def test_adapters_list_names_every_served_preset_with_its_server_command(cli):
    result = cli("adapters", "list")
    assert result.code == 0
    text = " ".join(result.out.split())
    for name, command in (
        ("bagel-served", "vllm serve ByteDance-Seed/BAGEL-7B-MoT --omni"),
        ("omnigen2-served", "vllm serve OmniGen2/OmniGen2 --omni"),
        ("hunyuanimage3-served", "vllm serve tencent/HunyuanImage-3.0 --omni"),
        ("qwen-image-served", "sglang serve --model-path Qwen/Qwen-Image"),
        ("cosmos3-served", "vllm serve nvidia/Cosmos3-Nano --omni"),
    ):
        assert name in text and command in text, name
