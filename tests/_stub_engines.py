"""Local stand-ins for serving engines (OpenAI, vLLM, vLLM-Omni, SGLang) on 127.0.0.1, for the tests.

Each stub enforces the request schema its engine documents for the endpoints the round trip uses
(a missing required field answers 400, or 422 where vLLM-Omni's FastAPI validation does; a wrong
type answers 400). Where the real engines *ignore* an unknown field (vLLM logs "fields were present
in the request but ignored", vLLM-Omni documents that unsupported parameters "may be silently
ignored", SGLang's image request allows extras), the stub answers 400 instead: a field the engine
would ignore is a setting that silently does not apply, which is what the tests must catch.

Outputs are functions of what the request asks for, as an engine's would be: a caption names the
image's mean colour, the effective sampling (the request's values over the model's
``generation_config``, as vLLM applies it) and a word drawn with the request's seed; an image is
noise drawn with the seed, tinted by the prompt's first three numbers. A request without a seed
draws from fresh entropy, so an unseeded rerun differs, as it would on a real server.

Every stub is a context manager: it serves on an ephemeral port until the ``with`` block ends.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

NUMBER = (int, float)
TEXT, LIST, INT, FLAG, OBJECT = (str,), (list,), (int,), (bool,), (dict,)


@dataclass(frozen=True)
class Schema:
    """The fields one endpoint of one engine accepts: name -> accepted JSON types."""

    required: dict[str, tuple[type, ...]]
    optional: dict[str, tuple[type, ...]]
    missing_status: int = 400  # FastAPI request validation answers 422

    def problems(self, body: Any) -> tuple[int, str] | None:
        if not isinstance(body, dict):
            return 400, "body is not a JSON object"
        missing = sorted(set(self.required) - set(body))
        if missing:
            return self.missing_status, f"field required: {', '.join(missing)}"
        known = {**self.required, **self.optional}
        unknown = sorted(set(body) - set(known))
        if unknown:
            return 400, f"unknown fields (the engine would ignore them): {', '.join(unknown)}"
        for name, value in body.items():
            types = known[name]
            if value is None or (isinstance(value, bool) and bool not in types):
                return 400, f"{name}: invalid type {type(value).__name__}"
            if not isinstance(value, types):
                return 400, f"{name}: invalid type {type(value).__name__}"
        return None


_CHAT_OPENAI = {
    "max_completion_tokens": INT,
    "max_tokens": INT,
    "temperature": NUMBER,
    "top_p": NUMBER,
    "seed": INT,
    "n": INT,
    "stop": (str, list),
    "frequency_penalty": NUMBER,
    "presence_penalty": NUMBER,
    "user": TEXT,
    "stream": FLAG,
}
_CHAT_VLLM = {**_CHAT_OPENAI, "model": TEXT, "top_k": INT, "min_p": NUMBER, "repetition_penalty": NUMBER}
_DIFFUSION = {
    "negative_prompt": TEXT,
    "num_inference_steps": INT,
    "guidance_scale": NUMBER,
    "true_cfg_scale": NUMBER,
    "seed": INT,
}
_IMAGES_OPENAI = {
    "model": TEXT,
    "n": INT,
    "size": TEXT,
    "quality": TEXT,
    "response_format": TEXT,
    "output_format": TEXT,
    "background": TEXT,
    "style": TEXT,
    "user": TEXT,
}
SCHEMAS: dict[tuple[str, str], Schema] = {
    ("openai", "chat"): Schema({"model": TEXT, "messages": LIST}, _CHAT_OPENAI),
    ("openai", "images"): Schema({"model": TEXT, "prompt": TEXT}, {k: v for k, v in _IMAGES_OPENAI.items()}),
    ("vllm", "chat"): Schema({"messages": LIST}, _CHAT_VLLM),
    ("vllm-omni", "chat"): Schema(
        {"messages": LIST},
        {
            **_CHAT_VLLM,
            **_DIFFUSION,
            "modalities": LIST,
            "height": INT,
            "width": INT,
            "size": TEXT,
            "num_outputs_per_prompt": INT,
        },
    ),
    ("vllm-omni", "images"): Schema(
        {"prompt": TEXT},
        {"model": TEXT, "n": INT, "size": TEXT, "response_format": TEXT, "user": TEXT, **_DIFFUSION},
        missing_status=422,
    ),
    ("sglang", "chat"): Schema({"messages": LIST}, _CHAT_VLLM),
    ("sglang", "images"): Schema(
        {"prompt": TEXT},
        {
            **_IMAGES_OPENAI,
            **_DIFFUSION,
            "width": INT,
            "height": INT,
            "generator_device": TEXT,
            "output_quality": TEXT,
            "output_compression": INT,
        },
    ),
}
# A Qwen2.5-VL copy's generation_config as vLLM applies it to fields a request leaves out.
GREEDY_GENERATION_CONFIG = {"temperature": 0.1, "top_p": 0.001, "top_k": 1, "repetition_penalty": 1.05}
WORDS = ("amber", "birch", "cobalt", "dune", "ember", "fjord", "garnet", "heath", "iris", "jade")


@dataclass
class StubEngine:
    """One engine serving one model; ``requests`` lists every (path, body) it answered 200 to."""

    engine: str
    model: str
    key: str
    root: str | None = None  # what GET /v1/models reports as the weights the model was loaded from
    revision: str | None = None
    generation_config: dict[str, Any] = field(default_factory=lambda: dict(GREEDY_GENERATION_CONFIG))
    deterministic: bool = True  # False: outputs also depend on a per-request counter
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    _counter: Any = field(default_factory=itertools.count)
    _files: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> StubEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def bodies(self, path_end: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for path, body in self.requests if path.endswith(path_end)]

    # -- answers -----------------------------------------------------------------------------------
    def models(self) -> dict[str, Any]:
        card = {"id": self.model, "object": "model", "created": next(self._counter), "owned_by": self.engine}
        card |= {"root": self.root or self.model, "parent": None, "max_model_len": 32768}
        if self.revision:
            card["revision"] = self.revision
        return {"object": "list", "data": [card]}

    def _rng(self, request: dict[str, Any], *parts: Any) -> np.random.Generator:
        if "seed" not in request:
            return np.random.default_rng()  # fresh entropy: an unseeded draw
        extra = () if self.deterministic else (next(self._counter),)
        digest = hashlib.sha256(json.dumps([request["seed"], *parts, *extra]).encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def caption(self, request: dict[str, Any]) -> str:
        parts = request["messages"][0]["content"]
        if not isinstance(parts, list) or parts[0].get("type") != "image_url":
            raise StubError(400, "the stub expects the image first, then the instruction")
        url = parts[0]["image_url"]["url"]
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
        colour = tuple(
            int(v) for v in np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0).round()
        )
        sampling = {
            **self.generation_config,
            **{k: request[k] for k in GREEDY_GENERATION_CONFIG if k in request},
        }
        word = WORDS[0] if sampling["top_k"] == 1 else str(self._rng(request, colour).choice(WORDS))
        settings = " ".join(f"{k}={sampling[k]}" for k in sorted(sampling))
        size = f"{image.size[0]}x{image.size[1]}"
        return f"a photo {size} coloured {colour[0]} {colour[1]} {colour[2]} {word} ({settings})"

    def draw(self, request: dict[str, Any], width: int, height: int) -> bytes:
        numbers = [int(v) for v in re.findall(r"\d+", request.get("prompt") or _chat_text(request))[:3]]
        tint = np.array([*numbers, 128, 128, 128][:3], dtype=np.float64)
        settings = [request.get(k) for k in ("num_inference_steps", "guidance_scale", "true_cfg_scale")]
        noise = self._rng(request, request.get("prompt") or _chat_text(request), settings, width, height)
        pixels = np.clip(tint + noise.normal(0, 24, size=(height, width, 3)), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return buffer.getvalue()

    def image_answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if "width" in request and "height" in request:
            width, height = request["width"], request["height"]
        else:
            width, height = (int(v) for v in request.get("size", "32x32").split("x"))
        data = self.draw(request, width, height)
        default_format = "url" if self.engine == "sglang" else "b64_json"
        if request.get("response_format", default_format) == "url":
            name = hashlib.sha256(data).hexdigest()[:12]
            with self._lock:
                self._files[name] = data
            return {"id": name, "created": 0, "data": [{"url": f"/v1/images/{name}/content"}]}
        return {"created": 0, "data": [{"b64_json": base64.b64encode(data).decode()}]}

    def chat_answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("modalities") == ["image"]:
            data = self.draw(request, request.get("width", 32), request.get("height", 32))
            content: Any = [
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()},
                }
            ]
        else:
            content = self.caption(request)
        message = {"role": "assistant", "content": content}
        return {
            "id": f"chatcmpl-{next(self._counter)}",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }

    def file(self, name: str) -> bytes | None:
        with self._lock:
            return self._files.get(name)


class StubError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _chat_text(request: dict[str, Any]) -> str:
    parts = request["messages"][0]["content"]
    return parts if isinstance(parts, str) else " ".join(p.get("text", "") for p in parts)


def _handler(stub: StubEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _refuse(self, status: int, message: str) -> None:
            with stub._lock:
                stub.refusals.append((status, message))
            if status == 422:
                self._send(
                    422, {"detail": [{"loc": ["body"], "msg": message, "type": "value_error.missing"}]}
                )
            else:
                self._send(
                    status, {"object": "error", "message": message, "type": "BadRequestError", "code": status}
                )

        def _authorised(self) -> bool:
            if self.headers.get("authorization") == f"Bearer {stub.key}":
                return True
            self._send(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_key"}})
            return False

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path == "/v1/models":
                self._send(200, stub.models())
                return
            match = re.fullmatch(r"/v1/images/(\w+)/content", self.path)
            data = stub.file(match[1]) if match else None
            if data is None:
                self._send(404, {"object": "error", "message": f"no such file {self.path}", "code": 404})
            else:
                self._send(200, data, "image/png")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"null")
            if not self._authorised():
                return
            endpoint = {"/v1/chat/completions": "chat", "/v1/images/generations": "images"}.get(self.path)
            schema = SCHEMAS.get((stub.engine, endpoint or ""))
            if schema is None:
                self._send(
                    404, {"object": "error", "message": f"{stub.engine} has no {self.path}", "code": 404}
                )
                return
            problem = schema.problems(body)
            if problem is not None:
                self._refuse(*problem)
                return
            try:
                answer = stub.chat_answer(body) if endpoint == "chat" else stub.image_answer(body)
            except StubError as error:
                self._refuse(error.status, str(error))
                return
            with stub._lock:
                stub.requests.append((self.path, body))
            self._send(200, answer)

    return Handler


@contextmanager
def refused_port() -> Iterator[str]:
    """A ``/v1`` URL on 127.0.0.1 where nothing listens: the port is bound (so no one else takes it)
    but never listened on, so every connection is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()
