"""UAE's encoder: Qwen2.5-VL with the projector that maps its last hidden states to SD3's text space."""

from __future__ import annotations

import torch
from torch import nn
from transformers import Qwen2_5_VLForConditionalGeneration

# Width of SD3.5-Large's `joint_attention_dim` (the T5 context width) that the projector writes.
DEFAULT_PROJECTOR_DIM = 4096

# The release was saved with transformers 4.50 (`model.layers.*`, `visual.*`); transformers 5
# nests both under `model.`. transformers converts those names only for its own class names, so
# our subclass passes the same renaming explicitly (a no-op for checkpoints already in the new layout).
LEGACY_KEY_MAPPING = {
    r"^visual": "model.visual",
    r"^model(?!\.(language_model|visual))": "model.language_model",
}


class Qwen2_5_VLWithProjector(Qwen2_5_VLForConditionalGeneration):
    """Qwen2.5-VL plus ``projector``: Linear(hidden, 2D) -> GELU -> Linear(2D, D).

    ``hidden`` is ``config.text_config.hidden_size`` (2048 for the 3B model) and ``D`` is
    ``config.projector_dim`` when the config has it, else 4096 (the released model).
    """

    def __init__(self, config) -> None:
        super().__init__(config)
        hidden_size = config.text_config.hidden_size
        projector_dim = getattr(config, "projector_dim", None) or DEFAULT_PROJECTOR_DIM
        self.projector = nn.Sequential(
            nn.Linear(hidden_size, 2 * projector_dim),
            nn.GELU(),
            nn.Linear(2 * projector_dim, projector_dim),
        )
        self.post_init()

    @property
    def projector_dims(self) -> tuple[int, int, int]:
        """(input, hidden, output) widths of the projector."""
        first, last = self.projector[0], self.projector[2]
        return first.in_features, first.out_features, last.out_features

    def get_projected_embeddings(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.LongTensor | None = None,
    ) -> torch.Tensor:
        """Projected last-layer hidden states of every token: ``[B, L, D]`` SD3 prompt embeddings.

        The base model's ``last_hidden_state`` is ``hidden_states[-1]`` of the full forward (final
        norm applied), without computing the vocabulary logits the demo throws away. Text-only
        inputs with an attention mask get the position ids transformers 4.50 (the release's pin)
        gave them, so the states of padding tokens, which SD3 attends to, are the release's too.
        """
        position_ids = None
        if pixel_values is None and attention_mask is not None:
            position_ids = release_text_position_ids(attention_mask)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            pixel_values=pixel_values,
            image_grid_thw=image_grid_thw,
        )
        return self.projector(outputs.last_hidden_state)


def release_text_position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Qwen2.5-VL's 3-axis rope positions of a text-only batch as transformers 4.50 computed them.

    Real tokens count 0, 1, 2, ... (padding skipped); padding tokens all get position 1. From 4.5x
    on, transformers gives right padding the positions n, n+1, ... instead, which changes the
    padding tokens' hidden states (and so the unconditional half of guidance, in demo.py's pairing).
    Returns ``[3, B, L]``.
    """
    mask = attention_mask.long()
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    return positions.unsqueeze(0).expand(3, -1, -1)


def release_multimodal_position_ids(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Qwen2.5-VL's 3-axis rope positions of an image + text batch as transformers 4.50 computed them.

    ``model`` is the ``Qwen2_5_VLModel``; ``inputs`` the processor's tensors (``mm_token_type_ids``
    included). Attended tokens get ``get_rope_index``'s positions (image tokens on the M-RoPE grid);
    padding tokens keep the 1 that 4.50 initialised every position with, where transformers 5
    initialises with 0. Returns ``[3, B, L]``.
    """
    positions, _ = model.get_rope_index(
        inputs["input_ids"],
        mm_token_type_ids=inputs["mm_token_type_ids"],
        image_grid_thw=inputs.get("image_grid_thw"),
        attention_mask=inputs["attention_mask"],
    )
    return positions.masked_fill(inputs["attention_mask"].eq(0).unsqueeze(0), 1)
