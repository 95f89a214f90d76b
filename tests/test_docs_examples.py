"""What the documentation shows a user still works as shown: every command it writes parses with
that command's own parser, every option it names exists, every Python snippet runs, every link
and path it gives leads somewhere, and the outputs, tables and error lines it quotes are what
the code prints now. A page that drifts from the code fails here, naming the page and the line.

The pages are a new user's: README.md, docs/*.md (the API pages are checked by test_docs.py),
lessons/README.md and the model card of tinyalbert-mini. README.md's Python snippets run in
test_readme.py; every other page's run here.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import json
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_CARD = "tinyalbert/data/tinyalbert-mini/README.md"
PAGES = ["README.md", "lessons/README.md", MODEL_CARD,
         *sorted(path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "docs").glob("*.md"))]

# A command as the docs write it: a package module run with -m, or a script of the repository.
COMMAND = re.compile(r"python3? (?:-m (tinyalbert\.[\w.]+)|((?:scripts|bench)/[\w/]+\.py))")
PACKAGE_COMMANDS = ("tinyalbert.predict", "tinyalbert.pretrain", "tinyalbert.finetune", "tinyalbert.grading")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])")
# Options of other tools that the pages use beside tinyalbert's: `mkdocs build --strict`,
# `pip install --index-url`, pip's `--no-index` (the Gradescope bundle), `jupytext --to`.
OTHER_TOOLS_OPTIONS = {"--strict", "--index-url", "--no-index", "--to"}
# The commands whose options a page names without showing the command itself.
PROGRAMS_NAMED = {"docs/architecture.md": {"tinyalbert.predict", "tinyalbert.finetune"}}


# --- reading a page --------------------------------------------------------------------------------
def read(page: str) -> str:
    return (REPO_ROOT / page).read_text(encoding="utf-8")


def fenced_blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, body, line of the opening fence) of every ``` block of a Markdown page."""
    blocks, body, language, start = [], None, "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        fence = re.match(r"\s*```(\w*)", line)
        if fence and body is None:
            body, language, start = [], fence.group(1), number
        elif fence:
            blocks.append((language, "\n".join(body), start))
            body = None
        elif body is not None:
            body.append(line)
    return blocks


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the text outside ``` blocks."""
    lines, inside = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(r"\s*```", line):
            inside = not inside
        elif not inside:
            lines.append((number, line))
    return lines


def inline_code(text: str) -> list[tuple[int, str]]:
    """(line number, content) of every `code span` outside ``` blocks; a span may wrap a line."""
    prose = "\n".join(line if not inside else "" for line, inside in _marked_lines(text))
    return [(prose[:match.start()].count("\n") + 1, " ".join(match.group(1).split()))
            for match in re.finditer(r"`([^`]+)`", prose)]


def _marked_lines(text: str):
    inside = False
    for line in text.splitlines():
        if re.match(r"\s*```", line):
            inside = not inside
            yield "", True
        else:
            yield line, inside


def documented_commands(page: str) -> list[tuple[int, str, list[str]]]:
    """(line, program, arguments) of every command in the page's shell blocks and code spans.

    The program is the module (`tinyalbert.finetune`) or the script (`scripts/make_corpus.py`);
    the arguments end where the shell line does (a comment, `&&`, `;`, a pipe)."""
    found = []
    for language, body, start in fenced_blocks(read(page)):
        if language not in ("bash", "sh", ""):
            continue
        body = re.sub(r"\\\n\s*", " ", body)  # continuation lines are one command
        for offset, line in enumerate(body.splitlines()):
            found += _commands_in(line, start + 1 + offset)
    for number, span in inline_code(read(page)):
        found += _commands_in(span, number)
    return found


def _commands_in(line: str, number: int) -> list[tuple[int, str, list[str]]]:
    commands = []
    for match in COMMAND.finditer(line):
        rest = re.split(r"\s#|&&|\|\||;|\s\|\s", line[match.end():])[0]
        commands.append((number, match.group(1) or match.group(2), shlex.split(rest)))
    return commands


# --- the parsers the pages' commands meet ----------------------------------------------------------
@functools.cache
def package_parser(module: str) -> argparse.ArgumentParser:
    code = importlib.import_module(module if module != "tinyalbert.grading" else "tinyalbert.grading.__main__")
    return code.parser() if module == "tinyalbert.grading" else code.build_parser()


def parser_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of a parser and of its sub-commands."""
    options = set()
    for action in parser._actions:
        options.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                options |= parser_options(command)
    return options


@functools.cache
def options_of(program: str) -> frozenset[str]:
    """The options a program accepts: a package command's from its parser, a script's from its --help."""
    if program in PACKAGE_COMMANDS:
        return frozenset(parser_options(package_parser(program)))
    if "argparse" not in (REPO_ROOT / program).read_text(encoding="utf-8"):  # a script that takes no options
        return frozenset()
    shown = subprocess.run([sys.executable, str(REPO_ROOT / program), "--help"], capture_output=True, text=True,
                           cwd=REPO_ROOT, timeout=120)
    assert shown.returncode == 0, f"{program} --help failed:\n{shown.stderr}"
    return frozenset(OPTION.findall(shown.stdout))


def placeholders_filled(arguments: list[str]) -> list[str]:
    """The docs write `...` for what the reader fills in (`"..."`, `TEXT...`): a word stands in."""
    return [re.sub(r"\.\.\.", "", word) or "TEXT" for word in arguments]


def options_typed(arguments: list[str]) -> list[str]:
    return [word.split("=")[0] for word in arguments if OPTION.fullmatch(word.split("=")[0])]


# --- commands and options --------------------------------------------------------------------------
def test_the_pages_show_commands_of_every_tool():
    programs = {program for page in PAGES for _, program, _ in documented_commands(page)}
    assert set(PACKAGE_COMMANDS) <= programs, "the reading of commands in the pages lost some"
    assert "scripts/make_corpus.py" in programs


@pytest.mark.parametrize("page", PAGES)
def test_every_command_in_the_docs_parses_with_its_own_parser(page):
    """What argparse would refuse, and an option written other than the parser spells it (argparse
    takes a unique prefix, `--max-seq` for `--max-seq-length`, which a later option can make ambiguous)."""
    problems = []
    for line, program, arguments in documented_commands(page):
        if not (REPO_ROOT / program).is_file() and program not in PACKAGE_COMMANDS:
            problems.append(f"{page}:{line}: {program} does not exist")
            continue
        if program == "bench/memorize.py" and "--" in arguments:  # what follows `--` goes to pretraining
            split = arguments.index("--")
            arguments, passed_on = arguments[:split], arguments[split + 1:]
            unknown = set(options_typed(passed_on)) - options_of("tinyalbert.pretrain")
            problems += [f"{page}:{line}: {program} -- {option}: not an option of tinyalbert.pretrain"
                         for option in sorted(unknown)]
        unknown = set(options_typed(arguments)) - options_of(program)
        problems += [f"{page}:{line}: {option} is not an option of {program}" for option in sorted(unknown)]
        mention = all(word == "..." for word in arguments)  # `python -m tinyalbert.finetune ...`: a name, not a command
        if program in PACKAGE_COMMANDS and not mention and not unknown:
            try:
                package_parser(program).parse_args(placeholders_filled(arguments))
            except (Exception, SystemExit) as error:
                problems.append(f"{page}:{line}: python -m {program} {shlex.join(arguments)}: {error}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_every_option_a_page_names_belongs_to_a_command_it_shows(page):
    """An option named in the prose (`--whole-words`, `--stop-after N`) must be one of the commands
    the page runs or names; options spelt with underscores are those of Transformers' scripts."""
    text = read(page)
    programs = {program for _, program, _ in documented_commands(page)} | PROGRAMS_NAMED.get(page, set())
    accepted = set().union(*(options_of(program) for program in programs)) | OTHER_TOOLS_OPTIONS
    named = [(number, option) for number, span in inline_code(text) for option in OPTION.findall(span)]
    named += [(start + offset, option) for language, body, start in fenced_blocks(text)
              if language in ("bash", "sh", "")
              for offset, line in enumerate(body.splitlines(), start=1) for option in OPTION.findall(line)]
    unknown = sorted({f"{page}:{number}: {option}" for number, option in named if option not in accepted})
    assert not unknown, (f"not an option of {sorted(programs)}:\n" + "\n".join(unknown))


def option_value(arguments: list[str], option: str) -> str | None:
    return arguments[arguments.index(option) + 1] if option in arguments[:-1] else None


def test_the_corpus_the_docs_make_is_written_outside_the_checkout_and_read_from_there():
    """make_corpus.py's --out is "the corpus file to write (outside the repository)": a relative path
    would put 18 MB of text into the checkout, where git sees it; the runs read the corpus made."""
    commands = [(page, line, program, arguments) for page in PAGES
                for line, program, arguments in documented_commands(page)]
    made = {(page, line): option_value(arguments, "--out") for page, line, program, arguments in commands
            if program == "scripts/make_corpus.py"}
    assert made, "no page shows how the WordNet corpus is made"
    inside = [f"{page}:{line}: --out {path}" for (page, line), path in made.items()
              if not path.startswith(("~", "/", "$"))]
    assert not inside, "a corpus written into the checkout:\n" + "\n".join(inside)
    read_from = {f"{page}:{line}": option_value(arguments, "--corpus") for page, line, _, arguments in commands}
    elsewhere = [f"{place}: --corpus {path}" for place, path in read_from.items()
                 if path and path.endswith("wordnet.txt") and path not in made.values()]
    assert not elsewhere, (f"a run reads the corpus from where no page makes it ({set(made.values())}):\n"
                           + "\n".join(elsewhere))


def test_the_readme_lists_the_grading_commands_there_are():
    spans = [span for _, span in inline_code(read("README.md")) if span.startswith("python -m tinyalbert.grading ")]
    listed = {word.strip() for span in spans for word in span.removeprefix("python -m tinyalbert.grading ").split("|")}
    commands = next(action for action in package_parser("tinyalbert.grading")._actions
                    if isinstance(action, argparse._SubParsersAction)).choices
    assert listed == set(commands)


def test_the_finetuning_option_table_gives_the_parsers_defaults():
    rows = [(re.fullmatch(r"`(--[a-z-]+)(?: [A-Z]+)?`", cells[0]).group(1), cells[1])
            for cells in table_rows(read("docs/finetuning.md"), "| option | default |")]
    assert len(rows) >= 10
    parser = package_parser("tinyalbert.finetune")
    defaults = {option: action.default for action in parser._actions for option in action.option_strings}
    wrong = []
    for option, shown in rows:
        assert option in defaults, f"docs/finetuning.md's option table names {option}, which finetune lacks"
        shown, default = shown.strip().strip("`"), defaults[option]
        if not shown:  # no default written: a switch or an option without one
            if default not in (None, False):
                wrong.append(f"{option}: the table shows none, the parser's is {default!r}")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            if float(shown) != default:
                wrong.append(f"{option}: the table shows {shown}, the parser's is {default!r}")
        elif shown != str(default):
            wrong.append(f"{option}: the table shows {shown}, the parser's is {default!r}")
    assert not wrong, "\n".join(wrong)


# --- Python snippets --------------------------------------------------------------------------------
def finetuned_models(folder: Path) -> dict:
    """The models docs/finetuning.md's pipeline snippet loads, made from tinyalbert-mini with new heads
    (the snippet shows how they are called, not what a trained one answers), and a small batch."""
    import numpy as np

    import tinyalbert as ta

    tokenizer = ta.AlbertTokenizer.from_pretrained("tinyalbert-mini")
    heads = {"runs/topics/best": (ta.AlbertForSequenceClassification,
                                  {"id2label": {0: "noun.artifact", 1: "verb.motion"}}),
             "runs/ner/best": (ta.AlbertForTokenClassification, {"id2label": {0: "O", 1: "B-PER", 2: "I-PER"}}),
             "runs/squad/best": (ta.AlbertForQuestionAnswering, {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each new head's "newly initialized" warning
        for name, (model_class, labels) in heads.items():
            model_class.from_pretrained("tinyalbert-mini", **labels).save_pretrained(folder / name)
            tokenizer.save_pretrained(folder / name)
    batch = tokenizer(["a building where people worship", "move quickly on foot"], padding=True, return_tensors="np")
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "labels": np.array([1, 0])}


def reference_layernorm(folder: Path) -> dict:
    """What a student's notebook holds when it runs docs/grading-students.md's snippet: their functions."""
    from tinyalbert.nn.layernorm import layernorm_backward, layernorm_forward

    return {"layernorm_forward": layernorm_forward, "layernorm_backward": layernorm_backward}


# What each page's snippets take as given, made in the test's folder; a page not named here runs as it is.
SNIPPET_SETUP = {"docs/finetuning.md": finetuned_models, "docs/grading-students.md": reference_layernorm}
PAGES_WITH_SNIPPETS = [page for page in PAGES if page != "README.md"
                       and any(language == "python" for language, _, _ in fenced_blocks(read(page)))]


def test_the_pages_with_snippets_were_found():
    assert {"docs/finetuning.md", "docs/grading-students.md", MODEL_CARD} <= set(PAGES_WITH_SNIPPETS)


@pytest.mark.parametrize("page", PAGES_WITH_SNIPPETS)
def test_every_python_snippet_of_a_page_runs_in_order(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the snippets' relative paths (runs/...) are the test's own
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace = {"__name__": "docs"}
    namespace.update(SNIPPET_SETUP.get(page, lambda folder: {})(tmp_path))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # new heads' warnings: the snippets say they are new
        for language, body, start in fenced_blocks(read(page)):
            if language == "python":
                exec(compile(body, f"{page}, the snippet at line {start}", "exec"), namespace)
    if page == "docs/grading-students.md":  # check() says what passed, and the reference passes
        assert "PASS layernorm/forward" in printed.getvalue() and "FAIL" not in printed.getvalue()


# --- links, paths and names ---------------------------------------------------------------------------
def heading_anchors(page: str) -> set[str]:
    """The ids the site gives the page's headings (Python-Markdown's toc, as mkdocs builds it)."""
    from markdown.extensions.toc import slugify

    anchors = set()
    for _, line in prose_lines(read(page)):
        heading = re.match(r"#{1,6}\s+(.*?)\s*$", line)
        if heading:
            text = re.sub(r"\*\*?|`", "", heading.group(1))
            anchor, count = slugify(text, "-"), 0
            while anchor in anchors:  # a repeated heading gets _1, _2, ...
                count += 1
                anchor = f"{slugify(text, '-')}_{count}"
            anchors.add(anchor)
    return anchors


# Pages the site makes at build time (scripts/mkdocs_lessons.py): not files of docs/.
GENERATED_PAGES = {"docs/lessons/index.md"}


@pytest.mark.parametrize("page", PAGES)
def test_every_link_leads_to_a_file_and_a_heading_there(page):
    pytest.importorskip("markdown")
    broken = []
    prose = "\n".join(line for _, line in prose_lines(read(page)))
    prose = re.sub(r"`[^`]*`", "", prose)
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"\w+://|mailto:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (REPO_ROOT / page).parent / file if file else REPO_ROOT / page
        inside = path.resolve().is_relative_to(REPO_ROOT)
        relative = path.resolve().relative_to(REPO_ROOT).as_posix() if inside else file
        if relative in GENERATED_PAGES:
            continue
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in heading_anchors(relative):
            broken.append(f"{target}: {relative} has no heading with that anchor")
    assert not broken, f"{page}:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES)
def test_every_repository_path_a_page_names_exists(page):
    text = read(page)
    named = re.findall(r"(?<![\w/.~-])((?:tests|bench|scripts|tinyalbert|lessons|docs)/[\w./-]*\w/?)", text)
    missing = sorted({path for path in named if not (REPO_ROOT / path).exists()
                      and f"docs/{path}" not in GENERATED_PAGES})
    assert not missing, f"{page} names paths that are not in the repository: {missing}"


def resolve(dotted: str):
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for name in parts[end:]:
            found = getattr(found, name)
        return found
    raise ImportError(dotted)


@pytest.mark.parametrize("page", PAGES)
def test_every_tinyalbert_name_a_page_gives_can_be_imported(page):
    names = set(re.findall(r"`(tinyalbert(?:\.\w+)+)", read(page)))  # `tinyalbert.metrics.squad_v2_scores`
    missing = []
    for name in sorted(names):
        try:
            resolve(name)
        except (ImportError, AttributeError) as error:
            missing.append(f"{name} ({error})")
    assert not missing, f"{page} names what the package lacks: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_every_test_a_page_names_is_in_that_file(page):
    """`test_name` in `tests/test_file.py`: the test is there under that name."""
    text = read(page)
    named = re.findall(r"`(test_\w+)`[^`]{0,40}?`(tests/test_\w+\.py)`", text)
    missing = [f"{name} in {path}" for name, path in named
               if not re.search(rf"def {name}\(", (REPO_ROOT / path).read_text(encoding="utf-8"))]
    assert not missing, f"{page}: {missing}"


# --- what the pages quote -----------------------------------------------------------------------------
def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of every row of the Markdown table whose header line starts with `header`."""
    lines = text.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_model_cards_example_predictions_are_what_predict_prints(capsys, monkeypatch):
    """The table `python -m tinyalbert.predict --top-k 3 ...` printed, as the model card shows it:
    every text, token and rank as printed; the scores within 2e-4 (a BLAS may round the fourth digit)."""
    from tinyalbert import predict

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shown = next(body for language, body, _ in fenced_blocks(read(MODEL_CARD))
                 if body.startswith("text ") and "[MASK]" in body)
    # The texts in full: the table cuts the long ones.
    texts = ["A physician is a [MASK].", "A tulip is a [MASK] that blooms in spring.",
             "The capital of France is [MASK].", "Paris is the capital and largest city of [MASK].",
             "A dog is a kind of [MASK].", "Big is the opposite of [MASK].",
             "The [MASK] is a large body of salt water.", "She drank a glass of [MASK]."]
    assert predict.main(["--top-k", "3", *texts]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    shown = shown.strip().splitlines()
    assert len(printed) == len(shown)
    score = re.compile(r"(?<=\s)\d\.\d{4}(?=\s)")
    for theirs, ours in zip(shown, printed):
        assert score.sub("S", theirs) == score.sub("S", ours)
        for a, b in zip(score.findall(theirs), score.findall(ours)):
            assert float(a) == pytest.approx(float(b), abs=2e-4), (theirs, ours)
    doctor = float(score.findall(printed[2])[0])
    assert '("doctor" first, at {:.0%})'.format(doctor) in " ".join(read("README.md").split())
    assert f"0.{round(doctor * 10000):04d}, tinyalbert's score" in " ".join(read("docs/parity.md").split())


def test_the_grading_table_is_the_exercises_there_are():
    from tinyalbert.grading.exercises import EXERCISES
    from tinyalbert.grading.mutants import MUTANTS

    text = read("docs/grading-staff.md")
    rows = table_rows(text, "| exercise | points |")
    shown = [(cells[0].split("`")[1], float(cells[1]), "(extra)" in cells[0]) for cells in rows]
    assert shown == [(exercise.name, exercise.points, exercise.extra) for exercise in EXERCISES]
    total = sum(exercise.points for exercise in EXERCISES if not exercise.extra)
    assert f"The total without the extras is {total:g}." in text
    assert f"the stubs (0 everywhere) and {len(MUTANTS)} mutants" in " ".join(text.split())


def test_the_scaling_table_is_what_the_script_prints():
    printed = subprocess.run([sys.executable, "bench/scaling_estimate.py"], capture_output=True, text=True,
                             cwd=REPO_ROOT, timeout=120, check=True).stdout.splitlines()
    text = read("docs/distributed.md")
    start = text.index("| model | parameters | gradient MB |")
    rows = [line for line in text[start:].splitlines()[2:] if line.startswith("|")]
    rows = rows[:next((n for n, line in enumerate(rows) if not line.startswith("| ")), len(rows))]
    assert len(rows) >= 8 and set(rows) <= set(printed), sorted(set(rows) - set(printed))


def test_the_benchmark_page_quotes_the_record():
    """Every row of docs/benchmarks.md's table is a row of bench/RESULTS.md's, as it is there."""
    page = [line for line in read("docs/benchmarks.md").splitlines() if line.startswith("| ") and "---" not in line]
    record = set(read("bench/RESULTS.md").splitlines())
    assert len(page) >= 10 and [row for row in page if row not in record] == []


def test_the_lessons_table_lists_every_lesson_once_in_order():
    linked = re.findall(r"^\| \[\d+\. [^]]+\]\((\d\d_\w+\.py)\)", read("lessons/README.md"), re.MULTILINE)
    assert linked == sorted(path.name for path in (REPO_ROOT / "lessons").glob("[0-9][0-9]_*.py"))


# Error lines the docs quote, and what makes them: files to write and the command's arguments.
QUOTED_ERRORS = {
    "error: mrpc-train.csv, line 2: missing column 'text'": (
        "docs/finetuning.md", {"mrpc-train.csv": "sentence1,sentence2,label,idx\nA cat sat.,A cat sat down.,1,0\n"},
        ["--task", "text-classification", "--model", "tinyalbert-mini", "--train", "mrpc-train.csv",
         "--validation", "mrpc-train.csv", "--out", "runs/mrpc"]),
    "error: race-train.jsonl, line 1: missing column 'choices'": (
        "docs/finetuning.md",
        {"race-train.jsonl": json.dumps({"example_id": "high1.txt", "article": "Tom went home.", "answer": "A",
                                         "question": "Where did Tom go?", "options": ["home", "school"]}) + "\n"},
        ["--task", "multiple-choice", "--model", "tinyalbert-mini", "--train", "race-train.jsonl",
         "--validation", "race-train.jsonl", "--out", "runs/race"]),
    "error: dev.csv, line 3: label(s) ['plant'] do not occur": (
        "docs/finetuning.md", {"dev.csv": "text,label\na cat,animal\na fern,plant\n"},
        ["--task", "text-classification", "--model", "runs/topics/best", "--eval-only", "--validation", "dev.csv",
         "--out", "runs/topics-eval"]),
}


@pytest.mark.parametrize("beginning", sorted(QUOTED_ERRORS))
def test_a_quoted_error_line_is_what_the_command_prints(beginning, tmp_path, monkeypatch, capsys):
    import tinyalbert as ta
    from tinyalbert import finetune

    page, files, arguments = QUOTED_ERRORS[beginning]
    quoted = [line for language, body, _ in fenced_blocks(read(page)) if language == ""
              for line in body.splitlines() if line.startswith(beginning)]
    assert len(quoted) == 1, f"{page} no longer quotes one line starting {beginning!r}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name, content in files.items():
        Path(name).write_text(content, encoding="utf-8")
    if "runs/topics/best" in arguments:  # a classifier of the two labels the quoted line names
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ta.AlbertForSequenceClassification.from_pretrained(
                "tinyalbert-mini", id2label={0: "animal", 1: "fruit"})
        model.config.architectures = ["AlbertForSequenceClassification"]
        model.save_pretrained("runs/topics/best")
        ta.AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained("runs/topics/best")
    assert finetune.main(arguments) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == quoted[0]
