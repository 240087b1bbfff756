"""The servers of one half (captions or images): replicas, failover, and what they serve.

Each replica has its own ``openai`` client with the client's retries switched off: attempts are
made here, so a failed attempt (connection error, timeout, 408/409/429/5xx) moves to another replica
at once, and only when every replica has failed in a round does the request wait (exponential
backoff, or the server's ``Retry-After``) before the next round.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

from unified_bench.errors import UserError

T = TypeVar("T")
MODEL_FIELDS = ("id", "root", "parent", "owned_by", "revision", "max_model_len")  # never "created"
_BACKOFF_START, _BACKOFF_CAP = 0.5, 8.0


class APIRequestError(UserError):
    """The endpoint refused a request, or kept failing after every retry."""


def public_url(url: str) -> str:
    """``url`` without any user:password part (safe to record)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass
class Replica:
    url: str
    client: Any
    in_flight: int = 0
    failing: bool = False  # the last attempt failed; tried again only when no healthy replica is left
    served: int = 0


@dataclass
class ReplicaPool:
    """Replicas of one server; ``call`` runs one request on them with failover and retries."""

    role: str  # "caption" or "image", for messages
    replicas: list[Replica]
    max_retries: int
    policy: str = "least-loaded"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _turn: int = 0

    @classmethod
    def connect(
        cls,
        openai: Any,
        role: str,
        urls: list[str],
        key: str,
        *,
        timeout: float,
        max_retries: int,
        policy: str,
    ) -> ReplicaPool:
        replicas = [
            Replica(url, openai.OpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=0))
            for url in urls
        ]
        return cls(role, replicas, max_retries=max_retries, policy=policy)

    @property
    def public_urls(self) -> list[str]:
        return [public_url(r.url) for r in self.replicas]

    def _acquire(self, avoid: set[str]) -> Replica:
        with self._lock:
            candidates = [r for r in self.replicas if r.url not in avoid] or self.replicas
            order = {id(r): (i - self._turn) % len(self.replicas) for i, r in enumerate(self.replicas)}
            if self.policy == "least-loaded":
                chosen = min(candidates, key=lambda r: (r.failing, r.in_flight, order[id(r)]))
            else:
                chosen = min(candidates, key=lambda r: (r.failing, order[id(r)]))
            self._turn += 1
            chosen.in_flight += 1
            return chosen

    def _release(self, replica: Replica, *, failed: bool) -> None:
        with self._lock:
            replica.in_flight -= 1
            replica.failing = failed
            replica.served += not failed

    def call(self, attempt: Callable[[Replica], T], openai: Any) -> T:
        """``attempt(replica)`` until it succeeds, on another replica after each retryable failure."""
        tried: set[str] = set()
        rounds = 0
        for number in range(self.max_retries + 1):
            replica = self._acquire(tried)
            try:
                result = attempt(replica)
            except Exception as error:
                self._release(replica, failed=True)
                if not retryable(openai, error) or number == self.max_retries:
                    raise
                tried.add(replica.url)
                if len(tried) >= len(self.replicas):  # every replica failed this round: wait, then again
                    time.sleep(retry_delay(error, rounds))
                    rounds += 1
                    tried.clear()
                continue
            self._release(replica, failed=False)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch(self, replica: Replica, url: str, timeout: float) -> bytes:
        """The bytes at ``url``: server-relative paths (SGLang's ``/v1/images/<id>/content``) come from
        ``replica`` with its key; absolute URLs elsewhere are fetched without it."""
        absolute = urljoin(replica.url + "/", url)
        same_origin = urlsplit(absolute)[:2] == urlsplit(replica.url)[:2]
        if same_origin:
            return replica.client.get(absolute, cast_to=bytes)
        if urlsplit(absolute).scheme not in ("http", "https"):
            raise APIRequestError(f"openai-api: {public_url(replica.url)} answered an image URL {url!r}.")
        with urllib.request.urlopen(absolute, timeout=timeout) as answer:
            return answer.read()

    def served_models(self, model: str, *, listed_only: bool) -> list[dict[str, Any]]:
        """Per replica, what ``GET /v1/models`` says about ``model`` (id, root, revision, ...).

        A replica that cannot be reached is recorded as such and marked failing (requests go to the
        others) as long as one replica answers.

        Raises:
            APIRequestError: no replica can be reached, one does not serve ``model`` (with
                ``listed_only``: engines that serve exactly what they list), or the replicas differ.
        """
        records = []
        for replica in self.replicas:
            try:
                answer = replica.client.get("/models", cast_to=object)
            except Exception as error:
                status = getattr(error, "status_code", None)
                if status is None and len(self.replicas) > 1:  # down: the others take its requests
                    replica.failing = True
                    records.append({"url": public_url(replica.url), "unreachable": describe(error)})
                    continue
                if status in (404, 405) and not listed_only:  # a gateway without the listing
                    records.append(
                        {"url": public_url(replica.url), "model": None, "listing": f"HTTP {status}"}
                    )
                    continue
                raise APIRequestError(
                    f"openai-api: cannot list the models of {public_url(replica.url)} ({describe(error)}); "
                    f"is the {self.role} server up?"
                ) from None
            entries = answer.get("data") if isinstance(answer, dict) else None
            listed = [e for e in entries or [] if isinstance(e, dict)]
            entry = next((e for e in listed if e.get("id") == model), None)
            if entry is None and listed_only:
                names = ", ".join(str(e.get("id")) for e in listed) or "nothing"
                raise APIRequestError(
                    f"openai-api: {public_url(replica.url)} serves {names}, not {self.role}_model={model}; "
                    f"set --adapter-arg {self.role}_model to the served model id."
                )
            kept = {name: entry[name] for name in MODEL_FIELDS if entry and entry.get(name) is not None}
            records.append({"url": public_url(replica.url), "model": kept or None})
        reachable = [record for record in records if "unreachable" not in record]
        if not reachable:
            raise APIRequestError(
                f"openai-api: none of the {self.role} replicas answers ({records[0]['unreachable']}); "
                f"is the {self.role} server up?"
            )
        models = {repr(record["model"]) for record in reachable}
        if len(models) > 1:
            shown = "; ".join(f"{record['url']}: {record['model']}" for record in records)
            raise APIRequestError(
                f"openai-api: the {self.role} replicas serve different models ({shown}); "
                "give replicas of one server."
            )
        return records


def retryable(openai: Any, error: Exception) -> bool:
    if isinstance(error, (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)):
        return True
    return isinstance(error, openai.APIStatusError) and error.status_code in (408, 409)


def retry_delay(error: Exception, rounds: int) -> float:
    """The server's ``Retry-After`` (ms or s) if it sent one, else exponential backoff."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            return min(float(headers[name]) * scale, 60.0)
        except (KeyError, TypeError, ValueError):
            continue
    return min(_BACKOFF_START * 2**rounds, _BACKOFF_CAP)


def describe(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
