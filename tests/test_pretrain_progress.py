"""What `python -m tinyalbert.pretrain` says while it prepares the data and evaluates: a line as
each phase starts (reading, vocabulary, encoding, examples, held-out evaluation), a bar on a
terminal, a line with the time taken when a phase took a second or more, all on standard error,
from the first process alone; and that none of it changes the model.

Tiny runs: the corpus, tokenizer and config of `test_trainer` (48 documents of 4 sentences).
"""
import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from tinyalbert import AlbertForPreTraining
from tinyalbert.train import prepare as prepare_module
from tinyalbert.train import progress as progress_module
from tinyalbert.train import trainer as trainer_module
from tinyalbert.train.checkpoints import FINAL_DIR
from tinyalbert.train.distributed import Ranks
from tinyalbert.train.metrics import evaluate
from tinyalbert.train.prepare import encode_corpus, heldout_examples_of_run, prepare_run
from tinyalbert.train.text import read_documents
from tinyalbert.train.trainer import prepare_on_ranks, train

import test_trainer

workspace = test_trainer.workspace  # the same fixture: corpus, tokenizer directory and tiny config.json
NUM_DOCUMENTS, SENTENCES_PER_DOCUMENT = 48, 4  # test_trainer.write_corpus's corpus

# The start lines, in the order the phases run; the vocabulary only when one is trained.
PHASE_STARTS = ("reading the corpus ", "training a vocabulary of ", "encoding ", "building examples from ",
                "tinyalbert pretraining:", "evaluating on ", "held-out:")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, keeping what is written to it."""

    def isatty(self):
        return True


def run_main(arguments, capsys) -> tuple[int, str, str]:
    from tinyalbert import pretrain

    status = pretrain.main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def cli_options(workspace, out):
    return ["--corpus", workspace["corpus"], "--out", out, "--config", workspace["config"], "--vocab-size", 60,
            "--steps", 4, "--batch-size", 4, "--max-seq-length", 24, "--save-every", 2]


def started(lines, prefixes=PHASE_STARTS) -> list[str]:
    """The prefixes of `prefixes` that begin a line, in the order of the lines."""
    return [prefix for line in lines for prefix in prefixes if line.startswith(prefix)]


def test_each_phase_says_what_it_does_on_how_much_on_standard_error_only(workspace, tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, stderr = run_main(cli_options(workspace, out), capsys)
    assert status == 0, stderr
    lines = stderr.splitlines()
    assert started(lines) == list(PHASE_STARTS), stderr
    size = workspace["corpus"].stat().st_size
    assert f"reading the corpus {workspace['corpus']} ({size / 1000:.1f} kB)" in lines
    assert f"training a vocabulary of 60 pieces on {size / 1000:.1f} kB of text" in lines
    sentences = NUM_DOCUMENTS * SENTENCES_PER_DOCUMENT
    assert f"encoding {NUM_DOCUMENTS} documents ({sentences} sentences)" in lines
    assert f"building examples from {NUM_DOCUMENTS} documents" in lines
    heldout = json.loads((out / "eval_results.json").read_text())["num_examples"]
    assert f"evaluating on {heldout} held-out examples" in lines
    # Into a pipe: no bar, and at most a start and an end line per phase (the end line "... in 1.2 s").
    assert "%|" not in stderr and "\r" not in stderr
    preparation = lines[:lines.index(next(line for line in lines if line.startswith("tinyalbert pretraining:")))]
    assert len(preparation) <= 2 * 4
    assert all(re.fullmatch(r".* in \d+\.\d s", line) for line in preparation if not started([line]))
    assert not started(stdout.splitlines()), stdout  # stdout holds the closing summary alone


def test_a_resumed_run_says_its_phases_but_trains_no_vocabulary(workspace, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_main(cli_options(workspace, out) + ["--stop-at", 2], capsys)[0] == 0
    status, _, stderr = run_main(["--out", out, "--resume"], capsys)
    assert status == 0, stderr
    assert started(stderr.splitlines()) == [prefix for prefix in PHASE_STARTS if prefix != "training a vocabulary of "]


def test_a_terminal_gets_a_bar_for_the_encoding_and_the_evaluation(workspace, tmp_path):
    terminal = Terminal()
    train(test_trainer.make_args(workspace, tmp_path / "run", steps=2), stream=terminal)
    written = terminal.getvalue()
    assert re.search(r"\r *0%\|.*\| 0/192 \[.* sentences/s\]", written), written
    assert re.search(r"\r *0%\|.*\| 0/\d+ \[.* examples/s\]", written), written
    # Each bar is cleared when its phase ends: the next line starts at the left edge.
    assert re.search(r"sentences/s\]\r +\rbuilding examples from 48 documents\n", written), written
    # Building the examples counts the sentences it cuts into pairs: the 48 x 4 of the corpus.
    assert re.search(r"building examples from 48 documents\n\r *0%\|.*\| 0/192 \[.* sentences/s\]", written), written


class CountedPhase(progress_module.Phase):
    """A Phase that keeps, for each phase of the run, its start line, its total and what it counted."""

    seen: list = []

    def __enter__(self):
        self.counted = 0
        CountedPhase.seen.append(self)
        return super().__enter__()

    def advance(self, count=1):
        self.counted += count
        super().advance(count)


def test_every_bar_counts_up_to_its_total(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(CountedPhase, "seen", [])
    monkeypatch.setattr(prepare_module, "Phase", CountedPhase)
    monkeypatch.setattr(trainer_module, "Phase", CountedPhase)
    train(test_trainer.make_args(workspace, tmp_path / "run", steps=2, dupe_factor=3), stream=Terminal())
    counted = {phase.message: (phase.counted, phase.total) for phase in CountedPhase.seen if phase.total is not None}
    heldout = json.loads((tmp_path / "run" / "eval_results.json").read_text())["num_examples"]
    sentences = NUM_DOCUMENTS * SENTENCES_PER_DOCUMENT
    assert counted == {f"encoding {NUM_DOCUMENTS} documents ({sentences} sentences)": (sentences, sentences),
                       f"building examples from {NUM_DOCUMENTS} documents in 3 passes": (3 * sentences, 3 * sentences),
                       f"evaluating on {heldout} held-out examples": (heldout, heldout)}


def test_the_examples_are_stacked_into_batches_within_their_phase_not_after_its_end_line(workspace, tmp_path,
                                                                                        monkeypatch):
    from tinyalbert.train.data import BatchIterator

    open_phases, built_during = [], []

    class OpenPhase(progress_module.Phase):
        def __enter__(self):
            open_phases.append(self.message)
            return super().__enter__()

        def __exit__(self, *exc_info):
            open_phases.pop()
            return super().__exit__(*exc_info)

    def batch_iterator(*args, **kwargs):
        built_during.append(list(open_phases))
        return BatchIterator(*args, **kwargs)

    monkeypatch.setattr(prepare_module, "Phase", OpenPhase)
    monkeypatch.setattr(prepare_module, "BatchIterator", batch_iterator)
    prepare_run(test_trainer.make_args(workspace, tmp_path / "run"), stream=io.StringIO())
    assert built_during == [[f"building examples from {NUM_DOCUMENTS} documents"]]


def test_the_corpus_files_are_measured_once_for_the_reading_and_the_vocabulary(workspace, tmp_path, capsys,
                                                                              monkeypatch):
    measured = []

    def corpus_bytes(corpus):
        measured.append(corpus)
        return prepare_module.corpus_files(corpus)[0].stat().st_size

    monkeypatch.setattr(prepare_module, "corpus_bytes", corpus_bytes)
    status, _, stderr = run_main(cli_options(workspace, tmp_path / "run"), capsys)
    assert status == 0, stderr
    size = workspace["corpus"].stat().st_size
    assert f"training a vocabulary of 60 pieces on {size / 1000:.1f} kB of text" in stderr.splitlines()
    assert measured == [str(workspace["corpus"])]


def test_the_garbage_collector_is_paused_while_encoding_and_building_examples_only(workspace, tmp_path, monkeypatch):
    import gc

    collecting = {}

    def spy(name, function):
        def call(*args, **kwargs):
            collecting.setdefault(name, set()).add(gc.isenabled())
            return function(*args, **kwargs)
        monkeypatch.setattr(prepare_module, name, call)

    for name in ("read_documents", "encode_corpus", "build_examples", "prepare_tokenizer"):
        spy(name, getattr(prepare_module, name))
    assert gc.isenabled()
    prepare_run(test_trainer.make_args(workspace, tmp_path / "run"))
    assert collecting == {"read_documents": {True}, "prepare_tokenizer": {True}, "encode_corpus": {False},
                          "build_examples": {False}}
    assert gc.isenabled()


def test_a_paused_collector_is_restored_as_it_was_even_after_an_error():
    import gc

    assert gc.isenabled()
    with pytest.raises(ValueError, match="stop"):
        with prepare_module.collector_paused():
            assert not gc.isenabled()
            raise ValueError("stop")
    assert gc.isenabled()
    gc.disable()
    try:
        with prepare_module.collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_prepared_examples_are_those_of_a_plain_encoding_and_building(workspace, tmp_path):
    """The bars and the paused collector change nothing: the examples of `prepare_run` are the ones
    built from the same documents with the collector on, no phase and one tokenizer call."""
    from tinyalbert.tokenizer import AlbertTokenizer
    from tinyalbert.train.data import collate
    from tinyalbert.train.prepare import _generators, build_examples, split_documents

    for masking in ("static", "dynamic"):
        args = test_trainer.make_args(workspace, tmp_path / masking, masking=masking, dupe_factor=2)
        prepared = prepare_run(args)
        tokenizer = AlbertTokenizer.from_pretrained(workspace["tokenizer"])
        rngs = _generators(args.seed)
        train_documents, heldout_documents = split_documents(read_documents(args.corpus), args.heldout_fraction,
                                                             rngs["heldout_split"])

        def plain(documents):  # one call; no sentence of this corpus encodes to nothing
            sentences = [sentence for document in documents for sentence in document]
            ids = iter(tokenizer(sentences, add_special_tokens=False)["input_ids"])
            return [[list(next(ids)) for _ in document] for document in documents]

        expected_train = collate(build_examples(plain(train_documents), tokenizer, args, rngs["train_examples"],
                                                masked=masking == "static"))
        expected_heldout = collate(build_examples(plain(heldout_documents), tokenizer, args, rngs["heldout_examples"]))
        for field, column in collate(prepared.heldout_examples).items():
            assert np.array_equal(column, expected_heldout[field]), (masking, field)
        for field, column in prepared.iterator.columns.items():
            assert np.array_equal(column, expected_train[field]), (masking, field)


def test_under_mpiexec_only_the_first_process_writes_the_phases(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module.distributed, "wait_for_all", lambda ranks, what, failure=None: None)
    args = test_trainer.make_args(workspace, tmp_path / "run")
    first, other = io.StringIO(), io.StringIO()
    prepare_on_ranks(args, Ranks(comm=None, rank=0, size=4, nccl=None, timeout_seconds=60.0), first)
    prepare_on_ranks(args, Ranks(comm=None, rank=1, size=4, nccl=None, timeout_seconds=60.0), other)
    assert other.getvalue() == ""
    lines = first.getvalue().splitlines()
    assert started(lines, PHASE_STARTS[:4] + ("waiting for ",)) == ["reading the corpus ", "encoding ",
                                                                    "building examples from ", "waiting for "]
    assert "waiting for the other 3 processes to build the same examples" in lines


def test_encoding_in_chunks_gives_the_ids_of_one_batched_call_and_counts_every_sentence(workspace, monkeypatch):
    from tinyalbert.tokenizer import AlbertTokenizer

    tokenizer = AlbertTokenizer.from_pretrained(workspace["tokenizer"])
    documents = read_documents(workspace["corpus"])[:5] + [["", "The cat eats."], [""], ["A dog."]]
    sentences = [sentence for document in documents for sentence in document]
    ids = tokenizer(sentences, add_special_tokens=False)["input_ids"]  # one call, as encoding was done before
    expected, start = [], 0
    for document in documents:  # regrouped by hand; a sentence of no ids is dropped, and a document of none
        kept = [sentence_ids for sentence_ids in ids[start:start + len(document)] if sentence_ids]
        start += len(document)
        if kept:
            expected.append(kept)

    class Counter:
        counted = 0

        def advance(self, count=1):
            self.counted += count

    monkeypatch.setattr(prepare_module, "ENCODE_CHUNK_SENTENCES", 3)  # chunks that cut documents apart
    counter = Counter()
    assert encode_corpus(documents, tokenizer, counter) == expected
    assert counter.counted == len(sentences)


def test_the_model_and_the_held_out_results_are_those_of_one_encoding_call(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "plot_loss_curve", lambda history, path: False)  # only costs time here

    def encode_in_one_call(documents, tokenizer, *unused):
        ids = iter(tokenizer([s for document in documents for s in document], add_special_tokens=False)["input_ids"])
        encoded = [[list(sentence_ids) for sentence_ids in (next(ids) for _ in document) if sentence_ids]
                   for document in documents]
        return [document for document in encoded if document]

    summaries = {}
    for name in ("chunked", "one call"):
        if name == "one call":
            monkeypatch.setattr(prepare_module, "encode_corpus", encode_in_one_call)
        else:
            monkeypatch.setattr(prepare_module, "ENCODE_CHUNK_SENTENCES", 5)
        summaries[name] = train(test_trainer.make_args(workspace, tmp_path / name, steps=4), stream=io.StringIO())
    chunked, one_call = (AlbertForPreTraining.from_pretrained(tmp_path / name / FINAL_DIR) for name in summaries)
    assert chunked.params.keys() == one_call.params.keys()
    for key, value in chunked.params.items():
        assert np.array_equal(value, one_call.params[key]), key
    assert summaries["chunked"]["eval"] == summaries["one call"]["eval"]
    # The evaluation that counts the examples for its bar gives what `evaluate` gives on them.
    common = np.zeros(chunked.config.vocab_size, dtype=bool)
    common[summaries["chunked"]["common_pieces"]] = True
    args = test_trainer.make_args(workspace, tmp_path / "chunked")
    direct = evaluate(chunked, heldout_examples_of_run(args.out), args.eval_batch_size, common=common)
    assert summaries["chunked"]["eval"] == direct


def test_a_library_call_of_prepare_run_writes_nothing(workspace, tmp_path, capsys):
    prepare_run(test_trainer.make_args(workspace, tmp_path / "run"))
    written = io.StringIO()
    prepare_run(test_trainer.make_args(workspace, tmp_path / "again"), stream=written)
    assert capsys.readouterr() == ("", "") and started(written.getvalue().splitlines())


@pytest.mark.parametrize("seconds, end_line", [(0.4, None), (2.5, "encoded 7 tokens in 2.5 s")])
def test_a_phase_ends_with_a_line_only_when_it_took_a_second_or_more(monkeypatch, seconds, end_line):
    from tinyalbert.train.progress import Phase

    clock = iter([100.0, 100.0 + seconds])
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    stream = io.StringIO()
    with Phase(stream, "encoding 2 documents (3 sentences)", 3, "sentences") as phase:
        phase.advance(3)
        phase.outcome = "encoded 7 tokens"
    assert stream.getvalue().splitlines() == ["encoding 2 documents (3 sentences)"] + ([end_line] if end_line else [])


def test_a_phase_left_by_an_error_clears_its_bar_and_writes_no_end_line(monkeypatch):
    from tinyalbert.train.progress import Phase

    clock = iter([100.0, 105.0])
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    terminal = Terminal()
    with pytest.raises(ValueError, match="too small"):
        with Phase(terminal, "training a vocabulary of 8 pieces on 1.0 kB of text", 10, "pieces"):
            raise ValueError("too small")
    written = terminal.getvalue()
    assert written.startswith("training a vocabulary of 8 pieces on 1.0 kB of text\n\r") and "| 0/10 [" in written
    assert re.search(r"\r +\r$", written), written  # what comes next (the error) starts at the left edge


@pytest.mark.parametrize("size, shown", [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (12_917_391, "12.9 MB"),
                                         (999_960, "1.0 MB"), (3 * 10**9, "3.0 GB")])
def test_sizes_are_shown_in_decimal_units(size, shown):
    assert progress_module.format_bytes(size) == shown
