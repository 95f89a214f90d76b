"""Shared pytest set-up: hypothesis profiles and paths to optional fixtures."""
import os
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
