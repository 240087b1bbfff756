"""UAE as one trainable ``nn.Module``: the ``uae`` adapter's encoder and decoder, the parts a stage trains.

accelerate wraps this module (DDP, or FSDP/DeepSpeed through its config). Each backward pass
follows exactly one call of the wrapped module, ``policy(compute, **inputs)``, which runs
``compute(unwrapped_policy, **inputs)``: the stages write their forward computations as plain
functions over the building blocks below, and the wrapper still sees every forward.

Dtypes: frozen weights keep the load dtype (bf16 on GPU); trainable weights are float32; the
building blocks cast between them explicitly, so they work with and without autocast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from peft import PeftModel
from PIL import Image
from torch import nn

from ..adapter import UAEAdapter
from ..encoder import UAEEncoder
from ..modeling import release_text_position_ids
from .lora import (
    add_decoder_lora,
    add_encoder_lora,
    has_lora,
    lora_disabled,
    lora_named_parameters,
)

T = TypeVar("T")
# What `run` passes to Qwen2.5-VL (the processor's outputs). transformers >= 5 computes the 3-D
# (M-RoPE) positions of image tokens only when `mm_token_type_ids` is given: without it, training
# would run a different encoder than the benchmark.
QWEN_INPUT_KEYS = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")


class UAEPolicy(nn.Module):
    """Qwen2.5-VL + projector (``encoder``), SD3 transformer (``transformer``) and VAE, as one module."""

    def __init__(self, adapter: UAEAdapter) -> None:
        super().__init__()
        self.encoder = adapter.encoder.model
        self.transformer = adapter.decoder.pipeline.transformer
        self.vae = adapter.decoder.pipeline.vae
        self.adapter = adapter  # not a module: the processor, pipeline, pooled embedding, settings
        self.trained_lora: list[nn.Module] = []

    def forward(self, compute: Callable[..., T], **inputs: Any) -> T:
        return compute(self, **inputs)

    # --- what trains ---------------------------------------------------------------------------

    @property
    def language_model(self) -> nn.Module:
        return self.encoder.model.language_model

    def train_encoder_lora(self, *, rank: int, alpha: float) -> None:
        """Train the encoder LoRA: the one already loaded (base_llm_lora), else a fresh one."""
        if not has_lora(self.language_model):
            add_encoder_lora(self.language_model, rank=rank, alpha=alpha)
        for _, parameter in lora_named_parameters(self.language_model):
            _make_trainable(parameter)
        self.trained_lora.append(self.language_model)

    def train_decoder_lora(self, *, rank: int, alpha: float, targets: tuple[str, ...]) -> None:
        """Train the decoder LoRA: the loaded ``dit_lora`` (base_dit_lora), else a fresh one."""
        if not isinstance(self.transformer, PeftModel):
            self.transformer = add_decoder_lora(self.transformer, rank=rank, alpha=alpha, targets=targets)
            self.adapter.decoder.pipeline.transformer = self.transformer
        for _, parameter in lora_named_parameters(self.transformer):
            _make_trainable(parameter)
        self.trained_lora.append(self.transformer)

    def train_decoder_fully(self) -> None:
        for parameter in self.transformer.parameters():
            _make_trainable(parameter)

    def train_projector(self) -> None:
        for parameter in self.encoder.projector.parameters():
            _make_trainable(parameter)

    def trainable_named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Trainable parameters in a fixed order (the optimizer's and the checkpoint's)."""
        return [(name, p) for name, p in self.named_parameters() if p.requires_grad]

    def enable_gradient_checkpointing(self) -> None:
        settings = {"use_reentrant": False}
        if hasattr(self.encoder, "activation_checkpointing_enable"):  # transformers >= 5.2x
            self.encoder.activation_checkpointing_enable(activation_checkpointing_kwargs=settings)
        else:
            self.encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs=settings)
        self.encoder.enable_input_require_grads()
        self.base_transformer.enable_gradient_checkpointing()

    @contextmanager
    def reference(self) -> Iterator[None]:
        """The reference policy: the trained LoRA switched off."""
        with lora_disabled(*self.trained_lora):
            yield

    # --- encoder -------------------------------------------------------------------------------

    @property
    def projector_dtype(self) -> torch.dtype:
        return self.encoder.projector[0].weight.dtype

    @property
    def base_transformer(self) -> nn.Module:
        return (
            self.transformer.get_base_model() if isinstance(self.transformer, PeftModel) else self.transformer
        )

    @property
    def transformer_dtype(self) -> torch.dtype:
        """Dtype of the transformer's own (non-LoRA) weights: load dtype, or float32 when trained fully."""
        return self.base_transformer.pos_embed.proj.weight.dtype

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """Projector, from Qwen's dtype to the transformer's."""
        return self.encoder.projector(hidden.to(self.projector_dtype)).to(self.transformer_dtype)

    def prompt_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Projected last hidden states of every token (role ``generate`` ids): ``[B, L, D]``.

        At the position ids ``get_projected_embeddings`` (inference) gives them, so the states of
        padding tokens, which SD3 attends to, are inference's too.
        """
        hidden = self.encoder.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=release_text_position_ids(attention_mask),
        ).last_hidden_state
        return self.project(hidden)

    def native_embeddings(self, image: Image.Image, caption: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(negative, positive)`` ``[L, D]`` exactly as the ``native`` protocol conditions the decoder
        (``UAEEncoder.project_native_pair``: caption-token states with the image in context, the
        negative prompt padded to one length), but with gradients.

        The encoder's own function runs here (without its inference mode), so training conditions on
        what inference conditions on. Under a low-precision load it runs in autocast, as the
        trainable float32 projector would otherwise meet bf16 states.
        """
        native = UAEEncoder.project_native_pair.__wrapped__  # the undecorated function
        frozen = self.encoder.model.language_model.embed_tokens.weight.dtype
        device = self.encoder.projector[0].weight.device
        with torch.autocast(device.type, dtype=frozen, enabled=frozen != torch.float32):
            negative, positive = native(self.adapter.encoder, image, caption)
        return negative.to(self.transformer_dtype), positive.to(self.transformer_dtype)

    # --- decoder -------------------------------------------------------------------------------

    def pooled(self, batch: int) -> torch.Tensor:
        """The pooled ``""`` embedding, a normal (not inference-mode) tensor: ``[batch, P]``."""
        return self.adapter.decoder.pooled.clone().to(self.transformer_dtype).expand(batch, -1)

    def velocity(
        self,
        latents: torch.Tensor,
        timestep: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor | None,
        guidance_scale: float,
        *,
        detach_uncond: bool = False,
    ) -> torch.Tensor:
        """The transformer's velocity with classifier-free guidance, float32 ``[B, C, H, W]``.

        ``uncond + g (cond - uncond)`` as ``StableDiffusion3Pipeline`` computes it (one batched call
        ``[negative, positive]`` when their lengths match, two calls otherwise); no guidance when
        ``negative`` is None or ``guidance_scale <= 1``. ``detach_uncond`` stops the gradient through
        the unconditional branch (Flow-GRPO's policy-gradient pass: the policy is the conditional
        branch; otherwise it would add ``(1 - g) ∂uncond``, -4x at g = 5).
        """
        batch = latents.shape[0]
        timestep = torch.as_tensor(timestep, device=latents.device).float().expand(batch)
        hidden = latents.to(self.transformer_dtype)

        def run(states: torch.Tensor, context: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
            output = self.transformer(
                hidden_states=states,
                timestep=steps,
                encoder_hidden_states=context.to(self.transformer_dtype),
                pooled_projections=self.pooled(states.shape[0]),
                return_dict=False,
            )[0]
            return output.float()

        if negative is None or guidance_scale <= 1:
            return run(hidden, positive, timestep)
        if negative.shape[1] == positive.shape[1]:
            both = run(
                torch.cat([hidden, hidden]), torch.cat([negative, positive]), torch.cat([timestep] * 2)
            )
            uncond, cond = both.chunk(2)
        else:
            uncond, cond = run(hidden, negative, timestep), run(hidden, positive, timestep)
        if detach_uncond:
            uncond = uncond.detach()
        return uncond + guidance_scale * (cond - uncond)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents -> images in [0, 1], float32 ``[B, 3, H, W]`` (differentiable; the pipeline's maths)."""
        config = self.vae.config
        scaled = latents / config.scaling_factor + config.shift_factor
        images = self.vae.decode(scaled.to(self.vae.dtype), return_dict=False)[0]
        return (images.float() / 2 + 0.5).clamp(0, 1)

    def encode(self, pixels: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
        """Images in [0, 1] -> SD3 latents, one posterior draw per generator (drawn on the CPU)."""
        posterior = self.vae.encode((pixels * 2 - 1).to(self.vae.dtype)).latent_dist
        noise = torch.stack(
            [torch.randn(posterior.mean.shape[1:], generator=generator) for generator in generators]
        ).to(posterior.mean)
        sample = posterior.mean + posterior.std * noise
        config = self.vae.config
        return ((sample - config.shift_factor) * config.scaling_factor).float()


def _make_trainable(parameter: nn.Parameter) -> None:
    """Trainable weights are float32 (master weights), whatever the frozen weights' dtype."""
    if parameter.dtype != torch.float32:
        parameter.data = parameter.data.float()
    parameter.requires_grad_(True)


def freeze(adapter: UAEAdapter) -> None:
    """Every weight of the adapter frozen (stages then unfreeze what they train)."""
    for module in (adapter.encoder.model, adapter.decoder.pipeline.transformer, adapter.decoder.pipeline.vae):
        module.requires_grad_(False)
        module.eval()
