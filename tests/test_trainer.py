"""The training loop: early stopping (stop, restore, ties as the reference), the saved state,
the no-decay parameter set (the reference's rule on BERT and T5), the flag checks, and a loss or dev
score that is not finite."""
import copy
import re

import pytest
import torch

from data_utils.errors import FuteError
from task_emb.options import check_training_flags
from task_emb.trainer import TrainConfig, build_optimizer, no_decay_parameter_names, train


class Tiny(torch.nn.Module):
    """A frozen layer, a trainable layer and a buffer."""

    def __init__(self):
        super().__init__()
        self.frozen = torch.nn.Linear(3, 3)
        self.head = torch.nn.Linear(3, 1)
        self.register_buffer("calls", torch.zeros(1))
        self.frozen.requires_grad_(False)

    def forward(self, x):
        self.calls += 1  # a buffer that changes while training
        return self.head(self.frozen(x))


def scripted_run(scores, max_epochs=20, patience=4):
    """Train Tiny with evaluate() returning `scores` in turn; return (result, model, state after each epoch)."""
    torch.manual_seed(0)
    model = Tiny()
    batches = [{"x": torch.randn(4, 3)} for _ in range(3)]
    snapshots = []
    sequence = iter(scores)

    def evaluate():
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"best": next(sequence)}

    result = train(model, batches, lambda batch: model(batch["x"]).pow(2).mean(),
                   TrainConfig(learning_rate=0.1, max_epochs=max_epochs, patience=patience), torch.device("cpu"),
                   evaluate)
    return result, model, snapshots


def assert_state_equal(model, state):
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0, msg=name)


def test_stops_after_patience_epochs_without_gain_and_a_tie_keeps_the_later_model():
    # The reference (train_trainer.py): `if current_score >= best_score` saves and resets patience.
    # By hand: 0.3 save, 0.5 save, 0.4 (1), 0.5 tie -> save epoch 4, reset; 0.2 (1), 0.1 (2), 0.4 (3),
    # 0.3 (4) -> stop after epoch 8 with epoch 4 restored. A strict `>` would stop after epoch 6 on epoch 2.
    result, model, snapshots = scripted_run([0.3, 0.5, 0.4, 0.5, 0.2, 0.1, 0.4, 0.3, 0.9, 0.9])
    assert result.epochs_run == 8 and len(snapshots) == 8
    assert result.best_epoch == 4 and result.best_scores == {"best": 0.5}
    assert [record["dev_best"] for record in result.history] == [0.3, 0.5, 0.4, 0.5, 0.2, 0.1, 0.4, 0.3]
    assert_state_equal(model, snapshots[3])
    # The restore did something: epoch 4 differs from epoch 2 (the strict rule's pick) and from the last epoch.
    assert not torch.equal(snapshots[3]["head.weight"], snapshots[1]["head.weight"])
    assert not torch.equal(snapshots[3]["head.weight"], snapshots[7]["head.weight"])
    # The frozen layer never moved.
    torch.testing.assert_close(model.frozen.weight, snapshots[0]["frozen.weight"], rtol=0, atol=0)


def test_a_run_of_ties_never_stops():
    result, model, snapshots = scripted_run([0.5] * 6, max_epochs=6)
    assert result.epochs_run == 6 and result.best_epoch == 6
    assert_state_equal(model, snapshots[-1])


def test_negative_metrics_are_saved_and_restored():
    # The reference started from best = 0 and never saved a negative score; we start from -inf.
    result, model, snapshots = scripted_run([-0.2, -0.5, -0.6, -0.7, -0.8])
    assert result.epochs_run == 5 and result.best_epoch == 1
    assert_state_equal(model, snapshots[0])


def test_fixed_schedule_never_evaluates():
    model = Tiny()
    calls = []
    result = train(model, [{"x": torch.ones(2, 3)}], lambda batch: model(batch["x"]).sum(),
                   TrainConfig(learning_rate=0.1, max_epochs=3), torch.device("cpu"), lambda: calls.append(1))
    assert result.epochs_run == 3 and result.best_epoch is None and calls == []


def test_no_decay_set_is_the_references_on_bert():
    from transformers import BertConfig, BertForSequenceClassification

    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=16))
    no_decay = no_decay_parameter_names(model)
    expected = {"bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
                "bert.encoder.layer.0.attention.self.query.bias", "bert.encoder.layer.0.attention.self.key.bias",
                "bert.encoder.layer.0.attention.self.value.bias", "bert.encoder.layer.0.attention.output.dense.bias",
                "bert.encoder.layer.0.attention.output.LayerNorm.weight",
                "bert.encoder.layer.0.attention.output.LayerNorm.bias", "bert.encoder.layer.0.intermediate.dense.bias",
                "bert.encoder.layer.0.output.dense.bias", "bert.encoder.layer.0.output.LayerNorm.weight",
                "bert.encoder.layer.0.output.LayerNorm.bias", "bert.pooler.dense.bias", "classifier.bias"}
    assert no_decay == expected


def test_no_decay_set_is_the_references_on_t5():
    from transformers import T5Config, T5ForSequenceClassification

    model = T5ForSequenceClassification(T5Config(vocab_size=50, d_model=8, d_kv=4, d_ff=16, num_layers=1,
                                                 num_heads=2, num_labels=2))
    no_decay = no_decay_parameter_names(model)
    # The reference matched "bias" / "LayerNorm.*" in names: T5's relative attention bias table is
    # exempt, its layer_norm weights are decayed.
    assert "transformer.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in no_decay
    assert "transformer.decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in no_decay
    assert "transformer.encoder.block.0.layer.0.layer_norm.weight" not in no_decay
    assert "transformer.encoder.final_layer_norm.weight" not in no_decay
    assert no_decay == {"transformer.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                        "transformer.decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                        "classification_head.dense.bias", "classification_head.out_proj.bias"}
    # The optimiser's groups follow that set, and only trainable parameters enter it.
    model.transformer.requires_grad_(False)
    groups = build_optimizer(model, TrainConfig(learning_rate=1e-3, max_epochs=1)).param_groups
    by_id = {id(p): n for n, p in model.named_parameters()}
    assert {by_id[id(p)] for g in groups if g["weight_decay"] == 0.0 for p in g["params"]} == {
        "classification_head.dense.bias", "classification_head.out_proj.bias"}
    assert {by_id[id(p)] for g in groups if g["weight_decay"] == 0.01 for p in g["params"]} == {
        "classification_head.dense.weight", "classification_head.out_proj.weight"}


@pytest.mark.parametrize("key,value", [("batch_size", 0), ("gradient_accumulation_steps", 0), ("max_epochs", 0),
                                       ("max_len", -1)])
def test_sizes_below_one_name_the_flag(key, value):
    values = {"batch_size": 32, "gradient_accumulation_steps": 1, "max_epochs": 3, "max_len": 128, key: value}
    with pytest.raises(FuteError, match=f"^--{key} must be at least 1, got {value}$"):
        check_training_flags(values)


def test_batch_must_split_into_accumulation_steps():
    with pytest.raises(FuteError, match="--batch_size 8 must be a multiple of --gradient_accumulation_steps 16"):
        check_training_flags({"batch_size": 8, "gradient_accumulation_steps": 16, "max_epochs": 1, "max_len": 8})
    check_training_flags({"batch_size": 32, "gradient_accumulation_steps": 16, "max_epochs": 1, "max_len": 8})


def test_optimizer_steps_and_the_epoch_mean_loss():
    """5 batches, accumulation 2: steps at batches 2, 4 and the last, partial one -> 3 per epoch. Each
    epoch's train_loss is the mean of its batch losses, recomputed here from the same parameters."""
    torch.manual_seed(0)
    model = Tiny()
    batches = [{"x": torch.randn(2, 3)} for _ in range(5)]
    seen = []

    def loss_fn(batch):
        loss = model(batch["x"]).pow(2).mean()
        seen.append(loss.item())
        return loss

    result = train(model, batches, loss_fn, TrainConfig(learning_rate=0.01, max_epochs=2, gradient_accumulation_steps=2),
                   torch.device("cpu"))
    assert result.optimizer_steps == 2 * 3
    assert [record["train_loss"] for record in result.history] == pytest.approx([sum(seen[:5]) / 5, sum(seen[5:]) / 5])
    assert result.final_train_loss == result.history[-1]["train_loss"]


class Dropping(torch.nn.Module):
    """Dropout (the torch random state), a trainable layer; trained on shuffled batches (the data order)."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.layer(self.dropout(x))


class Killed(Exception):
    pass


def resumable_run(resume_path, kill_in_epoch=None, max_epochs=4, patience=None, scores=None):
    """Train Dropping on a shuffling DataLoader; raise Killed in the first step of epoch `kill_in_epoch`."""
    torch.manual_seed(0)
    model = Dropping()
    features = [{"x": torch.tensor([float(i % 7), 1.0, float(i % 5), 2.0]), "y": torch.tensor(float(i % 3))}
                for i in range(24)]
    # As modeling.features.make_loader shuffles: a DataLoader with a seeded generator of its own.
    loader = torch.utils.data.DataLoader(features, batch_size=4, shuffle=True,
                                         generator=torch.Generator().manual_seed(3))
    calls, epochs = [0], iter(scores or [])

    def loss(batch):
        calls[0] += 1
        if kill_in_epoch is not None and calls[0] == (kill_in_epoch - 1) * len(loader) + 1:
            raise Killed
        return (model(batch["x"]).squeeze(-1) - batch["y"]).pow(2).mean()

    evaluate = (lambda: {"best": next(epochs)}) if scores else None
    result = train(model, loader, loss, TrainConfig(learning_rate=0.05, max_epochs=max_epochs, patience=patience),
                   torch.device("cpu"), evaluate, resume_path=resume_path, identity={"run": "a"})
    return result, model


@pytest.mark.parametrize("kill_in_epoch", [2, 4])
def test_a_killed_run_resumes_to_what_an_uninterrupted_run_gives(tmp_path, kill_in_epoch):
    expected, expected_model = resumable_run(None)
    state = tmp_path / "run.training_state.pt"
    with pytest.raises(Killed):
        resumable_run(state, kill_in_epoch=kill_in_epoch)
    assert torch.load(state, weights_only=False)["epoch"] == kill_in_epoch - 1
    torch.manual_seed(123)  # whatever happened to the random state in between
    resumed, model = resumable_run(state)
    assert_state_equal(model, expected_model.state_dict())
    assert resumed.history == expected.history and resumed.optimizer_steps == expected.optimizer_steps == 24
    assert resumed.epochs_run == 4


def test_a_resumed_run_keeps_early_stopping_where_it_was(tmp_path):
    scores = [0.5, 0.4, 0.3, 0.2, 0.9]
    expected, expected_model = resumable_run(None, max_epochs=5, patience=2, scores=scores)
    assert expected.epochs_run == 3 and expected.best_epoch == 1
    state = tmp_path / "s.pt"
    with pytest.raises(Killed):
        resumable_run(state, kill_in_epoch=3, max_epochs=5, patience=2, scores=scores)
    resumed, model = resumable_run(state, max_epochs=5, patience=2, scores=scores[2:])
    assert (resumed.epochs_run, resumed.best_epoch) == (3, 1)
    assert_state_equal(model, expected_model.state_dict())
    # Once stopped, a rerun trains nothing more and restores the same best state.
    again, model = resumable_run(state, max_epochs=5, patience=2)
    assert again.epochs_run == 3 and again.history == expected.history
    assert_state_equal(model, expected_model.state_dict())


def test_the_state_of_another_run_is_refused(tmp_path):
    state = tmp_path / "s.pt"
    resumable_run(state, max_epochs=1)
    saved = torch.load(state, weights_only=False)
    saved["identity"] = {"run": "b"}
    torch.save(saved, state)
    with pytest.raises(FuteError, match="training state of another run.*differs in run"):
        resumable_run(state)


# ------------------------------------------------------------------ a loss or dev score that is not finite

def run_on(batches, learning_rate=0.01, evaluate=None):
    """Train Tiny for 2 epochs on `batches` ({"x", "y"}), squared error; return the model."""
    torch.manual_seed(0)
    model = Tiny()
    train(model, batches, lambda batch: (model(batch["x"]).squeeze(-1) - batch["y"]).pow(2).mean(),
          TrainConfig(learning_rate=learning_rate, max_epochs=2, patience=1 if evaluate else None),
          torch.device("cpu"), evaluate, desc="stsb")
    return model


def good_batches(n=3):
    return [{"x": torch.full((4, 3), 0.25 * b), "y": torch.arange(4.0)} for b in range(n)]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_target_stops_the_run_naming_epoch_step_and_row(bad):
    batches = good_batches()
    batches[1]["y"] = torch.tensor([0.0, 1.0, bad, 3.0])
    with pytest.raises(FuteError, match=rf"^stsb: the training loss is {bad} at epoch 1, step 2 of 3; row 2 of that "
                                        rf"batch \(1 of 4 rows\) has y {bad}: fix that example$"):
        run_on(batches)


def test_a_row_whose_loss_alone_overflows_is_named():
    batches = good_batches()
    batches[2]["y"] = torch.tensor([0.0, 1.0, 2.0, 2.0 ** 100])  # finite, but its square is not
    with pytest.raises(FuteError, match=r"at epoch 1, step 3 of 3; row 3 of that batch \(1 of 4 rows\) alone has loss "
                                        rf"inf \(x \[0.5, 0.5, 0.5\]; y {re.escape(str(2.0 ** 100))}\)$"):
        run_on(batches)


def test_a_diverging_run_names_the_learning_rate():
    """Weights stepped to ~1e25 overflow every row's output: no row is at fault, the learning rate is."""
    with pytest.raises(FuteError, match=r"at epoch \d, step \d of 3; .*every row alone gives a non-finite loss: "
                                        r"training diverged; lower --learning_rate \(now 1e\+25\)$"):
        run_on(good_batches(), learning_rate=1e25)


def test_a_non_finite_dev_score_stops_the_run():
    with pytest.raises(FuteError, match=r"stsb: the dev score is nan after epoch 1; the model's outputs are not finite"):
        run_on(good_batches(), evaluate=lambda: {"best": float("nan")})


def test_the_optimizer_is_torchs_fused_adamw_and_steps_as_the_per_tensor_loop_does():
    """Fused on the CPU (one kernel for every tensor: 6x faster a step on MiniLM); its steps equal those of the
    default per-tensor AdamW, built here by hand with the same groups, up to float rounding."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 2))
    twin = copy.deepcopy(model)
    fused = build_optimizer(model, TrainConfig(learning_rate=1e-2, max_epochs=1))
    assert fused.defaults["fused"] is True
    by_name = dict(twin.named_parameters())
    loop = torch.optim.AdamW([{"params": [by_name[n] for n in names], "weight_decay": decay}
                              for names, decay in ((("0.weight", "1.weight", "2.weight"), 0.01),
                                                   (("0.bias", "1.bias", "2.bias"), 0.0))], lr=1e-2, foreach=False)
    x = torch.randn(16, 8)
    for _ in range(5):
        for net, optimizer in ((model, fused), (twin, loop)):
            optimizer.zero_grad()
            net(x).pow(2).mean().backward()
            optimizer.step()
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name
