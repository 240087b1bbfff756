"""``worker``: a model in its own environment, started as a command and driven over worker protocol v1
(docs/worker-protocol.md). The presets (bagel, show-o2, ...) run the workers in ``adapters/workers``.

Only the manifests live here, so listing adapters never imports anything heavy.
"""

from unified_bench.adapter import AdapterManifest, WeightsRequirement

_PRESET_CONFIG = "unified_bench_adapters.worker.presets:PresetConfig"
_RUN = "--adapter-arg python=/envs/{env}/bin/python --adapter-arg repo=CHECKOUT --adapter-arg weights=FOLDER"

MANIFEST = AdapterManifest(
    name="worker",
    factory="unified_bench_adapters.worker.adapter:build_worker",
    config="unified_bench_adapters.worker.adapter:WorkerConfig",
    description='A model in its own environment: --adapter-arg command="/env/bin/python my_worker.py ..." '
    "speaking worker protocol v1 (docs/worker-protocol.md; `unified-bench worker-template` prints a "
    "skeleton); timeout=SECONDS per request, restarts=N.",
    gpu_memory_gb=None,
)

# Each preset: how to make the model's own environment (the official README's steps), where its
# weights are, and what its worker was checked against (adapters/workers/README.md has the detail).
BAGEL_MANIFEST = AdapterManifest(
    name="bagel",
    factory="unified_bench_adapters.worker.presets:build_bagel",
    config=_PRESET_CONFIG,
    description="BAGEL-7B-MoT in its own environment through its official InterleaveInferencer "
    "(understanding + text-to-image, inference.ipynb settings).",
    weights=(WeightsRequirement("ByteDance-Seed/BAGEL-7B-MoT", size_gb=29.0),),
    gpu_memory_gb=32.0,  # the official README: "32GB+ VRAM" for bf16 (app.py mode 1)
    setup=(
        "environment (official README): git clone https://github.com/ByteDance-Seed/Bagel CHECKOUT && "
        "conda create -n bagel python=3.10 -y && conda activate bagel && "
        "pip install -r CHECKOUT/requirements.txt && pip install flash_attn==2.5.8 --no-build-isolation",
        "weights: hf download ByteDance-Seed/BAGEL-7B-MoT --local-dir FOLDER",
        "run: unified-bench run --model bagel " + _RUN.format(env="bagel"),
        "checked: written against commit 056b5fd; not run (its classes need flash-attn and CUDA).",
    ),
)

OMNIGEN2_MANIFEST = AdapterManifest(
    name="omnigen2",
    factory="unified_bench_adapters.worker.presets:build_omnigen2",
    config=_PRESET_CONFIG,
    description="OmniGen2 in its own environment through its official OmniGen2Pipeline (text-to-image, "
    "example_t2i.sh settings) and OmniGen2ChatPipeline.generate_text (captions).",
    weights=(WeightsRequirement("OmniGen2/OmniGen2"),),
    gpu_memory_gb=17.0,  # the official README: "approximately 17GB of VRAM"
    setup=(
        "environment (official README): git clone https://github.com/VectorSpaceLab/OmniGen2 CHECKOUT && "
        "conda create -n omnigen2 python=3.11 && conda activate omnigen2 && pip install torch==2.6.0 "
        "torchvision --extra-index-url https://download.pytorch.org/whl/cu124 && pip install -r "
        "CHECKOUT/requirements.txt (optionally pip install flash-attn==2.7.4.post1 --no-build-isolation)",
        "weights: hf download OmniGen2/OmniGen2 --local-dir FOLDER",
        "run: unified-bench run --model omnigen2 " + _RUN.format(env="omnigen2"),
        "checked: written against commit 0f72fa9; run once on CPU with tiny random weights of its classes "
        "(transformers 5.24 / diffusers 0.42, not its pins); the release, CUDA and bf16 unchecked.",
    ),
)

MMADA_MANIFEST = AdapterManifest(
    name="mmada",
    factory="unified_bench_adapters.worker.presets:build_mmada",
    config=_PRESET_CONFIG,
    description="MMaDA-8B in its own environment through its official MMadaModelLM.mmu_generate "
    "(captions) and t2i_generate + MAGVITv2 (512x512 images, the README's guidance 3.5, 15 timesteps).",
    weights=(
        WeightsRequirement("Gen-Verse/MMaDA-8B-MixCoT", role="model"),
        WeightsRequirement("showlab/magvitv2", role="image tokenizer"),
    ),
    setup=(
        "environment (official README): git clone https://github.com/Gen-Verse/MMaDA CHECKOUT && "
        "pip install -r CHECKOUT/requirements.txt (in a fresh environment: it pins transformers 4.46.0, "
        "diffusers 0.32.2)",
        "weights: hf download Gen-Verse/MMaDA-8B-MixCoT --local-dir FOLDER; hf download showlab/magvitv2 "
        "--local-dir VQ (then --adapter-arg worker_args='--vq-weights VQ'), or hub ids online",
        "run: unified-bench run --model mmada --size 512x512 " + _RUN.format(env="mmada"),
        "checked: written against commit 3cdb870; run once on CPU with tiny random weights of its classes "
        "under its pinned transformers 4.46.0 / diffusers 0.32.2; the release, CUDA and bf16 unchecked.",
    ),
)

SHOW_O2_MANIFEST = AdapterManifest(
    name="show-o2",
    factory="unified_bench_adapters.worker.presets:build_show_o2",
    config=_PRESET_CONFIG,
    description="Show-o2-7B in its own environment through its official Showo2Qwen2_5.mmu_generate "
    "(captions) and t2i_generate under its flow-matching Sampler with the Wan2.1 VAE (432x432, the "
    "README's guidance 7.5, 50 steps).",
    weights=(
        WeightsRequirement("showlab/show-o2-7B", role="model"),
        WeightsRequirement("Qwen/Qwen2.5-7B-Instruct", role="tokenizer (the demo config's llm_model_path)"),
        WeightsRequirement("Wan-AI/Wan2.1-T2V-14B", role="Wan2.1_VAE.pth only"),
    ),
    setup=(
        "environment (official show-o2/build_env.sh): git clone https://github.com/showlab/Show-o "
        "CHECKOUT && cd CHECKOUT/show-o2 && bash build_env.sh (torch 2.5.1, transformers 4.47.0, "
        "diffusers 0.31.0, flash-attn, ...)",
        "weights: hf download showlab/show-o2-7B --local-dir FOLDER (or the hub id); wget "
        "https://huggingface.co/Wan-AI/Wan2.1-T2V-14B/resolve/main/Wan2.1_VAE.pth into CHECKOUT/show-o2",
        "run: unified-bench run --model show-o2 --size 432x432 " + _RUN.format(env="show-o2"),
        "checked: written against commit 45a5a2d; not run (no environment or weights here).",
    ),
)

BLIP3O_MANIFEST = AdapterManifest(
    name="blip3o",
    factory="unified_bench_adapters.worker.presets:build_blip3o",
    config=_PRESET_CONFIG,
    description="BLIP3-o 8B in its own environment through its official blip3oQwenForInferenceLM "
    "(captions, as its lmms-eval model) and the checkpoint's diffusion-decoder pipeline (inference.py, "
    "guidance 3.0).",
    weights=(
        WeightsRequirement("BLIP3o/BLIP3o-Model-8B", role="model and diffusion-decoder"),
        WeightsRequirement("Qwen/Qwen2.5-VL-7B-Instruct", role="processor (as the official lmms-eval model)"),
    ),
    setup=(
        "environment (official README, main branch): git clone -b main https://github.com/JiuhaiChen/BLIP3o "
        "CHECKOUT && conda create -n blip3o python=3.11 -y && conda activate blip3o && pip install "
        "--upgrade pip setuptools && pip install -r CHECKOUT/requirements.txt",
        "weights: hf download BLIP3o/BLIP3o-Model-8B --local-dir FOLDER",
        "run: unified-bench run --model blip3o " + _RUN.format(env="blip3o"),
        "checked: written against commit 4689ec3 (branch main); not run (no environment or weights here).",
    ),
)

UNIWORLD_MANIFEST = AdapterManifest(
    name="uniworld",
    factory="unified_bench_adapters.worker.presets:build_uniworld",
    config=_PRESET_CONFIG,
    description="UniWorld-V1 in its own environment through its official UnivaQwen2p5VL model (captions; "
    "denoise embeddings) and FluxPipeline over its denoiser (app.py defaults: 1024x1024, 30 steps, "
    "guidance 4.0).",
    weights=(
        WeightsRequirement("LanguageBind/UniWorld-V1", role="model"),
        WeightsRequirement("black-forest-labs/FLUX.1-dev", role="FLUX pipeline (VAE, T5, CLIP)"),
    ),
    setup=(
        "environment (official README): git clone https://github.com/PKU-YuanGroup/UniWorld-V1 CHECKOUT && "
        "conda create -n univa python=3.10 -y && conda activate univa && pip install -r "
        "CHECKOUT/requirements.txt && pip install flash_attn --no-build-isolation",
        "weights: hf download LanguageBind/UniWorld-V1 --local-dir FOLDER; hf download "
        "black-forest-labs/FLUX.1-dev --local-dir FLUX (then --adapter-arg worker_args='--flux-path FLUX')",
        "run: unified-bench run --model uniworld " + _RUN.format(env="univa"),
        "checked: written against commit 8403e86; not run (no environment or weights here).",
    ),
)
