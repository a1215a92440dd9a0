"""Fine-tune an LM on a classification/regression (CR) dataset; --load_path continues from an earlier checkpoint.

Example:
    python run_cr_train.py --to_train_dataset=mrpc --lm_model_name=bert-base-uncased \
        --model_save_path=./result/mrpc_bert_checkpoint --score_save_path=./result/mrpc_bert_score
"""
from __future__ import annotations

from collections.abc import Sequence

from data_utils.cli import exit_with
from task_emb import finetune

TASK = "cr"


def parse_args(argv: Sequence[str] | None = None):
    return finetune.parse_args(TASK, argv)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    return finetune.run(TASK, parse_args(argv), argv)


if __name__ == "__main__":
    exit_with(main)
