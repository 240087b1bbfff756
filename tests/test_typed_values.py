"""``--adapter-arg`` and ``train --set`` read a value the same way: the same spellings are accepted
and refused, and the same typed value comes out.

Each spelling goes through both real entry points: ``parse_adapter_arg`` on a config with the same
field names and types as the training config, and ``load_config`` with ``--set``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from unified_bench.adapter import AdapterArgError, parse_adapter_arg
from unified_bench.errors import InputError
from unified_bench_adapters.uae.train.config import load_config


@dataclass
class SameFields:
    """The types of a few U4GConfig fields, under their names."""

    same_latent: bool = False
    seed: int = 0
    kl_beta: float = 0.0
    eval_limit: int | None = None
    advantage_std: Literal["population", "bessel"] = "population"
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    eval_scorers: list[str] | None = None
    reward_scorers: dict[str, float] | None = None


# (key, spelling, the value both must give; REFUSED: both must refuse it)
REFUSED = object()
CASES = [
    *[("same_latent", text, True) for text in ("true", "True", "tRuE", "yes", "Yes", "on", "ON", "1")],
    *[("same_latent", text, False) for text in ("false", "False", "no", "NO", "off", "Off", "0", " false ")],
    *[("same_latent", text, REFUSED) for text in ("maybe", "y", "n", "t", "2", "", "-1", "truthy")],
    ("seed", "7", 7),
    ("seed", "+7", 7),
    ("seed", "-3", -3),
    ("seed", "1_000", 1000),
    ("seed", "010", 10),  # decimal, never YAML 1.1's octal
    *[("seed", text, REFUSED) for text in ("7.0", "seven", "0x10", "", "true")],
    ("kl_beta", "0.04", 0.04),
    ("kl_beta", "1e-3", 1e-3),
    ("kl_beta", "2", 2.0),
    *[("kl_beta", text, REFUSED) for text in ("fast", "", "1,5")],
    *[("eval_limit", text, None) for text in ("none", "None", "null", "NULL", "~", "")],
    ("eval_limit", "4", 4),
    ("eval_limit", "four", REFUSED),
    ("advantage_std", "bessel", "bessel"),
    ("advantage_std", "Bessel", REFUSED),
    ("mixed_precision", "no", "no"),  # a choice, not YAML's boolean "no"
    ("eval_scorers", "ssim,psnr", ["ssim", "psnr"]),
    ("eval_scorers", "[ssim, psnr]", ["ssim", "psnr"]),
    ("reward_scorers", "clip=0.5,dinov2=0.5", {"clip": 0.5, "dinov2": 0.5}),
    ("reward_scorers", "{clip: 0.5, dinov2: 1}", {"clip": 0.5, "dinov2": 1.0}),
    ("reward_scorers", "clip=much", REFUSED),
]


def _adapter_arg(key: str, text: str) -> object:
    try:
        return parse_adapter_arg(SameFields, key, text)[1]
    except AdapterArgError:
        return REFUSED


def _train_set(key: str, text: str) -> object:
    try:
        return getattr(load_config("u4g", "tiny-u4g", [f"{key}={text}"]), key)
    except InputError:
        return REFUSED


@pytest.mark.parametrize(("key", "text", "expected"), CASES, ids=[f"{k}={t!r}" for k, t, _ in CASES])
def test_both_flags_read_a_value_alike(key, text, expected):
    from_adapter_arg, from_set = _adapter_arg(key, text), _train_set(key, text)
    assert from_adapter_arg == expected and from_set == expected
    assert type(from_adapter_arg) is type(from_set)


def test_a_refusal_names_the_flag_the_setting_and_what_was_expected():
    with pytest.raises(AdapterArgError, match=r"^--adapter-arg same_latent=maybe: expected true or false\.$"):
        parse_adapter_arg(SameFields, "same_latent", "maybe")
    with pytest.raises(InputError, match=r"^--set same_latent=maybe: expected true or false\.$"):
        load_config("u4g", "tiny-u4g", ["same_latent=maybe"])
