"""emu3: two tiny random Emu3ForConditionalGeneration checkpoints (chat, gen), loaded as users load them."""

from __future__ import annotations

import json

import pytest
import torch

from tests._tiny_adapters import build_tiny_emu3, one_torch_thread, pixels, random_images, run_args
from unified_bench.adapter import AdapterOptions
from unified_bench.errors import MissingWeightsError
from unified_bench.registry import default_registry
from unified_bench.results import read_results
from unified_bench.store import RunStore


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("emu3")
    return build_tiny_emu3(root / "Emu3-Chat-tiny", seed=0), build_tiny_emu3(root / "Emu3-Gen-tiny", seed=1)


@pytest.fixture(scope="module")
def adapter_args(checkpoints):
    chat, gen = checkpoints
    return {"chat_model": str(chat), "gen_model": str(gen), "caption_max_new_tokens": "8"}


@pytest.fixture(scope="module")
def adapter(adapter_args):
    return default_registry().build("emu3", AdapterOptions(args=adapter_args, device="cpu"))


def test_a_caption_depends_on_its_seed_not_on_its_batch(adapter):
    images = random_images(3)
    batched = adapter.caption(images, seeds=[1, 2, 3])
    assert len(batched) == 3 and all(isinstance(text, str) for text in batched)
    assert adapter.caption(images[2:], seeds=[3]) == batched[2:]
    assert any(adapter.caption(images[2:], seeds=[seed])[0] != batched[2] for seed in (7, 8, 9))


def test_an_image_depends_on_its_seed_not_on_its_batch(adapter):
    prompts = ["a cat", "a big red dog running on a green hill", "x"]
    batched = adapter.generate(prompts, seeds=[4, 5, 6], size=(32, 32))
    assert [image.size for image in batched] == [(32, 32)] * 3
    alone = adapter.generate(prompts[1:2], seeds=[5], size=(32, 32))
    assert (pixels(alone[0]) == pixels(batched[1])).all()
    assert (pixels(adapter.generate(prompts[1:2], seeds=[50], size=(32, 32))[0]) != pixels(batched[1])).any()


def test_the_size_sets_the_token_grid(adapter):
    # 48x32 -> ratio 3:2, area 1536 -> a 4x6 grid of VQ tokens -> 48x32 pixels, no resizing needed.
    assert adapter.generate(["a cat"], seeds=[1], size=(48, 32))[0].size == (48, 32)


def test_generated_tokens_follow_the_image_layout(adapter):
    from unified_bench_adapters.emu3.adapter import ImageLayoutConstraint

    layout = ImageLayoutConstraint(
        prompt_length=5,
        height=2,
        width=3,
        visual=torch.tensor([10, 11, 12]),
        special={"eol": 1, "eof": 2, "eoi": 3, "eos": 4},
    )
    allowed = [
        layout.allowed(step, 16, torch.device("cpu")).nonzero().flatten().tolist() for step in range(11)
    ]
    row = [[10, 11, 12]] * 3 + [[1]]
    assert allowed == row + row + [[2], [3], [4]]


def test_info_says_two_checkpoints(adapter, checkpoints):
    info = adapter.info()
    assert info["checkpoints"] == {"caption": str(checkpoints[0]), "generate": str(checkpoints[1])}
    assert "two checkpoints" in info["note"]


def test_a_missing_generation_checkpoint_is_named(adapter_args, tmp_path):
    args = {**adapter_args, "gen_model": str(tmp_path / "no-gen")}
    with pytest.raises(MissingWeightsError, match="Emu3 generation model: no folder at"):
        default_registry().build("emu3", AdapterOptions(args=args, device="cpu"))


def test_unified_bench_run_end_to_end(cli, tmp_path, adapter_args):
    output = tmp_path / "run"
    extra = [arg for key, value in adapter_args.items() for arg in ("--adapter-arg", f"{key}={value}")]
    result = cli(*run_args("emu3", output, *extra, "--size", "32x32", "--batch-size", "2"))
    assert result.code == 0, result.err
    results = read_results(output)
    assert results.model["name"] == "emu3" and len(RunStore(output).captions()) == 3
    assert (
        json.loads((output / "adapter.json").read_text())["checkpoints"]["generate"]
        == adapter_args["gen_model"]
    )


@pytest.mark.parametrize(("size", "header"), [((32, 32), "4*4"), ((48, 32), "4*6")])
def test_the_negative_prompt_is_built_in_generation_mode_like_baai(adapter, monkeypatch, size, header):
    from unified_bench_adapters.emu3.adapter import NEGATIVE_PROMPT

    seen: dict = {}
    generate = adapter.gen_model.generate

    def recording_generate(*args, **kwargs):  # the real generate, with its negative prompt kept
        seen.update(kwargs)
        return generate(*args, **kwargs)

    monkeypatch.setattr(adapter.gen_model, "generate", recording_generate)
    adapter.generate(["a cat", "a big red dog"], seeds=[1, 2], size=size)
    # BAAI's image_generation.py: processor(text=NEGATIVE_PROMPT, mode='G', ratio, image_area), i.e.
    # BOS + text + <|image start|> + "H*W" (VQ tokens, 8 px each) + <|image token|>.
    tokenizer = adapter.gen_processor.tokenizer
    text = (
        f"{tokenizer.bos_token}{NEGATIVE_PROMPT}{tokenizer.boi_token}{header}{tokenizer.image_wrapper_token}"
    )
    expected = tokenizer(text, add_special_tokens=False)["input_ids"]
    for row, mask in zip(seen["negative_prompt_ids"], seen["negative_prompt_attention_mask"], strict=True):
        assert row[mask.bool()].tolist() == expected


def test_the_caption_chat_opens_with_baais_system_sentence(adapter):
    inputs = adapter.caption_inputs(random_images(1))
    tokenizer = adapter.chat_processor.tokenizer
    text = tokenizer.decode(inputs["input_ids"][0]).removeprefix(tokenizer.bos_token)
    # processing_emu3.py: "You are a helpful assistant. USER: {image}{instruction}. ASSISTANT:"
    assert text.startswith("You are a helpful assistant. USER: <|image start|>")
    assert text.endswith(" ASSISTANT:")
    assert adapter.info()["settings"]["caption_system_prompt"] == "You are a helpful assistant."


@pytest.fixture(scope="module")
def bf16_adapter(adapter_args):
    return default_registry().build("emu3", AdapterOptions(args=adapter_args, device="cpu", dtype="bfloat16"))


def test_the_vq_tokenizer_is_float32_beside_a_bf16_model_with_the_files_values(bf16_adapter, checkpoints):
    from safetensors.torch import load_file

    model = bf16_adapter.gen_model
    vq = dict(model.model.vqmodel.named_parameters())
    assert {p.dtype for p in vq.values()} == {torch.float32}
    assert {p.dtype for p in model.model.text_model.parameters()} == {torch.bfloat16}
    saved = {k: v for path in checkpoints[1].glob("*.safetensors") for k, v in load_file(str(path)).items()}
    for name, parameter in vq.items():  # bit for bit: loaded as stored, not through bf16
        (stored,) = [tensor for key, tensor in saved.items() if key.endswith("vqmodel." + name)]
        assert torch.equal(parameter.detach(), stored), name
    assert bf16_adapter.info()["vq_dtype"] == "float32"


def test_a_bf16_round_trip_encodes_and_decodes_through_the_float32_vq(bf16_adapter):
    (caption,) = bf16_adapter.caption(random_images(1), seeds=[1])
    assert isinstance(caption, str)
    (image,) = bf16_adapter.generate([caption or "a cat"], seeds=[2], size=(32, 32))
    assert image.size == (32, 32) and pixels(image).std() > 0


def test_provenance_says_captions_are_sampled_where_the_card_decodes_greedily(adapter):
    note = adapter.info()["caption_decoding"]
    assert note.startswith("sampled at temperature 0.7") and "card: greedy" in note
