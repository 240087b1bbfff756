"""``--model worker``: a model running in its own environment, driven over worker protocol v1.

The harness writes each batch's input images as PNGs into a private temporary folder, asks the
worker for captions or for PNGs written to paths in that folder, checks counts and types, and reads
the images back. Finished samples are in the run store as usual, so rerunning the same command after
a failure resumes. The worker's ``info`` (from its ``hello``) goes into adapter.json.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from unified_bench.adapter import COMMAND_LINE, NOT_IN_RUN_SPEC, OUTPUT_PATH, AdapterOptions, config_from_args
from unified_bench.images import decode_image, png_bytes
from unified_bench.paths import cache_dir
from unified_bench.provenance import utc_now

from .process import PROTOCOL, WorkerError, WorkerProcess

DEFAULT_TIMEOUT_S = 1800.0  # one request (the hello included: loading a 14B model takes minutes)
_OPERATIONAL = {NOT_IN_RUN_SPEC: True}  # settings that cannot change a run's outputs


@dataclass(frozen=True)
class WorkerProcessConfig:
    """How the harness runs any worker process; none of these can change outputs (not in the run spec)."""

    timeout: float = field(default=DEFAULT_TIMEOUT_S, metadata=_OPERATIONAL)  # seconds per request
    restarts: int = field(default=1, metadata=_OPERATIONAL)  # times in all a worker that died is restarted
    log: str | None = field(
        default=None, metadata={**_OPERATIONAL, OUTPUT_PATH: True}
    )  # worker log; default: a new file in the cache

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0 seconds.")
        if self.restarts < 0:
            raise ValueError("restarts must be >= 0.")

    def log_path(self, name: str) -> Path:
        if self.log:
            return Path(self.log).expanduser()
        stamp = utc_now().replace(":", "").replace("-", "")
        return cache_dir("worker-logs") / f"{name}-{stamp}.log"


@dataclass(frozen=True)
class WorkerConfig(WorkerProcessConfig):
    """Settings, each settable with ``--adapter-arg NAME=VALUE``."""

    command: str = field(default="", metadata={COMMAND_LINE: True})  # split like a shell; no shell runs

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.command.strip():
            raise ValueError('pass --adapter-arg command="PROGRAM ARGS..." (the worker to start).')
        try:
            shlex.split(self.command)
        except ValueError as error:
            raise ValueError(f"command {self.command!r}: cannot split it like a shell ({error}).") from None


class WorkerAdapter:
    """An ``Adapter`` whose two halves run in a worker process (see docs/worker-protocol.md)."""

    def __init__(self, argv: list[str], *, name: str, config: WorkerProcessConfig) -> None:
        self.name, self.config = name, config
        self.process = WorkerProcess(
            argv, timeout=config.timeout, restarts=config.restarts, log=config.log_path(name)
        )
        # A space in the folder's name: every worker meets a path that needs quoting from the start.
        self.workdir = Path(tempfile.mkdtemp(prefix="unified-bench worker-"))
        self._finalizer = weakref.finalize(self, _close, self.process, self.workdir)
        self._requests = 0
        try:
            self.worker_info = self.process.start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the worker and remove the temporary folder (also done when the adapter is collected)."""
        self._finalizer()

    def caption(self, images: list[Image.Image], *, seeds: list[int]) -> list[str]:
        folder = self._request_folder()
        paths = [folder / f"input-{i}.png" for i in range(len(images))]
        for path, image in zip(paths, images, strict=True):
            path.write_bytes(png_bytes(image))
        result = self.process.request("caption", images=[str(p) for p in paths], seeds=list(seeds))
        shutil.rmtree(folder, ignore_errors=True)
        if (
            not isinstance(result, list)
            or len(result) != len(images)
            or not all(isinstance(t, str) for t in result)
        ):
            raise WorkerError(
                f"worker caption: answered {_describe(result)}; expected a list of {len(images)} strings."
            )
        return result

    def generate(
        self, prompts: list[str], *, seeds: list[int], size: tuple[int, int] | None = None
    ) -> list[Image.Image]:
        folder = self._request_folder()
        outputs = [folder / f"output-{i}.png" for i in range(len(prompts))]
        result = self.process.request(
            "generate",
            prompts=list(prompts),
            seeds=list(seeds),
            size=list(size) if size else None,
            outputs=[str(p) for p in outputs],
        )
        if result is not None:
            raise WorkerError(f"worker generate: answered {_describe(result)}; expected null.")
        images = []
        for path in outputs:
            if not path.is_file():
                raise WorkerError(f"worker generate: answered, but wrote no image to {path.name}.")
            image = decode_image(path.read_bytes(), f"worker output {path.name}")
            image.load()
            images.append(image)
        shutil.rmtree(folder, ignore_errors=True)
        return images

    def info(self) -> dict[str, Any]:
        """The worker's own ``info`` plus how it was run (command, protocol)."""
        return {
            "adapter": self.name,
            "protocol_version": PROTOCOL,
            "worker": self.worker_info,
            "command": self.process.argv,
            "config": asdict(self.config),
            "warnings": list(self.worker_info.get("warnings") or []),
        }

    def _request_folder(self) -> Path:
        self._requests += 1
        folder = self.workdir / f"request-{self._requests}"
        folder.mkdir()
        return folder


def _close(process: WorkerProcess, workdir: Path) -> None:
    process.shutdown()
    shutil.rmtree(workdir, ignore_errors=True)


def _describe(result: Any) -> str:
    if isinstance(result, list):
        return f"a list of {len(result)} ({', '.join(sorted({type(v).__name__ for v in result})) or 'empty'})"
    return f"a {type(result).__name__}" if result is not None else "null"


def build_worker(options: AdapterOptions) -> WorkerAdapter:
    """Factory of ``worker``: start ``command`` and shake hands."""
    config = config_from_args(WorkerConfig, options.args)
    return WorkerAdapter(shlex.split(config.command), name="worker", config=config)
