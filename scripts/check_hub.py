"""Check that every dataset the project reads loads from where it lives on the Hugging Face hub today.

    python scripts/check_hub.py                  # the registry (configs/datasets.yaml): minutes
    python scripts/check_hub.py --pool           # ... and the 122 CrossFit sources of the pool U
    python scripts/check_hub.py --datasets sst2,financial_phrasebank --json hub_check.json

Run it once on a machine with network access (no full downloads: the first rows of
each split are streamed). It prints one line per (dataset, split) with a status (ok,
ok (archive), moved, script-only, missing field, label mismatch, unreachable; see
checks/hub.py), writes the same as JSON with --json, and exits with status 1
when a dataset of the paper's tables fails (pool sources are reported, not fatal: a
task-embedding run records and bounds them itself).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from configs.unsup_pool import POOL_SOURCES  # noqa: E402
from data_utils import cli  # noqa: E402
from data_utils.declarations import DATASETS  # noqa: E402
from data_utils.errors import FuteError  # noqa: E402
from data_utils.io import write_json  # noqa: E402

logger = logging.getLogger("check_hub")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="all",
                        help="comma-separated registry names to check (default: all of configs/datasets.yaml)")
    parser.add_argument("--pool", type=cli.str2bool, nargs="?", const=True, default=False,
                        help="also check every source of the unsupervised pool (configs/unsup_pool.py)")
    parser.add_argument("--rows", type=int, default=20, help="rows streamed and checked per split")
    parser.add_argument("--json", default=None, help="also write the verdicts to this JSON file (default: none)")
    parser.add_argument("--log_level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging verbosity")
    args = parser.parse_args(argv)
    if args.datasets == "all":
        args.datasets = list(DATASETS)
    else:
        args.datasets = [name.strip() for name in args.datasets.split(",") if name.strip()]
        unknown = [name for name in args.datasets if name not in DATASETS]
        if unknown:
            raise FuteError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(sorted(DATASETS))}")
    if args.rows < 1:
        raise FuteError(f"--rows must be at least 1, got {args.rows}")
    return args


def _print(check) -> None:
    """One verdict (a checks.hub.HubCheck) as a line of the table."""
    print(f"{check.name:28s} {check.split:18s} {check.status:15s} {check.hub_id}  {check.detail}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; return the exit status (1 when a registry dataset fails)."""
    args = parse_args(argv)
    logging.getLogger().setLevel(args.log_level)
    from checks.hub import as_rows, run_checks  # pandas and the hub client, once the flags are good

    print(f"{'dataset':28s} {'split':18s} {'status':15s} hub id  detail")
    checks = run_checks(args.datasets, sorted(POOL_SOURCES) if args.pool else (), args.rows, progress=_print)
    if args.json:
        write_json(args.json, as_rows(checks))
    registry = [check for check in checks if not check.name.startswith("pool:")]
    pool = [check for check in checks if check.name.startswith("pool:")]
    print(f"\nregistry: {dict(Counter(check.status for check in registry))}")
    if pool:
        print(f"pool: {dict(Counter(check.status for check in pool))}")
    failed = sorted({check.name for check in registry if check.failed})
    if failed:
        print(f"FAILED (datasets of the paper's tables): {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    cli.setup_logging("WARNING")
    try:
        sys.exit(main())
    except FuteError as err:
        logger.error("%s", err)
        sys.exit(2)
