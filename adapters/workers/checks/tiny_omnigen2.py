"""Build a tiny random-weight OmniGen2 checkpoint from the official classes, for a by-hand CPU run of
adapters/workers/omnigen2.py (the check recorded in adapters/workers/README.md).

    cd /path/to/OmniGen2 && PYTHONPATH=/path/to/unified-bench:. python \
        /path/to/unified-bench/adapters/workers/checks/tiny_omnigen2.py OUTPUT_FOLDER

The official ``OmniGen2Pipeline`` (imported from the checkout) is assembled from a tiny
``OmniGen2Transformer2DModel``, a tiny ``AutoencoderKL``, OmniGen2's own
FlowMatchEulerDiscreteScheduler (its pipeline passes ``num_tokens``, which diffusers' scheduler of
that name does not take) and the test suite's tiny Qwen2.5-VL (tests/_tiny_adapters.py), then
written with ``save_pretrained``, so the worker loads it through ``from_pretrained`` as it loads
OmniGen2/OmniGen2.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def main(output: Path) -> None:
    import torch
    from diffusers import AutoencoderKL
    from omnigen2.models.transformers.transformer_omnigen2 import OmniGen2Transformer2DModel
    from omnigen2.pipelines.omnigen2.pipeline_omnigen2 import OmniGen2Pipeline
    from omnigen2.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from tests._tiny_adapters import build_tiny_qwen2_5_vl

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        mllm_dir = build_tiny_qwen2_5_vl(Path(scratch) / "mllm")
        mllm = Qwen2_5_VLForConditionalGeneration.from_pretrained(mllm_dir)
        processor = AutoProcessor.from_pretrained(mllm_dir)
    transformer = OmniGen2Transformer2DModel(
        patch_size=2, in_channels=4, hidden_size=32, num_layers=1, num_refiner_layers=1,
        num_attention_heads=2, num_kv_heads=1, multiple_of=16, axes_dim_rope=(4, 6, 6),
        axes_lens=(1024, 64, 64), text_feat_dim=mllm.config.text_config.hidden_size,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1, norm_num_groups=4, scaling_factor=0.3611, shift_factor=0.1159,
    )  # fmt: skip
    pipeline = OmniGen2Pipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        mllm=mllm,
        processor=processor,
    )
    pipeline.save_pretrained(output)
    print(f"tiny OmniGen2 pipeline written to {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
