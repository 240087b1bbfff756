"""UAE's generation half: the fine-tuned SD3 transformer (+ Stage-3 LoRA), SD3.5 VAE and scheduler."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    SD3Transformer2DModel,
    StableDiffusion3Pipeline,
)
from peft import PeftModel
from PIL import Image
from transformers import CLIPTextModelWithProjection, CLIPTokenizer


@torch.inference_mode()
def empty_prompt_pooled_embedding(sd3_dir: Path, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """concat(CLIP-L pooled, CLIP-G pooled) of the empty prompt, ``[1, 2048]`` for SD3.5.

    What demo.py's ``encode_prompt(prompt="")`` returns as ``pooled_prompt_embeds``: each CLIP
    sees ``""`` padded to its 77 tokens and contributes its projected ``text_embeds``. The text
    encoders are freed afterwards; the T5 encoder is never needed.
    """
    pooled = []
    for encoder_folder, tokenizer_folder in (
        ("text_encoder", "tokenizer"),
        ("text_encoder_2", "tokenizer_2"),
    ):
        tokenizer = CLIPTokenizer.from_pretrained(str(sd3_dir), subfolder=tokenizer_folder)
        encoder = CLIPTextModelWithProjection.from_pretrained(
            str(sd3_dir), subfolder=encoder_folder, dtype=dtype
        )
        encoder.to(device).eval()
        ids = tokenizer(
            "",
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        pooled.append(encoder(ids.to(device)).text_embeds)
        del encoder
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return torch.cat(pooled, dim=-1)


class UAEDecoder:
    """SD3 sampling from precomputed prompt embeddings, one initial noise per seed."""

    def __init__(
        self, pipeline: StableDiffusion3Pipeline, pooled: torch.Tensor, dit_lora: dict | None
    ) -> None:
        self.pipeline = pipeline
        self.pooled = pooled
        self.dit_lora = dit_lora
        self.device = pooled.device
        self.dtype = pooled.dtype

    @classmethod
    def load(
        cls, sd3_dir: Path, dit_dir: Path, *, dit_lora: Path | None, device: torch.device, dtype: torch.dtype
    ) -> UAEDecoder:
        """``dit/`` (+ ``dit_lora/`` through PEFT) with SD3/'s VAE, scheduler and pooled ``""`` embedding."""
        pooled = empty_prompt_pooled_embedding(sd3_dir, device, dtype)
        transformer = SD3Transformer2DModel.from_pretrained(str(dit_dir), torch_dtype=dtype).to(device)
        lora_info = None
        if dit_lora is not None:
            transformer = PeftModel.from_pretrained(transformer, str(dit_lora))
            lora_config = transformer.peft_config["default"]
            lora_info = {"rank": lora_config.r, "alpha": lora_config.lora_alpha}
        transformer.eval()
        vae = (
            AutoencoderKL.from_pretrained(str(sd3_dir), subfolder="vae", torch_dtype=dtype).to(device).eval()
        )
        scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(str(sd3_dir), subfolder="scheduler")
        pipeline = StableDiffusion3Pipeline(
            transformer=transformer,
            scheduler=scheduler,
            vae=vae,
            text_encoder=None,
            tokenizer=None,
            text_encoder_2=None,
            tokenizer_2=None,
            text_encoder_3=None,
            tokenizer_3=None,
        )
        pipeline.set_progress_bar_config(disable=True)
        return cls(pipeline, pooled, lora_info)

    def info(self) -> dict[str, Any]:
        return {
            "transformer": "SD3Transformer2DModel",
            "dit_lora": self.dit_lora,
            "vae": "AutoencoderKL",
            "scheduler": type(self.pipeline.scheduler).__name__,
            "pooled_projection": 'concat(CLIP-L, CLIP-G) pooled embedding of ""',
        }

    def initial_latents(self, seeds: Sequence[int], width: int, height: int) -> torch.Tensor:
        """Gaussian latents ``[len(seeds), C, h, w]``, row ``i`` from ``seeds[i]`` alone.

        On CUDA each row is drawn as demo.py draws its one image's latents: the pipeline's
        ``randn_tensor`` with ``torch.Generator(device=cuda).manual_seed(seed)``, on the GPU, directly in
        the model's dtype (bfloat16 in the release); so a seed gives the release's image. CUDA's
        generator has no CPU equivalent, so on the CPU (and other devices) rows are drawn with a CPU
        generator in float32 and cast: deterministic per seed, but not the release's noise.
        """
        channels = self.pipeline.transformer.config.in_channels
        scale = self.pipeline.vae_scale_factor
        shape = (1, channels, height // scale, width // scale)
        device, dtype = latent_draw_placement(self.device, self.dtype)
        latents = [
            torch.randn(
                shape, generator=torch.Generator(device=device).manual_seed(seed), device=device, dtype=dtype
            )
            for seed in seeds
        ]
        return torch.cat(latents).to(device=self.device, dtype=self.dtype)

    @torch.inference_mode()
    def render(
        self,
        positive: torch.Tensor,
        negative: torch.Tensor,
        seeds: Sequence[int],
        *,
        width: int,
        height: int,
        num_inference_steps: int,
        guidance_scale: float,
    ) -> list[Image.Image]:
        """Images for ``positive``/``negative`` embeddings ``[B, L, D]`` (one ``L`` per call)."""
        batch = positive.shape[0]
        pooled = self.pooled.repeat(batch, 1)
        output = self.pipeline(
            prompt_embeds=positive,
            negative_prompt_embeds=negative,
            pooled_prompt_embeds=pooled,
            negative_pooled_prompt_embeds=pooled,
            latents=self.initial_latents(seeds, width, height),
            width=width,
            height=height,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            output_type="pil",
        )
        return list(output.images)


def latent_draw_placement(device: torch.device, dtype: torch.dtype) -> tuple[torch.device, torch.dtype]:
    """Where and in which dtype initial noise is drawn: as demo.py on CUDA, a portable CPU draw elsewhere."""
    if device.type == "cuda":
        return device, dtype
    return torch.device("cpu"), torch.float32
