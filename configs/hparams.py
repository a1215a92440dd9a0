"""Default hyper-parameters (SPEC section 3), as data.

A flag given on the command line always wins over these values; the resolved
values are written into the JSON record next to every output.
"""

# Shared by every optimisation in the project (fine-tuning and task embeddings).
OPTIMIZER = {
    "weight_decay": 0.01,  # not applied to biases and normalisation weights
    "warmup_ratio": 0.05,  # linear schedule, 5% warm-up
    "max_grad_norm": 1.0,
}

# Fine-tuning an LM on a dataset (run_cr_train.py / run_qa_train.py).
FINETUNE = {
    "cr": {"learning_rate": 2e-5, "max_epochs": 3, "batch_size": 32, "max_len": 128},
    "qa": {"learning_rate": 3e-5, "max_epochs": 3, "batch_size": 32, "max_len": 384},
}

# SQuAD post-processing of start/end logits.
QA_POSTPROCESS = {"n_best": 20, "max_answer_length": 30}

# Fraction of the training split kept for training when a dataset has no dev split.
DEV_SPLIT = {"train_fraction": 0.8, "seed": 42}
