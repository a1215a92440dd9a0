#!/usr/bin/env bash
# The finetune sweep, as before: the same options (python scripts/sweep.py --help), run by scripts/sweep.py.
exec "${PYTHON:-python}" "$(dirname "$0")/sweep.py" finetune "$@"
