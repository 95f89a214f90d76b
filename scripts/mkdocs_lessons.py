"""MkDocs hook: put every lesson on the site, executed, with its printed output and figures.

Named in mkdocs.yml under `hooks:`. For each `lessons/NN_topic.py` it takes the executed notebook
that `tests/test_lessons.py` (or `python scripts/lessons.py`) left in build/lessons/, or runs the
lesson when that is missing or older than the source, and turns it into a page
`lessons/NN_topic.md` with its figures beside it. `lessons/README.md` becomes `lessons/index.md`.
The pages exist only in the build: nothing is written into docs/. New lessons appear in the
"Lessons" section of the navigation by themselves, in the order of their numbers.
"""
from __future__ import annotations

import base64
import importlib.util
import logging
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.lessons")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
NAV_SECTION = "Lessons"


def _runner():
    path = Path(__file__).with_name("lessons.py")
    spec = importlib.util.spec_from_file_location("lesson_runner", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


runner = _runner()


def lesson_title(path: Path) -> str:
    """The first Markdown heading of the lesson (`# Lesson 1: from text to token ids`)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    return path.stem


def on_config(config):
    """Fill the nav's "Lessons" section with the course map and one page per lesson."""
    pages = [{lesson_title(path): f"lessons/{path.stem}.md"} for path in runner.lesson_files()]
    for item in config["nav"] or []:
        if isinstance(item, dict) and NAV_SECTION in item:
            item[NAV_SECTION] = [{"Course map": "lessons/index.md"}, *pages]
            return config
    raise ValueError(f"mkdocs.yml: the nav needs a '{NAV_SECTION}' section for the lessons")


def _text_block(text: str) -> str:
    text = ANSI_ESCAPE.sub("", text).rstrip("\n")
    return f"```text\n{text}\n```\n" if text.strip() else ""


def notebook_to_markdown(notebook, stem: str) -> tuple[str, dict]:
    """(page Markdown, {figure path: PNG bytes}) of an executed notebook."""
    parts, figures = [], {}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source + "\n")
            continue
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        parts.append(f"```python\n{cell.source}\n```\n")
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                parts.append(_text_block(output.get("text", "")))
            elif kind == "error":
                parts.append(_text_block("\n".join(output.get("traceback", []))))
            elif "image/png" in output.get("data", {}):
                name = f"{stem}_files/figure-{len(figures) + 1}.png"
                figures[f"lessons/{name}"] = base64.b64decode(output["data"]["image/png"])
                parts.append(f"![Figure {len(figures)} of {stem}]({name})\n")
            elif "text/plain" in output.get("data", {}):
                parts.append(_text_block(output["data"]["text/plain"]))
    return "\n".join(parts), figures


def executed_notebook(path: Path):
    notebook = runner.load_fresh_executed(path)
    if notebook is None:
        log.info(f"executing {path.name} (no up-to-date run in {runner.EXECUTED_DIR})")
        notebook, seconds = runner.execute_lesson(path)
        runner.save_executed(notebook, path)
        log.info(f"{path.name}: {seconds:.1f} s")
    return notebook


def course_map() -> str:
    """lessons/README.md with its links to `NN_topic.py` pointed at the rendered pages."""
    text = (runner.LESSONS_DIR / "README.md").read_text(encoding="utf-8")
    return re.sub(r"\]\((\d\d_[\w-]+)\.py\)", r"](\1.md)", text)


def on_files(files, config):
    files.append(File.generated(config, "lessons/index.md", content=course_map()))
    for path in runner.lesson_files():
        page, figures = notebook_to_markdown(executed_notebook(path), path.stem)
        source_note = (f"!!! note \"Run it yourself\"\n    This page is `lessons/{path.name}` executed. Open it in "
                       f"Jupyter (with jupytext installed) or run `python scripts/lessons.py {path.name[:2]}`.\n\n")
        first_break = page.index("\n") + 1  # after the title
        files.append(File.generated(config, f"lessons/{path.stem}.md",
                                    content=page[:first_break] + "\n" + source_note + page[first_break:]))
        for name, data in figures.items():
            files.append(File.generated(config, name, content=data))
    return files
