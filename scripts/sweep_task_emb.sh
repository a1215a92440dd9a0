#!/usr/bin/env bash
# Task embeddings on the surrogate for the transferability table and the prompt table: baseline DTEs
# (the original prefix/FIM schedules), TextEmb, FUTE DTEs and the MTE of every fine-tuned model
# (run scripts/sweep_finetune.sh first). Options and output layout: scripts/common.sh.
#
#   bash scripts/sweep_task_emb.sh --out ./result --lm bert-base-uncased --surrogate t5-base
#       [--emb_types prefix,fim] [--extra "--save_dtype float16"] [--dry_run]

source "$(dirname "$0")/common.sh"
parse_sweep_args "$@"
EMB=$OUT/emb

# FUTE DTEs cover the LLM evaluation sets too: the prompt table compares LLM MTEs with them.
declare -A seen=()
DTE_SETS=()
for d in "${CR[@]}" "${QA[@]}" "${LLM_SETS[@]}"; do
    [[ -n ${seen[$d]:-} ]] || DTE_SETS+=("$d")
    seen[$d]=1
done

# Baseline DTEs (TuPaTE / TaskEmb with the original method's schedule) of every CR/QA dataset.
for type in "${EMB_TYPES[@]}"; do
    for d in "${CR[@]}" "${QA[@]}"; do
        local_data "$d"
        step "$EMB/$type-baseline/${d}_dte.npy" "$PY" run_task_emb.py --task_type "$(class_of "$d")" \
            --input_type data --task_emb_type "$type" --is_baseline True --to_train_dataset "$d" "${DATA[@]}" \
            --task_emb_model_lm_name "$SURROGATE" --save_path "$EMB/$type-baseline/${d}_dte.npy" "${EXTRA[@]}"
    done
done

# TextEmb of every CR/QA dataset: mean final hidden state of the base LM (--lm), as TaskEmb's baseline.
for d in "${CR[@]}" "${QA[@]}"; do
    local_data "$d"
    step "$EMB/textemb/${d}_dte.npy" "$PY" run_task_emb.py --task_type "$(class_of "$d")" --input_type data \
        --task_emb_type text --to_train_dataset "$d" "${DATA[@]}" --task_emb_model_lm_name "$LM" \
        --save_path "$EMB/textemb/${d}_dte.npy" "${EXTRA[@]}"
done

# FUTE DTEs (early stopping on dev) of every dataset.
for type in "${EMB_TYPES[@]}"; do
    for d in "${DTE_SETS[@]}"; do
        local_data "$d"
        step "$EMB/$type-fute/${d}_dte.npy" "$PY" run_task_emb.py --task_type "$(class_of "$d")" \
            --input_type data --task_emb_type "$type" --is_baseline False --to_train_dataset "$d" "${DATA[@]}" \
            --task_emb_model_lm_name "$SURROGATE" --save_path "$EMB/$type-fute/${d}_dte.npy" "${EXTRA[@]}"
    done
done

# FUTE MTEs of the LM fine-tuned on every CR/QA dataset, learned from its outputs on the pool x'.
for type in "${EMB_TYPES[@]}"; do
    for d in "${CR[@]}" "${QA[@]}"; do
        step "$EMB/$type-fute/${d}_mte.npy" "$PY" run_task_emb.py --task_type "$(class_of "$d")" \
            --input_type model --task_emb_type "$type" --load_path "$OUT/finetune/${d}_ckpt" \
            --to_train_dataset "$d" "${POOL[@]}" --lm_model_name "$LM" --task_emb_model_lm_name "$SURROGATE" \
            --save_path "$EMB/$type-fute/${d}_mte.npy" "${EXTRA[@]}"
    done
done
