"""`python -m tinyalbert.pretrain` as a demanding user meets it: corpora as they come (page breaks,
hidden copies, paragraphs that cannot be cut into sentences) and a Ctrl-C that stops it at once.

Tiny runs: the corpus, tokenizer and config of `test_trainer`, a few steps each.
"""
import pytest

from tinyalbert import pretrain
from tinyalbert.train import trainer as trainer_module
from tinyalbert.train.checkpoints import CHECKPOINT_DIR, read_trainer_state
from tinyalbert.train.text import read_documents

import test_trainer

workspace = test_trainer.workspace  # the same fixture: corpus, tokenizer directory and tiny config.json


def options(workspace, out, corpus=None):
    return ["--corpus", corpus or workspace["corpus"], "--out", out, "--config", workspace["config"],
            "--tokenizer", workspace["tokenizer"], "--steps", 4, "--batch-size", 4, "--max-seq-length", 24,
            "--save-every", 2]


def run_main(arguments, capsys) -> tuple[int, str]:
    status = pretrain.main([str(argument) for argument in arguments])
    return status, capsys.readouterr().err


# --- corpora as they come --------------------------------------------------------------------
def test_a_page_break_or_a_unicode_line_separator_is_not_a_document_boundary(tmp_path):
    # pdftotext ends every page with a form feed: with str.splitlines the line before it ended
    # there and left a blank line behind, a new document at every page.
    corpus = tmp_path / "book.txt"
    corpus.write_text("Page one ends here.\x0c\nPage two starts here.\nA line\u2028goes on.\r\n\r\nNext doc.\r",
                      encoding="utf-8")
    assert read_documents(corpus) == [["Page one ends here.", "Page two starts here.", "A line goes on."],
                                      ["Next doc."]]
    from tinyalbert.train.text import text_lines

    assert text_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]
    # A line of a form feed alone is blank, like a line of spaces: it still separates documents.
    corpus.write_text("First doc.\n\x0c\nSecond doc.\n", encoding="utf-8")
    assert read_documents(corpus) == [["First doc."], ["Second doc."]]


def test_hidden_files_and_folders_of_a_corpus_directory_are_left_out(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / ".ipynb_checkpoints").mkdir(parents=True)
    (corpus / "text.txt").write_text("The cat sat.\n", encoding="utf-8")
    (corpus / ".ipynb_checkpoints" / "text-checkpoint.txt").write_text("A stale copy.\n", encoding="utf-8")
    (corpus / ".scratch.txt").write_text("Scratch notes.\n", encoding="utf-8")
    assert read_documents(corpus) == [["The cat sat."]]
    # Only what lies inside the corpus directory counts: the directory itself may be hidden.
    hidden = tmp_path / ".cache" / "corpus"
    hidden.mkdir(parents=True)
    (hidden / "a.txt").write_text("Kept.\n", encoding="utf-8")
    assert read_documents(hidden) == [["Kept."]]
    (corpus / "text.txt").unlink()
    with pytest.raises(FileNotFoundError, match="has no .txt files"):
        read_documents(corpus)


def test_overlong_share_counts_the_tokens_beyond_the_longest_example():
    from tinyalbert.train.prepare import overlong_share

    encoded = [[[1] * 10, [2] * 30], [[3] * 60]]  # 100 tokens; past 20: 10 + 40
    assert overlong_share(encoded, 20) == (0.5, 60)
    assert overlong_share(encoded, 60) == (0.0, 60)
    assert overlong_share([], 20) == (0.0, 0)


def test_text_that_no_example_can_hold_is_a_warning(workspace, tmp_path, capsys):
    # Lower-case paragraphs, one per line: split_sentences cannot cut them, so each makes one
    # example of 21 tokens and the rest of it was never trained on, without a word said.
    words = "the cat dog horse lives in field eats grass and sleeps near river every day".split()
    paragraphs = [" ".join(words[(index * 7 + step) % len(words)] for step in range(150)) + "."
                  for index in range(12)]
    corpus = tmp_path / "paragraphs.txt"
    corpus.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    status, stderr = run_main(options(workspace, tmp_path / "run", corpus) + ["--heldout-fraction", 0], capsys)
    assert status == 0, stderr
    warning = next(line for line in stderr.splitlines() if "never trained on" in line)
    assert warning.startswith("warning: 9") and "--max-seq-length 24 - 3 tokens" in warning
    assert "raise --max-seq-length" in warning
    # The test corpus, one short sentence per line, says nothing of the kind.
    status, stderr = run_main(options(workspace, tmp_path / "ordinary"), capsys)
    assert status == 0 and "never trained on" not in stderr, stderr


# --- a Ctrl-C that stops at once ---------------------------------------------------------------
def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_after_the_last_save_says_which_step_the_checkpoint_holds(workspace, tmp_path, capsys, monkeypatch):
    # The steps are over and saved; a Ctrl-C during the held-out evaluation (or the export of
    # final/) leaves a checkpoint of the last step, which --resume finishes.
    monkeypatch.setattr(trainer_module, "evaluate", interrupt)
    out = tmp_path / "run"
    status, stderr = run_main(options(workspace, out), capsys)
    assert status == 130
    assert stderr.splitlines()[-1] == f"interrupted; {out / CHECKPOINT_DIR} holds step 4: continue with --resume"
    assert read_trainer_state(out / CHECKPOINT_DIR)["step"] == 4
    monkeypatch.undo()
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--resume"], capsys)
    assert status == 0, stderr
    assert (out / "final" / "model.safetensors").is_file()
    # The last line names every result, not only final/ (no plot where matplotlib is missing).
    curve = f"; loss curve in {out / 'loss_curve.png'}" if (out / "loss_curve.png").is_file() else ""
    assert stderr.splitlines()[-1].endswith(
        f"model and tokenizer in {out / 'final'}{curve}; held-out metrics in {out / 'eval_results.json'}")


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(workspace, tmp_path, capsys,
                                                                           monkeypatch):
    monkeypatch.setattr(trainer_module, "prepare_run", interrupt)
    out = tmp_path / "run"
    status, stderr = run_main(options(workspace, out), capsys)
    assert status == 130
    assert stderr == "interrupted before any checkpoint was saved: nothing to resume\n"


# --- warnings as the command line shows them --------------------------------------------------
def test_the_command_shows_each_warning_on_one_line(workspace, tmp_path):
    """A warning raised with warnings.warn (here: --init-from a model of 3 labels) is one
    `warning:` line, as finetune and predict show theirs, not Python's file:line and source."""
    import os
    import subprocess
    import sys
    import warnings
    from pathlib import Path

    from tinyalbert import AlbertConfig, AlbertForPreTraining, AlbertTokenizer

    three, tokenizer = tmp_path / "three", AlbertTokenizer.from_pretrained(workspace["tokenizer"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        AlbertForPreTraining(AlbertConfig.from_pretrained(workspace["config"], num_labels=3,
                                                          vocab_size=len(tokenizer))).save_pretrained(three)
    tokenizer.save_pretrained(three)
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "tinyalbert.pretrain", "--corpus", str(workspace["corpus"]), "--out",
                           str(tmp_path / "run"), "--init-from", str(three), "--steps", "1", "--batch-size", "4",
                           "--max-seq-length", "24"], capture_output=True, text=True, cwd=root, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "made for 3 labels" in line]
    assert len(said) == 1 and said[0].startswith("warning: the model "), done.stderr
    assert "UserWarning" not in done.stderr, done.stderr
