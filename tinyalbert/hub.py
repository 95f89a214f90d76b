"""Where a model named by the user lives on disk."""
from __future__ import annotations

from pathlib import Path


def resolve_model_dir(name_or_path) -> Path:
    """A local directory holding the model's files."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    raise FileNotFoundError(f"no model directory at {path}")
