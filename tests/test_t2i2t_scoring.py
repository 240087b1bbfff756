"""t2i2t scoring: caption vs prompt (longclip_t2t, clip_t2t, quoted_text), prompt vs drawn image, overall."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._precomputed import outputs_folder
from unified_bench.results import read_results
from unified_bench.scorers.quoted import quoted_edit_similarity, quoted_recall, substring_distance
from unified_bench.scorers.tiny import ensure_tiny_scorer_weights

PROMPTS = {
    "a": 'A shop sign that reads "OPEN LATE" above a door.',
    "b": "Three red apples on a white plate.",
    "c": "A blue bicycle leaning on a yellow wall, " + "with many small details " * 20,
}


def _prompt_set(root: Path, prompts=PROMPTS) -> Path:
    path = root / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": k, "prompt": v}) + "\n" for k, v in prompts.items()))
    return path


def _t2i2t(cli, tmp_path: Path, captions: dict[str, str], *scorers: str, name: str = "run"):
    outputs = outputs_folder(tmp_path / f"{name}-outputs", captions)
    args = ["run", "--model", "precomputed", "--adapter-arg", f"dir={outputs}", "--direction", "t2i2t"]
    args += ["--dataset", str(_prompt_set(tmp_path)), "--output", str(tmp_path / name)]
    for spec in scorers:
        args += ["--scorer", spec]
    return cli(*args), tmp_path / name


@pytest.fixture(scope="module")
def tiny(session_cache):
    from tests._tiny_training import cache_env

    with cache_env(session_cache):
        return ensure_tiny_scorer_weights()


# -- quoted text -------------------------------------------------------------------------------------
def test_quoted_text_by_hand():
    prompt = 'A sign saying "Open Late" and a mug with "Ada" on it.'
    assert quoted_recall(prompt, 'the sign reads "OPEN   late"; the mug says ada') == 1.0
    assert quoted_recall(prompt, "a sign reads open late, the mug is blank") == 0.5
    assert quoted_recall("no quotes here", "anything") is None
    assert quoted_edit_similarity("“Ada”", "a mug labelled ado") == pytest.approx(2 / 3)
    # "open late" vs the closest stretch "open lane": one substitution over 9 characters
    assert quoted_edit_similarity('"open late"', "a sign: open lane") == pytest.approx(1 - 1 / 9)
    assert quoted_edit_similarity('"xyz"', "") == 0.0
    assert substring_distance("kitten", "the sitting cat") == 2


# -- longclip_t2t against an independent Long-CLIP text forward --------------------------------------
def _independent_longclip_text(state: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """Long-CLIP's text tower written out: token + split positional embeddings, causal pre-LN blocks
    with QuickGELU, final LN, the EOT token's row times the projection; matmul weights rounded to
    fp16 as Long-CLIP's load() does."""

    rounded = ("attn.in_proj_weight", "attn.in_proj_bias", "out_proj.weight", "out_proj.bias")
    rounded += ("c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias", "text_projection")

    def w(key):
        value = state[key].float()
        return value.half().float() if key.endswith(rounded) else value

    length = tokens.shape[1]
    positions = w("positional_embedding").clone()
    positions[20:] = w("positional_embedding_res")[20:]
    x = w("token_embedding.weight")[tokens] + positions[:length]
    width = x.shape[-1]
    heads = max(1, width // 64)
    mask = torch.full((length, length), float("-inf")).triu(1)
    blocks = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    for i in range(blocks):
        p = f"transformer.resblocks.{i}."
        h = torch.nn.functional.layer_norm(x, (width,), w(p + "ln_1.weight"), w(p + "ln_1.bias"))
        q, k, v = (h @ w(p + "attn.in_proj_weight").T + w(p + "attn.in_proj_bias")).chunk(3, dim=-1)

        def split(t):
            return t.reshape(t.shape[0], length, heads, width // heads).transpose(1, 2)

        attention = (split(q) @ split(k).transpose(-1, -2)) / (width // heads) ** 0.5 + mask
        mixed = (attention.softmax(-1) @ split(v)).transpose(1, 2).reshape(x.shape)
        x = x + mixed @ w(p + "attn.out_proj.weight").T + w(p + "attn.out_proj.bias")
        h = torch.nn.functional.layer_norm(x, (width,), w(p + "ln_2.weight"), w(p + "ln_2.bias"))
        h = h @ w(p + "mlp.c_fc.weight").T + w(p + "mlp.c_fc.bias")
        h = h * torch.sigmoid(1.702 * h)
        x = x + h @ w(p + "mlp.c_proj.weight").T + w(p + "mlp.c_proj.bias")
    x = torch.nn.functional.layer_norm(x, (width,), w("ln_final.weight"), w("ln_final.bias"))
    pooled = x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)]
    return torch.nn.functional.normalize(pooled @ w("text_projection"), dim=-1)


def test_longclip_t2t_equals_an_independent_text_forward(tiny):
    from open_clip.tokenizer import SimpleTokenizer

    from unified_bench.scorers import build_scorers

    (scorer,) = build_scorers([f"longclip_t2t={tiny['longclip_t2t']}"], device="cpu")
    prompts, captions = list(PROMPTS.values()), ["a red apple", "a blue bike", "the sign says open late"]
    got = scorer.score_text_pairs(prompts, captions)
    state = torch.load(tiny["longclip_t2t"], map_location="cpu", weights_only=True)
    tokenizer = SimpleTokenizer(context_length=state["positional_embedding"].shape[0])
    with torch.no_grad():
        a = _independent_longclip_text(state, tokenizer(prompts))
        b = _independent_longclip_text(state, tokenizer(captions))
    expected = (a.double() * b.double()).sum(-1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert len(set(np.round(got, 6))) == 3  # the three pairs really differ


# -- a whole t2i2t run -------------------------------------------------------------------------------
def test_captions_equal_to_the_prompts_score_one_and_unrelated_captions_lower(tmp_path, cli, tiny):
    scorers = [f"longclip_t2t={tiny['longclip_t2t']}", f"clip_t2t={tiny['clip_t2t']}", "quoted_text"]
    result, run = _t2i2t(cli, tmp_path, dict(PROMPTS), *scorers, name="same")
    assert result.code == 0, result.err
    same = read_results(run)
    assert same.direction == "t2i2t"
    assert all(abs(v - 1) < 1e-6 for v in same.scorers["longclip_t2t"].per_sample.values())
    assert (
        same.overall.components == ["longclip_t2t"]
        and "primary scorer longclip_t2t" in same.overall.definition
    )
    assert same.overall.mean == pytest.approx(same.scorers["longclip_t2t"].mean)
    assert same.samples["prompts"] == PROMPTS
    assert same.scorers["quoted_text"].per_sample == {"a": 1.0}  # only prompt a quotes text
    # prompt c is longer than CLIP's 77 tokens but within Long-CLIP's 248
    truncation = same.provenance["text_truncation"]
    assert truncation["clip_t2t"]["prompts"] == 1 and truncation["longclip_t2t"]["prompts"] == 0

    unrelated = {k: "zebra zebra zebra on ice" for k in PROMPTS}
    result, run = _t2i2t(cli, tmp_path, unrelated, *scorers, name="unrelated")
    assert result.code == 0, result.err
    other = read_results(run)
    for sample_id in PROMPTS:
        assert other.scorers["longclip_t2t"].per_sample[sample_id] < 1 - 1e-3
    assert other.scorers["quoted_text"].per_sample == {"a": 0.0}

    # the same numbers recorded as an i2t2i run: compare refuses to put the two directions side by side
    obj = json.loads((run.parent / "same" / "results.json").read_text())
    obj["direction"] = "i2t2i"
    (tmp_path / "as-i2t2i").mkdir()
    (tmp_path / "as-i2t2i" / "results.json").write_text(json.dumps(obj))
    refused = cli("compare", tmp_path / "same", tmp_path / "as-i2t2i")
    assert refused.code != 0 and "a t2i2t run" in refused.err and "never compared" in refused.err


def test_image_pair_scorers_and_native_protocol_are_refused_before_anything_is_written(tmp_path, cli):
    result, run = _t2i2t(cli, tmp_path, dict(PROMPTS), "ssim")
    assert result.code != 0 and "t2i2t starts from a prompt" in result.err
    assert len(result.err.strip().splitlines()) == 1 and not run.exists()
    result = cli(
        "run", "--model", "uae-tiny", "--direction", "t2i2t", "--protocol", "native", "-o", tmp_path / "n"
    )
    assert result.code != 0 and "only the text protocol" in result.err and not (tmp_path / "n").exists()
    result = cli("run", "--model", "uae-tiny", "--scorer", "longclip_t2t", "-o", tmp_path / "i")
    assert result.code != 0 and "--direction t2i2t" in result.err and not (tmp_path / "i").exists()


def test_repeats_and_merged_shards_keep_the_direction_and_the_prompts(tmp_path, cli):
    outputs = outputs_folder(tmp_path / "outputs", dict(PROMPTS))
    base = ["run", "--model", "precomputed", "-a", f"dir={outputs}", "--direction", "t2i2t"]
    base += ["--dataset", str(_prompt_set(tmp_path)), "--scorer", "quoted_text", "--scorer", "bleu4"]
    assert cli(*base, "--repeats", "2", "-o", tmp_path / "rep").code == 0
    repeated = read_results(tmp_path / "rep")
    assert repeated.direction == "t2i2t" and repeated.repeats["k"] == 2
    assert repeated.samples["prompts"] == PROMPTS
    for index in (0, 1):
        assert cli(*base, "--shard", f"{index}/2", "-o", tmp_path / "sh").code == 0
    merged_run = cli("merge", *sorted((tmp_path / "sh").glob("shard-*")), "-o", tmp_path / "merged")
    assert merged_run.code == 0, merged_run.err
    whole = cli(*base, "-o", tmp_path / "whole")
    assert whole.code == 0
    merged, single = read_results(tmp_path / "merged"), read_results(tmp_path / "whole")
    assert merged.direction == "t2i2t" and merged.samples["prompts"] == single.samples["prompts"]
    assert merged.scorers == single.scorers
