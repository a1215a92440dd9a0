#!/usr/bin/env bash
# A prefix and two FIM (reference, empirical) dataset task embeddings of sst2's sample through run_task_emb.py,
# timed end to end (model loading included), on any device. Used for the GPU check of
# issue 3; run it on CPU too and compare the two with benchmarks/compare_embeddings.py.
#
#   bash benchmarks/task_emb_cli_runs.sh MODEL_FOLDER OUT_FOLDER [DEVICE]   # DEVICE: cpu (default), cuda
#
# The FIM of MiniLM is 86 MiB; besides each .npy the script keeps every 64th value
# (<name>_every64.npy) so that a run's embedding can travel back from a remote machine.
set -euo pipefail
model=${1:?usage: task_emb_cli_runs.sh MODEL_FOLDER OUT_FOLDER [DEVICE]}
out=${2:?usage: task_emb_cli_runs.sh MODEL_FOLDER OUT_FOLDER [DEVICE]}
device=${3:-cpu}
python=${PYTHON:-python}
mkdir -p "$out"
export HF_HUB_OFFLINE=1 TQDM_DISABLE=1

run() {  # run NAME EXTRA_FLAGS...: one baseline DTE on sst2's sample
    local name=$1 start end
    shift
    start=$(date +%s.%N)
    "$python" run_task_emb.py --task_type cr --input_type data --to_train_dataset sst2 \
        --dataset_path data/samples/sst2 --task_emb_model_lm_name "$model" --is_baseline True \
        --device "$device" --overwrite True --save_path "$out/$name.npy" "$@"
    end=$(date +%s.%N)
    "$python" - "$out/$name.npy" "$start" "$end" <<'EOF'
import sys
import numpy as np
path, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
vector = np.load(path)
np.save(path.replace(".npy", "_every64.npy"), vector[::64])
print(f"{path}: {end - start:.1f} s, {vector.size} values, norm {np.linalg.norm(vector.astype(np.float64)):.4e}")
EOF
}

run sst2_prefix --task_emb_type prefix --max_epochs 10
run sst2_fim --task_emb_type fim
run sst2_fim_empirical --task_emb_type fim --fim_estimator empirical
