"""What each serving engine accepts, and the request bodies built from the settings for it.

The bodies are exactly what goes on the wire (and into the cache key and ``adapter.json``): every
setting the protocol fixes is sent explicitly, so the server's defaults (vLLM applies a checkpoint's
``generation_config``; diffusion servers pick their own steps and guidance) never decide an output.
The field names follow each engine's documented request schema:

- OpenAI: chat completions (``temperature``, ``top_p``, ``seed``, ``max_completion_tokens``) and
  images (``size``, ``quality``, ``response_format``; no seed, steps or guidance).
- vLLM: chat completions plus its sampling extensions ``top_k``, ``repetition_penalty``.
- vLLM-Omni: vLLM's chat (with ``modalities``) and ``/v1/images/generations`` with ``size``,
  ``response_format`` (b64_json|file), ``negative_prompt``, ``num_inference_steps``,
  ``guidance_scale``, ``true_cfg_scale``, ``seed``; images from chat as ``content[].image_url``.
- SGLang: chat as vLLM; ``ImageGenerationsRequest`` with ``width``/``height``, ``output_format``,
  the same diffusion fields, and ``response_format`` defaulting to a server-relative ``url``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from unified_bench.errors import UserError
from unified_bench_adapters.openai_api.config import OpenAIAPIConfig, parse_size

CAPTION_PATH = "/chat/completions"
IMAGES_PATH = "/images/generations"
DIFFUSION_FIELDS = ("num_inference_steps", "guidance_scale", "true_cfg_scale", "negative_prompt")
SEED_BOUND = 2**31  # engines take a non-negative 32-bit seed


class EngineSettingError(UserError):
    """A setting the chosen engine does not accept (it would be ignored or refused)."""


@dataclass(frozen=True)
class Engine:
    """The request schema of one serving engine, as far as the round trip uses it."""

    name: str
    caption_sampling: tuple[str, ...]  # sampling fields beyond OpenAI's chat schema that it honours
    caption_fields: tuple[tuple[str, Any], ...] = ()  # fixed fields of its caption requests
    image_apis: tuple[str, ...] = ()  # "images" (/v1/images/generations), "chat"
    diffusion_fields: tuple[str, ...] = ()  # which of DIFFUSION_FIELDS its image requests take
    seeds_images: bool = False
    size_fields: str = "size"  # "size" (WxH) or "width_height" (both, and size)
    response_format: str | None = None  # what it is asked for, unless response_format is set
    output_format: str | None = None


ENGINES: dict[str, Engine] = {
    "openai": Engine("openai", caption_sampling=(), image_apis=("images",)),
    "vllm": Engine("vllm", caption_sampling=("top_k", "repetition_penalty")),
    "vllm-omni": Engine(
        "vllm-omni",
        caption_sampling=("top_k", "repetition_penalty"),
        caption_fields=(("modalities", ["text"]),),
        image_apis=("images", "chat"),
        diffusion_fields=DIFFUSION_FIELDS,
        seeds_images=True,
        response_format="b64_json",
    ),
    "sglang": Engine(
        "sglang",
        caption_sampling=("top_k", "repetition_penalty"),
        image_apis=("images",),
        diffusion_fields=DIFFUSION_FIELDS,
        seeds_images=True,
        size_fields="width_height",
        response_format="b64_json",
        output_format="png",
    ),
}


def check_engines(config: OpenAIAPIConfig) -> list[str]:
    """Refuse settings the chosen engines cannot honour; return warnings about what they cannot do."""
    image_engine = ENGINES[config.image_engine_name]
    if config.image_api not in image_engine.image_apis:
        offered = " or ".join(image_engine.image_apis) or "no image generation"
        raise EngineSettingError(
            f"openai-api: image_engine {image_engine.name} offers {offered} (image_api={config.image_api}); "
            "serve the generator with vllm-omni or sglang and set image_engine accordingly."
        )
    unsupported = [
        name
        for name in DIFFUSION_FIELDS
        if diffusion_setting(config, name) is not None and name not in image_engine.diffusion_fields
    ]
    if unsupported:
        raise EngineSettingError(
            f"openai-api: engine {image_engine.name} takes no {', '.join(unsupported)} in image requests; "
            "unset them or choose image_engine=vllm-omni or sglang."
        )
    if config.image_quality is not None and image_engine.name != "openai":
        raise EngineSettingError(
            f"openai-api: image_quality is an OpenAI images setting; engine {image_engine.name} has none."
        )
    warnings = []
    if not (image_engine.seeds_images and config.send_seed):
        warnings.append(
            f"images are not seeded ({image_engine.name if config.send_seed else 'send_seed=false'}): "
            "a rerun draws other images; finished ones are kept."
        )
    return warnings


def caption_not_sent(config: OpenAIAPIConfig) -> list[str]:
    """Protocol sampling settings the caption engine has no field for (recorded, never sent)."""
    engine = ENGINES[config.caption_engine_name]
    return [
        name
        for name in ("top_k", "repetition_penalty")
        if name not in engine.caption_sampling and getattr(config, f"caption_{name}") is not None
    ]


def diffusion_setting(config: OpenAIAPIConfig, name: str) -> Any:
    """The value of one of DIFFUSION_FIELDS to send, ``None`` for not sent (an empty negative prompt)."""
    value = getattr(config, name)
    return None if name == "negative_prompt" and value == "" else value


def request_seed(seed: int) -> int:
    return seed % SEED_BOUND


def caption_body(config: OpenAIAPIConfig, image_url: str, seed: int | None) -> dict[str, Any]:
    """The chat-completions body captioning one image: the image first, then the instruction."""
    engine = ENGINES[config.caption_engine_name]
    body: dict[str, Any] = {
        "model": config.caption_model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image_url}},
                    {"type": "text", "text": config.caption_prompt},
                ],
            }
        ],
        "max_completion_tokens": config.caption_max_tokens,
    }
    sampling = {"temperature": config.caption_temperature, "top_p": config.caption_top_p}
    sampling |= {name: getattr(config, f"caption_{name}") for name in engine.caption_sampling}
    body |= {name: value for name, value in sampling.items() if value is not None}
    if config.send_seed and seed is not None:
        body["seed"] = request_seed(seed)
    body |= dict(engine.caption_fields)
    return body | config.caption_extra


def image_size(config: OpenAIAPIConfig, size: tuple[int, int] | None) -> tuple[int, int] | None:
    """``--size`` if given, else ``image_size``; ``None``: the server's default."""
    if size is not None:
        return size
    return parse_size(config.image_size, "image_size") if config.image_size else None


def image_request(
    config: OpenAIAPIConfig, prompt: str, seed: int | None, size: tuple[int, int] | None
) -> tuple[str, dict[str, Any]]:
    """``(path, body)`` of the request drawing ``prompt``: the images API or a chat completion."""
    engine = ENGINES[config.image_engine_name]
    dimensions = image_size(config, size)
    settings: dict[str, Any] = {name: diffusion_setting(config, name) for name in engine.diffusion_fields}
    if engine.seeds_images and config.send_seed and seed is not None:
        settings["seed"] = request_seed(seed)
    if config.image_api == "chat":  # vLLM-Omni: the diffusion fields sit at the top level
        body: dict[str, Any] = {
            "model": config.image_model,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
            "modalities": ["image"],
        }
        if dimensions:
            body |= {"width": dimensions[0], "height": dimensions[1]}
        body |= {name: value for name, value in settings.items() if value is not None}
        return CAPTION_PATH, body | config.image_extra
    body = {"model": config.image_model, "prompt": prompt, "n": 1}
    if dimensions:
        body["size"] = f"{dimensions[0]}x{dimensions[1]}"
        if engine.size_fields == "width_height":
            body |= {"width": dimensions[0], "height": dimensions[1]}
    optional = {
        "quality": config.image_quality,
        "response_format": config.response_format or engine.response_format,
        "output_format": engine.output_format,
        **settings,
    }
    body |= {name: value for name, value in optional.items() if value is not None}
    return IMAGES_PATH, body | config.image_extra


@dataclass(frozen=True)
class ImageAnswer:
    """The image in a response: its bytes, or a URL to fetch (absolute or server-relative)."""

    data: bytes | None = None
    url: str | None = None


def read_image_answer(answer: Any, path: str) -> ImageAnswer | None:
    """The first image in an images-API or chat-completion response, or ``None`` if it holds none."""
    if not isinstance(answer, dict):
        return None
    if path == IMAGES_PATH:
        items = answer.get("data") or []
        item = items[0] if items and isinstance(items[0], dict) else {}
        if item.get("b64_json"):
            return ImageAnswer(data=base64.b64decode(item["b64_json"]))
        return _from_url(item.get("url"))
    choices = answer.get("choices") or []
    content = (choices[0].get("message") or {}).get("content") if choices else None
    if isinstance(content, str):
        return _from_url(content.strip()) if content.strip().startswith("data:image/") else None
    for part in content or []:
        if isinstance(part, dict) and part.get("type") == "image_url":
            return _from_url((part.get("image_url") or {}).get("url"))
    return None


def _from_url(url: Any) -> ImageAnswer | None:
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("data:"):
        return ImageAnswer(data=base64.b64decode(url.split(",", 1)[1]))
    return ImageAnswer(url=url)


def read_caption_answer(answer: Any) -> str | None:
    """The text of a chat-completion response (parts joined when the content is a list)."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not choices:
        return None
    content = (choices[0].get("message") or {}).get("content")
    if isinstance(content, list):
        content = "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return (content or "").strip()
