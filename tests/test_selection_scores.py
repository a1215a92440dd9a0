"""The baseline-score file (data_utils/artifacts/selection_scores.py): a file in the layout written before the
typed record still reads, is written back byte for byte, and a damaged one is refused with one line."""
import json

import pytest

from data_utils.artifacts.selection_scores import (SelfSelectSource, is_selection_scores, read_selection_scores,
                                                   write_selection_scores)
from data_utils.errors import FuteError

# As run_prompt_selection_baselines.py wrote it before the record was a dataclass (3 prompts for brevity).
BEFORE = {
    "mi": [0.1, 0.3, 0.2], "spell": [-10.0, -11.0, -12.0],
    "record": {"command": "run_prompt_selection_baselines.py --paths a,b,c --save_path s", "argv": ["x"],
               "time": "2026-12-01T00:00:00+00:00", "config": {"paths": ["a", "b", "c"]}, "versions": {"numpy": "2"},
               "model": "my-llm", "dataset": "sst2", "task": "sa", "metric": "accuracy", "num_prompts": 3,
               "num_examples": 10, "paths": ["a", "b", "c"], "inputs_sha256": "0" * 64,
               "self_select": {"model": "my-llm", "reason": "no Self-Select order for model 'my-llm'"},
               "skipped": {"selfsel": "no Self-Select order for model 'my-llm'"}},
}


def test_a_file_of_the_earlier_layout_reads_and_writes_back_unchanged(tmp_path):
    path = tmp_path / "before.json"
    path.write_text(json.dumps(BEFORE, indent=2) + "\n")
    scores = read_selection_scores(path)
    assert scores.scores == {"mi": [0.1, 0.3, 0.2], "spell": [-10.0, -11.0, -12.0]}
    assert (scores.model, scores.dataset, scores.genre, scores.metric) == ("my-llm", "sst2", "sa", "accuracy")
    assert scores.self_select == SelfSelectSource(model="my-llm", reason="no Self-Select order for model 'my-llm'")
    assert scores.run["command"].startswith("run_prompt_selection_baselines.py") and scores.skipped == {
        "selfsel": "no Self-Select order for model 'my-llm'"}
    write_selection_scores(tmp_path / "again.json", scores)
    assert (tmp_path / "again.json").read_text() == path.read_text()


@pytest.mark.parametrize("edit, problem", [
    (lambda c: c["record"].pop("inputs_sha256"), "its record has no inputs_sha256"),
    (lambda c: c.update(mi=[0.1, 0.2]), "'mi' must be a list of 3 finite scores"),
    (lambda c: c.update(mi=[0.1, None, 0.2]), "'mi' must be a list of 3 finite scores"),
    (lambda c: c["record"].update(self_select=["my-llm"]), "its record's self_select is"),
])
def test_a_damaged_file_is_refused_naming_what_is_wrong(tmp_path, edit, problem):
    content = json.loads(json.dumps(BEFORE))
    edit(content)
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(content))
    with pytest.raises(FuteError, match=f"damaged.json: {problem}.*run_prompt_selection_baselines.py"):
        read_selection_scores(path)


def test_other_json_is_no_score_file():
    assert is_selection_scores(BEFORE)
    for other in ({"record": {"model": "m"}}, {"results": []}, [1, 2], {"record": "x"}):
        assert not is_selection_scores(other)
