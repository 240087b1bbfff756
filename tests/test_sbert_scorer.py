"""``sbert``: cosine of sentence-transformers embeddings of prompt and caption, on a tiny random
BertModel + mean pooling saved by ``SentenceTransformer.save``; the expected cosine is a mean-pooled
BERT forward written out here."""

from __future__ import annotations

import sys

import pytest
import torch

from unified_bench.errors import InputError, MissingDependencyError
from unified_bench.scorers import build_scorers
from unified_bench.scorers.registry import check_scorers_for_direction

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "cup", "on", "the", "table", "blue", "cat"]


@pytest.fixture(scope="module")
def sbert_dir(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("sbert")
    bert = root / "bert"
    bert.mkdir()
    (bert / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(bert)
    BertTokenizerFast(vocab_file=str(bert / "vocab.txt")).save_pretrained(bert)
    transformer = Transformer(str(bert), max_seq_length=32)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(root / "st"))
    return root / "st"


def _mean_pooled_bert_cosine(folder, a: str, b: str) -> float:
    from transformers import BertModel, BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(folder)
    model = BertModel.from_pretrained(folder).eval()
    vectors = []
    for text in (a, b):
        ids = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**ids).last_hidden_state[0].double()  # [tokens, width], no padding
        vectors.append(hidden.mean(dim=0))
    return float(torch.nn.functional.cosine_similarity(vectors[0], vectors[1], dim=0))


def test_sbert_is_the_cosine_of_mean_pooled_bert_embeddings(sbert_dir):
    [scorer] = build_scorers([f"sbert={sbert_dir}"], device="cpu")
    prompts = ["a red cup on the table", "a blue cat", "a red cup"]
    captions = ["a red cup on the table", "the table", "a blue cat on a cup"]
    scores = scorer.score_text_pairs(prompts, captions)
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    for prompt, caption, score in zip(prompts[1:], captions[1:], scores[1:], strict=True):
        assert score == pytest.approx(_mean_pooled_bert_cosine(sbert_dir, prompt, caption), abs=1e-5)
        assert score < 1 - 1e-3
    assert scorer.truncation() == {"prompts": 0, "captions": 0, "limit": 32}


def test_sbert_fingerprint_names_the_model_and_its_weights(sbert_dir):
    [scorer] = build_scorers([f"sbert={sbert_dir}"], device="cpu")
    fingerprint = scorer.fingerprint()
    assert fingerprint.startswith(f"sbert:local:st@{scorer.weights.short_sha}:")
    assert len(scorer.weights.sha256) == 64


def test_without_the_extra_sbert_is_one_line_naming_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError) as caught:
        build_scorers([f"sbert={tmp_path}"], device="cpu")
    message = str(caught.value)
    assert "\n" not in message and "unified-bench[sbert]" in message and "sentence-transformers" in message


def test_sbert_is_a_t2i2t_scorer_refused_in_i2t2i():
    check_scorers_for_direction(["sbert"], "t2i2t")
    with pytest.raises(InputError, match="--direction t2i2t"):
        check_scorers_for_direction(["sbert"], "i2t2i")


def test_preflight_finds_missing_sbert_weights_before_loading_anything(tmp_path):
    pytest.importorskip("sentence_transformers")
    from unified_bench.preflight import scorer_problems

    [problem] = scorer_problems([f"sbert={tmp_path / 'no-such-model'}"])
    assert problem.startswith("sbert:") and "no-such-model" in problem and "\n" not in problem
