"""Fine-tune an LM on a classification/regression (CR) dataset; --load_path continues from an earlier checkpoint.

Example:
    python run_cr_train.py --to_train_dataset=mrpc --lm_model_name=bert-base-uncased \
        --model_save_path=./result/mrpc_bert_checkpoint --score_save_path=./result/mrpc_bert_score
"""
from __future__ import annotations

from collections.abc import Sequence

from data_utils.cli import exit_with
from task_emb.options import parse_finetune_args

TASK = "cr"


def parse_args(argv: Sequence[str] | None = None):
    return parse_finetune_args(TASK, argv)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    from task_emb import finetune  # torch and transformers: loaded once the flags are known to be good

    return finetune.run(TASK, args, argv)


if __name__ == "__main__":
    exit_with(main)
