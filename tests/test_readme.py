"""The README's Python snippets run as written, in order, offline, on the bundled model."""
import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


import pytest


@pytest.mark.filterwarnings("ignore:Some weights were not in")  # the new 3-label head, as the README says
def test_readme_python_snippets_run(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3, "the README lost its snippets"
    monkeypatch.chdir(tmp_path)  # no local folder can stand in for the bundled model
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace = {"__name__": "readme"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks, start=1):
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
    assert "'score'" in printed.getvalue()  # the pipeline's predictions were printed
    assert namespace["out"]["logits"].shape == (1, 3)  # the 3-label head asked for
    assert set(namespace["grads"]) == set(namespace["model"].state_dict())
