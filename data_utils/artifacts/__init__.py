"""Everything one stage writes and a later stage reads, each with its one writer and its one reader.

| artifact | written by | reader here | read by |
|---|---|---|---|
| task embedding `<name>.npy` + `<name>.record.json` | run_task_emb.py | `embeddings.load_embeddings` | run_eval.py (every table) |
| fine-tuning score `<name>.json` + record | run_cr_train.py, run_qa_train.py | `scores.load_finetune_runs` | run_eval.py transfer |
| LLM inference file (one LLM, dataset, prompt) | run_llm_inference.py | `llm_outputs.read_inference_file` | selection baselines, run_eval.py prompt |
| y' JSONL (one LLM + prompt on x') | run_llm_inference_for_te.py | `llm_outputs.read_answers` | run_task_emb.py --llm_mode |

What an artifact is comes from the typed fields of its record (`embeddings.EmbeddingInfo`,
`llm_outputs.PromptOutputs`), never from its file name; `paths` names the files of a sweep;
`completion` says when each is finished (its record, written last) for every done check;
`data_identity` says which data each was made from (the records' `data` entry), so that tables
tell two datasets of one name apart; `model_ref` records where a model was read, so that a
reader elsewhere finds it again. These modules import numpy, PyYAML and configs only, so
reading results never loads torch.
"""
