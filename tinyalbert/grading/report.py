"""The grading report in four formats: text (for a terminal), JSON, JUnit XML (for CI systems)
and Gradescope's `results.json`.

Gradescope: one test per check (name, score, max_score, status, output, visibility "visible"),
the overall score, `stdout_visibility: "hidden"`; what the submission printed goes into one
extra test that only staff see (visibility "hidden", no points).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET

FAILURES_SHOWN = 3  # failing cases described per check; the rest are counted

# What XML 1.0 forbids in a document (control characters but tab, newline and carriage return;
# UTF-16 surrogates; U+FFFE and U+FFFF): a submission can put any of them into a message or into
# what it prints (ANSI colours are ESC, \x1b).
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def visible_escape(character: str) -> str:
    """`\\x1b`, `\\udc80`: a character that cannot be written, as Python would show it."""
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_text(text: str) -> str:
    """`text` with every lone surrogate (an exception message of undecodable bytes, "\\udc80") as
    a visible escape: such a string cannot be encoded, so it would crash the report's writing."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def xml_text(text: str) -> str:
    """`text` with every character XML 1.0 forbids as a visible escape, so the report parses."""
    return XML_FORBIDDEN.sub(lambda match: visible_escape(match.group()), text)


def _clean_tree(value):
    """Every string in a JSON document, cleaned (see `clean_text`): a lone surrogate, even as a
    `\\udc80` escape, is not a character, and strict JSON parsers refuse it."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {key: _clean_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_tree(item) for item in value]
    return value


def feedback(check) -> str:
    """What a student reads for one check: what it tests, the note, the failing cases."""
    lines = [check.about] if check.about else []
    if check.note:
        lines.append(check.note)
    failed = [case for case in check.cases if not case.passed]
    if check.cases:
        lines.append(f"{len(check.cases) - len(failed)} of {len(check.cases)} cases passed.")
    for case in failed[:FAILURES_SHOWN]:
        lines.append(f"FAILED case '{case.name}':\n  " + case.message.replace("\n", "\n  "))
    if len(failed) > FAILURES_SHOWN:
        lines.append(f"... and {len(failed) - FAILURES_SHOWN} more failing cases.")
    return "\n".join(lines)


def totals(results):
    return sum(r.score for r in results), sum(r.max_score for r in results)


def shared_notes(results) -> list:
    """The notes every exercise has (load errors of a file concern them all): said once."""
    if len(results) < 2:
        return []
    return [note for note in results[0].notes if all(note in exercise.notes for exercise in results[1:])]


def indented(text: str, width: int) -> str:
    """A note's later lines (a load error's source line and caret) under its first, not at the margin."""
    return text.replace("\n", "\n" + " " * width)


def to_text(results) -> str:
    shared = shared_notes(results)
    lines = [f"note (every exercise): {indented(note, 22)}" for note in shared]
    for exercise in results:
        lines.append(f"== {exercise.name}: {exercise.title}  [{exercise.score:g} / {exercise.max_score:g}]")
        lines += [f"   note: {indented(note, 9)}" for note in exercise.notes if note not in shared]
        for check in exercise.checks:
            mark = "ok  " if check.score >= check.max_score else "FAIL"
            lines.append(f"  {mark} {check.check:<26} {check.score:6.2f} / {check.max_score:g}")
            if check.score < check.max_score:
                lines.append("       " + feedback(check).replace("\n", "\n       "))
        if exercise.printed:
            lines.append(f"   (the submission printed {len(exercise.printed)} characters; see --format json)")
    score, maximum = totals(results)
    lines.append(f"TOTAL {score:g} / {maximum:g}")
    return clean_text("\n".join(lines) + "\n")


def to_json(results, seed=None) -> str:
    score, maximum = totals(results)
    document = {"score": score, "max_score": maximum, "seed": seed, "exercises": [
        {"name": e.name, "title": e.title, "score": e.score, "max_score": e.max_score, "notes": e.notes,
         "printed": e.printed, "checks": [
             {"name": c.check, "about": c.about, "score": c.score, "max_score": c.max_score, "note": c.note,
              "cases": [{"name": k.name, "passed": k.passed, "message": k.message} for k in c.cases]}
             for c in e.checks]}
        for e in results]}
    return json.dumps(_clean_tree(document), indent=2) + "\n"


def to_gradescope(results, execution_time: float = 0.0) -> str:
    score, maximum = totals(results)
    shared = shared_notes(results)
    tests = []
    for exercise in results:
        own = [note for note in exercise.notes if note not in shared]
        for number, check in enumerate(exercise.checks, start=1):
            output = feedback(check)
            if own:
                output = "\n".join(f"note: {n}" for n in own) + "\n" + output
            tests.append({"name": f"{exercise.name}: {check.check}", "number": f"{exercise.name}.{number}",
                          "score": check.score, "max_score": check.max_score,
                          "status": "passed" if check.score >= check.max_score else "failed",
                          "output": output, "visibility": "visible"})
    printed = "\n".join(f"--- {e.name}\n{e.printed}" for e in results if e.printed)
    tests.append({"name": "Printed by the submission (staff only)", "score": 0, "max_score": 0,
                  "output": printed or "(nothing)", "visibility": "hidden"})
    document = {"score": round(score, 4), "execution_time": round(execution_time, 1),
                "output": "\n".join([f"Total: {score:g} / {maximum:g}"] + [f"note: {n}" for n in shared]),
                "stdout_visibility": "hidden", "tests": tests}
    return json.dumps(_clean_tree(document), indent=2) + "\n"


def to_junit(results) -> str:
    suites = ET.Element("testsuites")
    for exercise in results:
        failures = sum(c.score < c.max_score for c in exercise.checks)
        suite = ET.SubElement(suites, "testsuite", name=exercise.name, tests=str(len(exercise.checks)),
                              failures=str(failures))
        for check in exercise.checks:
            case = ET.SubElement(suite, "testcase", classname=f"tinyalbert.grading.{exercise.name}", name=check.check)
            ET.SubElement(case, "properties").append(
                ET.Element("property", name="score", value=f"{check.score:g}/{check.max_score:g}"))
            if check.score < check.max_score:
                failure = ET.SubElement(case, "failure", message=f"{check.score:g} of {check.max_score:g} points")
                failure.text = feedback(check)
        if exercise.printed:
            ET.SubElement(suite, "system-out").text = exercise.printed
    # The markup is ASCII: whatever forbidden character is left came from the submission's text.
    return xml_text(ET.tostring(suites, encoding="unicode", xml_declaration=True)) + "\n"


def render(results, fmt: str, seed=None, execution_time: float = 0.0) -> str:
    if fmt == "text":
        return to_text(results)
    if fmt == "json":
        return to_json(results, seed)
    if fmt == "gradescope":
        return to_gradescope(results, execution_time)
    if fmt == "junit":
        return to_junit(results)
    raise ValueError(f"unknown format {fmt!r}; use text, json, gradescope or junit")


def write_atomically(path, text: str) -> None:
    """Write through a temporary file and a rename, replacing whatever is at `path` (including
    anything a submission may have written there). A write that fails removes its temporary file.
    A character that cannot be encoded (a lone surrogate) is written as a visible escape: the
    report is always written."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".results-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
