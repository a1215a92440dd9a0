#!/usr/bin/env bash
# The LLM side of the prompt table (second table of the paper): x' per genre, LLM inference for every
# (LLM, dataset, prompt), y' for every (LLM, genre, prompt), the LLM + prompt MTEs, and the
# prompt-selection baselines per (LLM, dataset). Options and output layout: scripts/common.sh.
# --extra goes to the LLM steps, --te_extra to the run_task_emb.py steps.
#
#   bash scripts/sweep_llm.sh --out ./result --llms llama-13b,llama-70b,mixtral --bit 8
#       [--llm_datasets sst2,cb] [--prompts 0,10] [--extra "--batch_size 4"] [--dry_run]

source "$(dirname "$0")/common.sh"
parse_sweep_args "$@"
TE=$OUT/llm_te

# x' of every genre in use, drawn from the pool minus that genre's evaluation sets (100 per pool
# dataset as in the reference's README, at most 10,000 lines).
for g in "${GENRES[@]}"; do
    step "$TE/${g}_x.jsonl" "$PY" run_task_emb.py --task_type "$g" --input_type model --task_emb_type prefix \
        --generate_model_data_only True --max_data_for_task_emb_train 100 "${POOL[@]}" \
        --task_emb_model_lm_name "$SURROGATE" --save_path "$TE/${g}_x.jsonl" "${TE_EXTRA[@]}"
done

# LLM inference: every LLM x evaluation set x prompt (the prompts' actual performance).
for llm in "${LLMS[@]}"; do
    for d in "${LLM_SETS[@]}"; do
        local_data "$d"
        for p in "${PROMPTS[@]}"; do
            step "$OUT/llm/$(slug "$llm")/${d}_p$p.json" "$PY" run_llm_inference.py --model "$llm" --bit "$BIT" \
                --dataset_name "$d" "${DATA[@]}" --prompt_number "$p" \
                --save_path "$OUT/llm/$(slug "$llm")/${d}_p$p.json" \
                "${EXTRA[@]}"
        done
    done
done

# y': every LLM x genre x prompt answers x' (the script appends and resumes; done = one line per x').
for llm in "${LLMS[@]}"; do
    for g in "${GENRES[@]}"; do
        for p in "${PROMPTS[@]}"; do
            y=$TE/$(slug "$llm")_${g}_p$p.jsonl
            step_lines "$y" "$TE/${g}_x.jsonl" "$PY" run_llm_inference_for_te.py --model "$llm" --bit "$BIT" \
                --task_genre "$g" --prompt_number "$p" --data_load_path "$TE/${g}_x.jsonl" --save_path "$y" \
                "${EXTRA[@]}"
        done
    done
done

# MTE of every LLM + prompt, learned on the surrogate from its (x', y').
for type in "${EMB_TYPES[@]}"; do
    for llm in "${LLMS[@]}"; do
        for g in "${GENRES[@]}"; do
            for p in "${PROMPTS[@]}"; do
                name=$(slug "$llm")_${g}_p$p
                step "$OUT/emb/$type-fute/${name}_mte.npy" "$PY" run_task_emb.py --task_type "$g" \
                    --input_type model --llm_mode True --task_emb_type "$type" --load_path "$TE/$name.jsonl" \
                    --lm_model_name "$llm" --task_emb_model_lm_name "$SURROGATE" \
                    --save_path "$OUT/emb/$type-fute/${name}_mte.npy" "${TE_EXTRA[@]}"
            done
        done
    done
done

# Prompt-selection baselines per (LLM, dataset): they score all 13 prompts at once, so they run only
# once every prompt's inference file exists or is made by this sweep.
for llm in "${LLMS[@]}"; do
    for d in "${LLM_SETS[@]}"; do
        paths=() missing=()
        for ((p = 0; p < NUM_PROMPTS; p++)); do
            paths+=("$OUT/llm/$(slug "$llm")/${d}_p$p.json")
            [[ -e ${paths[-1]} || " ${PROMPTS[*]} " == *" $p "* ]] || missing+=("$p")
        done
        if ((${#missing[@]})); then
            note "selection/$(slug "$llm")_$d waits for prompts $(join "${missing[@]}") (add them to --prompts)"
            continue
        fi
        step "$OUT/selection/$(slug "$llm")_$d.json" "$PY" run_prompt_selection_baselines.py \
            --paths "$(join "${paths[@]}")" --save_path "$OUT/selection/$(slug "$llm")_$d.json"
    done
done
