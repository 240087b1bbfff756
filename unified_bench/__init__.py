"""unified-bench: measure how unified a unified multimodal model is.

The model captions each reference image (I2T), draws it back from its own caption (T2I), and
frozen vision encoders score how close the reconstruction is to the original (Unified-Bench,
UAE paper, arXiv 2509.09666).

The Python API mirrors the CLI and returns the objects the CLI writes:

- ``run(model, dataset, output, ...) -> Results``: caption, regenerate, score (resumable)
- ``score(generated, references, ...) -> Results``: score a folder of reconstructions
- ``compare_runs(baseline, *candidates, ...) -> CompareReport``: paired tests, ``.regressed``
- ``write_report(run_dir) -> Path``: the self-contained HTML report
- ``read_results(path) -> Results``, ``Results``: the results file and its typed form

Importing the package is cheap: torch and friends load on the first call (module ``__getattr__``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it; imported on first attribute access
_LAZY = {
    "run": "unified_bench.api",
    "score": "unified_bench.api",
    "compare_runs": "unified_bench.api",
    "write_report": "unified_bench.api",
    "read_results": "unified_bench.results",
    "Results": "unified_bench.results",
    "CompareReport": "unified_bench.compare",
    "UserError": "unified_bench.errors",
}
__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from unified_bench.api import compare_runs as compare_runs
    from unified_bench.api import run as run
    from unified_bench.api import score as score
    from unified_bench.api import write_report as write_report
    from unified_bench.compare import CompareReport as CompareReport
    from unified_bench.errors import UserError as UserError
    from unified_bench.results import Results as Results
    from unified_bench.results import read_results as read_results


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unified_bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
