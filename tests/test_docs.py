"""The API reference covers the package: every public class and function of every module has
a `::: ...` directive in docs/api/ (its module's, or its own). The strict build of the site
(`mkdocs build --strict`, run by scripts/test.sh) checks that each directive resolves."""
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import tinyalbert

REPO_ROOT = Path(__file__).resolve().parents[1]
API_PAGES = REPO_ROOT / "docs" / "api"


def documented_targets() -> set[str]:
    targets = set()
    for page in API_PAGES.glob("*.md"):
        targets.update(re.findall(r"^:::\s*(tinyalbert[\w.]*)\s*$", page.read_text(encoding="utf-8"), re.MULTILINE))
    return targets


def public_names():
    """(module name, object name) of every class and function defined in a tinyalbert module."""
    for info in pkgutil.walk_packages(tinyalbert.__path__, "tinyalbert."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("_") or not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if getattr(value, "__module__", None) == info.name:
                yield info.name, name


def test_every_public_class_and_function_has_an_api_entry():
    targets = documented_targets()
    assert targets, f"no ::: directives in {API_PAGES}"
    names = list(public_names())
    assert any(module == "tinyalbert.nn.attention" for module, _ in names)  # the walk found the package
    missing = [f"{module}.{name}" for module, name in names
               if module not in targets and f"{module}.{name}" not in targets]
    assert not missing, f"add these to a page in docs/api/: {missing}"


def test_every_api_page_is_in_the_nav():
    nav = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(path.relative_to(REPO_ROOT / "docs").as_posix() for path in API_PAGES.glob("*.md"))
    assert [page for page in pages if page not in nav] == []
