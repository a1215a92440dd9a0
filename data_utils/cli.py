"""What every entry script shares: its parser (defaults in --help, one-line errors), boolean flags,
--seed/--device, logging, seeding, exit codes.

Nothing here imports torch, nor numpy: a parser is built, and --help printed, without loading them.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import textwrap
from collections.abc import Callable, Sequence

from configs.hparams import DEFAULT_SEED
from data_utils.errors import FuteError

logger = logging.getLogger("fute")

_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """--help shows every option's default as "(default: X)" after its help (a list as a,b,c), unless the help
    already says what its default is. Required options and switches get none, and neither does a default of
    None or "": such a help says what leaving the option out means. (argparse's ArgumentDefaultsHelpFormatter
    would print "(default: None)" and repeat defaults the help states.) Descriptions and epilogs keep their
    lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (action.required or action.nargs == 0 or default in (None, "") or default is argparse.SUPPRESS
                or "default" in text.lower()):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"

    def _split_lines(self, text: str, width: int) -> list[str]:
        """Wrapped at spaces only: a name with hyphens (bert-base-uncased, prefix-fute) stays on one line."""
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class ArgumentParser(argparse.ArgumentParser):
    """Every entry script's parser: defaults in --help (`HelpFormatter`), and a bad flag reported on one line,
    `prog: error: <what>; see prog --help`, with exit status 2 (argparse's own puts its usage block above)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def str2bool(value: str | bool) -> bool:
    """argparse type for the reference's string booleans: True/False/true/false/1/0."""
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True/False/true/false/1/0, got {value!r}")


def csv_list(value: str) -> list[str]:
    """argparse type of a comma-separated list: "a, b,c" -> ["a", "b", "c"]; nothing is an error."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list, got nothing")
    return items


def positive_int(value: str) -> int:
    """argparse type of an integer >= 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def nonnegative_int(value: str) -> int:
    """argparse type of an integer >= 0."""
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}")
    return number


def positive_float(value: str) -> float:
    """argparse type of a finite number > 0."""
    number = float(value)
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return number


def with_suffix(path: str, suffix: str) -> str:
    """An output path with its file type: `suffix` is appended unless the path ends with it."""
    return path if path.endswith(suffix) else path + suffix


def add_common_args(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """--seed, --log_level and (for scripts that run models) --device."""
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed for data order, sampling and initialisation (default {DEFAULT_SEED})")
    if device:
        parser.add_argument("--device", default="auto",
                            help="torch device: auto (cuda when available, else cpu), cpu, cuda, cuda:1, ...")
    parser.add_argument("--log_level", default=env_log_level(), choices=LOG_LEVELS,
                        help="logging verbosity (default: $FUTE_LOG_LEVEL, else INFO)")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def env_log_level() -> str:
    """$FUTE_LOG_LEVEL (any letter case), else INFO: the level of every entry script without --log_level.

    Raises FuteError for a value that is no level."""
    level = os.environ.get("FUTE_LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        raise FuteError(f"FUTE_LOG_LEVEL={os.environ['FUTE_LOG_LEVEL']!r} is no log level; set one of "
                        f"{', '.join(LOG_LEVELS)}, or unset it")
    return level


def start(args: argparse.Namespace):
    """What every entry script does first: apply --log_level, seed everything, resolve --device.

    A script without --device (run_eval.py) runs no model: it seeds python and numpy only and
    never imports torch, so reading results stays light.
    """
    logging.getLogger().setLevel(getattr(logging, args.log_level))
    if not hasattr(args, "device"):
        import numpy as np

        random.seed(args.seed)
        np.random.seed(args.seed)
        return None
    if not sys.stderr.isatty():  # transformers' bars are noise in a log file (ours log lines: data_utils/progress.py)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    set_seed(args.seed)
    return resolve_device(args.device)


# Every log line of the entry scripts, wherever it goes (the terminal, or a sweep worker's step log).
LOG_FORMAT, LOG_DATE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(format=LOG_FORMAT, datefmt=LOG_DATE_FORMAT,
                        level=getattr(logging, level), force=True)


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch so that a rerun on the same hardware repeats itself."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def resolve_device(name: str):
    """'auto' picks cuda when a GPU is visible; an explicit cuda device without a GPU is an error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise FuteError(f"unknown --device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FuteError(f"--device {name} asked for a GPU but torch sees none; use --device cpu")
    return device


def run_entry(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
    """Run an entry script's main; bad input becomes one error line and exit status 2."""
    try:
        main(argv)
    except FuteError as err:
        logger.error("%s", err)
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130
    return 0


def exit_with(main: Callable[[Sequence[str] | None], object]) -> None:
    """`if __name__ == "__main__": exit_with(main)` in every entry script."""
    level = os.environ.get("FUTE_LOG_LEVEL", "INFO").upper()
    setup_logging(level if level in LOG_LEVELS else "INFO")  # a bad value is reported once the flags are read
    sys.exit(run_entry(main))


# run_eval.py's tables: where they go, and how NDCG scores a ranking (data_utils/metrics.py).
SAVE_HELP = "output stem: writes <stem>.md (tables), <stem>.csv (summary), <stem>.json (everything)"


def add_ndcg_args(parser: argparse.ArgumentParser, relevance: str, ranked: str, default_k: str) -> None:
    """--ndcg_gain, --ndcg_k and --ndcg_scale of a table that ranks `ranked` by `relevance`."""
    from data_utils.metrics import GAINS  # numpy: only where a table's parser is built

    parser.add_argument("--ndcg_gain", choices=GAINS, default="linear",
                        help=f"NDCG gain of {relevance} rel (times --ndcg_scale): linear = rel (as "
                             "sklearn.metrics.ndcg_score), exponential = 2^rel - 1; the discount is 1/log2(rank + 1)")
    parser.add_argument("--ndcg_k", type=positive_int, default=None,
                        help=f"NDCG cut-off: only the top k ranked {ranked} count (default: {default_k})")
    parser.add_argument("--ndcg_scale", type=positive_float, default=1.0,
                        help="relevance is multiplied by this before the gain: 1 (default) = scores in [0, 1], "
                             "100 = percent points; only the exponential gain changes (the slides' NDCG values "
                             "are consistent with --ndcg_gain exponential --ndcg_scale 100)")
