"""The harness side of worker protocol v1 (docs/worker-protocol.md): one worker process and its requests.

The worker is started from an argument list (no shell) with ``UNIFIED_BENCH_WORKER_PROTOCOL=1`` added
to the environment. Two reader threads turn its stdout into responses (JSON objects with an ``"id"``)
and log lines (everything else), and copy its stderr to the log, keeping the last lines for errors.
A worker that dies is restarted (at most ``restarts`` times in all) and the request is sent again.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from unified_bench.errors import UserError
from unified_bench.loading import AdapterOutOfMemoryError

PROTOCOL = 1
PROTOCOL_ENV = "UNIFIED_BENCH_WORKER_PROTOCOL"
SHUTDOWN_GRACE_S = 10.0
_STDERR_TAIL = 8
_EXITED = object()  # put on the response queue when the worker's stdout closes


class WorkerError(UserError):
    """The worker refused a request, died, hung, or broke the protocol (one line, no traceback)."""


class WorkerUserError(WorkerError):
    """The worker answered ``kind: "user"``: its input or settings need changing."""


class WorkerOutOfMemoryError(AdapterOutOfMemoryError):
    """The worker answered ``kind: "oom"``."""


class WorkerProcess:
    """One running worker; ``request`` sends a message and returns its ``result``.

    Args:
        argv: the command, already split (``shlex.split`` of the user's command line).
        timeout: seconds to wait for each answer (the ``hello`` included, so model loading counts).
        restarts: how many times in all a worker that died is started again.
        log: file that receives the worker's stderr and its non-protocol stdout lines.
        cwd: working folder of the worker (``None``: ours).
    """

    def __init__(
        self, argv: Sequence[str], *, timeout: float, restarts: int, log: Path, cwd: str | None = None
    ) -> None:
        self.argv, self.timeout, self.restarts_left, self.cwd = list(argv), timeout, restarts, cwd
        self.log_path = log
        try:
            self._log: TextIO = log.open("a", encoding="utf-8")
        except OSError as error:
            raise WorkerError(
                f"--adapter-arg log={log}: cannot write ({error.strerror}); choose another file."
            ) from None
        self._log_lock = threading.Lock()
        self._next_id = 0
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Start the worker and shake hands; returns the worker's ``info``."""
        env = {**os.environ, PROTOCOL_ENV: str(PROTOCOL)}
        self._stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._responses: queue.Queue[Any] = queue.Queue()
        self._write_log(f"[unified-bench] starting: {self.command}")
        try:
            self._process = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, cwd=self.cwd,
            )  # fmt: skip
        except OSError as error:
            raise WorkerError(
                f"worker {self.command}: cannot start {self.argv[0]} ({error.strerror or error}); "
                "check the first word of --adapter-arg command."
            ) from None
        threading.Thread(target=self._read_stdout, args=(self._process, self._responses), daemon=True).start()
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, args=(self._process, self._stderr_tail), daemon=True
        )
        self._stderr_reader.start()
        try:
            result = self._exchange({"method": "hello", "protocol": PROTOCOL})
        except _WorkerExited as exited:
            raise self._died(exited.code) from None
        if not isinstance(result, dict) or result.get("protocol") != PROTOCOL:
            spoken = result.get("protocol") if isinstance(result, dict) else result
            self.kill()
            raise WorkerError(
                f"worker {self.command}: speaks protocol {spoken!r}, this unified-bench speaks {PROTOCOL}; "
                "use a worker (or unified-bench) of the same protocol version."
            )
        info = result.get("info")
        if not isinstance(info, dict):
            self.kill()
            raise WorkerError(f"worker {self.command}: hello's result has no 'info' object.")
        if self.info is not None and info != self.info:
            self.kill()
            raise WorkerError(f"worker {self.command}: its info changed after a restart; refusing to mix.")
        self.info = info
        return info

    def shutdown(self) -> None:
        """Ask the worker to exit (a grace period, then kill); close the log."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                self._send({"id": self._take_id(), "method": "shutdown"})
                process.stdin.close()  # type: ignore[union-attr]
                process.wait(SHUTDOWN_GRACE_S)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.kill()
        self._process = None
        with self._log_lock:
            if not self._log.closed:
                self._log.close()

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    @property
    def command(self) -> str:
        import shlex

        return shlex.join(self.argv)

    # -- requests --------------------------------------------------------------------------------
    def request(self, method: str, **fields: Any) -> Any:
        """The ``result`` of ``{"method": method, **fields}``, restarting a worker that died."""
        while True:
            try:
                return self._exchange({"method": method, **fields})
            except _WorkerExited as exited:
                if self.restarts_left <= 0:
                    raise self._died(exited.code) from None
                self.restarts_left -= 1
                self._write_log(f"[unified-bench] worker exited ({exited.code}); restarting it")
                self.start()

    def _exchange(self, message: dict[str, Any]) -> Any:
        message_id = self._take_id()
        method = message["method"]
        try:
            self._send({"id": message_id, **message})
        except (BrokenPipeError, OSError, ValueError):
            raise _WorkerExited(self._wait_exit()) from None
        while True:
            try:
                response = self._responses.get(timeout=self.timeout)
            except queue.Empty:
                self.kill()
                raise WorkerError(
                    f"worker {self.command}: no answer to {method} within {self.timeout:g} s; the worker "
                    f"was stopped (log: {self.log_path}). Raise --adapter-arg timeout=SECONDS and rerun "
                    "to resume."
                ) from None
            if response is _EXITED:
                raise _WorkerExited(self._wait_exit())
            if response.get("id") != message_id:
                self._write_log(f"[unified-bench] ignored an answer to another request: {response}")
                continue
            if "error" in response:
                raise self._refused(method, response["error"])
            if "result" not in response:
                raise WorkerError(f"worker {self.command}: its answer to {method} has no result or error.")
            return response["result"]

    def _refused(self, method: str, error: Any) -> UserError:
        kind = error.get("kind") if isinstance(error, dict) else None
        text = error.get("message") if isinstance(error, dict) else None
        text = " ".join(str(text or error).split())
        if kind == "user":
            return WorkerUserError(f"worker {method}: {text}")
        if kind == "oom":
            return WorkerOutOfMemoryError(
                f"worker {method}: out of memory ({text}); try a smaller --batch-size."
            )
        return WorkerError(f"worker {method}: internal error: {text} (log: {self.log_path}).")

    def _died(self, code: int | None) -> WorkerError:
        self._stderr_reader.join(SHUTDOWN_GRACE_S)  # the last lines are read before they are quoted
        tail = " | ".join(line for line in self._stderr_tail if line.strip())
        last = f"; last stderr: {tail}" if tail else "; it wrote nothing to stderr"
        return WorkerError(
            f"worker {self.command} exited with code {code}{last} (log: {self.log_path}). "
            "Finished samples are kept: rerun the same command to resume."
        )

    # -- plumbing --------------------------------------------------------------------------------
    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _send(self, message: dict[str, Any]) -> None:
        stdin = self._process.stdin  # type: ignore[union-attr]
        stdin.write((json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8"))  # type: ignore[union-attr]
        stdin.flush()  # type: ignore[union-attr]

    def _wait_exit(self) -> int | None:
        try:
            return self._process.wait(SHUTDOWN_GRACE_S)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:  # stdout closed but the process lingers
            self.kill()
            return self._process.returncode  # type: ignore[union-attr]

    def _read_stdout(self, process: subprocess.Popen[bytes], responses: queue.Queue[Any]) -> None:
        for raw in process.stdout:  # type: ignore[union-attr]
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            response = _response_of(line)
            if response is None:
                self._write_log(f"[stdout] {line}")
            else:
                responses.put(response)
        responses.put(_EXITED)

    def _read_stderr(self, process: subprocess.Popen[bytes], tail: deque[str]) -> None:
        for raw in process.stderr:  # type: ignore[union-attr]
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            tail.append(line[:300])
            self._write_log(line)

    def _write_log(self, line: str) -> None:
        with self._log_lock:
            if not self._log.closed:
                self._log.write(line + "\n")
                self._log.flush()


class _WorkerExited(Exception):
    def __init__(self, code: int | None) -> None:
        self.code = code


def _response_of(line: str) -> dict[str, Any] | None:
    """A protocol response (a JSON object carrying ``"id"``), or ``None`` for a log line."""
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "id" in value else None
