"""Silence third-party progress bars, logging and warnings while our own progress display runs.

transformers draws "Loading weights" / "Writing model shards" bars for every load and save,
diffusers and huggingface_hub have their own bars and advisory logging; around our progress display
they are noise (and in a log file, thousands of carriage-return lines). ``third_party_silenced``
turns them off for the duration of a command and puts every setting back afterwards, so a library
caller's own configuration survives. ``--verbose`` skips it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

# Loggers of libraries without their own progress-bar switch: their level alone is saved and restored.
_OTHER_LOGGERS = ("accelerate", "peft", "timm", "open_clip", "sentence_transformers")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _silence_hf_style(library: str) -> Callable[[], None]:
    """transformers and diffusers: ``utils.logging`` holds verbosity and a global progress-bar switch."""
    hf_logging = importlib.import_module(f"{library}.utils.logging")
    verbosity = hf_logging.get_verbosity()
    bars_on = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity(logging.ERROR)
    hf_logging.disable_progress_bar()

    def restore() -> None:
        hf_logging.set_verbosity(verbosity)
        if bars_on:
            hf_logging.enable_progress_bar()

    return restore


def _silence_hub() -> Callable[[], None]:
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    logger = logging.getLogger("huggingface_hub")
    level, bars_on = logger.level, not are_progress_bars_disabled()
    logger.setLevel(logging.ERROR)
    if bars_on:
        with warnings.catch_warnings():  # it warns when HF_HUB_DISABLE_PROGRESS_BARS pins the setting
            warnings.simplefilter("ignore")
            disable_progress_bars()

    def restore() -> None:
        logger.setLevel(level)
        if bars_on:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                enable_progress_bars()

    return restore


@contextmanager
def third_party_silenced(enabled: bool = True) -> Iterator[None]:
    """Inside the block: no transformers/diffusers/huggingface_hub bars, logging below ERROR, or warnings.

    Args:
        enabled: ``False`` (``--verbose``) leaves everything as it is.

    Example:
        >>> import warnings
        >>> with third_party_silenced():
        ...     warnings.warn("advisory noise")  # not shown
        >>> from transformers.utils import logging as hf_logging
        >>> hf_logging.is_progress_bar_enabled()  # restored after the block
        True
    """
    if not enabled:
        yield
        return
    with ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        # transformers copies huggingface_hub's bar switch when first imported: read it before changing it.
        for library in ("transformers", "diffusers"):
            if _installed(library):
                stack.callback(_silence_hf_style(library))
        if _installed("huggingface_hub"):
            stack.callback(_silence_hub())
        for name in _OTHER_LOGGERS:
            logger = logging.getLogger(name)
            stack.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.ERROR)
        yield
