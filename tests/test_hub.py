"""`tinyalbert.hub.resolve_model_dir`: local directories, the bundled model, the Hugging Face
cache (laid out as huggingface_hub lays it out), and downloads; never the network here."""
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tinyalbert import hub
from tinyalbert.hub import resolve_model_dir

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
CACHE_VARIABLES = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "TRANSFORMERS_CACHE",
                   "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE")


def make_cached_repo(cache: Path, repo_id: str, refs: dict | None = None) -> dict:
    """A repository in huggingface_hub's cache layout; returns {commit: snapshot directory}."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    refs = {"main": COMMIT} if refs is None else refs
    snapshots = {}
    for ref, commit in refs.items():
        (repo_dir / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / ref).write_text(commit)  # huggingface_hub writes the hash without a newline
        snapshot = repo_dir / "snapshots" / commit
        snapshot.mkdir(parents=True, exist_ok=True)
        (snapshot / "config.json").write_text('{"model_type": "albert"}')
        for name in ("spiece.model", "model.safetensors"):  # stand-ins: a whole copy, as a download leaves it
            (snapshot / name).write_bytes(b"")
        snapshots[commit] = snapshot
    (repo_dir / "blobs").mkdir(exist_ok=True)
    return snapshots


NEEDED = {"config.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "spiece.model"}
SAFETENSORS = {"model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors"}


def online_hub(snapshot_download, sha=COMMIT, asked=None):
    """A huggingface_hub stand-in: `snapshot_download`, and an HfApi whose model_info answers the
    commit `sha` of a revision (its arguments recorded in `asked`)."""
    def model_info(repo_id, revision=None, token=None, timeout=None):
        if asked is not None:
            asked.append({"repo_id": repo_id, "revision": revision, "token": token, "timeout": timeout})
        return types.SimpleNamespace(sha=sha)

    return types.SimpleNamespace(snapshot_download=snapshot_download,
                                 HfApi=lambda: types.SimpleNamespace(model_info=model_info))


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No cache variables, a private HOME, offline, and a huggingface_hub that must not be called."""
    for name in CACHE_VARIABLES + ("TRANSFORMERS_OFFLINE",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("snapshot_download must not be called")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=no_network))
    return monkeypatch


def test_local_directory_wins(clean_env, tmp_path):
    model = tmp_path / "my-albert"
    model.mkdir()
    assert resolve_model_dir(model) == model
    assert resolve_model_dir(str(model)) == model
    assert resolve_model_dir("my-albert") == Path("my-albert")  # relative to the working directory
    clean_env.setenv("HOME", str(tmp_path))
    assert resolve_model_dir("~/my-albert") == model


def test_hf_hub_cache_variable(clean_env, tmp_path):
    cache = tmp_path / "somewhere" / "hub-cache"
    snapshot = make_cached_repo(cache, "albert/albert-base-v2")[COMMIT]
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    assert hub.hf_cache_dir() == cache
    assert resolve_model_dir("albert/albert-base-v2") == snapshot
    assert resolve_model_dir("albert-base-v2") == snapshot  # the old short name means albert/albert-base-v2


def test_transformers_cache_variables_come_first_as_in_transformers_4(clean_env, tmp_path):
    """Transformers 4.53.3 looks in TRANSFORMERS_CACHE, then PYTORCH_TRANSFORMERS_CACHE, then
    PYTORCH_PRETRAINED_BERT_CACHE, before HF_HUB_CACHE: a model cached there is found."""
    caches = {name: tmp_path / name.lower() for name in ("TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE",
                                                         "PYTORCH_PRETRAINED_BERT_CACHE", "HF_HUB_CACHE")}
    snapshots = {name: make_cached_repo(cache, "someone/tiny-albert")[COMMIT] for name, cache in caches.items()}
    for name, cache in reversed(caches.items()):  # each variable set hides the ones after it
        clean_env.setenv(name, str(cache))
        assert hub.hf_cache_dir() == cache and resolve_model_dir("someone/tiny-albert") == snapshots[name]


def test_a_download_goes_into_the_cache_transformers_cache_names(clean_env, tmp_path):
    """huggingface_hub does not read TRANSFORMERS_CACHE: it is passed as cache_dir, as Transformers
    4.53.3 passes it, so the model downloaded is found there next time, offline."""
    clean_env.delenv("HF_HUB_OFFLINE")
    cache = tmp_path / "transformers-cache"
    clean_env.setenv("TRANSFORMERS_CACHE", str(cache))
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    asked = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None):
        asked.append(cache_dir)
        return str(make_cached_repo(Path(cache_dir), repo_id)[COMMIT])

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download))
    downloaded = resolve_model_dir("someone/tiny-albert")
    assert asked == [cache] and downloaded.is_relative_to(cache)
    clean_env.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_dir("someone/tiny-albert") == downloaded


def test_hf_home_variable_and_the_default_home_cache(clean_env, tmp_path):
    home_cache = tmp_path / "hf-home" / "hub"
    snapshot = make_cached_repo(home_cache, "albert/albert-large-v1")[COMMIT]
    clean_env.setenv("HF_HOME", str(tmp_path / "hf-home"))
    assert resolve_model_dir("albert-large-v1") == snapshot
    clean_env.delenv("HF_HOME")
    default_cache = tmp_path / "home" / ".cache" / "huggingface" / "hub"
    snapshot = make_cached_repo(default_cache, "someone/tiny-albert")[COMMIT]
    assert hub.hf_cache_dir() == default_cache
    assert resolve_model_dir("someone/tiny-albert") == snapshot
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.hf_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"


def test_revisions_and_legacy_cache_names(clean_env, tmp_path):
    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    snapshots = make_cached_repo(cache, "albert/albert-base-v1", refs={"main": COMMIT, "v1.0": OTHER_COMMIT})
    assert resolve_model_dir("albert/albert-base-v1", revision="v1.0") == snapshots[OTHER_COMMIT]
    assert resolve_model_dir("albert/albert-base-v1", revision=OTHER_COMMIT) == snapshots[OTHER_COMMIT]
    with pytest.raises(FileNotFoundError, match="no refs/v2.0"):
        resolve_model_dir("albert/albert-base-v1", revision="v2.0")
    # A cache written before the models moved under `albert/`.
    legacy = make_cached_repo(cache, "albert-xlarge-v2")[COMMIT]
    assert resolve_model_dir("albert-xlarge-v2") == legacy


def test_snapshot_without_ref_is_used_when_it_is_the_only_one(clean_env, tmp_path):
    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    snapshot = make_cached_repo(cache, "org/pinned")[COMMIT]
    (cache / "models--org--pinned" / "refs" / "main").unlink()
    assert resolve_model_dir("org/pinned") == snapshot


def test_not_found_lists_every_place_and_what_to_run(clean_env, tmp_path):
    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    with pytest.raises(FileNotFoundError) as error:
        resolve_model_dir("albert-base-v2")
    message = str(error.value)
    for fragment in (str(tmp_path / "albert-base-v2"), str(cache / "models--albert--albert-base-v2"),
                     str(cache / "models--albert-base-v2"), "HF_HUB_OFFLINE", "download albert/albert-base-v2",
                     "pass the path of a directory"):
        assert fragment in message, fragment
    assert "\n" not in message


def test_empty_snapshot_is_not_a_model(clean_env, tmp_path):
    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    snapshot = make_cached_repo(cache, "org/empty")[COMMIT]
    for file in snapshot.iterdir():
        file.unlink()
    with pytest.raises(FileNotFoundError, match="missing or empty"):
        resolve_model_dir("org/empty")


def test_a_partial_cached_copy_is_completed_online_and_named_offline(clean_env, tmp_path):
    """A cache holding a model's config and weights but not its tokenizer (loaded by Transformers
    without its tokenizer, or a download cut short: a link whose blob never came) was taken as it
    was, and the tokenizer failed with "no spiece.model" though the Hub was reachable."""
    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    snapshot = make_cached_repo(cache, "org/albert")[COMMIT]
    (snapshot / "spiece.model").unlink()
    (snapshot / "spiece.model").symlink_to(snapshot.parents[1] / "blobs" / "0a1b2c")  # its blob is missing
    with pytest.warns(UserWarning, match=r"lacks spiece.model .*force_download=True or `hf download org/albert`"):
        assert resolve_model_dir("org/albert") == snapshot  # offline: what there is, and what it lacks

    clean_env.delenv("HF_HUB_OFFLINE")
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, **chosen):
        calls.append((repo_id, revision))
        (snapshot / "spiece.model").unlink()
        (snapshot / "spiece.model").write_bytes(b"")  # huggingface_hub fetches what is missing
        return str(snapshot)

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download))
    assert resolve_model_dir("org/albert") == snapshot and calls == [("org/albert", COMMIT)]
    assert resolve_model_dir("org/albert") == snapshot and len(calls) == 1  # whole now: no question asked


def test_revision_none_means_the_default_branch(clean_env, tmp_path):
    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    snapshot = make_cached_repo(cache, "org/albert")[COMMIT]
    assert resolve_model_dir("org/albert", revision=None) == snapshot  # was a TypeError


@pytest.mark.parametrize("kind, advice", [
    ("RepositoryNotFoundError", "no repository org/albert on the Hub, or a private one: .*token="),
    ("GatedRepoError", "org/albert is gated: ask for access at https://huggingface.co/org/albert"),
    ("RevisionNotFoundError", "org/albert has no revision 'v9'"),
    ("ReadTimeout", "the Hub did not answer within 10 s: .*HF_HUB_OFFLINE=1"),
])
def test_hub_errors_say_what_to_do(clean_env, tmp_path, kind, advice):
    """huggingface_hub's first line alone ("401 Client Error.") said nothing of a token, a gated
    repository or a revision; the command to run names the revision."""
    clean_env.delenv("HF_HUB_OFFLINE")
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    error = type(kind, (Exception,), {})("401 Client Error.\nRequest ID: 1")

    def failing(*args, **kwargs):
        raise error

    hub_module = online_hub(failing)
    hub_module.HfApi = lambda: types.SimpleNamespace(model_info=failing)
    clean_env.setitem(sys.modules, "huggingface_hub", hub_module)
    with pytest.raises(FileNotFoundError, match=advice) as raised:
        resolve_model_dir("org/albert", revision="v9")
    assert "`hf download org/albert --revision v9`" in str(raised.value)


def test_offline_errors_name_the_variable_to_unset(clean_env, tmp_path):
    clean_env.delenv("HF_HUB_OFFLINE")
    clean_env.setenv("TRANSFORMERS_OFFLINE", "1")
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="TRANSFORMERS_OFFLINE is set.*unset TRANSFORMERS_OFFLINE and run"):
        resolve_model_dir("org/albert")


def test_the_download_patterns_take_no_folder_of_the_repository():
    """`*.json` and `*.safetensors` also matched checkpoint-500/ and onnx/ (fnmatch's * crosses /)."""
    import fnmatch

    patterns = [*hub.FILE_PATTERNS, *hub.SAFE_WEIGHTS_PATTERNS]
    files = ["config.json", "spiece.model", "model.safetensors", "model-00001-of-00002.safetensors",
             "model.safetensors.index.json", "tokenizer_config.json", "checkpoint-500/model.safetensors",
             "checkpoint-500/optimizer.json", "onnx/model.safetensors", "eval/results.json", "README.md"]
    taken = [name for name in files if any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    assert taken == files[:6]


def test_paths_that_cannot_be_hub_names(clean_env, tmp_path):
    for name in ("./nowhere", str(tmp_path / "a" / "b"), "a/b/c"):
        with pytest.raises(FileNotFoundError, match="no local directory") as error:
            resolve_model_dir(name)
        assert "cache" not in str(error.value)
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is a file"):
        resolve_model_dir(tmp_path / "weights.bin")


def test_bundled_model(clean_env, tmp_path):
    bundled = tmp_path / "data"
    clean_env.setattr(hub, "BUNDLED_DIR", bundled)
    with pytest.raises(FileNotFoundError, match="bundled model 'tinyalbert-mini' is not installed") as error:
        resolve_model_dir("tinyalbert-mini")
    assert str(bundled / "tinyalbert-mini") in str(error.value)
    (bundled / "tinyalbert-mini").mkdir(parents=True)
    assert resolve_model_dir("tinyalbert-mini") == bundled / "tinyalbert-mini"


def test_download_when_online(clean_env, tmp_path):
    """Not in the cache and not offline: huggingface_hub.snapshot_download fetches only the needed files."""
    clean_env.delenv("HF_HUB_OFFLINE")
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision, allow_patterns))
        (tmp_path / "downloaded").mkdir(exist_ok=True)
        if "model.safetensors" in allow_patterns:
            (tmp_path / "downloaded" / "model.safetensors").write_bytes(b"")
        return str(tmp_path / "downloaded")

    asked = []
    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download, asked=asked))
    assert resolve_model_dir("albert-base-v2", revision="main") == tmp_path / "downloaded"
    (repo_id, revision, patterns), = calls
    # The revision is asked for first, with a deadline, and its commit downloaded.
    assert asked == [{"repo_id": "albert/albert-base-v2", "revision": "main", "token": None, "timeout": 10}]
    assert (repo_id, revision) == ("albert/albert-base-v2", COMMIT)
    assert set(patterns) == NEEDED | SAFETENSORS


def test_download_falls_back_to_pytorch_model_bin_only_without_safetensors(clean_env, tmp_path):
    # As Transformers does: safetensors when the repository has them, the pickled weights otherwise.
    clean_env.delenv("HF_HUB_OFFLINE")
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append(allow_patterns)
        (tmp_path / "old").mkdir(exist_ok=True)  # an old repository: config and pytorch_model.bin only
        return str(tmp_path / "old")

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download))
    assert resolve_model_dir("someone/old-albert") == tmp_path / "old"
    # One file or Transformers' shards (save_pretrained(safe_serialization=False, max_shard_size=...)).
    assert calls[1] == ["pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin"]
    assert len(calls) == 2

    def failing_download(repo_id, revision=None, allow_patterns=None):
        raise OSError("no route to host\nmore details")

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(failing_download))
    with pytest.raises(FileNotFoundError, match=r"download of org/model failed \(OSError: no route to host\)"):
        resolve_model_dir("org/model")
    clean_env.setitem(sys.modules, "huggingface_hub", None)  # not installed
    with pytest.raises(FileNotFoundError, match="huggingface_hub is not installed"):
        resolve_model_dir("org/model")


def test_models_and_configs_load_through_the_cache(clean_env, tmp_path):
    """The model classes ask this module, so a cached Hub name loads offline by its short name."""
    from tinyalbert import AlbertConfig, AlbertForMaskedLM

    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    snapshot = make_cached_repo(cache, "albert/albert-base-v2")[COMMIT]
    config = AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=20, max_position_embeddings=32)
    AlbertForMaskedLM(config, seed=1).save_pretrained(snapshot)
    loaded = AlbertForMaskedLM.from_pretrained("albert-base-v2")
    assert loaded.config.hidden_size == 16
    # A revision picks the snapshot its ref names, as in Transformers.
    other = make_cached_repo(cache, "albert/albert-base-v2", refs={"v1": OTHER_COMMIT})[OTHER_COMMIT]
    AlbertForMaskedLM(AlbertConfig(**{**config.to_dict(), "hidden_size": 8}), seed=1).save_pretrained(other)
    assert AlbertForMaskedLM.from_pretrained("albert-base-v2", revision="v1").config.hidden_size == 8
    assert AlbertConfig.from_pretrained("albert-base-v2", revision="v1").hidden_size == 8
    assert "revision" not in AlbertConfig.from_pretrained("albert-base-v2", revision="v1").to_dict()
    original = AlbertForMaskedLM.from_pretrained(snapshot)
    for name, value in original.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)


def test_local_directory_named_like_the_bundled_model_wins_with_a_warning(clean_env, tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no local folder: the bundled model, silently
        assert resolve_model_dir("tinyalbert-mini") == hub.BUNDLED_DIR / "tinyalbert-mini"
    (tmp_path / "tinyalbert-mini").mkdir()
    with pytest.warns(UserWarning, match=r"local directory .*tinyalbert-mini.*bundled"):
        found = resolve_model_dir("tinyalbert-mini")
    assert found == (tmp_path / "tinyalbert-mini").resolve()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_model_dir(found) == found  # looked up again by its path: no second warning


def test_cache_dir_local_files_only_and_token_mean_what_they_mean_to_transformers(clean_env, tmp_path):
    """A cache of one's own holds the model for the model, its config and its tokenizer alike;
    local_files_only never downloads; a chosen cache_dir and token reach huggingface_hub."""
    from tinyalbert import AlbertConfig, AlbertForMaskedLM, AlbertTokenizer

    own_cache = tmp_path / "own-cache"
    snapshot = make_cached_repo(own_cache, "org/albert")[COMMIT]
    AlbertForMaskedLM.from_pretrained("tinyalbert-mini").save_pretrained(snapshot)
    AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(snapshot)
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache"):
        AlbertConfig.from_pretrained("org/albert")  # the default cache does not have it
    assert AlbertForMaskedLM.from_pretrained("org/albert", cache_dir=own_cache).config.vocab_size == 8000
    assert AlbertConfig.from_pretrained("org/albert", cache_dir=str(own_cache), return_unused_kwargs=True)[1] == {}
    assert AlbertTokenizer.from_pretrained("org/albert", cache_dir=own_cache, revision="main").vocab_size == 8000

    clean_env.delenv("HF_HUB_OFFLINE")  # online now, with a downloader that records its calls
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, **chosen):
        calls.append(chosen)
        (tmp_path / "downloaded").mkdir(exist_ok=True)
        (tmp_path / "downloaded" / "model.safetensors").write_bytes(b"")
        return str(tmp_path / "downloaded")

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download))
    with pytest.raises(FileNotFoundError, match=r"download skipped \(local_files_only=True\)"):
        resolve_model_dir("org/other", local_files_only=True)
    with pytest.raises(FileNotFoundError, match=r"local_files_only=True"):
        AlbertTokenizer.from_pretrained("org/other", local_files_only=True)
    assert calls == []
    assert resolve_model_dir("org/other") == tmp_path / "downloaded" and calls == [{}]  # nothing chosen, nothing passed
    resolve_model_dir("org/other", cache_dir=own_cache, token="hf_secret")
    assert calls[-1] == {"cache_dir": own_cache, "token": "hf_secret"}


def test_subfolder_finds_the_files_inside_a_directory_the_cache_or_a_download(clean_env, tmp_path):
    """Transformers' `subfolder`: model, config and tokenizer read from a folder inside the
    directory or repository; a missing folder is named in the error."""
    from tinyalbert import AlbertConfig, AlbertForMaskedLM, AlbertTokenizer

    bundled = AlbertForMaskedLM.from_pretrained("tinyalbert-mini")
    local = tmp_path / "repo"
    bundled.save_pretrained(local / "mlm")
    AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(local / "mlm")
    loaded = AlbertForMaskedLM.from_pretrained(local, subfolder="mlm")
    np.testing.assert_array_equal(loaded.params["albert.embeddings.word_embeddings.weight"],
                                  bundled.params["albert.embeddings.word_embeddings.weight"])
    assert AlbertConfig.from_pretrained(str(local), subfolder="mlm").vocab_size == 8000
    assert AlbertTokenizer.from_pretrained(local, subfolder="mlm").tokenize("A dog.") == ["▁a", "▁dog", "."]
    with pytest.raises(FileNotFoundError, match="has no folder 'other'"):
        AlbertForMaskedLM.from_pretrained(local, subfolder="other")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        AlbertConfig.from_pretrained(local)  # the files are not at the top

    cache = tmp_path / "cache"
    snapshot = make_cached_repo(cache, "org/albert")[COMMIT]
    bundled.save_pretrained(snapshot / "mlm")
    AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(snapshot / "mlm")
    assert AlbertForMaskedLM.from_pretrained("org/albert", subfolder="mlm", cache_dir=cache).config.vocab_size == 8000
    with pytest.raises(FileNotFoundError, match=r"has no folder 'other'"):
        resolve_model_dir("org/albert", subfolder="other", cache_dir=cache)

    clean_env.delenv("HF_HUB_OFFLINE")
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, **chosen):
        calls.append(allow_patterns)
        (tmp_path / "downloaded" / "mlm").mkdir(parents=True, exist_ok=True)
        (tmp_path / "downloaded" / "mlm" / "model.safetensors").write_bytes(b"")
        return str(tmp_path / "downloaded")

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download))
    assert resolve_model_dir("org/new", subfolder="mlm") == tmp_path / "downloaded" / "mlm"
    assert set(calls[-1]) == {f"mlm/{name}" for name in NEEDED | SAFETENSORS}
    with pytest.raises(FileNotFoundError, match="org/new has no folder 'other'"):
        resolve_model_dir("org/new", subfolder="other")


def test_force_download_downloads_what_the_cache_holds(clean_env, tmp_path):
    cache = tmp_path / "cache"
    clean_env.setenv("HF_HUB_CACHE", str(cache))
    snapshot = make_cached_repo(cache, "org/albert")[COMMIT]
    assert resolve_model_dir("org/albert") == snapshot  # offline: the cache, no download
    with pytest.raises(FileNotFoundError, match=r"not looked in \(force_download=True\).*HF_HUB_OFFLINE"):
        resolve_model_dir("org/albert", force_download=True)
    clean_env.delenv("HF_HUB_OFFLINE")
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, **chosen):
        calls.append(chosen)
        (tmp_path / "fresh").mkdir(exist_ok=True)
        (tmp_path / "fresh" / "model.safetensors").write_bytes(b"")
        return str(tmp_path / "fresh")

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download))
    assert resolve_model_dir("org/albert") == snapshot and calls == []
    assert resolve_model_dir("org/albert", force_download=True) == tmp_path / "fresh"
    assert calls == [{"force_download": True}]


def test_use_safetensors_picks_the_weights_file_as_transformers_does(monkeypatch, tmp_path):
    """A directory with both files, of different weights: None and True read the safetensors,
    False the pickled file, in tinyalbert and in transformers alike; a missing file raises."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tinyalbert import AlbertForMaskedLM

    config = transformers.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=20, max_position_embeddings=32)
    both = tmp_path / "both"
    torch.manual_seed(0)
    transformers.AlbertForMaskedLM(config).save_pretrained(both, safe_serialization=True)
    torch.manual_seed(1)
    transformers.AlbertForMaskedLM(config).save_pretrained(both, safe_serialization=False)
    assert (both / "model.safetensors").is_file() and (both / "pytorch_model.bin").is_file()
    name = "albert.embeddings.word_embeddings.weight"
    for use_safetensors in (None, True, False):
        theirs = transformers.AlbertForMaskedLM.from_pretrained(both, use_safetensors=use_safetensors)
        ours = AlbertForMaskedLM.from_pretrained(both, use_safetensors=use_safetensors)
        np.testing.assert_array_equal(ours.params[name], theirs.state_dict()[name].numpy())
    safe_only, pickled_only = tmp_path / "safe", tmp_path / "pickled"
    transformers.AlbertForMaskedLM(config).save_pretrained(safe_only, safe_serialization=True)
    transformers.AlbertForMaskedLM(config).save_pretrained(pickled_only, safe_serialization=False)
    for directory, use_safetensors in ((safe_only, False), (pickled_only, True)):
        with pytest.raises(OSError):
            transformers.AlbertForMaskedLM.from_pretrained(directory, use_safetensors=use_safetensors)
        with pytest.raises(FileNotFoundError, match=f"use_safetensors={use_safetensors}, but there is no"):
            AlbertForMaskedLM.from_pretrained(directory, use_safetensors=use_safetensors)


def test_use_safetensors_false_downloads_the_pickled_weights(clean_env, tmp_path):
    clean_env.delenv("HF_HUB_OFFLINE")
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append(set(allow_patterns))
        (tmp_path / "downloaded").mkdir(exist_ok=True)
        return str(tmp_path / "downloaded")

    clean_env.setitem(sys.modules, "huggingface_hub", online_hub(snapshot_download))
    resolve_model_dir("org/albert", use_safetensors=False)
    assert calls == [NEEDED | {"pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin"}]
    resolve_model_dir("org/albert", use_safetensors=True)  # no safetensors came, and none other is wanted
    assert calls[1:] == [NEEDED | SAFETENSORS]


def test_pipeline_finds_the_model_where_model_kwargs_say(clean_env, tmp_path):
    """pipeline(model=NAME, model_kwargs={"cache_dir": ...}) looked in the default cache only, as
    if the option were not there (Transformers looks in the cache it names); subfolder too."""
    import tinyalbert
    from tinyalbert import AlbertForMaskedLM, AlbertTokenizer

    own_cache = tmp_path / "own-cache"
    snapshot = make_cached_repo(own_cache, "org/albert")[COMMIT]
    AlbertForMaskedLM.from_pretrained("tinyalbert-mini").save_pretrained(snapshot / "mlm")
    AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(snapshot / "mlm")
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache"):
        tinyalbert.pipeline("fill-mask", model="org/albert")
    fill = tinyalbert.pipeline("fill-mask", model="org/albert",
                               model_kwargs={"cache_dir": own_cache, "subfolder": "mlm", "local_files_only": True})
    assert fill.model.config.vocab_size == 8000 and len(fill("A dog is an [MASK].")) == 5
