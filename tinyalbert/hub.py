"""Where a model named by the user lives on disk.

`resolve_model_dir` turns what a user types into a directory holding `config.json`,
`model.safetensors` and the tokenizer files. It tries, in order:

1. a local directory (`./my-albert`, `/models/albert-base-v2`); one named like the bundled
   model wins over it, with a warning;
2. a model bundled with this package (`tinyalbert-mini`, in `tinyalbert/data/`);
3. a Hub name (`albert/albert-base-v2`; the old short names such as `albert-base-v2` mean
   `albert/albert-base-v2`) already in the local Hugging Face cache, without any network;
4. a download of that Hub name with `huggingface_hub.snapshot_download`, when that optional
   package is installed and neither `HF_HUB_OFFLINE` nor `local_files_only` forbids it: the config, tokenizer files and
   safetensors weights, or `pytorch_model.bin` for a repository that has no safetensors
   (`use_safetensors=False`: the pickled weights only). `force_download` skips step 3. A cached
   copy that lacks config.json, spiece.model or its weights (a download cut short, or a model
   fetched without its tokenizer) is completed this way too; where no download may run, it is
   used as it is, with a warning naming what it lacks.

`subfolder` names a folder inside the directory or repository that holds the files, as in
Transformers.

When all of them fail, the `FileNotFoundError` lists every place looked at and what to run.

The cache layout is the one `huggingface_hub` writes:
    <cache>/models--albert--albert-base-v2/refs/main            a file holding a commit hash
    <cache>/models--albert--albert-base-v2/snapshots/<commit>/  the files of that commit
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from .config import PRESETS

BUNDLED_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_MODELS = ("tinyalbert-mini",)
DEFAULT_MODEL = "tinyalbert-mini"

# Transformers' save_pretrained options for pushing to the Hub: accepted with push_to_hub=False.
HUB_SAVE_OPTIONS = frozenset({"token", "commit_message", "private", "create_pr", "repo_id"})


def check_no_upload(push_to_hub: bool, hub_options: dict) -> None:
    """`save_pretrained`'s Hub arguments: uploading is refused with the way to do it, the options
    that go with it are accepted (they do nothing without it), anything else is a TypeError."""
    if push_to_hub:
        raise ValueError("tinyalbert does not upload: save to a directory, then upload it with huggingface_hub "
                         "(HfApi().upload_folder(folder_path=directory, repo_id=...))")
    unknown = sorted(set(hub_options) - HUB_SAVE_OPTIONS)
    if unknown:
        raise TypeError(f"save_pretrained() got unexpected keyword argument(s) {unknown}")


# The checkpoints Google released before the Hub had organisations (the presets' names); they
# now live under `albert/`.
LEGACY_ALBERT_NAMES = tuple(PRESETS)
# What a model directory needs, by name: a pattern such as "*.json" would also match every
# checkpoint-500/ or onnx/ folder of a repository (fnmatch's * crosses "/").
FILE_PATTERNS = ("config.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                 "spiece.model")
SAFE_WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json")  # one file, or the index of shards
SAFE_WEIGHTS_PATTERNS = (*SAFE_WEIGHTS_FILES, "model-*-of-*.safetensors")
# Downloaded only when a repository has no safetensors: one file, or the index of shards.
PICKLED_WEIGHTS_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
PICKLED_WEIGHTS_PATTERNS = (*PICKLED_WEIGHTS_FILES, "pytorch_model-*-of-*.bin")
WEIGHTS_FILES = (*SAFE_WEIGHTS_FILES, *PICKLED_WEIGHTS_FILES)
HUB_TIMEOUT_S = 10  # seconds to wait for the Hub's first answer (huggingface_hub's own default for a file)
# The strings `huggingface_hub` reads as "true" in its environment variables.
TRUE_VALUES = {"1", "ON", "YES", "TRUE"}

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")


# Transformers 4.x's own cache variables, deprecated but still read first (4.53.3's utils/hub.py),
# so a cache that Transformers finds through them is found here too. The first set wins.
TRANSFORMERS_CACHE_VARIABLES = ("TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE")


def transformers_cache_dir() -> Path | None:
    """The cache a Transformers 4.x variable names (the first of TRANSFORMERS_CACHE_VARIABLES that
    is set), or None. huggingface_hub does not read these: a download into it must name it."""
    value = next((os.environ[name] for name in TRANSFORMERS_CACHE_VARIABLES if os.environ.get(name)), None)
    return Path(os.path.expandvars(value)).expanduser() if value else None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, where Transformers 4.x looks: `TRANSFORMERS_CACHE` (or its older
    names, `transformers_cache_dir`), else `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub` (as `huggingface_hub` decides)."""
    legacy = transformers_cache_dir()
    if legacy is not None:
        return legacy
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        home = os.path.join(xdg, "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def offline_variable() -> str:
    """The environment variable by which the user asked for no network (`HF_HUB_OFFLINE` or
    `TRANSFORMERS_OFFLINE`), or ""."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in TRUE_VALUES:
            return name
    return ""


def hub_offline() -> bool:
    """Whether the user asked for no network (`HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE`)."""
    return bool(offline_variable())


def missing_model_files(folder: Path) -> list[str]:
    """The files of a whole model that `folder` lacks: config.json, spiece.model, the weights. A
    link into the cache's blobs/ whose blob never arrived (an interrupted download) is lacking too."""
    lacking = [name for name in ("config.json", "spiece.model") if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in WEIGHTS_FILES):
        lacking.append("model.safetensors")
    return lacking


def hub_repo_ids(name: str) -> list[str]:
    """The Hub repositories a name may mean, most likely first."""
    if name in LEGACY_ALBERT_NAMES:
        return [f"albert/{name}", name]  # an old cache may still hold the name without its organisation
    return [name]


def cached_snapshot(repo_id: str, revision: str = "main", cache_dir: Path | None = None) -> tuple[Path | None, str]:
    """The snapshot directory of `repo_id` at `revision` in the local cache, or None and why not."""
    cache_dir = hf_cache_dir() if cache_dir is None else cache_dir
    repo_dir = cache_dir / ("models--" + repo_id.replace("/", "--"))
    if not repo_dir.is_dir():
        return None, f"{repo_dir} does not exist"
    snapshots = repo_dir / "snapshots"
    ref_file = repo_dir / "refs" / revision
    if ref_file.is_file():
        commit = ref_file.read_text(encoding="utf-8").strip()
    elif _COMMIT_HASH.match(revision):
        commit = revision
    else:
        # Files fetched by commit hash leave no ref; a single snapshot is then unambiguous.
        available = sorted(p.name for p in snapshots.iterdir() if p.is_dir()) if snapshots.is_dir() else []
        if revision == "main" and len(available) == 1:
            commit = available[0]
        else:
            return None, f"{repo_dir} has no refs/{revision} (snapshots: {', '.join(available) or 'none'})"
    snapshot = snapshots / commit
    if not snapshot.is_dir() or not any(snapshot.iterdir()):
        return None, f"{snapshot} is missing or empty"
    return snapshot, ""


def _download(repo_id: str, revision: str, cache_dir: Path | None = None, token=None, *, subfolder: str = "",
              force_download: bool = False, use_safetensors: bool | None = None) -> tuple[Path | None, str]:
    """`huggingface_hub.snapshot_download` of the files a model needs, or None and why not."""
    if hub_offline():
        return None, f"download skipped ({offline_variable()} is set)"
    # Only what the caller chose is passed on; huggingface_hub's defaults decide the rest.
    chosen = {name: value for name, value in (("cache_dir", cache_dir), ("token", token)) if value is not None}
    if force_download:
        chosen["force_download"] = True
    prefix = f"{subfolder}/" if subfolder else ""
    weights = PICKLED_WEIGHTS_PATTERNS if use_safetensors is False else SAFE_WEIGHTS_PATTERNS
    try:
        from huggingface_hub import HfApi, snapshot_download  # optional; imported only when a download is needed
    except ImportError:
        return None, "download skipped (huggingface_hub is not installed: pip install huggingface_hub)"
    try:
        # One question with a deadline first: snapshot_download's own has none, and a host that
        # accepts the connection but never answers would hold it for good.
        commit = HfApi().model_info(repo_id, revision=revision, token=token, timeout=HUB_TIMEOUT_S).sha or revision
        path = Path(snapshot_download(repo_id, revision=commit,
                                      allow_patterns=[prefix + pattern for pattern in (*FILE_PATTERNS, *weights)],
                                      **chosen))
        if use_safetensors is None and not any((path / subfolder / name).is_file() for name in SAFE_WEIGHTS_FILES):
            # Older checkpoints ship only the pickled weights, which tinyalbert reads without
            # running them (tinyalbert.torch_checkpoint); fetched only when nothing better is there.
            path = Path(snapshot_download(repo_id, revision=commit,
                                          allow_patterns=[prefix + pattern for pattern in PICKLED_WEIGHTS_PATTERNS],
                                          **chosen))
    except Exception as error:  # no network, unknown repository, gated model, ...
        return None, f"download of {repo_id} failed ({download_problem(error, repo_id, revision)})"
    if not (path / subfolder).is_dir():
        return None, f"{repo_id} has no folder {subfolder!r}"
    return path / subfolder, ""


def download_problem(error: Exception, repo_id: str, revision: str) -> str:
    """What went wrong in a download, with what to do about it where huggingface_hub's errors say
    (their first line alone is often just "401 Client Error")."""
    kind = type(error).__name__
    if kind == "GatedRepoError":
        return (f"{repo_id} is gated: ask for access at https://huggingface.co/{repo_id}, then pass token= "
                "or log in with `hf auth login`")
    if kind == "RepositoryNotFoundError":
        return (f"no repository {repo_id} on the Hub, or a private one: check the name, or pass token= "
                "or log in with `hf auth login`")
    if kind == "RevisionNotFoundError":
        return f"{repo_id} has no revision {revision!r} (a branch, a tag or a whole commit hash)"
    if "Timeout" in kind:
        return (f"the Hub did not answer within {HUB_TIMEOUT_S} s: check the network, or set HF_HUB_OFFLINE=1 "
                "to use the cache alone")
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{kind}: {message}"


def models_inside(directory: Path, holding: str = "config.json") -> list[str]:
    """The subfolders of `directory` that hold the file `holding`, best first: a training run's
    folder (pretrain's OUT, finetune's) keeps its models one level down, in final/ or best/ and
    checkpoint/."""
    if not directory.is_dir():
        return []
    inner = [folder.name for folder in directory.iterdir() if (folder / holding).is_file()]
    return sorted(inner, key=lambda folder: (folder not in ("final", "best"), folder))


def training_run_hint(directory: Path, holding: str) -> str:
    """What to load instead when `directory` lacks `holding` but is a training run's folder
    (", which looks like a training run's folder: ..."), or "" when it is not."""
    inner = models_inside(directory, holding)
    if not inner:
        return ""
    return (f", which looks like a training run's folder: its models are in "
            f"{' and '.join(str(directory / folder) for folder in inner)}; load {directory / inner[0]}")


def resolve_model_dir(name_or_path, revision: str = "main", *, cache_dir=None, local_files_only: bool = False,
                      token=None, subfolder: str = "", force_download: bool = False,
                      use_safetensors: bool | None = None) -> Path:
    """A local directory holding the model's files (see the module docstring for the search order).

    The other arguments mean what they mean to Transformers' `from_pretrained`: `cache_dir`
    replaces the Hugging Face cache (for looking and for downloading), `local_files_only` never
    downloads, `token` is the Hub access token for a private or gated model, `subfolder` is the
    folder inside the directory or repository that holds the files, `force_download` downloads
    again what the cache holds, and `use_safetensors=False` downloads the pickled weights
    instead of the safetensors ones.
    Raises FileNotFoundError naming every place that was looked at when nothing matches.
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    subfolder = os.fspath(subfolder or "")
    revision = revision or "main"  # None, as in Transformers: the default branch
    if path.is_dir():
        bundled = BUNDLED_DIR / text
        if text in BUNDLED_MODELS and bundled.is_dir() and path.resolve() != bundled.resolve():
            # A local directory wins, as in Transformers, but a user asking for the bundled model
            # by name should know that another one answered.
            warnings.warn(f"using the local directory {path.resolve()}, not the bundled model {text!r} of the same "
                          f"name; pass {bundled} to use the bundled one", stacklevel=2)
            path = path.resolve()  # by its full path, later look-ups of the same directory do not warn again
        return inside(path, subfolder)
    if path.exists():
        raise FileNotFoundError(f"{path} is a file; a model is a directory holding config.json and model.safetensors")

    looked = [f"no local directory {path.resolve()}"]
    if text in BUNDLED_MODELS:
        bundled = BUNDLED_DIR / text
        if bundled.is_dir():
            return inside(bundled, subfolder)
        looked.append(f"bundled model {text!r} is not installed (no {bundled})")

    hint = ("pass the path of a directory holding config.json, model.safetensors and spiece.model (a tokenizer "
            "alone needs only spiece.model)")
    if not _REPO_ID.match(text) or text in BUNDLED_MODELS:
        raise FileNotFoundError(f"{text!r} not found: {'; '.join(looked)}. To use a model or tokenizer, {hint}")

    repo_ids = hub_repo_ids(text)
    cache_dir = None if cache_dir is None else Path(os.fspath(cache_dir)).expanduser()
    look_in = hf_cache_dir() if cache_dir is None else cache_dir
    partial = None  # a cached copy that lacks files: completed by a download where one may run
    for repo_id in [] if force_download else repo_ids:  # force_download: past the cache, to the Hub
        snapshot, reason = cached_snapshot(repo_id, revision, look_in)
        if snapshot is not None and (snapshot / subfolder).is_dir():
            folder = snapshot / subfolder
            lacking = missing_model_files(folder)
            if not lacking:
                return folder
            partial = (repo_id, folder, lacking)
            break
        if snapshot is not None:
            reason = f"{snapshot} has no folder {subfolder!r}"
        looked.append(f"not in the Hugging Face cache ({reason})")
    if force_download:
        looked.append("the Hugging Face cache not looked in (force_download=True)")
    download_id = partial[0] if partial else repo_ids[0]
    if local_files_only:
        snapshot, reason = None, "download skipped (local_files_only=True)"
    else:
        # Into the cache looked in: one a Transformers variable names is passed on, as Transformers does
        download_to = cache_dir if cache_dir is not None else transformers_cache_dir()
        snapshot, reason = _download(download_id, revision, download_to, token, subfolder=subfolder,
                                     force_download=force_download, use_safetensors=use_safetensors)
    if snapshot is not None:
        return snapshot
    if partial:  # what is there may be all the caller needs (a tokenizer, a config): it says if not
        repo_id, folder, lacking = partial
        warnings.warn(f"the cached copy of {repo_id} in {folder} lacks {', '.join(lacking)} (an interrupted or "
                      f"partial download?) and could not be completed: {reason}. Complete it with "
                      f"force_download=True or `{download_command(repo_id, revision, subfolder)}`", stacklevel=2)
        return folder
    looked.append(reason)
    offline = offline_variable()
    where = f"unset {offline} and " if offline else ""
    raise FileNotFoundError(
        f"model {text!r} not found: {'; '.join(looked)}. To download it, {where}run "
        f"`{download_command(repo_ids[0], revision, subfolder)}` (older huggingface_hub: `huggingface-cli download "
        f"...` with the same arguments), or {hint}"
    )


def download_command(repo_id: str, revision: str, subfolder: str) -> str:
    """The `hf download` command that fetches what resolve_model_dir would have downloaded."""
    command = f"hf download {repo_id}"
    if revision != "main":
        command += f" --revision {revision}"
    if subfolder:
        command += f" --include '{subfolder}/*'"
    return command


def inside(directory: Path, subfolder: str) -> Path:
    """`directory / subfolder`, which must be a directory (Transformers' `subfolder`)."""
    if not subfolder:
        return directory
    folder = directory / subfolder
    if not folder.is_dir():
        raise FileNotFoundError(f"{directory} has no folder {subfolder!r} (subfolder={subfolder!r})")
    return folder
