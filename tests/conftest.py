"""Shared pytest set-up, in one place: hypothesis profiles, the `reference` marker, shared
fixtures and paths to optional fixture files.

Tests that compare with Transformers carry `@pytest.mark.reference`; they are skipped, one by
one, when torch or transformers is not installed, so that everything else runs on a light install.
"""
import importlib.util
import os
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# "ci": derandomized so a red run can be reproduced, and sized to keep the suite short.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# "dev": more examples, random seeds, for hunting bugs locally.
settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[1]
# ../shared/ beside the checkout holds material that must not be copied into the repository.
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
ALBERT_BASE_V2_SPIECE = SHARED_FIXTURES / "albert-base-v2-tokenizer" / "spiece.model"


@pytest.fixture
def albert_base_v2_tokenizer_dir():
    """The real albert-base-v2 tokenizer files, when the shared fixtures are present."""
    if not ALBERT_BASE_V2_SPIECE.exists():
        pytest.skip("shared albert-base-v2 tokenizer fixture not present")
    return ALBERT_BASE_V2_SPIECE.parent


# --- the reference implementation (torch + transformers), optional ---------------------------------
REFERENCE_MODULES = ("torch", "transformers")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "reference: compares with torch + transformers 4.53.3; skipped when they are not installed"
    )


def is_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def pytest_collection_modifyitems(config, items):
    missing = [name for name in REFERENCE_MODULES if not is_installed(name)]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"needs {' and '.join(missing)} (the reference implementation)")
    for item in items:
        if item.get_closest_marker("reference") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def load_in_tinyalbert():
    """A function: a Transformers model -> the same weights in a tinyalbert class, through
    `save_pretrained` and `from_pretrained`, so that the parameter names are tested on the way."""

    def load(reference, ours_class, dtype="float32", backend="numpy"):
        with tempfile.TemporaryDirectory() as directory:
            reference.save_pretrained(directory)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heads the reference class lacks, initialized fresh
                return ours_class.from_pretrained(directory, dtype=dtype, backend=backend)

    return load


@pytest.fixture(scope="session")
def corpus_and_tokenizer(tmp_path_factory):
    """A tiny corpus, its tokenizer and a model configuration without dropout, for the
    data-parallel tests (tests/test_distributed.py, tests/test_distributed_more.py)."""
    import json

    from test_trainer import TINY_CONFIG, write_corpus

    from tinyalbert.tokenizer import AlbertTokenizer, train_sentencepiece

    root = tmp_path_factory.mktemp("mpi_pretrain")
    corpus = write_corpus(root / "corpus.txt")
    AlbertTokenizer(train_sentencepiece(corpus, root / "tok" / "spiece", 64, seed=0, hard_vocab_limit=False)
                    ).save_pretrained(root / "tok")
    # Dropout off: each process draws masks of its own by design, so with dropout the runs differ.
    config = {**TINY_CONFIG, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
              "classifier_dropout_prob": 0.0}
    (root / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return root
