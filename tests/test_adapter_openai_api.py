"""openai-api against an OpenAI-compatible server that the tests run on 127.0.0.1, healthy or flaky.

The server captions an image with its mean colour and draws a caption as a flat image of that colour,
so every output can be checked. It can fail a share of requests (429, 500, 503, or hang past the
client's timeout) in a fixed pattern, stay down after N requests, and it records what it served.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests._tiny_adapters import run_args
from unified_bench.datasets import load_dataset
from unified_bench.store import RunStore

KEY_ENV = "UB_TEST_OPENAI_KEY"
KEY = "sk-test-" + "5f3c9a" * 6


class FakeOpenAI:
    """Chat completions and image generations, with injected failures and request accounting."""

    def __init__(
        self, *, failure_rate: float = 0.0, fail_after: int | None = None, delay: float = 0.0
    ) -> None:
        self.failure_rate, self.fail_after, self.delay = failure_rate, fail_after, delay
        self.lock = threading.Lock()
        self.requests = 0
        self.failures: dict[str, int] = {}
        self.served = {"chat": 0, "images": 0}
        self.seeds_seen: list[int] = []
        self.in_flight = self.max_in_flight = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def heal(self) -> None:
        self.fail_after, self.failure_rate = None, 0.0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _failure(self) -> str | None:
        with self.lock:
            self.requests += 1
            if self.fail_after is not None and self.requests > self.fail_after:
                kind = "503"
            elif self.requests % 10 < round(10 * self.failure_rate):  # e.g. 3 requests in every 10
                kind = ("429", "500", "hang", "503")[sum(self.failures.values()) % 4]
            else:
                return None
            self.failures[kind] = self.failures.get(kind, 0) + 1
            return kind

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # GET /v1/models: what the server runs, for provenance
                models = [
                    {"id": name, "object": "model", "owned_by": "fake"} for name in ("gpt-4o", "gpt-image-1")
                ]
                self._send(200, {"object": "list", "data": models})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with fake.lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._answer(request)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a "hang" failure)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

            def _answer(self, request: dict) -> None:
                if self.headers.get("authorization") != f"Bearer {KEY}":
                    self._send(
                        401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_key"}}
                    )
                    return
                failure = fake._failure()
                if failure == "hang":
                    time.sleep(1.0)
                    return
                if failure is not None:
                    error = {"error": {"message": f"injected {failure}", "type": "server_error"}}
                    self._send(int(failure), error, {"retry-after-ms": "10"})
                    return
                time.sleep(fake.delay)
                if self.path.endswith("/chat/completions"):
                    self._send(200, self._chat(request))
                elif self.path.endswith("/images/generations"):
                    self._send(200, self._image(request))
                else:
                    self._send(404, {"error": {"message": "no such endpoint"}})

            def _chat(self, request: dict) -> dict:
                parts = request["messages"][0]["content"]
                url = next(part["image_url"]["url"] for part in parts if part["type"] == "image_url")
                image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
                red, green, blue = mean_colour(image)
                with fake.lock:
                    fake.served["chat"] += 1
                    fake.seeds_seen.append(request.get("seed"))
                message = {"role": "assistant", "content": f"a flat colour {red} {green} {blue}"}
                return {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": request["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }

            def _image(self, request: dict) -> dict:
                colour = tuple(int(v) for v in re.findall(r"\d+", request["prompt"])[:3])
                width, height = (int(v) for v in request.get("size", "16x16").split("x"))
                buffer = io.BytesIO()
                Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
                with fake.lock:
                    fake.served["images"] += 1
                return {"created": 0, "data": [{"b64_json": base64.b64encode(buffer.getvalue()).decode()}]}

        return Handler


def mean_colour(image: Image.Image) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0).round())


@pytest.fixture
def server():
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def openai_run(output: Path, fake: FakeOpenAI, *settings: str, limit: int = 4) -> list[str]:
    args = [
        f"base_url={fake.base_url}",
        f"api_key_env={KEY_ENV}",
        "image_size=16x16",
        "max_image_side=256",
    ]
    args += settings
    extra = [part for arg in args for part in ("--adapter-arg", arg)]
    return run_args("openai-api", output, *extra, limit=limit)


def outputs(run_dir: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    captions = {sample_id: record.caption for sample_id, record in RunStore(run_dir).captions().items()}
    images = {path.stem: path.read_bytes() for path in (run_dir / "images").glob("*.png")}
    return captions, images


def assert_key_never_written(*folders: Path) -> None:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), f"API key written to {path}"


def test_a_run_captions_with_chat_and_draws_with_the_images_api(cli, tmp_path, server, api_key, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(cache))
    result = cli(*openai_run(tmp_path / "run", server))
    assert result.code == 0, result.err
    captions, images = outputs(tmp_path / "run")
    samples = {sample.id: sample for sample in load_dataset("samples").samples[:4]}
    assert set(captions) == set(images) == set(samples)
    for sample_id, sample in samples.items():
        colour = tuple(int(v) for v in captions[sample_id].split()[-3:])
        # The server saw the reference (downscaled to 256 px at most): its mean colour, give or take.
        assert max(abs(a - b) for a, b in zip(colour, mean_colour(sample.image), strict=True)) <= 3
        drawn = Image.open(io.BytesIO(images[sample_id]))
        assert drawn.size == (16, 16) and drawn.getpixel((3, 3)) == colour
    assert server.served == {"chat": 4, "images": 4} and all(isinstance(s, int) for s in server.seeds_seen)
    info = json.loads((tmp_path / "run" / "adapter.json").read_text())
    assert info["caption"]["servers"] == info["image"]["servers"] == [server.base_url]
    assert info["caption"]["served_models"]["id"] == "gpt-4o" and info["settings"]["api_key_env"] == KEY_ENV
    assert_key_never_written(tmp_path / "run", cache)


def test_a_flaky_endpoint_costs_no_sample(cli, tmp_path, api_key, monkeypatch):
    healthy, flaky = FakeOpenAI(), FakeOpenAI(failure_rate=0.3)
    try:
        monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "cache-healthy"))
        assert cli(*openai_run(tmp_path / "healthy", healthy)).code == 0
        monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "cache-flaky"))
        settings = ("timeout=0.4", "max_retries=10", "concurrency=3")
        result = cli(*openai_run(tmp_path / "flaky", flaky, *settings), "--batch-size", "2")
    finally:
        healthy.close()
        flaky.close()
    assert result.code == 0, result.err
    assert set(flaky.failures) == {"429", "500", "503", "hang"}, flaky.failures  # 30% of requests failed...
    assert outputs(tmp_path / "flaky") == outputs(tmp_path / "healthy")  # ...and nothing shows it
    assert_key_never_written(tmp_path / "flaky", tmp_path / "cache-flaky")


def test_an_endpoint_that_stays_down_stops_the_run_and_the_rerun_finishes_the_rest(
    cli, tmp_path, api_key, monkeypatch
):
    monkeypatch.setenv("UNIFIED_BENCH_CACHE", str(tmp_path / "cache"))
    fake = FakeOpenAI(fail_after=4)  # the first batch (2 captions + 2 images) gets through, then 503s
    try:
        args = openai_run(tmp_path / "run", fake, "max_retries=1")
        failed = cli(*args, "--batch-size", "2")
        assert failed.code == 2
        assert "kept failing after 1 retries" in failed.err and "rerun the same command" in failed.err
        assert len(outputs(tmp_path / "run")[0]) == 2
        fake.heal()
        assert cli(*args, "--batch-size", "2").code == 0
    finally:
        fake.close()
    captions, images = outputs(tmp_path / "run")
    assert len(captions) == len(images) == 4
    assert fake.served == {"chat": 4, "images": 4}  # nothing finished was asked for twice


def test_concurrency_bounds_the_requests_in_flight(cli, tmp_path, api_key):
    fake = FakeOpenAI(delay=0.1)
    try:
        result = cli(*openai_run(tmp_path / "run", fake, "concurrency=2", "cache=false"), "--batch-size", "4")
    finally:
        fake.close()
    assert result.code == 0, result.err
    assert fake.max_in_flight == 2


def test_a_missing_key_is_one_line_naming_the_variable(cli, tmp_path, server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    result = cli(*openai_run(tmp_path / "run", server))
    assert result.code == 2
    assert f"no API key in ${KEY_ENV}" in result.err


def test_a_rejected_key_is_one_line_that_does_not_show_it(cli, tmp_path, server, monkeypatch):
    wrong = "sk-wrong-" + "9" * 30
    monkeypatch.setenv(KEY_ENV, wrong)
    result = cli(*openai_run(tmp_path / "run", server))
    assert result.code == 2
    assert f"rejected the key in ${KEY_ENV}" in result.err and wrong not in result.err + result.out


def test_recorded_endpoints_drop_credentials_in_the_url():
    from unified_bench_adapters.openai_api.servers import public_url

    assert public_url("https://user:secret@api.example.com:8443/v1") == "https://api.example.com:8443/v1"


def test_a_transparent_reference_is_sent_on_white(server, api_key):
    from unified_bench.adapter import AdapterOptions
    from unified_bench.registry import default_registry

    args = {"base_url": server.base_url, "api_key_env": KEY_ENV, "image_size": "16x16"}
    adapter = default_registry().build("openai-api", AdapterOptions(args=args, device="cpu"))
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # black under full transparency
    assert adapter.caption([clear], seeds=[1]) == ["a flat colour 255 255 255"]
