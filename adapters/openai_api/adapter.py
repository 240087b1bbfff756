"""OpenAI-compatible servers as an adapter: chat completions caption the image, images API draws it.

The servers are OpenAI itself or serving engines (vLLM, vLLM-Omni, SGLang), one for each half or one
for both, each possibly several replicas (``servers.py``). Every setting the protocol fixes goes into
each request explicitly, in the fields the engine documents (``engines.py``), the per-sample seed
included. Every finished response is kept in the cache, keyed by the request body (the reference
image by its hash), the sample seed and the served model, never by the key or the replica; so a
failed batch costs nothing twice, and the same command resumes.

``GET /v1/models`` says which model each server runs; it goes into ``adapter.json`` and into the
run's ``adapter_source``, so resuming against a server that now runs another model is refused.

The API keys are read from the environment variables named by ``*api_key_env`` and are never
written: not to ``info()``, the run folder, the cache or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from unified_bench.adapter import AdapterOptions, config_from_args
from unified_bench.errors import UserError
from unified_bench.images import decode_image, png_bytes, reference_rgb
from unified_bench.io import atomic_write_bytes
from unified_bench.loading import require_package
from unified_bench.paths import cache_dir
from unified_bench_adapters.openai_api.config import OpenAIAPIConfig, replica_urls
from unified_bench_adapters.openai_api.engines import (
    CAPTION_PATH,
    ENGINES,
    caption_body,
    caption_not_sent,
    check_engines,
    image_request,
    read_caption_answer,
    read_image_answer,
)
from unified_bench_adapters.openai_api.servers import (
    APIRequestError,
    ReplicaPool,
    describe,
    public_url,
)

T = TypeVar("T")
CACHE_VERSION = "2"  # keys hold the request body and the served model


class MissingCredentialsError(UserError):
    """The environment variable that should hold the API key is unset or empty."""


def _key(env: str) -> str:
    key = os.environ.get(env, "").strip()
    if not key:
        raise MissingCredentialsError(
            f"openai-api: no API key in ${env}; export it (servers without auth accept any value) or name "
            "another variable with --adapter-arg api_key_env=NAME. The key is read from the environment "
            "only and never written."
        )
    return key


class _Probe:
    """``determinism_probe=K``: the first K samples of each half are requested again, uncached."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self._lock = threading.Lock()
        self._checked: dict[str, list[dict[str, Any]]] = {"captions": [], "images": []}
        self._claimed = {"captions": 0, "images": 0}

    def check(self, half: str, seed: int, kept: bytes, again: Callable[[], bytes]) -> None:
        with self._lock:
            if self._claimed[half] >= self.samples:
                return
            self._claimed[half] += 1
        identical = again() == kept
        with self._lock:
            self._checked[half].append({"sample_seed": seed, "identical": identical})

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "samples": self.samples,
                **{
                    half: {
                        "checked": len(rows),
                        "identical": sum(row["identical"] for row in rows),
                        "rows": sorted(rows, key=lambda row: row["sample_seed"]),
                    }
                    for half, rows in self._checked.items()
                },
            }


class OpenAIAPIAdapter:
    """``caption`` via chat completions (the image first), ``generate`` via images API or chat."""

    name = "openai-api"

    def __init__(self, config: OpenAIAPIConfig) -> None:
        openai = require_package("openai", purpose="the openai-api adapter", extra="api")
        self.config, self._openai = config, openai
        self._warnings = check_engines(config)
        self._not_sent = caption_not_sent(config)
        self._captions, self._images = connect(openai, config)
        caption_served, self._caption_replicas = served(
            self._captions, config.caption_model, config.caption_engine_name
        )
        image_served, self._image_replicas = served(
            self._images, config.image_model, config.image_engine_name
        )
        self._served = {"caption": caption_served, "image": image_served}
        self._cache: Path | None = cache_dir("openai-api", f"v{CACHE_VERSION}") if config.cache else None
        self._probe = _Probe(config.determinism_probe) if config.determinism_probe else None

    # -- plumbing ----------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        for pool in (self._captions, self._images):
            key = pool.replicas[0].client.api_key
            text = text.replace(key, "***") if key else text
        return text

    def _explain(self, error: Exception, role: str) -> UserError:
        """One line for a request that failed for good (after the retries)."""
        openai = self._openai
        pool = self._captions if role == "caption" else self._images
        where = ", ".join(pool.public_urls)
        env = self.config.caption_key_env if role == "caption" else self.config.image_key_env
        detail = self._redact(describe(error))
        if isinstance(error, openai.AuthenticationError):
            return APIRequestError(f"openai-api: {where} rejected the key in ${env} (401); check it.")
        if isinstance(error, openai.PermissionDeniedError):
            return APIRequestError(f"openai-api: {where} denied access (403: {detail}).")
        if isinstance(error, openai.NotFoundError):
            return APIRequestError(
                f"openai-api: {where} has no such model or endpoint (404: {detail}); check the "
                f"{role} server URL and {role}_model."
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

    def _run_all(self, calls: list[Callable[[], T]], role: str) -> list[T]:
        """Run the calls ``concurrency`` at a time; all finish (and are cached) before any error is raised."""
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(calls))) as pool:
            futures = [pool.submit(call) for call in calls]
            outcomes = [
                (future.result() if future.exception() is None else future.exception()) for future in futures
            ]
        failures = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        if failures:
            raise self._explain(failures[0], role) from None
        return outcomes  # type: ignore[return-value]

    # -- I2T ---------------------------------------------------------------------------------------
    def _caption_one(self, image: Image.Image, seed: int) -> str:
        image = reference_rgb(image)  # transparent pixels on white, as every adapter sends them
        limit = self.config.max_image_side
        if limit is not None and max(image.size) > limit:
            image = image.copy()
            image.thumbnail((limit, limit), Image.Resampling.LANCZOS)
        png = png_bytes(image)
        key = {
            "api": CAPTION_PATH,
            "served": self._served["caption"],
            "body": caption_body(self.config, "sha256:" + hashlib.sha256(png).hexdigest(), seed),
            "sample_seed": seed,
        }
        body = caption_body(self.config, "data:image/png;base64," + base64.b64encode(png).decode(), seed)

        def fetch() -> bytes:
            answer = self._captions.call(
                lambda replica: replica.client.post(CAPTION_PATH, cast_to=object, body=body), self._openai
            )
            text = read_caption_answer(answer)
            if text is None:
                raise APIRequestError(
                    f"openai-api: {', '.join(self._captions.public_urls)} answered with no choices."
                )
            return text.encode("utf-8")

        kept = self._cached(key, ".txt", fetch)
        if self._probe is not None:
            self._probe.check("captions", seed, kept, fetch)
        return kept.decode("utf-8")

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        return self._run_all(
            [
                lambda image=image, seed=seed: self._caption_one(image, seed)
                for image, seed in zip(images, seeds, strict=True)
            ],
            "caption",
        )

    # -- T2I ---------------------------------------------------------------------------------------
    def _draw_one(self, prompt: str, seed: int, size: tuple[int, int] | None) -> Image.Image:
        path, body = image_request(self.config, prompt, seed, size)
        key = {"api": path, "served": self._served["image"], "body": body, "sample_seed": seed}

        def attempt(replica: Any) -> bytes:
            answer = replica.client.post(path, cast_to=object, body=body)
            found = read_image_answer(answer, path)
            if found is None:
                raise APIRequestError(
                    f"openai-api: {public_url(replica.url)} returned no image (no b64_json, no url, no "
                    "image_url part)."
                )
            if found.data is not None:
                return found.data
            return self._images.fetch(replica, found.url or "", self.config.timeout)

        def fetch() -> bytes:
            return self._images.call(attempt, self._openai)

        data = self._cached(key, ".img", fetch)
        if self._probe is not None:
            self._probe.check("images", seed, data, fetch)
        return decode_image(data, f"{', '.join(self._images.public_urls)} image for seed {seed}")

    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        return self._run_all(
            [
                lambda prompt=prompt, seed=seed: self._draw_one(prompt, seed, size)
                for prompt, seed in zip(prompts, seeds, strict=True)
            ],
            "image",
        )

    # -- provenance --------------------------------------------------------------------------------
    def _half_info(self, role: str, engine: str, model: str) -> dict[str, Any]:
        pool, replicas = (
            (self._captions, self._caption_replicas)
            if role == "caption"
            else (self._images, self._image_replicas)
        )
        return {
            "engine": engine,
            "servers": pool.public_urls,
            "model": model,
            "served_models": self._served[role],
            "replicas": replicas,
        }

    def info(self) -> dict[str, Any]:
        """Servers, served models, the request bodies sent (per-sample values named) and every setting."""
        config = self.config
        caption_template = caption_body(config, "<the reference image, PNG data URL>", 0)
        image_path, image_template = image_request(config, "<the caption>", 0, None)
        for template in (caption_template, image_template):
            if "seed" in template:
                template["seed"] = "<the sample's seed mod 2**31>"
        settings = asdict(config)
        for name in ("base_url", "caption_base_url", "image_base_url"):
            if settings[name]:
                settings[name] = ",".join(public_url(url) for url in replica_urls(settings[name]))
        info: dict[str, Any] = {
            "adapter": self.name,
            "client": f"openai {self._openai.__version__}",
            "caption": {
                **self._half_info("caption", config.caption_engine_name, config.caption_model),
                "request": {"path": CAPTION_PATH, "body": caption_template},
                "not_sent": self._not_sent,
            },
            "image": {
                **self._half_info("image", config.image_engine_name, config.image_model),
                "api": config.image_api,
                "request": {"path": image_path, "body": image_template},
            },
            "settings": settings,
            "warnings": list(self._warnings),
        }
        if self._probe is not None:
            info["determinism_probe"] = self._probe.report()
        return info


def connect(openai: Any, config: OpenAIAPIConfig) -> tuple[ReplicaPool, ReplicaPool]:
    """The caption and image replica pools (a missing key is refused before any request)."""
    pools = []
    for role, urls, env in (
        ("caption", config.caption_urls, config.caption_key_env),
        ("image", config.image_urls, config.image_key_env),
    ):
        pools.append(
            ReplicaPool.connect(
                openai,
                role,
                urls,
                _key(env),
                timeout=config.timeout,
                max_retries=config.max_retries,
                policy=config.replica_policy,
            )
        )
    return pools[0], pools[1]


def served(pool: ReplicaPool, model: str, engine: str) -> tuple[dict[str, Any] | list[str], list[dict]]:
    """``(identity, per-replica records)``: the identity keys the cache and the run's adapter_source,
    ``GET /v1/models``' record of ``model`` (the same on every replica that answers), or the servers'
    URLs when they do not list it."""
    records = pool.served_models(model, listed_only=engine != "openai")
    listed = next((record["model"] for record in records if record.get("model")), None)
    return listed or pool.public_urls, records


def served_models_fingerprint_of(config: OpenAIAPIConfig) -> str:
    """What the servers run, as the run's ``adapter_source``: resume is refused when it changes."""
    openai = require_package("openai", purpose="the openai-api adapter", extra="api")
    check_engines(config)  # settings the engines cannot honour are refused before any request
    captions, images = connect(openai, config)
    identity = {
        "caption": served(captions, config.caption_model, config.caption_engine_name)[0],
        "image": served(images, config.image_model, config.image_engine_name)[0],
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    names = {
        half: value.get("root") or value.get("id") if isinstance(value, dict) else "unlisted"
        for half, value in identity.items()
    }
    return f"served models {digest} (caption: {names['caption']}; image: {names['image']})"


def served_models_fingerprint(options: AdapterOptions) -> str:
    return served_models_fingerprint_of(config_from_args(OpenAIAPIConfig, options.args))


def build_openai_api(options: AdapterOptions) -> OpenAIAPIAdapter:
    return OpenAIAPIAdapter(config_from_args(OpenAIAPIConfig, options.args))


__all__ = ["ENGINES", "APIRequestError", "MissingCredentialsError", "OpenAIAPIAdapter", "public_url"]
