"""Displacements e - e0 from the initialisation e0 that prefix embeddings share, e0 rebuilt from the records.

Every prefix embedding learned with one seed on one surrogate starts from the same e0
(task_emb/prefix.py `initial_embedding`); barely trained ones all stay near it, so their raw
cosines mostly compare e0 with itself, and the cosines of e - e0 compare what training added
(run_eval.py space, plot and compare). e0 depends on the surrogate's config alone, so it is
rebuilt from the surrogate the records name, found again wherever the results were copied to
(task_emb/models.py `locate_model`: recorded paths, then the hub id) or at `--surrogate`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from configs.methods import FAMILIES_BY_NAME
from data_utils.artifacts.embeddings import Embedding
from data_utils.artifacts.model_ref import ModelRef
from data_utils.errors import FuteError

NO_DISPLACEMENT = "--displacement False"
SURROGATE_FLAG = "--surrogate"


def initial_embedding_of(embeddings: Sequence[Embedding], what: str, surrogate: str | None = None
                         ) -> np.ndarray | None:
    """e0 ([dim], float64) of `embeddings` (`what` names them in errors) when their families start from a shared
    initialisation, else None. They must name one surrogate (one content hash when every record has one, else one
    name as given) and one seed. `surrogate`: a copy of it (--surrogate), which must have the recorded hash."""
    if any(e.info.family not in FAMILIES_BY_NAME or not FAMILIES_BY_NAME[e.info.family].shared_init
           for e in embeddings):
        return None
    refs = [e.info.surrogate_ref or ModelRef(given=str(e.info.surrogate)) for e in embeddings]
    hashes = [ref.sha256 for ref in refs]
    names = hashes if all(hashes) else [e.info.surrogate for e in embeddings]
    starts = set(zip(names, (e.info.seed for e in embeddings)))
    if len(starts) != 1 or None in next(iter(starts)):
        given = sorted({f"{e.info.surrogate} seed {e.info.seed}" for e in embeddings})
        raise FuteError(f"the {what} embeddings do not share one surrogate and seed ({'; '.join(given)}), so they have "
                        f"no common initialisation; pass {NO_DISPLACEMENT}")
    from task_emb.models import locate_model  # loads torch and transformers: only for prefix methods
    from task_emb.prefix import initial_embedding

    advice = f"pass {SURROGATE_FLAG} PATH (a copy of it) or {NO_DISPLACEMENT}"
    source, revision = locate_model([(ref, e.path.parent) for ref, e in zip(refs, embeddings)], surrogate,
                                    what=f"surrogate of the {what} embeddings", advice=advice)
    try:
        return initial_embedding(source, int(embeddings[0].info.seed), revision).astype(np.float64)
    except (OSError, ValueError) as err:  # transformers' "not found", "no network", "not a repo id"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FuteError(f"cannot read the surrogate {refs[0].describe()} of the {what} embeddings to rebuild their "
                        f"initialisation e0 ({reason}); {advice}") from None


def views(e0: np.ndarray | None) -> dict[str, np.ndarray | None]:
    """The views of a set of embeddings, each with what is subtracted from them: "raw" (nothing) and, with an
    `e0`, "displacement" (e0)."""
    return {"raw": None, **({"displacement": e0} if e0 is not None else {})}


def displaced(embeddings: Sequence[Embedding], e0: np.ndarray | None) -> list[np.ndarray]:
    """The embeddings' vectors (float64), as displacements e - e0 when `e0` ([dim]) is given; an e0 of
    another size means the records name another surrogate than the one the embeddings were learned on."""
    if e0 is None:
        return [np.asarray(e.vector(), dtype=np.float64) for e in embeddings]
    if any(e.dim != e0.size for e in embeddings):
        raise FuteError(f"e0 has {e0.size} values, the embeddings {sorted({e.dim for e in embeddings})}: their records "
                        f"name another surrogate than the one they were learned on; pass {NO_DISPLACEMENT}")
    return [np.asarray(e.vector(), dtype=np.float64) - e0 for e in embeddings]
