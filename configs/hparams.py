"""Default hyper-parameters (docs/method.md section 4), as data.

A flag given on the command line always wins over these values; the resolved
values are written into the JSON record next to every output.
"""

# Shared by every optimisation in the project (fine-tuning and task embeddings).
OPTIMIZER = {
    "weight_decay": 0.01,  # not on names with "bias" or "LayerNorm.weight" (task_emb.trainer)
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

# The --seed of every entry script when none is given, and the one seed of a sweep or the demo without --seeds
# (ResultLayout puts its artifacts in <out>/seed42/); a record that names no seed (older files) was made with it.
DEFAULT_SEED = 42

# Fraction of the training split kept for training when a dataset has no dev split. Its seed is fixed, not the
# run's --seed: every seed is scored on the same dev rows and none trains on another seed's dev rows, so seeds
# differ only in what they sample from the fixed splits (--max_train_examples, --max_dev_examples, x').
DEV_SPLIT = {"train_fraction": 0.8, "seed": 42}

# Prefix tuning (TuPaTE-style): prefix length and dropout on the prefixes.
PREFIX = {"prefix_len": 16, "dropout": 0.15}
# A prefix embedding that moved less than this fraction of its initialisation's norm from it
# (||e - e0|| / ||e0||) is flagged as under-trained: it mostly measures the shared start e0.
# Measured on all-MiniLM-L6-v2: DTEs that learned their task moved 1.06-2.0 (demo sample data)
# and 1.6-7.3 (400 real examples per task); MTEs at a demo's budget 0.06-0.67, and those
# landed next to whichever DTE stayed closest to e0, not next to their own task.
UNDERTRAINED_PREFIX_DISPLACEMENT = 0.8
# A DTE's surrogate must beat the guess to beat on its dev examples by this many standard errors of a
# score at the guess's level over those examples, sqrt(g (1 - g) / n) (a proportion's binomial standard
# error; task_emb/undertraining.py): a score within it is what a guess gets from the luck of the dev
# sample (the demo's sst2 DTE at 0.557 against a guess of 0.55 on 300 examples, one error 0.029).
UNDERTRAINED_DEV_MARGIN_SE = 1.0
# An MTE's surrogate is checked against the best constant answer on this many of its x' (the first, in
# the pool's seeded order; task_emb/undertraining.py): one forward pass each after training, under 1% of
# the training passes of a paper-sized LM MTE (~120,000 x'), about 3% of an LLM MTE's (10,000 x').
UNDERTRAINED_FIT_EXAMPLES = 1000

# Task embeddings (run_task_emb.py): the pieces every method's defaults share. Each method's own
# table (learning rate, epochs, patience per input and task group) is its entry in configs/methods.py.
# batch_size is the effective batch; gradient_accumulation_steps the reference's default split of it.
TASK_EMB_DATA = {
    "cr": {"batch_size": 32, "max_len": 128, "gradient_accumulation_steps": 1},
    "qa": {"batch_size": 32, "max_len": 384, "gradient_accumulation_steps": 1},
}
# Model input (the MTE of a fine-tuned LM, learned from its outputs on x'): one epoch, batch 128.
TASK_EMB_MODEL = {
    "cr": {"batch_size": 128, "max_epochs": 1, "patience": None, "max_len": 128},
    "qa": {"batch_size": 128, "max_epochs": 1, "patience": None, "max_len": 384},
}
# LLM mode: inputs up to the surrogate's 512 positions minus the prefix's (the reference's 512 - 16);
# the README's command passes --max_epochs 3, the reference's default was 1.
TASK_EMB_LLM = {"batch_size": 128, "max_epochs": 1, "patience": None, "max_len": 512 - PREFIX["prefix_len"]}

# Unsupervised pool for model task embeddings.
# max_per_source: x' per pool dataset for a model task embedding; llm_x_per_source: for the LLMs
# (the reference README's 100), at most max_llm_lines in all. Which x' are drawn, and their order, follow the
# run's --seed (the reference's fixed 42 is the default).
UNSUP_POOL = {"max_per_source": 1000, "llm_x_per_source": 100, "max_llm_lines": 10000}

# A plot (cosine heatmap, PCA and t-SNE projections, task_emb/plots.py) needs at least this many embeddings;
# the sweeps leave out a plot of fewer.
PLOT_MIN_POINTS = 3
