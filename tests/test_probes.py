"""The held-out fact probes of tinyalbert-mini (bench/probes) and their scorer (bench/probe_mini.py)."""
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench_scripts import BENCH, import_bench_module

REPO_ROOT = Path(__file__).resolve().parents[1]
CHECK = BENCH / "probes" / "check_probes.py"
PROBES = BENCH / "probes" / "wordnet_probes.tsv"


@pytest.fixture(scope="module")
def probe_mini():
    return import_bench_module("probe_mini")


def check(*options, probes=PROBES):
    return subprocess.run([sys.executable, str(CHECK), "--probes", str(probes), *map(str, options)],
                          capture_output=True, text=True, cwd=REPO_ROOT)


def test_the_shipped_probe_set_is_well_formed_and_large_enough(probe_mini):
    result = check()
    assert result.returncode == 0, result.stdout + result.stderr
    probes = probe_mini.read_probes(PROBES)
    assert len(probes) >= 200
    assert all(probe["text"].count("[MASK]") == 1 for probe in probes)


def test_the_checker_finds_a_probe_that_is_not_held_out_and_a_bad_answer(tmp_path, probe_mini):
    first = probe_mini.read_probes(PROBES)[0]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Something else entirely.\n" + first["text"].replace("[MASK]", first["answers"][0]).upper()
                      + "\n", encoding="utf-8")
    result = check("--corpus", corpus)
    assert result.returncode == 1 and f"({first['id']}): not held out" in result.stdout
    lines = PROBES.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.tsv"
    fields = lines[1].split("\t")
    fields[3] = "the"  # a function word, never a fair answer
    broken.write_text("\n".join([lines[0], "\t".join(fields), *lines[2:]]) + "\n", encoding="utf-8")
    result = check(probes=broken)
    assert result.returncode == 1 and "answer 'the' is a function word" in result.stdout


def test_scores_count_a_hit_when_any_accepted_answer_is_within_rank_k(probe_mini):
    from tinyalbert import AlbertTokenizer

    tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
    probes = [{"text": "x [MASK]", "category": "a", "answers": ["tree"]},
              {"text": "y [MASK]", "category": "a", "answers": ["small", "little"]},
              {"text": "z [MASK]", "category": "b", "answers": ["water"]}]
    tree, little, water, other = (probe_mini.answer_ids(tokenizer, [w])[0] for w in ("tree", "little", "water", "dog"))
    rankings = [[tree, other, other, other, other],      # top-1
                [other, other, other, other, little],    # top-5 through its second answer
                [other] * 5]                             # neither
    result = probe_mini.score(rankings, probes, tokenizer, answer_ranks=[1, 5, 300])
    assert result["top1"] == pytest.approx(1 / 3) and result["top5"] == pytest.approx(2 / 3)
    assert result["per_category"]["a"] == {"top1": 0.5, "top5": 1.0}
    assert result["median_answer_rank"] == 5 and result["top100"] == pytest.approx(2 / 3)
    assert result["unanswerable"] == 0


def test_a_vocabulary_that_splits_every_answer_of_a_probe_cannot_score_it(probe_mini):
    from tinyalbert import AlbertTokenizer

    tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
    assert tokenizer.tokenize(" giraffe") != ["\u2581giraffe"]  # split by this vocabulary
    tree = probe_mini.answer_ids(tokenizer, ["tree"])[0]
    assert probe_mini.answer_ids(tokenizer, ["giraffe", "tree"]) == [tree]
    probes = [{"text": "x [MASK]", "category": "a", "answers": ["giraffe"]},
              {"text": "y [MASK]", "category": "a", "answers": ["giraffe", "tree"]}]
    # Even the giraffe's first piece at the top of the ranking is no hit: the answer is not one piece.
    giraffe_start = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" giraffe")[0])
    logits = [np.zeros(len(tokenizer)) for _ in probes]
    for row in logits:
        row[giraffe_start], row[tree] = 2.0, 1.0
    rankings, answer_ranks = probe_mini.rank_answers(logits, probes, tokenizer)
    assert answer_ranks == [len(tokenizer) + 1, 2]
    result = probe_mini.score(rankings, probes, tokenizer, answer_ranks)
    assert result["top1"] == 0.0 and result["top5"] == 0.5 and result["unanswerable"] == 1
    _, baseline_ranks = probe_mini.frequency_rankings(Counter({tree: 3, giraffe_start: 5}), tokenizer, probes, False)
    assert baseline_ranks[0] == len(tokenizer) + 1 and baseline_ranks[1] == 2


def test_rank_answers_ranks_the_answer_among_all_pieces(probe_mini):
    probes = probe_mini.read_probes(PROBES)[:3]
    logits, tokenizer = probe_mini.mask_logits("tinyalbert-mini", probes)
    rankings, answer_ranks = probe_mini.rank_answers(logits, probes, tokenizer)
    assert [len(r) for r in rankings] == [5, 5, 5]
    for ranking, rank, probe in zip(rankings, answer_ranks, probes):
        ids = probe_mini.answer_ids(tokenizer, probe["answers"])
        assert 1 <= rank <= len(tokenizer)
        # The rank agrees with the top-5: an answer ranked within 5 is listed there, and back.
        assert (rank <= 5) == bool(set(ids) & set(ranking))
    assert np.all(np.asarray(answer_ranks) >= 1)


def test_whole_word_rankings_skip_the_other_pieces_and_can_only_raise_the_answer(probe_mini):
    probes = probe_mini.read_probes(PROBES)
    logits, tokenizer = probe_mini.mask_logits("tinyalbert-mini", probes)
    rankings, answer_ranks = probe_mini.rank_answers(logits, probes, tokenizer)
    words = probe_mini.whole_word_mask(tokenizer)
    word_rankings, word_ranks = probe_mini.rank_answers(logits, probes, tokenizer, allowed=words)
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))

    def is_word(i):
        return pieces[i].startswith("\u2581") and pieces[i][1:2].isalnum()

    assert any(not is_word(i) for ranking in rankings for i in ranking)  # so that there is something to skip
    for ranking, word_ranking, rank, word_rank in zip(rankings, word_rankings, answer_ranks, word_ranks):
        assert all(is_word(i) for i in word_ranking)
        # The whole words keep their order: those of the full top-5 lead the words' top-5.
        kept = [i for i in ranking if is_word(i)]
        assert word_ranking[: len(kept)] == kept
        # Answers are whole words: leaving out the other pieces moves an answer up by those above it.
        assert word_rank <= rank
        if rank <= 5:
            assert word_rank == rank - sum(not is_word(i) for i in ranking[: rank - 1])


def test_the_probe_curve_table_is_ordered_and_its_plot_is_drawn(tmp_path):
    plot_probe_curve = import_bench_module("plot_probe_curve")
    rows = plot_probe_curve.read_curve(BENCH / "probes" / "mini_curve.tsv")
    steps, stages = [row["step"] for row in rows], [row["stage"] for row in rows]
    assert steps == sorted(set(steps)) and stages == sorted(stages) and steps[0] == 0
    for row in rows:
        assert 0 <= row["top1"] <= row["top5"] <= row["top100"] <= 100 and 1 <= row["median_rank"] <= 8000
    made_up = [{"step": 0, "stage": 1}, {"step": 5, "stage": 2}, {"step": 9, "stage": 2}, {"step": 12, "stage": 3}]
    assert plot_probe_curve.stage_starts(made_up) == [(0, 2), (9, 3)]
    out = tmp_path / "curve.png"
    assert plot_probe_curve.main(["--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_vocab_coverage_counts_the_words_a_vocabulary_keeps_whole(tmp_path):
    vocab_coverage = import_bench_module("vocab_coverage")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Tulip tulip clouds are\nA tulip is a flower.\n\nClouds, flower; tulip.\n", encoding="utf-8")
    counts = vocab_coverage.word_counts(corpus)
    assert counts == {"tulip": 4, "clouds": 2, "flower": 2, "are": 1, "a": 2, "is": 1}
    assert vocab_coverage.content_words(counts) == ["tulip", "clouds", "flower"]  # "are", "a", "is": too short
    # The bundled vocabulary: "tulip" and "flower" are pieces of their own, "clouds" is not
    # (bench/probes/README.md); the short words are not content words but count as occurrences.
    bundled = REPO_ROOT / "tinyalbert" / "data" / "tinyalbert-mini" / "spiece.model"
    is_whole = vocab_coverage.whole_words(bundled, counts)
    assert is_whole["tulip"] and is_whole["flower"] and not is_whole["clouds"]
    shares = vocab_coverage.coverage(is_whole, counts, top=(1, 3))
    assert shares[1] == 1.0 and shares[3] == 2 / 3
    whole_short = sum(counts[word] for word in ("are", "a", "is") if is_whole[word])
    assert shares["occurrences"] == (4 + 2 + whole_short) / 12
    with pytest.raises(SystemExit):  # a missing file is a usage error, before any training
        vocab_coverage.main(["--corpus", str(tmp_path / "missing.txt"), "--model", str(bundled)])


def read_probe_table(name: str) -> list[dict]:
    """The rows of a probe-score table in bench/probes/, each checked to hold possible scores."""
    import csv

    with open(BENCH / "probes" / name, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    for row in rows:
        top1, top5, top100 = (float(row[key]) for key in ("top1", "top5", "top100"))
        assert 0 <= top1 <= top5 <= top100 <= 100 and 1 <= int(row["median_rank"]) <= 8000
    return rows


def test_the_name_once_experiment_table_compares_the_same_checkpoints():
    rows = read_probe_table("name_once_experiment.tsv")
    steps = {arm: [int(row["step"]) for row in rows if row["arm"] == arm] for arm in ("same corpus", "name once")}
    assert len(rows) == sum(map(len, steps.values())) and steps["same corpus"] == steps["name once"]
    assert steps["name once"] == list(range(300, 1801, 300))


def test_the_everyday_meanings_experiment_table_covers_the_run_checkpoint_by_checkpoint():
    rows = read_probe_table("everyday_experiment.tsv")
    assert [int(row["step"]) for row in rows] == list(range(500, 4001, 500))


def test_the_stage7_experiment_table_covers_the_run_checkpoint_by_checkpoint():
    rows = read_probe_table("stage7_experiment.tsv")
    assert [int(row["step"]) for row in rows] == list(range(21500, 26001, 500))


def test_corpus_recall_asks_the_corpus_facts_back_with_the_last_word_masked(tmp_path, capsys):
    from tinyalbert import AlbertTokenizer

    corpus_recall = import_bench_module("corpus_recall")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join([
        "Oak is a kind of tree.", "Tulip is a kind of flower.", "Tulip is a kind of flower.",  # a repeat, asked once
        "Okapi is a kind of giraffe.",  # "giraffe" is not one piece: cannot be asked
        "Finger is part of hand.", "", "Big is the opposite of little.", "Rome is the capital of Italy.",
        "A rose is a kind of flower with thorns.",  # not the template: the fact is not its last word
    ]) + "\n", encoding="utf-8")
    tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
    questions = corpus_recall.template_questions(corpus, tokenizer, per_template=5)
    assert sorted((row["category"], row["text"], row["answers"][0]) for row in questions) == [
        ("antonym", "Big is the opposite of [MASK].", "little"), ("hypernym", "Oak is a kind of [MASK].", "tree"),
        ("hypernym", "Tulip is a kind of [MASK].", "flower"), ("part", "Finger is part of [MASK].", "hand")]
    one = corpus_recall.template_questions(corpus, tokenizer, per_template=1)
    assert sorted(row["category"] for row in one) == ["antonym", "hypernym", "part"]
    assert one == corpus_recall.template_questions(corpus, tokenizer, per_template=1)  # the same draw every time
    assert corpus_recall.main(["--corpus", str(corpus), "tinyalbert-mini"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert "hypernym (2)" in header and "all (4)" in header and row.startswith("tinyalbert-mini")
    assert len(re.findall(r"\d+\.\d% / \d+\.\d%", row)) == 4  # three templates and all
    with pytest.raises(SystemExit):
        corpus_recall.main(["--corpus", str(tmp_path / "missing.txt"), "tinyalbert-mini"])
