"""unified-bench: measure how unified a unified multimodal model is.

The model captions each reference image (I2T), draws it back from its own caption (T2I), and
frozen vision encoders score how close the reconstruction is to the original (Unified-Bench,
UAE paper, arXiv 2509.09666). Importing this package is cheap: torch and friends load lazily.
"""

__version__ = "0.1.0"
