"""Scorers: registry and specs, each scorer against an independent computation, fingerprints, errors.

Every embedding scorer is loaded from a tiny random-weight checkpoint through ``build_scorers``
(the user path) and compared with the same numbers computed here directly with transformers,
open_clip, lpips or scikit-image.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tests._tiny_scorers import fresh_cache, random_images, tiny_specs
from unified_bench.errors import InputError, MissingWeightsError, UnknownNameError
from unified_bench.scorers import (
    DEFAULT_SCORERS,
    PAPER_SCORERS,
    build_scorers,
    parse_scorer_spec,
    scorer_names,
)
from unified_bench.scorers.registry import OPTIONAL_SCORERS, T2I2T_SCORERS

__all__ = ["fresh_cache", "tiny_specs"]  # pytest fixtures, used by name


def build_one(spec: str, **kwargs):
    [scorer] = build_scorers([spec], device="cpu", **kwargs)
    return scorer


# --- registry and specs ---------------------------------------------------------------------------


def test_default_scorers_are_the_paper_four_then_pixel_then_caption_metrics():
    assert PAPER_SCORERS == ("clip", "dinov2", "dinov3", "longclip")
    assert DEFAULT_SCORERS[:4] == PAPER_SCORERS
    # every registered scorer is a default of one direction (the t2i2t ones compare caption and prompt)
    # or an optional extra asked for by name (sbert)
    assert set(DEFAULT_SCORERS) | set(T2I2T_SCORERS) | set(OPTIONAL_SCORERS) == set(scorer_names())
    assert not set(OPTIONAL_SCORERS) & (set(DEFAULT_SCORERS) | set(T2I2T_SCORERS))
    assert {"lpips", "ssim", "psnr", "clipscore", "longclipscore", "bleu4", "rougeL", "cider"} <= set(
        DEFAULT_SCORERS
    )


def test_importing_the_scorer_registry_does_not_import_torch():
    code = "import sys, unified_bench.scorers as s; s.scorer_names(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_spec_is_a_name_or_name_equals_model():
    assert parse_scorer_spec("clip") == ("clip", None)
    assert parse_scorer_spec(" dinov2 = facebook/dinov2-base ") == ("dinov2", "facebook/dinov2-base")
    assert parse_scorer_spec("longclip=/w/longclip-L.pt") == ("longclip", "/w/longclip-L.pt")


def test_spec_with_nothing_after_equals_is_an_input_error():
    with pytest.raises(InputError, match="nothing after '='"):
        parse_scorer_spec("clip=")


def test_unknown_scorer_names_the_known_ones():
    with pytest.raises(UnknownNameError) as caught:
        build_scorers(["clipp"])
    message = str(caught.value)
    assert "Unknown scorer 'clipp'" in message
    assert "clip" in message and "dinov3" in message and "cider" in message


def test_a_scorer_given_twice_is_refused():
    with pytest.raises(InputError, match="given twice"):
        build_scorers(["ssim", "ssim=x"])


def test_weightless_scorers_refuse_a_model():
    with pytest.raises(InputError, match="has no weights"):
        build_scorers(["psnr=/some/model"])


# --- embedding scorers vs transformers / open_clip directly ----------------------------------------


def test_clip_embeds_the_projected_pooled_output_of_the_vision_tower(tiny_specs, fresh_cache):
    from transformers import CLIPImageProcessorPil, CLIPModel

    scorer = build_one(f"clip={tiny_specs['clip']}")
    images = random_images(3)
    model = CLIPModel.from_pretrained(tiny_specs["clip"]).eval()
    pixels = CLIPImageProcessorPil.from_pretrained(tiny_specs["clip"])(images=images, return_tensors="pt")
    with torch.no_grad():
        pooled = model.vision_model(pixel_values=pixels["pixel_values"]).pooler_output
        expected = F.normalize(model.visual_projection(pooled), dim=-1)
    embedded = scorer.embed(images)
    assert embedded.dtype == torch.float32 and embedded.device.type == "cpu"
    torch.testing.assert_close(embedded, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(embedded.norm(dim=-1), torch.ones(3))


def test_dinov2_embeds_the_cls_token_of_the_last_hidden_state(tiny_specs, fresh_cache):
    from transformers import BitImageProcessorPil, Dinov2Model

    scorer = build_one(f"dinov2={tiny_specs['dinov2']}")
    images = random_images(2, seed=1)
    model = Dinov2Model.from_pretrained(tiny_specs["dinov2"]).eval()
    pixels = BitImageProcessorPil.from_pretrained(tiny_specs["dinov2"])(images=images, return_tensors="pt")
    with torch.no_grad():
        expected = F.normalize(model(**pixels).last_hidden_state[:, 0], dim=-1)
    torch.testing.assert_close(scorer.embed(images), expected, atol=1e-5, rtol=1e-5)


def test_dinov3_embeds_the_cls_token_not_a_register_token(tiny_specs, fresh_cache):
    from transformers import DINOv3ViTImageProcessor, DINOv3ViTModel

    scorer = build_one(f"dinov3={tiny_specs['dinov3']}")
    images = random_images(2, seed=2)
    model = DINOv3ViTModel.from_pretrained(tiny_specs["dinov3"]).eval()
    pixels = DINOv3ViTImageProcessor.from_pretrained(tiny_specs["dinov3"])(images=images, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**pixels).last_hidden_state
    assert hidden.shape[1] == 1 + model.config.num_register_tokens + (32 // 4) ** 2
    torch.testing.assert_close(scorer.embed(images), F.normalize(hidden[:, 0], dim=-1), atol=1e-5, rtol=1e-5)


def _openai_clip_from_longclip_file(path: str):
    """open_clip's own OpenAI-checkpoint builder (not ours), plus the raw Long-CLIP state dict."""
    from open_clip.model import build_model_from_openai_state_dict

    raw = torch.load(path, map_location="cpu", weights_only=True)
    plain = {k: v for k, v in raw.items() if k != "positional_embedding_res"}
    return build_model_from_openai_state_dict(plain).float().eval(), raw


def test_longclip_embeds_like_open_clips_openai_builder_with_the_clip_transform(tiny_specs, fresh_cache):
    from open_clip.transform import image_transform

    scorer = build_one(f"longclip={tiny_specs['longclip']}")
    images = random_images(3, size=(50, 36), seed=3)
    model, _ = _openai_clip_from_longclip_file(tiny_specs["longclip"])
    transform = image_transform(32, is_train=False)  # bicubic shortest side, center crop, CLIP mean/std
    with torch.no_grad():
        expected = F.normalize(model.encode_image(torch.stack([transform(im) for im in images])), dim=-1)
    torch.testing.assert_close(scorer.embed(images), expected, atol=1e-5, rtol=1e-5)


def test_longclip_accepts_the_folder_that_holds_longclip_l_pt(tiny_specs, fresh_cache):
    by_file = build_one(f"longclip={tiny_specs['longclip']}")
    by_folder = build_one(f"longclip={Path(tiny_specs['longclip']).parent}")
    assert by_file.fingerprint() == by_folder.fingerprint()


def test_longclipscore_uses_the_split_positional_embedding_and_248_tokens(tiny_specs, fresh_cache):
    from open_clip.tokenizer import SimpleTokenizer

    scorer = build_one(f"longclipscore={tiny_specs['longclipscore']}")
    model, raw = _openai_clip_from_longclip_file(tiny_specs["longclipscore"])
    image = random_images(1, seed=4)[0]
    caption = "a photo of a small red house " * 40  # > 248 tokens: must be truncated, not rejected
    tokens = SimpleTokenizer(context_length=248)([caption])
    # Long-CLIP's text forward, written out: masked sum of the two position tables.
    mask_short = (torch.arange(248) < 20).float()[:, None]
    positions = raw["positional_embedding"].float() * mask_short + raw["positional_embedding_res"].float() * (
        1 - mask_short
    )
    with torch.no_grad():
        x = model.token_embedding(tokens) + positions
        x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))
        text = x[torch.arange(1), tokens.argmax(dim=-1)] @ model.text_projection
        image_embedding = F.normalize(scorer.image_embedder.embed([image]), dim=-1)
    expected = float(F.normalize(text, dim=-1)[0] @ image_embedding[0])
    [score] = scorer.score_captions([caption], [image], [None])
    assert score == pytest.approx(expected, abs=1e-5)
    # The residual table really matters: positions >= 20 differ between the two tables.
    assert not torch.equal(raw["positional_embedding"][20:], raw["positional_embedding_res"][20:])


def test_clipscore_is_the_raw_cosine_of_text_and_original_image_truncated_to_77(tiny_specs, fresh_cache):
    from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    scorer = build_one(f"clipscore={tiny_specs['clipscore']}")
    path = tiny_specs["clipscore"]
    model = CLIPModel.from_pretrained(path).eval()
    images = random_images(2, seed=5)
    captions = ["the cat and the dog", "a very long caption " * 30]
    tokens = CLIPTokenizer.from_pretrained(path)(
        captions, padding=True, truncation=True, max_length=77, return_tensors="pt"
    )
    assert tokens["input_ids"].shape[1] == 77
    pixels = CLIPImageProcessorPil.from_pretrained(path)(images=images, return_tensors="pt")
    with torch.no_grad():
        text = model.text_projection(model.text_model(**tokens).pooler_output)
        image = model.visual_projection(model.vision_model(**pixels).pooler_output)
    expected = (F.normalize(text, dim=-1) * F.normalize(image, dim=-1)).sum(-1)
    scores = scorer.score_captions(captions, images, [None, None])
    assert scores == pytest.approx(expected.tolist(), abs=1e-5)  # the raw cosine, not 100 * max(cos, 0)


# --- fingerprints ----------------------------------------------------------------------------------


def _save_clip_variant(source: str, target: Path, *, seed: int) -> str:
    from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    torch.manual_seed(seed)
    model = CLIPModel(CLIPModel.from_pretrained(source).config)
    model.save_pretrained(target)
    CLIPTokenizer.from_pretrained(source).save_pretrained(target)
    CLIPImageProcessorPil.from_pretrained(source).save_pretrained(target)
    return str(target)


def test_fingerprint_is_stable_for_the_same_weights_and_changes_with_them(tiny_specs, fresh_cache, tmp_path):
    first = build_one(f"clip={tiny_specs['clip']}").fingerprint()
    again = build_one(f"clip={tiny_specs['clip']}").fingerprint()
    other = build_one(f"clip={_save_clip_variant(tiny_specs['clip'], tmp_path / 'tiny-clip', seed=1)}")
    assert first == again
    assert first.startswith("clip:local:tiny-clip@sha256:") and first.endswith(":float32")
    assert other.fingerprint() != first  # same folder name, different weights


def test_fingerprint_names_preprocessing_backend_and_dtype(tiny_specs, fresh_cache):
    default = build_one(f"clip={tiny_specs['clip']}").fingerprint()
    fast = build_one(f"clip={tiny_specs['clip']}", image_backend="torchvision").fingerprint()
    bf16 = build_one(f"clip={tiny_specs['clip']}", dtype="bfloat16").fingerprint()
    assert "CLIPImageProcessorPil" in default
    assert "CLIPImageProcessor#" in fast and fast != default
    assert bf16.endswith(":bfloat16") and bf16 != default


def test_clipscore_shares_the_clip_image_embedding_fingerprint(tiny_specs, fresh_cache):
    clip, clipscore = build_scorers(
        [f"clip={tiny_specs['clip']}", f"clipscore={tiny_specs['clip']}"], device="cpu"
    )
    assert clipscore.image_embedder.fingerprint() == clip.fingerprint()
    assert clipscore.image_embedder.model is clip.model  # loaded once
    assert clipscore.fingerprint().startswith("clipscore:") and clipscore.fingerprint().endswith("trunc77")


# --- missing weights -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clip", "dinov2", "dinov3"])
def test_an_empty_folder_is_missing_weights_naming_the_folder(name, tmp_path, fresh_cache):
    with pytest.raises(MissingWeightsError) as caught:
        build_scorers([f"{name}={tmp_path}"], device="cpu")
    message = str(caught.value)
    assert str(tmp_path) in message and "config.json" in message and "\n" not in message


def test_longclip_folder_without_the_file_is_missing_weights(tmp_path, fresh_cache):
    with pytest.raises(MissingWeightsError, match=r"longclip-L\.pt not found"):
        build_scorers([f"longclip={tmp_path}"], device="cpu")


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and offline mode: nothing can be found or downloaded."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


def test_an_uncached_hub_id_offline_says_how_to_download_it(offline_hub, fresh_cache):
    with pytest.raises(MissingWeightsError) as caught:
        build_scorers(["clip"], device="cpu")
    message = str(caught.value)
    assert "openai/clip-vit-large-patch14" in message
    assert "hf download openai/clip-vit-large-patch14" in message and "--scorer clip=PATH" in message


def test_dinov3_offline_mentions_the_gated_licence(offline_hub, fresh_cache):
    with pytest.raises(MissingWeightsError) as caught:
        build_scorers(["dinov3"], device="cpu")
    message = str(caught.value)
    assert "facebook/dinov3-vitl16-pretrain-lvd1689m" in message
    assert "licence" in message and "hf auth login" in message and "\n" not in message


def test_longclip_hub_file_offline_names_the_file_and_repo(offline_hub, fresh_cache):
    with pytest.raises(MissingWeightsError, match=r"longclip-L\.pt from BeichenZhang/LongCLIP-L"):
        build_scorers(["longclip"], device="cpu")


def test_a_path_that_does_not_exist_is_missing_weights(fresh_cache):
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build_scorers(["dinov2=./no/such/folder"], device="cpu")


def test_lpips_without_the_alexnet_backbone_names_file_url_and_place(tmp_path, monkeypatch, fresh_cache):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(MissingWeightsError) as caught:
        build_scorers(["lpips"], device="cpu")
    message = str(caught.value)
    expected_place = tmp_path / "torch-home" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert str(expected_place) in message
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message


# --- pixel scorers ---------------------------------------------------------------------------------


def _reference_lpips(backbone_path: str, reconstruction: Image.Image, reference: Image.Image) -> float:
    """LPIPS v0.1 (AlexNet) written out from the paper's recipe with torchvision + lpips' linear heads."""
    import lpips
    import torchvision

    features = torchvision.models.alexnet(weights=None).features.eval()
    backbone = torch.load(backbone_path, map_location="cpu", weights_only=True)
    features.load_state_dict({k.removeprefix("features."): v for k, v in backbone.items()})
    heads_path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    heads = torch.load(heads_path, map_location="cpu", weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(image: Image.Image) -> list[torch.Tensor]:
        x = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
        x, outputs = (x - shift) / scale, []
        for index, layer in enumerate(features):
            x = layer(x)
            if index in (1, 4, 7, 9, 11):  # the five ReLU outputs LPIPS compares
                outputs.append(x.clone())
        return outputs

    total = 0.0
    with torch.no_grad():
        for k, (a, b) in enumerate(zip(taps(reconstruction), taps(reference), strict=True)):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total += float(((a - b) ** 2 * heads[f"lin{k}.model.1.weight"]).sum(1).mean())
    return total


def test_lpips_with_a_random_backbone_matches_the_written_out_formula(tiny_specs, fresh_cache):
    scorer = build_one(f"lpips={tiny_specs['lpips']}")
    references = random_images(2, size=(64, 64), seed=6)
    reconstructions = random_images(2, size=(64, 64), seed=7)
    values = scorer.pairwise(reconstructions, references)
    expected = [
        _reference_lpips(tiny_specs["lpips"], rec, ref)
        for rec, ref in zip(reconstructions, references, strict=True)
    ]
    assert values.tolist() == pytest.approx(expected, rel=1e-4)
    assert scorer.pairwise(references, references).tolist() == pytest.approx([0.0, 0.0], abs=1e-6)
    assert scorer.higher_is_better is False
    assert "alexnet-random-init-seed0.pth" in scorer.fingerprint()  # says it is not the real backbone


def test_lpips_batches_pairs_of_different_sizes(tiny_specs, fresh_cache):
    scorer = build_one(f"lpips={tiny_specs['lpips']}")
    references = random_images(1, size=(64, 64), seed=8) + random_images(1, size=(72, 64), seed=9)
    reconstructions = random_images(2, size=(64, 64), seed=10)
    together = scorer.pairwise(reconstructions, references).tolist()
    alone = [
        scorer.pairwise([rec], [ref]).item() for rec, ref in zip(reconstructions, references, strict=True)
    ]
    assert together == pytest.approx(alone, rel=1e-5)


def test_ssim_and_psnr_match_scikit_image_with_the_reconstruction_resized_to_the_reference(fresh_cache):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    ssim, psnr = build_scorers(["ssim", "psnr"])
    reference = random_images(1, size=(40, 30), seed=11)[0]
    reconstruction = random_images(1, size=(80, 60), seed=12)[0]
    resized = np.asarray(reconstruction.resize((40, 30), Image.Resampling.BICUBIC))
    ref = np.asarray(reference)
    expected_ssim = structural_similarity(
        ref,
        resized,
        channel_axis=-1,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    expected_psnr = peak_signal_noise_ratio(ref, resized, data_range=255)
    assert ssim.pairwise([reconstruction], [reference]).item() == pytest.approx(expected_ssim, abs=1e-6)
    assert psnr.pairwise([reconstruction], [reference]).item() == pytest.approx(expected_psnr, abs=1e-4)


def test_psnr_of_identical_images_is_the_finite_ceiling_and_ssim_is_one(fresh_cache):
    ssim, psnr = build_scorers(["ssim", "psnr"])
    image = random_images(1, seed=13)[0]
    assert psnr.pairwise([image], [image]).item() == 100.0
    assert ssim.pairwise([image], [image]).item() == pytest.approx(1.0)


# --- caption scorers -------------------------------------------------------------------------------


def test_caption_lengths_count_words_and_clip_bpe_tokens(fresh_cache):
    words, tokens = build_scorers(["caption_words", "caption_tokens"])
    captions = ["a photo of a cat.", "Hello,world"]
    assert words.score_captions(captions, [], [None, None]) == [5.0, 1.0]
    # 'a photo of a cat .' and 'hello , world' in CLIP's BPE (no start/end tokens)
    assert tokens.score_captions(captions, [], [None, None]) == [6.0, 3.0]


def test_coco_tokenization_lowercases_and_drops_punctuation():
    from unified_bench.scorers.functional import coco_tokenize

    assert (
        coco_tokenize("A man\u2019s DOG, running -- fast! black-and-white")
        == "a man's dog running fast black and white"
    )


def test_bleu4_of_an_exact_match_is_one_and_none_without_references(fresh_cache):
    bleu = build_one("bleu4")
    scores = bleu.score_captions(
        ["A cat sits on the red mat.", "anything"], [], [("a cat sits on the red mat", "a dog"), None]
    )
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    assert scores[1] is None


def test_bleu4_without_a_shared_four_gram_is_near_zero(fresh_cache):
    [score] = build_one("bleu4").score_captions(["a cat on a mat"], [], [("the dog under the table",)])
    assert score < 1e-6


def test_rouge_l_is_the_lcs_f_measure_with_beta_1_2(fresh_cache):
    # LCS("a b c d", "a c d e") = 3 -> precision = recall = 3/4 -> F = 0.75 for any beta
    [score] = build_one("rougeL").score_captions(["A b, c d."], [], [("a c d e",)])
    assert score == pytest.approx(0.75)
    # precision 2/2, recall 2/4: F = (1 + b^2) P R / (R + b^2 P), b = 1.2
    [score] = build_one("rougeL").score_captions(["a b"], [], [("a b c d",)])
    assert score == pytest.approx((1 + 1.44) * 1 * 0.5 / (0.5 + 1.44 * 1))


def test_cider_is_ten_for_exact_matches_and_zero_when_every_ngram_is_in_every_document(fresh_cache):
    cider = build_one("cider")
    # Two documents with disjoint words: idf = log 2 for every n-gram and identical tf-idf vectors, so
    # each n (1..4) has cosine 1 and CIDEr = 10 * mean_n(1) = 10. With 3 words there is no 4-gram: 7.5.
    scores = cider.score_captions(
        ["red car parked outside", "blue sky above hills", "red car parked"],
        [],
        [("red car parked outside",), ("blue sky above hills",), ("red car parked",)],
    )
    assert scores == pytest.approx([10.0, 10.0, 7.5])
    # a corpus of one: every n-gram occurs in every document, idf = 0
    assert cider.score_captions(["red car parked"], [], [("red car parked",)]) == [0.0]
