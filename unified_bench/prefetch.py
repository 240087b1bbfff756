"""Load the next batches in a background thread while the caller works on the current one.

Reading, decoding and preprocessing images is CPU work that would otherwise sit between model
forwards. One worker thread runs ``load`` on the batches in order, at most ``depth`` batches ahead,
so at most ``depth + 2`` loaded batches exist at once (queued, being loaded, being used): memory is
bounded by batch size x prefetch depth, whatever the number of batches. Order and results are those
of the plain loop ``for batch in batches: use(load(batch))``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_DEPTH = 2
_DONE = object()


def prefetched(batches: Iterable[T], load: Callable[[T], U], *, depth: int = DEFAULT_DEPTH) -> Iterator[U]:
    """Yield ``load(batch)`` for each batch, loading up to ``depth`` batches ahead in one thread.

    ``depth=0`` loads each batch in the caller's thread when it is needed (no overlap). An exception
    raised by ``load`` is raised by the iterator at the batch where it happened. Stopping early
    (``break``, an exception in the caller) stops the worker.

    Example:
        >>> list(prefetched(range(4), lambda n: n * n))
        [0, 1, 4, 9]
    """
    if depth < 0:
        raise ValueError(f"prefetch depth must be >= 0, got {depth}")
    if depth == 0:
        yield from (load(batch) for batch in batches)
        return
    ready: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for batch in batches:
                if stop.is_set() or not put((load(batch), None)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put((None, error))
            return
        put((_DONE, None))

    worker = threading.Thread(target=work, name="unified-bench-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            loaded, error = ready.get()
            if error is not None:
                raise error
            if loaded is _DONE:
                return
            yield loaded  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
