"""Any OpenAI-compatible endpoint: chat completions caption the image, the images API draws the caption.

Requests go through the official ``openai`` client, which retries 408/409/429/5xx and timeouts with
exponential backoff (honouring ``Retry-After``), up to ``max_retries`` times, each attempt bounded by
``timeout`` seconds. A batch runs ``concurrency`` requests at a time. Every finished response is kept
in the cache (keyed by endpoint, model, request and sample seed, never by the key), so when a request
fails for good the rest of its batch is not paid for again: the run stops with one line, and the same
command resumes (finished samples from the run store, finished requests from the cache).

The API key is read from the environment variable named by ``api_key_env`` and is never written:
not to ``info()``, the run folder, the cache or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from PIL import Image

from unified_bench.adapter import AdapterOptions, config_from_args
from unified_bench.errors import UserError
from unified_bench.images import decode_image, png_bytes
from unified_bench.io import atomic_write_bytes
from unified_bench.loading import require_package
from unified_bench.paths import cache_dir
from unified_bench.prompts import CAPTION_MAX_NEW_TOKENS, CAPTION_PROMPT, CAPTION_TEMPERATURE

T = TypeVar("T")


class MissingCredentialsError(UserError):
    """The environment variable that should hold the API key is unset or empty."""


class APIRequestError(UserError):
    """The endpoint refused a request, or kept failing after every retry."""


@dataclass(frozen=True)
class OpenAIAPIConfig:
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    base_url: str = "https://api.openai.com/v1"
    caption_model: str = "gpt-4o"
    image_model: str = "gpt-image-1"
    api_key_env: str = "OPENAI_API_KEY"  # the variable's name; the key itself is never an argument
    caption_prompt: str = CAPTION_PROMPT
    caption_max_tokens: int = CAPTION_MAX_NEW_TOKENS  # sent as max_completion_tokens
    caption_image_max_side: int | None = 1024  # larger references are downscaled before upload; None = never
    caption_temperature: float | None = CAPTION_TEMPERATURE  # None: not sent (models that reject it)
    send_seed: bool = True  # chat completions "seed" (best effort on the server side)
    image_size: str | None = "1024x1024"  # --size wins; None: the server's default
    image_quality: str | None = None
    response_format: str | None = None  # e.g. b64_json for dall-e-3; gpt-image-1 always answers base64
    concurrency: int = 4  # requests in flight at once (within one --batch-size batch)
    timeout: float = 120.0  # seconds per attempt
    max_retries: int = 6  # per request, on 408/409/429/5xx, connection errors and timeouts
    cache: bool = True  # keep finished responses so a failed batch never pays twice

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1.")
        if self.caption_image_max_side is not None and self.caption_image_max_side < 16:
            raise ValueError("caption_image_max_side must be >= 16 pixels (or none).")
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0 seconds.")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0.")
        if not self.api_key_env:
            raise ValueError("api_key_env must name an environment variable.")


def public_url(url: str) -> str:
    """``url`` without any user:password part (safe to record)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class OpenAIAPIAdapter:
    """``caption`` via chat completions with the image inline, ``generate`` via the images API."""

    name = "openai-api"

    def __init__(self, config: OpenAIAPIConfig) -> None:
        openai = require_package("openai", purpose="the openai-api adapter", extra="api")
        self.config = config
        key = os.environ.get(config.api_key_env, "").strip()
        if not key:
            raise MissingCredentialsError(
                f"openai-api: no API key in ${config.api_key_env}; export it (servers without auth accept "
                "any value) or name another variable with --adapter-arg api_key_env=NAME. The key is read "
                "from the environment only and never written."
            )
        self._openai = openai
        self._client = openai.OpenAI(
            api_key=key, base_url=config.base_url, timeout=config.timeout, max_retries=config.max_retries
        )
        endpoint = hashlib.sha256(public_url(config.base_url).encode()).hexdigest()[:16]
        self._cache: Path | None = cache_dir("openai-api", endpoint) if config.cache else None

    # -- plumbing ----------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        key = self._client.api_key
        return text.replace(key, "***") if key else text

    def _explain(self, error: Exception) -> UserError:
        """One line for a request that failed for good (after the client's retries)."""
        openai, where = self._openai, public_url(self.config.base_url)
        detail = self._redact(
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        if isinstance(error, openai.AuthenticationError):
            return APIRequestError(
                f"openai-api: {where} rejected the key in ${self.config.api_key_env} (401); check it."
            )
        if isinstance(error, openai.PermissionDeniedError):
            return APIRequestError(f"openai-api: {where} denied access (403: {detail}).")
        if isinstance(error, openai.NotFoundError):
            return APIRequestError(
                f"openai-api: {where} has no such model or endpoint (404: {detail}); check base_url, "
                "caption_model and image_model."
            )
        if isinstance(error, (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)):
            return APIRequestError(
                f"openai-api: {where} kept failing after {self.config.max_retries} retries ({detail}); "
                "finished samples are saved: rerun the same command to resume."
            )
        if isinstance(error, openai.APIStatusError):
            return APIRequestError(
                f"openai-api: {where} refused the request ({error.status_code}: {detail})."
            )
        if isinstance(error, UserError):
            return error
        return APIRequestError(
            f"openai-api: unexpected answer from {where} ({type(error).__name__}: {detail})."
        )

    def _cached(self, key: dict[str, Any], suffix: str, fetch: Callable[[], bytes]) -> bytes:
        """``fetch()`` once per request key; the bytes are kept in the cache when it is on."""
        if self._cache is None:
            return fetch()
        name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        path = self._cache / f"{name}{suffix}"
        if path.exists():
            return path.read_bytes()
        data = fetch()
        atomic_write_bytes(path, data)
        return data

    def _run_all(self, calls: list[Callable[[], T]]) -> list[T]:
        """Run the calls ``concurrency`` at a time; all finish (and are cached) before any error is raised."""
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(calls))) as pool:
            futures = [pool.submit(call) for call in calls]
            outcomes = [
                (future.result() if future.exception() is None else future.exception()) for future in futures
            ]
        failures = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        if failures:
            raise self._explain(failures[0]) from None
        return outcomes  # type: ignore[return-value]

    # -- I2T ---------------------------------------------------------------------------------------
    def _caption_one(self, image: Image.Image, seed: int) -> str:
        limit = self.config.caption_image_max_side
        if limit is not None and max(image.size) > limit:
            image = image.copy()
            image.thumbnail((limit, limit), Image.Resampling.LANCZOS)
        png = png_bytes(image)
        request: dict[str, Any] = {
            "model": self.config.caption_model,
            "max_completion_tokens": self.config.caption_max_tokens,
        }
        if self.config.caption_temperature is not None:
            request["temperature"] = self.config.caption_temperature
        if self.config.send_seed:
            request["seed"] = seed % 2**31
        key = {
            "api": "chat.completions",
            "endpoint": public_url(self.config.base_url),
            "prompt": self.config.caption_prompt,
            "image_sha256": hashlib.sha256(png).hexdigest(),
            "sample_seed": seed,
            **request,
        }

        def fetch() -> bytes:
            messages = [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": self.config.caption_prompt},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()},
                        },
                    ],
                }
            ]
            response = self._client.chat.completions.create(messages=messages, **request)
            if not response.choices:
                raise APIRequestError(
                    f"openai-api: {public_url(self.config.base_url)} answered with no choices."
                )
            return (response.choices[0].message.content or "").strip().encode("utf-8")

        return self._cached(key, ".txt", fetch).decode("utf-8")

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        return self._run_all(
            [
                lambda image=image, seed=seed: self._caption_one(image, seed)
                for image, seed in zip(images, seeds, strict=True)
            ]
        )

    # -- T2I ---------------------------------------------------------------------------------------
    def _draw_one(self, prompt: str, seed: int, size: tuple[int, int] | None) -> Image.Image:
        request: dict[str, Any] = {"model": self.config.image_model, "prompt": prompt, "n": 1}
        image_size = f"{size[0]}x{size[1]}" if size else self.config.image_size
        optional = {
            "size": image_size,
            "quality": self.config.image_quality,
            "response_format": self.config.response_format,
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        key = {
            "api": "images.generate",
            "endpoint": public_url(self.config.base_url),
            "sample_seed": seed,
            **request,
        }

        def fetch() -> bytes:
            response = self._client.images.generate(**request)
            item = response.data[0] if response.data else None
            if item is not None and item.b64_json:
                return base64.b64decode(item.b64_json)
            if item is not None and item.url and item.url.startswith(("https://", "http://")):
                with urllib.request.urlopen(item.url, timeout=self.config.timeout) as answer:
                    return answer.read()
            raise APIRequestError(
                f"openai-api: {public_url(self.config.base_url)} returned no image (no b64_json, no url)."
            )

        data = self._cached(key, ".img", fetch)
        return decode_image(data, f"{public_url(self.config.base_url)} image for seed {seed}")

    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        return self._run_all(
            [
                lambda prompt=prompt, seed=seed: self._draw_one(prompt, seed, size)
                for prompt, seed in zip(prompts, seeds, strict=True)
            ]
        )

    def info(self) -> dict[str, Any]:
        settings = asdict(self.config)
        settings["base_url"] = public_url(self.config.base_url)
        return {
            "adapter": self.name,
            "endpoint": settings["base_url"],
            "caption_model": self.config.caption_model,
            "image_model": self.config.image_model,
            "client": f"openai {self._openai.__version__}",
            "settings": settings,
        }


def build_openai_api(options: AdapterOptions) -> OpenAIAPIAdapter:
    return OpenAIAPIAdapter(config_from_args(OpenAIAPIConfig, options.args))
