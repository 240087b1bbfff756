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
