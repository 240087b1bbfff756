"""The ``unified-bench`` command line: thin commands over the library (see ``app.py``)."""
