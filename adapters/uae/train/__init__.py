"""Unified-GRPO, the training UAE's authors did not release, on the ``uae`` adapter's own classes.

Four stages (``unified-bench train uae --stage STAGE --config FILE.yaml``):

* ``sft``: decoder pre-training on long captions (SD3 flow matching; DiT + projector train);
* ``cold-start``: semantic reconstruction loss through the whole sampler (encoder LoRA + projector);
* ``g4u``: Generation for Understanding, GRPO on the encoder's captions (encoder LoRA);
* ``u4g``: Understanding for Generation, Flow-GRPO on the decoder (decoder LoRA).

Rewards and the held-out evaluation go through the harness's scorers and ``execute_run``; every
checkpoint runs in the harness with ``--model uae --adapter-arg checkpoint=DIR``. Importing this
package does not import torch; see README.md for the recipe and the module map.
"""

from unified_bench_adapters.uae.train.config import STAGES

__all__ = ["STAGES"]
