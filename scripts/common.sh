# Shared by the paper's sweeps (scripts/sweep_*.sh): options, defaults, run-or-skip, dry run.
# Sourced, not run. Every sweep accepts every option below and uses those it needs.
#
# Options (lists are comma-separated; defaults are the paper's):
#   --out DIR            result folder (default ./result); one folder per (LM, surrogate, bit) setting
#   --lm NAME            LM fine-tuned on the CR/QA sources (default bert-base-uncased)
#   --surrogate NAME     surrogate model T of every task embedding (default t5-base)
#   --llms LIST          LLMs (default llama-13b,llama-70b,mixtral); aliases, hub ids, folders or .gguf files
#                        (a model path may be relative to the folder the sweep starts from)
#   --bit N              LLM weights: 4, 8, 16 or 32 (default 8)
#   --cr_datasets LIST   CR transfer pool (default: TaskEmb's 15 CR datasets)
#   --qa_datasets LIST   QA transfer pool (default: the 10 QA datasets)
#   --llm_datasets LIST  LLM evaluation sets (default sst2,imdb,rotten_tomatoes,cb,anli,wanli)
#   --prompts LIST       prompt numbers (default 0-12; 10-12 are chain-of-thought)
#   --emb_types LIST     task embedding methods: prefix (TuPaTE), fim (TaskEmb) (default prefix,fim)
#   --data_dir DIR       read every dataset from DIR/<dataset>/ (local files, as --dataset_path) instead
#                        of the hub; data/samples is such a folder
#   --pool FILE          the unsupervised pool x' is drawn from (JSONL: text, optional text_pair) instead
#                        of the ~120 CrossFit datasets of the hub: every MTE and x' step gets --unsup_data_path
#   --extra "FLAGS"      whitespace-separated flags appended to every step of the sweep (they win);
#                        sweep_llm.sh: to its LLM steps; sweep_eval.sh: to its two table steps
#   --te_extra "FLAGS"   sweep_llm.sh only: flags appended to its run_task_emb.py steps
#   --dry_run            print the commands, one per line, and run nothing
#
# Every command is printed on stdout before it runs (shell-quoted, exactly as run); notes such as
# "done already" go to stderr. A step whose final output exists is skipped, so a killed sweep
# resumes where it stopped; the first failing step stops the sweep. Commands run from the
# repository root with `python` from PATH or $PYTHON; --out is made absolute first, so give
# paths inside --extra as absolute paths.
#
# Output layout under --out (d: dataset, s -> t: source -> target, k: prompt, g: genre sa|nli,
# m: method prefix-baseline | fim-baseline | textemb | prefix-fute | fim-fute; an LLM's hub id or
# path is shortened to its last path component without .gguf):
#   finetune/<d>_ckpt/  finetune/<d>_score.json                    --lm fine-tuned on d
#   finetune/transfer/<s>__<t>_ckpt/  .../<s>__<t>_score.json       --lm fine-tuned on s, then on t
#   emb/<m>/<d>_dte.npy                                             dataset task embedding (DTE) of d
#   emb/<m>/<d>_mte.npy                                             MTE of the LM fine-tuned on d
#   emb/<m>/<llm>_<g>_p<k>_mte.npy                                  MTE of the LLM under prompt k
#   llm/<llm>/<d>_p<k>.json                                         LLM inference on d with prompt k
#   llm_te/<g>_x.jsonl                                              x' of genre g
#   llm_te/<llm>_<g>_p<k>.jsonl                                     y': the LLM's answers to x'
#   selection/<llm>_<d>.json                                        prompt-selection baseline scores
#   eval/transfer.{md,csv,json}  eval/prompt.{md,csv,json}          the two tables
#   eval/plots/<m>_lm_*.png  eval/plots/<m>_llm_*.png               FUTE MTEs of the LMs / LLM+prompts
# Every output X.ext has X.record.json beside it (checkpoints: fute_record.json inside).

set -euo pipefail

SWEEP_CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."  # entry scripts import the repository's packages
PY=${PYTHON:-python}

# The paper's experiments. Dataset facts live in configs/datasets.py; these are only the lists.
PAPER_CR=wnli,mrpc,cola,stsb,rte,boolq,sst2,scitail,qnli,snli,qqp,mnli,financial_phrasebank,medqa,medical_questions_pairs
PAPER_QA=cq,comqa,wikihop,duorcp,duorcs,newsqa,drop,hotpotqa,squad,squad_v2
PAPER_LLM_SETS=sst2,imdb,rotten_tomatoes,cb,anli,wanli
PAPER_LLMS=llama-13b,llama-70b,mixtral

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
    sed -n '3,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

die() {
    echo "$(basename "$0"): $*" >&2
    exit 2
}

note() {
    echo "# $*" >&2
}

# parse_sweep_args "$@": set OUT LM SURROGATE BIT DRY_RUN DATA_DIR and the arrays CR QA LLM_SETS LLMS
# PROMPTS EMB_TYPES EXTRA TE_EXTRA POOL, the genre of every LLM set in GENRE[d], and GENRES (those in use).
parse_sweep_args() {
    OUT=./result LM=bert-base-uncased SURROGATE=t5-base BIT=8 DRY_RUN=0 DATA_DIR=""
    local llms=$PAPER_LLMS cr=$PAPER_CR qa=$PAPER_QA llm_sets=$PAPER_LLM_SETS prompts="" emb_types=prefix,fim
    local extra="" te_extra="" pool="" opt value type i
    while (($#)); do
        opt=${1%%=*}
        case $opt in
            -h | --help) usage; exit 0 ;;
            --dry_run) DRY_RUN=1; shift; continue ;;
            --out | --lm | --surrogate | --llms | --bit | --cr_datasets | --qa_datasets | --llm_datasets | \
                --prompts | --emb_types | --extra | --te_extra | --data_dir | --pool) ;;
            *) die "unknown option $1; see --help" ;;
        esac
        if [[ $1 == *=* ]]; then value=${1#*=}; shift
        elif (($# >= 2)); then value=$2; shift 2
        else die "$opt needs a value"; fi
        case $opt in
            --out) OUT=$value ;;
            --lm) LM=$value ;;
            --surrogate) SURROGATE=$value ;;
            --llms) llms=$value ;;
            --bit) BIT=$value ;;
            --cr_datasets) cr=$value ;;
            --qa_datasets) qa=$value ;;
            --llm_datasets) llm_sets=$value ;;
            --prompts) prompts=$value ;;
            --emb_types) emb_types=$value ;;
            --extra) extra=$value ;;
            --te_extra) te_extra=$value ;;
            --data_dir) DATA_DIR=$value ;;
            --pool) pool=$value ;;
        esac
    done
    IFS=, read -ra CR <<<"$cr"
    IFS=, read -ra QA <<<"$qa"
    IFS=, read -ra LLM_SETS <<<"$llm_sets"
    IFS=, read -ra LLMS <<<"$llms"
    for i in "${!LLMS[@]}"; do LLMS[i]=$(local_or_hub "${LLMS[i]}"); done
    IFS=, read -ra EMB_TYPES <<<"$emb_types"
    read -ra EXTRA <<<"$extra"
    read -ra TE_EXTRA <<<"$te_extra"
    for type in "${EMB_TYPES[@]}"; do
        [[ $type == prefix || $type == fim ]] || die "--emb_types: unknown method $type; use prefix, fim or both"
    done
    OUT=$(absolute "$OUT")
    LM=$(local_or_hub "$LM") SURROGATE=$(local_or_hub "$SURROGATE")
    POOL=()
    if [[ -n $pool ]]; then
        pool=$(absolute "$pool")
        [[ -f $pool ]] || die "--pool: no file $pool"
        POOL=(--unsup_data_path "$pool")
    fi
    if [[ -n $DATA_DIR ]]; then
        DATA_DIR=$(absolute "$DATA_DIR")
        [[ -d $DATA_DIR ]] || die "--data_dir: no folder $DATA_DIR"
    fi
    _check_lists "$cr" "$qa" "$llm_sets" "$prompts"
}

# Check the names against configs/ (one error naming the known ones), learn each LLM set's genre and
# the number of prompts.
_check_lists() {
    local facts key a b
    facts=$("$PY" - "$@" <<'PYEOF'
import sys
from configs.datasets import CR_DATASETS, LLM_DATASETS, QA_DATASETS
from llm_inference.prompts import NUM_PROMPTS

cr, qa, llm, prompts = sys.argv[1:]
for flag, names, known in (("--cr_datasets", cr, CR_DATASETS), ("--qa_datasets", qa, QA_DATASETS),
                           ("--llm_datasets", llm, LLM_DATASETS)):
    for name in filter(None, names.split(",")):
        if name not in known:
            sys.exit(f"{flag}: unknown dataset {name!r}; known: {','.join(known)}")
for p in filter(None, prompts.split(",")):
    if not (p.isdigit() and int(p) < NUM_PROMPTS):
        sys.exit(f"--prompts: {p!r} is not a prompt number 0-{NUM_PROMPTS - 1}")
print("num_prompts", NUM_PROMPTS)
for name in filter(None, llm.split(",")):
    print("genre", name, LLM_DATASETS[name].llm_genre)
PYEOF
    ) || die "fix the option above"
    declare -gA GENRE=()
    GENRES=()
    while read -r key a b; do
        case $key in
            num_prompts) NUM_PROMPTS=$a ;;
            genre) GENRE[$a]=$b; [[ " ${GENRES[*]} " == *" $b "* ]] || GENRES+=("$b") ;;
        esac
    done <<<"$facts"
    if [[ -n $4 ]]; then IFS=, read -ra PROMPTS <<<"$4"; else mapfile -t PROMPTS < <(seq 0 $((NUM_PROMPTS - 1))); fi
}

# absolute PATH: PATH relative to the folder the sweep was started from, made absolute (steps run
# from the repository root).
absolute() {
    if [[ $1 == /* ]]; then echo "$1"; else echo "$SWEEP_CALLER_DIR/${1#./}"; fi
}

# local_or_hub NAME: a model folder or file that exists relative to the sweep's starting folder, made
# absolute; anything else (a hub id, an alias, an absolute path) unchanged.
local_or_hub() {
    if [[ $1 != /* && -e $SWEEP_CALLER_DIR/$1 ]]; then absolute "$1"; else echo "$1"; fi
}

# local_data DATASET: DATA=(--dataset_path DIR/DATASET) under --data_dir, else DATA=() (the hub).
local_data() {
    DATA=()
    [[ -z $DATA_DIR ]] || DATA=(--dataset_path "$DATA_DIR/$1")
}

# show CMD...: print CMD on one line, each word quoted only where the shell needs it.
show() {
    local word line=()
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./:,=+@%-]+$ ]]; then line+=("$word")
        else line+=("'${word//\'/\'\\\'\'}'"); fi
    done
    echo "${line[*]}"
}

# step OUTPUT CMD...: print and run CMD unless OUTPUT (its final output) exists already.
step() {
    local output=$1; shift
    if [[ -e $output ]]; then note "done already: $output"; return 0; fi
    show "$@"
    ((DRY_RUN)) || "$@"
}

# step_lines OUTPUT INPUT CMD...: step for a JSONL that CMD appends to, one line per line of INPUT:
# done once OUTPUT has as many lines as INPUT (a partial file is continued by CMD itself).
step_lines() {
    local output=$1 input=$2; shift 2
    if [[ -s $output && -s $input && $(wc -l <"$output") -eq $(wc -l <"$input") ]]; then
        note "done already: $output"
        return 0
    fi
    show "$@"
    ((DRY_RUN)) || "$@"
}

# train_script DATASET: the fine-tuning entry script of the dataset's class.
train_script() {
    if [[ " ${QA[*]} " == *" $1 "* ]]; then echo run_qa_train.py; else echo run_cr_train.py; fi
}

# class_of DATASET: cr or qa (the --task_type of its embeddings).
class_of() {
    if [[ " ${QA[*]} " == *" $1 "* ]]; then echo qa; else echo cr; fi
}

# slug NAME: an LLM name usable in a file name (last path component, without .gguf).
slug() {
    local name=${1%/}
    name=${name##*/}
    echo "${name%.gguf}"
}

# join LIST...: the words joined by commas.
join() {
    local IFS=,
    echo "$*"
}
