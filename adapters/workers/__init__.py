"""Workers for models that live only in their authors' repositories, one script each.

Each script runs in the model's own environment (``python adapters/workers/NAME.py --repo ...``),
imports the official code from the user's checkout, and serves it with ``worker_protocol.serve``.
Nothing here is imported by the harness except ``worker_protocol`` (standard library only).
"""
