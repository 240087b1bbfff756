"""Build a tiny random-weight MMaDA checkpoint from the official classes, for a by-hand CPU run of
adapters/workers/mmada.py (the check recorded in adapters/workers/README.md).

    cd /path/to/MMaDA && PYTHONPATH=. python /path/to/unified-bench/adapters/workers/checks/tiny_mmada.py OUT

Writes OUT/mmada (a 1-layer ``MMadaModelLM``, d_model 32, with the real vocabulary layout:
LLaDA's 126,464 text ids, the mask id 126,336, UniversalPrompting's reserved ids, then 8,192 image
codes; a word-level tokenizer of that size with a chat template) and OUT/magvitv2 (the
official ``MAGVITv2``, whose architecture is fixed, with random weights), both with
``save_pretrained``, so the worker loads them through ``from_pretrained`` as it loads the releases.
"""

from __future__ import annotations

import sys
from pathlib import Path

LLM_VOCAB = 126464  # LLaDA's text vocabulary (configs/mmada_demo.yaml llm_vocab_size)
NEW_VOCAB = 134656  # text + 8192 image codes (new_vocab_size)
MASK_ID = 126336
CHAT_TEMPLATE = (
    "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}"
    "<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{% endif %}"
)


def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|startoftext|>", "<|endoftext|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    letters = [chr(c) for c in range(33, 127)]
    vocab = {token: i for i, token in enumerate(specials + letters)}
    for i in range(len(vocab), LLM_VOCAB):
        vocab[f"<|t{i}|>"] = i
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    core.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[2:],
        chat_template=CHAT_TEMPLATE,
    )


def main(output: Path) -> None:
    import dataclasses

    import torch
    from models import MAGVITv2, MMadaConfig, MMadaModelLM
    from models.configuration_llada import ModelConfig

    torch.manual_seed(0)
    text = tokenizer()
    # LLaDAModelLM reads every ModelConfig field from the config (a released config.json has them all).
    every_field = {f.name: getattr(ModelConfig(), f.name) for f in dataclasses.fields(ModelConfig)}
    tiny = dict(
        d_model=32, n_heads=2, n_kv_heads=2, n_layers=1, mlp_ratio=2, max_sequence_length=4096,
        vocab_size=NEW_VOCAB, embedding_size=NEW_VOCAB, weight_tying=False, rope=True,
        block_type="llama", activation_type="silu", layer_norm_type="rms", include_bias=False,
        attention_dropout=0.0, residual_dropout=0.0, embedding_dropout=0.0,
        mask_token_id=MASK_ID, eos_token_id=text.eos_token_id, pad_token_id=text.pad_token_id,
        llm_vocab_size=LLM_VOCAB, new_vocab_size=NEW_VOCAB, codebook_size=8192, num_vq_tokens=1024,
        num_new_special_tokens=0, init_device="cpu", use_cache=False,
    )  # fmt: skip
    config = MMadaConfig(**{**every_field, **tiny})
    MMadaModelLM(config).save_pretrained(output / "mmada")
    text.save_pretrained(output / "mmada")
    MAGVITv2().save_pretrained(output / "magvitv2")
    print(f"tiny MMaDA written to {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
