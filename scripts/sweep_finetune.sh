#!/usr/bin/env bash
# Fine-tune --lm on every CR/QA source, then on every source -> target pair: the ground truth of the
# transferability table (first table of the paper). Options and output layout: scripts/common.sh.
#
#   bash scripts/sweep_finetune.sh --out ./result --lm bert-base-uncased [--cr_datasets mrpc,rte]
#       [--qa_datasets cq] [--extra "--gradient_accumulation_steps 4"] [--dry_run]

source "$(dirname "$0")/common.sh"
parse_sweep_args "$@"
FT=$OUT/finetune

# Plain fine-tuning of every dataset (its checkpoint is the transfer source and the MTE's model).
for d in "${CR[@]}" "${QA[@]}"; do
    local_data "$d"
    step "$FT/${d}_score.json" "$PY" "$(train_script "$d")" --to_train_dataset "$d" "${DATA[@]}" \
        --lm_model_name "$LM" --model_save_path "$FT/${d}_ckpt" --score_save_path "$FT/${d}_score" "${EXTRA[@]}"
done

# Every source s -> target t, s != t (scores only: no later step loads these models), within and across the classes (CR->CR, QA->QA, QA->CR, CR->QA):
# the all-class columns rank every source of the pool (the slides' QA all-class rho of 11.4 exceeds
# the 9 QA sources, so CR sources were ranked for QA targets too).
for t in "${CR[@]}" "${QA[@]}"; do
    local_data "$t"
    for s in "${CR[@]}" "${QA[@]}"; do
        [[ $s == "$t" ]] && continue
        step "$FT/transfer/${s}__${t}_score.json" "$PY" "$(train_script "$t")" --to_train_dataset "$t" \
            "${DATA[@]}" --lm_model_name "$LM" --load_path "$FT/${s}_ckpt" \
            --score_save_path "$FT/transfer/${s}__${t}_score" "${EXTRA[@]}"
    done
done
