"""Student files cut from the reference source, never written twice.

For an exercise, each graded function keeps its signature and docstring (with the shapes) and
its body becomes `# YOUR CODE HERE` + `raise NotImplementedError`. The NamedTuple cache types the
functions use are copied as they are; the module's imports and any other helper the functions
call are imported from tinyalbert (they are given, not graded here). A graded method of the
tokenizer becomes a function of `self`; a graded optimizer class keeps everything but `step`.

`cut=False` writes the same file with the reference bodies in place: the self-test grades that
file (it must score full marks) and its mutants.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pathlib

from .reference import GRADED_METHODS, split_entry

MARKER = "# YOUR CODE HERE"


def _lines(node, source_lines):
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return source_lines[start - 1: node.end_lineno]


def _dedent(lines):
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return [line[indent:] for line in lines]


def _cut_function(node, source_lines) -> list:
    """The function's lines up to its docstring, then the marker and the raise."""
    lines = _dedent(_lines(node, source_lines))
    first = node.body[0]
    has_docstring = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
        and isinstance(first.value.value, str)
    keep_until = (first.end_lineno if has_docstring else first.lineno - 1) - node.lineno + 1
    offset = node.lineno - min([node.lineno] + [d.lineno for d in node.decorator_list])
    kept = lines[: keep_until + offset]
    body_indent = " " * (len(lines[offset]) - len(lines[offset].lstrip()) + 4)
    return kept + [f"{body_indent}{MARKER}", f"{body_indent}raise NotImplementedError"]


def _function_text(node, source_lines, cut: bool) -> list:
    return _cut_function(node, source_lines) if cut else _dedent(_lines(node, source_lines))


def _class_text(node, source_lines, methods, cut: bool) -> list:
    """A graded class: its own lines, with the methods in `methods` cut."""
    lines = _dedent(_lines(node, source_lines))
    if not cut:
        return lines
    base = node.lineno
    out, skip_until = [], -1
    for child in node.body:
        if isinstance(child, ast.FunctionDef) and child.name in methods:
            start = min([child.lineno] + [d.lineno for d in child.decorator_list])
            cut_lines = ["    " + line for line in _cut_function(child, source_lines)]
            out.append((start, child.end_lineno, cut_lines))
    result, number = [], base
    for index, line in enumerate(lines):
        number = base + index
        replacement = next((r for r in out if r[0] == number), None)
        if replacement:
            result.extend(replacement[2])
            skip_until = replacement[1]
        elif number > skip_until:
            result.append(line)
    return result


def _absolute(node: ast.ImportFrom, module) -> str:
    if not node.level:
        return node.module
    package = module.__package__.split(".")
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _names_used(nodes) -> set:
    used = set()
    for node in nodes:
        for child in ast.walk(node):
            if isinstance(child, ast.Name):
                used.add(child.id)
            elif isinstance(child, ast.Attribute):
                root = child
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name):
                    used.add(root.id)
    return used


def _is_named_tuple(node) -> bool:
    return isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "NamedTuple" for b in node.bases)


def module_part(module_name: str, graded: list, exercise_names: set, cut: bool):
    """(import lines, cache class lines, function lines) for the graded names found in one module."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    source_lines = source.splitlines()
    tree = ast.parse(source)
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    graded_nodes, texts = [], []
    for name in graded:
        _, path = split_entry(name)
        if len(path) == 2:  # a tokenizer method, written as a function of `self`
            node = next(n for n in top[path[0]].body if isinstance(n, ast.FunctionDef) and n.name == path[1])
            texts.append([f"# A method of {path[0]}, written as a function of `self`."] + _function_text(node, source_lines, cut))
        elif name in GRADED_METHODS:
            node = top[name]
            texts.append(_class_text(node, source_lines, GRADED_METHODS[name], cut))
        else:
            node = top[name]
            texts.append(_function_text(node, source_lines, cut))
        graded_nodes.append(node)
    used = _names_used(graded_nodes)
    caches = [top[n] for n in sorted(used) if n in top and _is_named_tuple(top[n])]
    used |= _names_used(caches)
    cache_names = {c.name for c in caches}
    imports = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names = [a for a in node.names if (a.asname or a.name) in used and (a.asname or a.name) not in exercise_names]
            if names:
                listed = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in names)
                imports.append(f"from {_absolute(node, module)} import {listed}")
        elif isinstance(node, ast.Import):
            imports += [f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in node.names
                        if (a.asname or a.name).split(".")[0] in used]
    given = sorted(n for n in used if n not in exercise_names and n not in cache_names and
                   (n in top or any(isinstance(t, ast.Assign) and any(getattr(x, "id", "") == n for x in t.targets) for t in tree.body)))
    if given:
        imports.append(f"from {module_name} import {', '.join(given)}")
    cache_text = [_dedent(_lines(c, source_lines)) for c in caches]
    return imports, cache_text, texts


def exercise_file(exercise, cut: bool = True) -> str:
    """The text of the student file of `exercise` (`cut=False`: with the reference bodies)."""
    by_module: dict = {}
    for name in exercise.functions:
        by_module.setdefault(split_entry(name)[0], []).append(name)
    imports, caches, functions = [], [], []
    for module_name, names in by_module.items():
        module_imports, module_caches, module_functions = module_part(module_name, names, set(exercise.functions), cut)
        imports += [line for line in module_imports if line not in imports]
        caches += module_caches
        functions += module_functions
    what = "Write every body marked `# YOUR CODE HERE`" if cut else "Reference solution"
    header = [
        f'"""{exercise.title}: exercise `{exercise.name}` of tinyalbert.grading.',
        "",
        f"{what}. Keep the names and signatures: the grader calls these functions by name.",
        *(["Each *_forward returns (output, cache), the cache one of the NamedTuples below; its",
           "*_backward takes (d_output, cache) and returns the gradients."]
          if any(name.endswith("_forward") for name in exercise.functions) else []),
        "Leave the arrays (and dicts of arrays) you are given as they are, `x = x - m` and not",
        "`x -= m`: a function that changes its arguments fails, unless its docstring says so.",
        f"Check your work: python -m tinyalbert.grading grade {exercise.name}.py --exercise {exercise.name}",
        '"""',
        "from __future__ import annotations",
        "",
    ]
    blocks = [header + imports]
    blocks += caches
    blocks += functions
    return "\n\n\n".join("\n".join(block) for block in blocks) + "\n"


def write_stubs(out_dir, exercises, cut: bool = True, overwrite: bool = False) -> list:
    """Write `<exercise>.py` for each exercise into `out_dir`; returns the paths. A file that is
    there with other contents (a student's work, most likely) is not overwritten unless
    `overwrite`: FileExistsError names them all, and nothing is written."""
    out = pathlib.Path(out_dir)
    texts = {out / exercise.file_name: exercise_file(exercise, cut) for exercise in exercises}
    changed = [path for path, text in texts.items() if path.exists() and path.read_text(encoding="utf-8", errors="replace") != text]
    if changed and not overwrite:
        one = len(changed) == 1
        raise FileExistsError(f"{', '.join(map(str, changed))} already {'exists' if one else 'exist'} with other "
                              f"contents (your work?); nothing was written. Choose another directory, or pass "
                              f"--force to overwrite {'it' if one else 'them'}")
    out.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    return list(texts)
