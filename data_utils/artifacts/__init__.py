"""Everything one stage writes and a later stage reads, each record a dataclass with its one writer and reader.

| artifact | written by | record, writer / reader here | read by |
|---|---|---|---|
| fine-tuning score `<name>.json` + record | run_cr_train.py, run_qa_train.py | `scores.ScoreRecord`, `write_finetune_score` / `read_finetune_score`, `load_finetune_runs` | run_eval.py transfer, the demo |
| fine-tuned checkpoint's `fute_record.json` | run_cr_train.py, run_qa_train.py | `scores.ScoreRecord`, `write_checkpoint_record` / `read_checkpoint_record` | run_task_emb.py (an MTE's dataset), transfer runs |
| task embedding `<name>.npy` + record | run_task_emb.py | `embeddings.EmbeddingInfo`, `write_embedding` / `read_embedding`, `load_embeddings` | run_eval.py (every table) |
| x' JSONL (the LLM's inputs) | run_task_emb.py --generate_model_data_only | `model_inputs.ModelInput`, `write_model_inputs` / `read_model_inputs` | run_llm_inference_for_te.py |
| y' JSONL (one LLM + prompt on x') | run_llm_inference_for_te.py | `answers.AnswerLine` via `result_log.ResultLog` / `answers.read_answers`, `ResultLog.load` | run_task_emb.py --llm_mode; its own resume |
| LLM inference file (one LLM, dataset, prompt) | run_llm_inference.py | `llm_outputs.InferenceFile`, `write_inference_file` / `read_inference_file`, `read_finished_results` | selection baselines, run_eval.py prompt |
| its partial log `<name>.json.partial.jsonl` | run_llm_inference.py | `llm_records.LoggedResult` via `ResultLog` / `ResultLog.load` | its own resume |
| prompt-selection baseline scores | run_prompt_selection_baselines.py | `selection_scores.SelectionScores`, `write_selection_scores` / `read_selection_scores` | run_eval.py prompt |
| a table `<stem>.md`, `.csv`, `.json` | run_eval.py | `tables.write_table` (the JSON, record first, marks it finished) | people; the sweeps' done check |

The LLM records share their parts (`llm_records`: the run's identity, the prompt, one scored example). What an
artifact is comes from the typed fields of its record, never from its file name; `paths` names every file (a
record beside its output, a partial log, the layout of a sweep); `completion` says when each is finished (its
record, written last) for every done check; `data_identity` says which data each was made from (the records'
`data` entry), so that tables tell two datasets of one name apart; `model_ref` records where a model was read,
so that a reader elsewhere finds it again. These modules import numpy, PyYAML and configs only (scikit-learn
for an inference file's metric), so reading results never loads torch.
"""
