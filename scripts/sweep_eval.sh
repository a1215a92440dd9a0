#!/usr/bin/env bash
# The paper's two tables and the embedding plots from what the other sweeps wrote (run
# sweep_finetune.sh, sweep_task_emb.sh and sweep_llm.sh first). Delete eval/ to recompute. --extra goes
# to the two table steps (e.g. --ndcg_gain, --ndcg_k).
# Options and output layout: scripts/common.sh.
#
#   bash scripts/sweep_eval.sh --out ./result [--extra "--ndcg_gain exponential"] [--dry_run]
#
# --llms "" (no LLMs) makes only the transferability table and the LM plots, for a study of small
# models alone.

source "$(dirname "$0")/common.sh"
parse_sweep_args "$@"
EVAL=$OUT/eval

# Transferability table: every embedding method (+ DataSize) on the chosen CR/QA pool.
step "$EVAL/transfer.json" "$PY" run_eval.py transfer --emb_dir "$OUT/emb" --score_dir "$OUT/finetune" \
    --tasks "$(join "${CR[@]}" "${QA[@]}")" --save_path "$EVAL/transfer" "${EXTRA[@]}"

# Prompt-selection table: the baselines and the FUTE methods (cosine of LLM + prompt MTE and DTE).
if ((${#LLMS[@]})); then
    step "$EVAL/prompt.json" "$PY" run_eval.py prompt --inference_dir "$OUT/llm" \
        --baseline_scores "$OUT/selection" --emb_dir "$OUT/emb" --save_path "$EVAL/prompt" "${EXTRA[@]}"
else
    note "no --llms: no prompt table and no LLM plots"
fi

# Plots, per FUTE method: the MTEs of the fine-tuned LMs, and those of the LLMs under every prompt.
llm_tasks=()
for llm in "${LLMS[@]}"; do
    for p in "${PROMPTS[@]}"; do llm_tasks+=("$llm:p$p"); done
done
lm_tasks=("${CR[@]}" "${QA[@]}")
for type in "${EMB_TYPES[@]}"; do
    if ((${#lm_tasks[@]} >= 3)); then
        step "$EVAL/plots/$type-fute_lm.record.json" "$PY" run_eval.py plot --emb_dir "$OUT/emb" \
            --method "$type-fute" --kinds MTE --tasks "$(join "${lm_tasks[@]}")" --save_path "$EVAL/plots/$type-fute_lm"
    else
        note "no $type-fute LM plot: a plot needs at least 3 tasks"
    fi
    ((${#LLMS[@]})) || continue
    if ((${#llm_tasks[@]} >= 3)); then
        step "$EVAL/plots/$type-fute_llm.record.json" "$PY" run_eval.py plot --emb_dir "$OUT/emb" \
            --method "$type-fute" --kinds MTE --tasks "$(join "${llm_tasks[@]}")" --save_path "$EVAL/plots/$type-fute_llm"
    else
        note "no $type-fute LLM plot: a plot needs at least 3 (LLM, prompt) pairs"
    fi
done
