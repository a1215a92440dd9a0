"""Prompt-selection baselines against hand computations (math.log loops, no numpy maths)."""
import json
import math

import numpy as np
import pytest

from data_utils.errors import FuteError
from llm_inference import prompt_selection as ps
from llm_inference.selection_baselines import BASELINES, paper_names, table_order


def entropy(dist):
    return -sum(p * math.log(p) for p in dist if p > 0)


def argmax(dist):
    best = 0
    for i, p in enumerate(dist):
        if p > dist[best]:
            best = i
    return best


def argmax_preds(probs):
    """[P, N] predictions written out: what an inference file holds when no two labels tie."""
    return np.array([[argmax(row) for row in prompt] for prompt in probs])


# Two prompts, three examples, three labels (NLI order): prompt 0 confident and varied,
# prompt 1 hesitant and always predicting label 0.
PROBS = [
    [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
    [[0.4, 0.3, 0.3], [0.5, 0.25, 0.25], [0.6, 0.2, 0.2]],
]


def test_mutual_information_matches_hand_computation():
    expected = []
    for prompt in PROBS:
        mean_dist = [sum(row[l] for row in prompt) / len(prompt) for l in range(3)]
        expected.append(entropy(mean_dist) - sum(entropy(row) for row in prompt) / len(prompt))
    np.testing.assert_allclose(ps.mutual_information(np.array(PROBS)), expected, rtol=1e-12)
    # higher = better: the confident, varied prompt carries more information about x
    scores = ps.mutual_information(np.array(PROBS))
    assert scores[0] > scores[1]


def test_global_entropy_counts_labels_never_predicted():
    probs = [
        [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.9, 0.05, 0.05]],  # all label 0
        [[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.2, 0.7]],  # labels 0, 1, 1, 2
    ]
    scores = ps.global_entropy(argmax_preds(probs), 3)
    assert scores[0] == pytest.approx(0.0)
    assert scores[1] == pytest.approx(-(0.25 * math.log(0.25) * 2 + 0.5 * math.log(0.5)), rel=1e-12)
    # higher = better: predictions spread over the labels beat a collapsed prompt
    assert scores[1] > scores[0]


def test_local_entropy_is_mean_entropy_and_prefers_less_overconfident_prompts():
    expected = [sum(entropy(row) for row in prompt) / len(prompt) for prompt in PROBS]
    scores = ps.local_entropy(np.array(PROBS))
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    # the original's sign, kept: the higher mean entropy ranks first
    assert scores[1] > scores[0]


def test_mdl_is_mean_negative_log_probability_and_prefers_confident_prompts():
    expected = [
        sum(sum(-math.log(p) for p in row) / len(row) for row in prompt) / len(prompt) for prompt in PROBS
    ]
    scores = ps.mdl(np.array(PROBS))
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    assert scores[0] > scores[1]


def test_mdl_stays_finite_on_a_zero_probability():
    scores = ps.mdl(np.array([[[1.0, 0.0]], [[0.5, 0.5]]]))
    assert np.all(np.isfinite(scores))
    assert scores[0] == pytest.approx((0.0 - math.log(1e-12)) / 2)


def test_zps_confidence_is_mean_top1_minus_top2():
    expected = []
    for prompt in PROBS:
        margins = [sorted(row, reverse=True)[0] - sorted(row, reverse=True)[1] for row in prompt]
        expected.append(sum(margins) / len(margins))
    np.testing.assert_allclose(ps.zps_confidence(np.array(PROBS)), expected, rtol=1e-12)


# Four SA prompts on three examples. Prompts 0-2 are confident (mean margins 0.67, 0.6,
# 0.73); prompt 3 is sure only about example 0 (mean margin 0.33), so 2-means drops it.
# Kept, it would flip the pseudo-label of example 0 under every ensemble. On example 2
# the ensembles disagree: one near-zero probability decides the mean of log p.
ZPS_PROBS = [
    [[0.3, 0.7], [0.1, 0.9], [0.9, 0.1]],
    [[0.3, 0.7], [0.2, 0.8], [0.9, 0.1]],
    [[0.7, 0.3], [0.1, 0.9], [0.001, 0.999]],
    [[0.99, 0.01], [0.5, 0.5], [0.5, 0.5]],
]


def hand_pseudo_labels(prompts, ensemble):
    labels = []
    for n in range(len(prompts[0])):
        rows = [prompt[n] for prompt in prompts]
        if ensemble == "log_prob_mean":
            combined = [sum(math.log(row[l]) for row in rows) / len(rows) for l in range(2)]
        elif ensemble == "prob_mean":
            combined = [sum(row[l] for row in rows) / len(rows) for l in range(2)]
        else:
            combined = [sum(1 for row in rows if argmax(row) == l) for l in range(2)]
        labels.append(argmax(combined))
    return labels


def test_zps_filtering_drops_the_low_confidence_prompt():
    confidence = ps.zps_confidence(np.array(ZPS_PROBS))
    assert list(ps.zps_filter_prompts(confidence)) == [0, 1, 2]


@pytest.mark.parametrize("ensemble", ps.ZPS_ENSEMBLES)
def test_zps_scores_are_accuracy_against_pseudo_labels_of_kept_prompts(ensemble):
    kept = ZPS_PROBS[:3]
    pseudo = hand_pseudo_labels(kept, ensemble)
    # filtering matters: with prompt 3 kept the pseudo-labels would differ
    assert pseudo != hand_pseudo_labels(ZPS_PROBS, ensemble)
    expected = [sum(argmax(row) == y for row, y in zip(prompt, pseudo)) / 3 for prompt in ZPS_PROBS]
    np.testing.assert_allclose(ps.zps_scores(np.array(ZPS_PROBS), argmax_preds(ZPS_PROBS), ensemble), expected,
                               rtol=1e-12)


def test_zps_ensembles_differ_where_they_should():
    kept = np.array(ZPS_PROBS[:3])
    # example 2: mean p and votes say negative; one near-zero probability makes mean log p say positive
    assert ps.zps_pseudo_labels(kept, "prob_mean")[2] == 0
    assert ps.zps_pseudo_labels(kept, "majority_vote")[2] == 0
    assert ps.zps_pseudo_labels(kept, "log_prob_mean")[2] == 1


def test_zps_vote_tie_goes_to_lower_label_and_equal_confidence_keeps_all():
    # Both prompts have confidence 0.6, so both are kept; they split 1-1 on example 0.
    probs = np.array([
        [[0.2, 0.8], [0.8, 0.2]],
        [[0.8, 0.2], [0.8, 0.2]],
    ])
    assert list(ps.zps_filter_prompts(ps.zps_confidence(probs))) == [0, 1]
    assert list(ps.zps_pseudo_labels(probs, "majority_vote")) == [0, 0]
    np.testing.assert_allclose(ps.zps_scores(probs, argmax_preds(probs), "majority_vote"), [0.5, 1.0])
    # three NLI prompts; per example the votes are (0, 1, 2), (1, 2, 2), (2, 1, 0): ties go to the lowest label
    nli = np.eye(3)[[[0, 1, 2], [1, 2, 1], [2, 2, 0]]]
    assert list(ps.zps_pseudo_labels(nli, "majority_vote")) == [0, 2, 0]


def test_zps_higher_score_for_the_prompt_that_agrees_with_the_ensemble():
    scores = ps.zps_scores(np.array(ZPS_PROBS), argmax_preds(ZPS_PROBS), "prob_mean")
    # prompt 0 predicts like the ensemble on every example, prompt 3 on none
    assert scores[0] == pytest.approx(1.0)
    assert scores[0] > scores[3]


def test_zps_rejects_unknown_ensemble():
    with pytest.raises(FuteError, match="majority_vote"):
        ps.zps_scores(np.array(ZPS_PROBS), argmax_preds(ZPS_PROBS), "vote")


def test_spell_is_minus_mean_perplexity():
    np.testing.assert_allclose(ps.spell(np.array([12.0, 3.5, 7.0])), [-12.0, -3.5, -7.0])
    per_example = np.array([[10.0, 20.0, 30.0], [4.0, 5.0, 9.0]])
    scores = ps.spell(per_example)
    np.testing.assert_allclose(scores, [-(10 + 20 + 30) / 3, -(4 + 5 + 9) / 3])
    # higher = better: the less perplexing prompt wins
    assert scores[1] > scores[0]


def test_spell_rejects_bad_perplexities():
    with pytest.raises(FuteError, match="at least 2 prompts"):
        ps.spell(np.array([3.0]))
    with pytest.raises(FuteError, match="positive"):
        ps.spell(np.array([3.0, -1.0]))


def test_self_select_scores_rank_best_first_and_zero_for_missing():
    np.testing.assert_array_equal(ps.self_select_scores([2, 0, 1], 4), [3.0, 2.0, 4.0, 0.0])


def test_self_select_refuses_prompts_beyond_the_scored_ones():
    # the paper's mixtral SA order names prompts 10-12, which a 10-prompt run does not have
    order = [9, 5, 2, 4, 1, 3, 6, 10, 7, 8, 12, 0, 11]
    with pytest.raises(FuteError, match=r"names prompt\(s\) \[10, 12, 11\], beyond the 10 scored prompts 0-9"):
        ps.self_select_scores(order, 10)


def test_self_select_rejects_duplicates_and_negatives():
    with pytest.raises(FuteError, match="once"):
        ps.self_select_scores([1, 1, 0], 3)
    with pytest.raises(FuteError, match="non-negative"):
        ps.self_select_scores([0, -1], 3)


def test_default_orders_are_the_papers():
    assert ps.load_self_select_order("llama-70b", "sa", "imdb") == [11, 4, 3, 9, 0, 5, 1, 10, 6, 7, 12, 2, 8]
    assert ps.load_self_select_order("mixtral", "nli", "cb") == [6, 9, 2, 4, 3, 8, 7, 10, 1, 5, 0, 11, 12]
    assert ps.load_self_select_order("llama-13b", "nli", "anli")[0] == 10
    for model in ("llama-13b", "llama-70b", "mixtral"):
        for genre in ("sa", "nli"):
            assert sorted(ps.load_self_select_order(model, genre, "x")) == list(range(13))


def test_user_order_file_dataset_key_wins_over_genre(tmp_path):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"my-llm": {"sa": [0, 1, 2], "imdb": [2, 1, 0]}}))
    assert ps.load_self_select_order("my-llm", "sa", "imdb", str(path)) == [2, 1, 0]
    assert ps.load_self_select_order("my-llm", "sa", "sst2", str(path)) == [0, 1, 2]


def test_missing_model_or_task_names_file_and_known_keys(tmp_path):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"_comment": "x", "my-llm": {"sa": [0, 1]}}))
    with pytest.raises(FuteError, match=r"orders\.json.*'gpt'.*known models: my-llm;"):
        ps.load_self_select_order("gpt", "sa", "sst2", str(path))
    with pytest.raises(FuteError, match=r"orders\.json.*known keys for my-llm: sa;"):
        ps.load_self_select_order("my-llm", "nli", "cb", str(path))


@pytest.mark.parametrize(
    "probs, message",
    [
        (np.full((2, 3), 0.5), "3-D"),
        (np.full((1, 3, 2), 0.5), "at least 2 prompts"),
        (np.array([[[1.2, -0.2]], [[0.5, 0.5]]]), "negative"),
        (np.array([[[2.0, 1.0]], [[0.5, 0.5]]]), "sum to 1"),
    ],
)
def test_bad_probs_raise_fute_error(probs, message):
    for score in (ps.mutual_information, ps.local_entropy, ps.mdl):
        with pytest.raises(FuteError, match=message):
            score(probs)
    with pytest.raises(FuteError, match=message):
        ps.zps_scores(probs, np.zeros(probs.shape[:2], dtype=int), "prob_mean")


def test_bad_preds_raise_fute_error():
    probs = np.array(ZPS_PROBS)
    with pytest.raises(FuteError, match=r"preds must be \[prompts, examples\] = \[4, 3\]"):
        ps.zps_scores(probs, np.zeros((4, 2), dtype=int), "prob_mean")
    with pytest.raises(FuteError, match="label indices 0-1"):
        ps.zps_scores(probs, np.full((4, 3), 2), "prob_mean")
    with pytest.raises(FuteError, match="label indices 0-2"):
        ps.global_entropy(np.array([[0, 3], [1, 1]]), 3)
    with pytest.raises(FuteError, match="at least 2 prompts"):
        ps.global_entropy(np.array([[0, 1]]), 2)


# Exact ties of the two SA labels (e.g. equal 8-bit logits): the file's prediction is the label
# of the first best verbalizer (positive for SA), while argmax(probs) would say negative.
TIED_PROBS = [
    [[0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.5, 0.5]],
    [[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.9, 0.1]],
]
TIED_PREDS = [[1, 0, 1, 1, 1], [0, 0, 0, 0, 0]]


def test_global_entropy_counts_the_files_predictions_on_a_tie():
    scores = ps.global_entropy(np.array(TIED_PREDS), 2)
    # prompt 0: the file says one 0 and four 1s; argmax(probs) would count three 0s and two 1s
    assert scores[0] == pytest.approx(entropy([1 / 5, 4 / 5]), rel=1e-12)
    assert scores[0] != pytest.approx(entropy([3 / 5, 2 / 5]))
    assert scores[1] == 0.0


def test_zps_accuracy_counts_the_files_predictions_on_a_tie():
    # Mean margins: prompt 0 (0 + 0.8 + 0 + 0.6 + 0) / 5 = 0.28, prompt 1 0.52: 2-means keeps prompt 1
    # alone, whose pseudo-labels are all 0 under every ensemble.
    probs, preds = np.array(TIED_PROBS), np.array(TIED_PREDS)
    assert list(ps.zps_filter_prompts(ps.zps_confidence(probs))) == [1]
    for ensemble in ps.ZPS_ENSEMBLES:
        assert list(ps.zps_pseudo_labels(probs[[1]], ensemble)) == [0, 0, 0, 0, 0]
        # prompt 0's file predictions agree once; argmax(probs) = 0, 0, 0, 1, 0 would agree 4 times
        np.testing.assert_allclose(ps.zps_scores(probs, preds, ensemble), [1 / 5, 1.0])


def test_baselines_keep_the_original_keys_in_order_and_the_slides_rows():
    # The original's PromptSelectionMethodManager.methods, whose order its output JSON keeps.
    assert [b.id for b in BASELINES] == ["mi", "spell", "ge", "le", "mdl", "zlpm", "zpm", "zmv", "selfsel"]
    # The slides' second table, top to bottom, with MDL (absent there) after the other entropy scores.
    assert [paper_names()[key] for key in table_order()] == ["MI", "LocalE", "GlobalE", "MDL", "ZPS-Log",
                                                             "ZPS-Prob", "ZPS-Vote", "Self-Select", "SPELL"]
