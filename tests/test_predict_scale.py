"""`python -m tinyalbert.predict` on a long input, as `cat texts.txt | python -m tinyalbert.predict
--json > out.jsonl` gives it: results stream out a batch at a time as lines are read, a mistake at a
late line names that line and keeps the results before it, a closed pipe stops the run quietly.
"""
import io
import json

import pytest

from test_predict_cli import Terminal, classifier_dir, model_dir, predict  # noqa: F401 (fixtures)
from tinyalbert import predict as predict_module


class CountingStdin:
    """Standard input from a pipe (text lines, not a terminal) that counts the lines read so far."""

    def __init__(self, lines):
        self.lines, self.read = lines, 0

    def isatty(self):
        return False

    def __iter__(self):
        for line in self.lines:
            self.read += 1
            yield line + "\n"


class RecordingStdout(io.StringIO):
    """Standard output into a file: records how many input lines had been read at each write, and
    can fail like a pipe whose reader has gone (`| head`) after `broken_after` writes."""

    def __init__(self, stdin, broken_after=None, terminal=False):
        super().__init__()
        self.stdin, self.broken_after, self.terminal, self.lines_read_at_write = stdin, broken_after, terminal, []

    def isatty(self):
        return self.terminal

    def write(self, text):
        if self.broken_after is not None and len(self.lines_read_at_write) >= self.broken_after:
            raise BrokenPipeError(32, "Broken pipe")
        self.lines_read_at_write.append(self.stdin.read)
        return super().write(text)


def masked_lines(count):
    return [f"the [MASK] number {number}" for number in range(count)]


@pytest.mark.parametrize("task", ["fill-mask", "text-classification"])
def test_results_are_written_a_batch_at_a_time_as_lines_are_read(model_dir, classifier_dir, task):
    """The first results are out after one batch is read, not once the whole input is held."""
    stdin = CountingStdin(masked_lines(40))
    stdout = RecordingStdout(stdin)
    model = model_dir if task == "fill-mask" else classifier_dir
    argv = ["--model", str(model), "--task", task, "--json", "--batch-size", "4"]
    assert predict_module.run(argv, stdin=stdin, stdout=stdout) == 0
    assert len(stdout.getvalue().splitlines()) == 40
    # Reading a batch of 4 may look one line ahead; never further.
    assert stdout.lines_read_at_write[0] <= 5, stdout.lines_read_at_write
    assert len(stdout.lines_read_at_write) == 10


def test_a_closed_pipe_stops_reading_the_input(model_dir):
    """`... | head -1`: once standard output is gone, no more texts are read or predicted."""
    stdin = CountingStdin(masked_lines(200))
    stdout = RecordingStdout(stdin, broken_after=1)
    with pytest.raises(BrokenPipeError):
        predict_module.run(["--model", str(model_dir), "--json", "--batch-size", "4"], stdin=stdin, stdout=stdout)
    assert stdin.read <= 10, stdin.read


def test_a_closed_pipe_ends_the_command_quietly(model_dir):
    import os
    import subprocess
    import sys

    from test_predict_cli import REPO_ROOT

    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "tinyalbert.predict", "--model", str(model_dir), "--json",
                                "--batch-size", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=REPO_ROOT, env=environment)
    process.stdin.write("".join(line + "\n" for line in masked_lines(3000)).encode())
    process.stdin.close()
    first = process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert json.loads(first)["text"] == "the [MASK] number 0"
    assert process.stderr.read().decode() == ""


@pytest.mark.parametrize("bad_line, fragments", [
    ("the number without a mask", ["line 15 of standard input", "no [MASK]", "the 12 texts before it were written"]),
    ("the [MASK] " + "big red house " * 40, ["line 15 of standard input", "tokens long", "--truncate",
                                             "the 12 texts before it were written"]),
])
def test_a_mistake_at_a_late_line_names_it_and_keeps_the_results_before_it(model_dir, bad_line, fragments):
    lines = masked_lines(20)
    lines[14] = bad_line
    code, stdout, stderr = predict("--model", model_dir, "--json", "--batch-size", "4",
                                   stdin="".join(line + "\n" for line in lines))
    assert code == 2 and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)
    assert [json.loads(line)["text"] for line in stdout.splitlines()] == lines[:12]


def test_a_late_line_too_long_for_a_task_is_named(classifier_dir):
    lines = ["a b c"] * 9 + ["the big red house " * 30]
    code, stdout, stderr = predict("--model", classifier_dir, "--task", "text-classification", "--batch-size", "4",
                                   stdin="".join(line + "\n" for line in lines))
    assert code == 2 and "Traceback" not in stderr and stderr.startswith("error: line 10 of standard input: text ")
    assert "--truncate" in stderr and len(stdout.splitlines()) == 8


def test_a_late_line_that_is_not_utf8_keeps_the_results_before_it(model_dir):
    stdin = b"".join(line.encode() + b"\n" for line in masked_lines(9)) + b"the \xff [MASK]\n"
    code, stdout, stderr = predict("--model", model_dir, "--json", "--batch-size", "4", stdin=stdin)
    assert code == 2 and "Traceback" not in stderr
    assert "line 10 of standard input" in stderr and "not UTF-8" in stderr
    assert len(stdout.splitlines()) == 8


def test_a_replaced_target_is_warned_about_once_not_per_batch(model_dir):
    code, stdout, stderr = predict("--model", model_dir, "--json", "--batch-size", "2", "--targets", "qqqzzz", "the",
                                   stdin="".join(line + "\n" for line in masked_lines(7)))
    assert code == 0, stderr
    assert len(stdout.splitlines()) == 7
    # One warning per replaced target, as the command was given them once.
    assert stderr.count("warning:") == 2 and stderr.count("`the`") == stderr.count("`qqqzzz`") == 1, stderr


def test_progress_goes_to_a_terminal_only_while_results_go_elsewhere(model_dir, monkeypatch):
    """Into a file, standard error (a terminal) counts the texts done and their rate; with results
    streaming onto a terminal they are the progress, and standard error stays quiet."""
    for terminal_stdout in (False, True):
        stderr = Terminal()
        monkeypatch.setattr("sys.stderr", stderr)
        stdin = CountingStdin(masked_lines(11))
        stdout = RecordingStdout(stdin, terminal=terminal_stdout)
        assert predict_module.run(["--model", str(model_dir), "--json", "--batch-size", "4"], stdin=stdin,
                                  stdout=stdout) == 0
        assert len(stdout.getvalue().splitlines()) == 11
        if terminal_stdout:
            assert stderr.getvalue() == ""
        else:
            assert "11 texts" in stderr.getvalue() and "texts/s" in stderr.getvalue()
