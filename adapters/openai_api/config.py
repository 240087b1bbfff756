"""The settings of ``openai-api``: one dataclass, each field settable with ``--adapter-arg NAME=VALUE``.

Kept free of the HTTP client so preflight and ``adapters list`` can read it without ``openai``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from unified_bench.images import parse_size as parse_image_size
from unified_bench.prompts import (
    CAPTION_MAX_NEW_TOKENS,
    CAPTION_PROMPT,
    CAPTION_TEMPERATURE,
    CAPTION_TOP_K,
    CAPTION_TOP_P,
)

EngineName = Literal["openai", "vllm", "vllm-omni", "sglang"]


@dataclass(frozen=True)
class OpenAIAPIConfig:
    """Settings, each settable with ``--adapter-arg NAME=VALUE``.

    A URL field may list several replicas of one server, comma-separated; requests are spread
    across them and a failed attempt moves to another replica.
    """

    # -- servers -------------------------------------------------------------------------------
    base_url: str = "https://api.openai.com/v1"
    caption_base_url: str | None = None  # default: base_url
    image_base_url: str | None = None  # default: base_url
    api_key_env: str = "OPENAI_API_KEY"  # the variable's name; the key itself is never an argument
    caption_api_key_env: str | None = None  # default: api_key_env
    image_api_key_env: str | None = None  # default: api_key_env
    engine: EngineName = "openai"  # what the server accepts; decides which settings are sent and how
    caption_engine: EngineName | None = None  # default: engine
    image_engine: EngineName | None = None  # default: engine
    image_api: Literal["images", "chat"] = "images"  # /v1/images/generations, or a chat completion
    replica_policy: Literal["least-loaded", "round-robin"] = "least-loaded"
    # -- captions (I2T) --------------------------------------------------------------------------
    caption_model: str = "gpt-4o"
    caption_prompt: str = CAPTION_PROMPT
    caption_max_tokens: int = CAPTION_MAX_NEW_TOKENS  # sent as max_completion_tokens
    caption_temperature: float | None = CAPTION_TEMPERATURE  # None: not sent (models that reject it)
    caption_top_p: float | None = CAPTION_TOP_P  # sent explicitly: vLLM applies the checkpoint's otherwise
    caption_top_k: int | None = CAPTION_TOP_K  # engines with top_k only (vllm, vllm-omni, sglang)
    caption_repetition_penalty: float | None = 1.0  # engines with it only; 1.0 = none (the protocol's)
    caption_extra_body: str | None = None  # JSON object merged into every caption request
    max_image_side: int | None = None  # None: the dataset's resolution; else downscale to fit
    send_seed: bool = True  # the per-sample seed, in captions and images
    # -- images (T2I) ----------------------------------------------------------------------------
    image_model: str = "gpt-image-1"
    image_size: str | None = "1024x1024"  # --size wins; None: the server's default
    num_inference_steps: int | None = None  # None: not sent (the server's default decides)
    guidance_scale: float | None = None
    true_cfg_scale: float | None = None  # Qwen-Image's true CFG (vllm-omni, sglang)
    negative_prompt: str = ""  # "": not sent; Qwen-Image's card uses " " (a blank that is sent)
    image_quality: str | None = None  # openai engine only
    response_format: str | None = None  # default per engine: b64_json where the engine has it
    image_extra_body: str | None = None  # JSON object merged into every image request
    # -- client ----------------------------------------------------------------------------------
    determinism_probe: int = 0  # re-request K finished samples uncached; record if identical
    concurrency: int = 4  # requests in flight at once (within one --batch-size batch)
    timeout: float = 120.0  # seconds per attempt
    max_retries: int = 6  # per request, on 408/409/429/5xx, connection errors and timeouts
    cache: bool = True  # keep finished responses so a failed batch never pays twice

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1.")
        if self.max_image_side is not None and self.max_image_side < 16:
            raise ValueError("max_image_side must be >= 16 pixels (or none).")
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0 seconds.")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0.")
        if self.determinism_probe < 0:
            raise ValueError("determinism_probe must be >= 0 samples.")
        if not self.api_key_env:
            raise ValueError("api_key_env must name an environment variable.")
        for name in ("base_url", "caption_base_url", "image_base_url"):
            value = getattr(self, name)
            if value is not None and not replica_urls(value):
                raise ValueError(f"{name} must hold at least one URL.")
        for name in ("caption_extra_body", "image_extra_body"):
            extra_body(getattr(self, name), name)  # refuses anything but a JSON object
        if self.image_size is not None:
            parse_size(self.image_size, "image_size")

    # -- the two halves ------------------------------------------------------------------------
    @property
    def caption_urls(self) -> list[str]:
        return replica_urls(self.caption_base_url or self.base_url)

    @property
    def image_urls(self) -> list[str]:
        return replica_urls(self.image_base_url or self.base_url)

    @property
    def caption_key_env(self) -> str:
        return self.caption_api_key_env or self.api_key_env

    @property
    def image_key_env(self) -> str:
        return self.image_api_key_env or self.api_key_env

    @property
    def caption_engine_name(self) -> str:
        return self.caption_engine or self.engine

    @property
    def image_engine_name(self) -> str:
        return self.image_engine or self.engine

    @property
    def caption_extra(self) -> dict[str, Any]:
        return extra_body(self.caption_extra_body, "caption_extra_body")

    @property
    def image_extra(self) -> dict[str, Any]:
        return extra_body(self.image_extra_body, "image_extra_body")


def replica_urls(text: str) -> list[str]:
    """The comma-separated URLs of ``text``, each without a trailing slash."""
    return [url.strip().rstrip("/") for url in text.split(",") if url.strip()]


def extra_body(text: str | None, name: str) -> dict[str, Any]:
    """The JSON object in ``text`` (``{}`` for none); ``ValueError`` naming ``name`` otherwise."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{name} is not JSON ({error.msg} at character {error.pos}).") from None
    if not isinstance(value, dict):
        raise ValueError(f'{name} must be a JSON object, e.g. {{"min_p": 0.05}}.')
    return value


def parse_size(text: str, name: str) -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` as ``(width, height)``; the ``ValueError`` names the setting."""
    try:
        return parse_image_size(text)
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None
