"""Token classification of sentences longer than --max-seq-length: each is split into
overlapping windows of pieces, as question answering splits a long context, so that no word is
cut off; a word in two windows takes its tag from the one that sees more around it."""
import json
import warnings

import pytest

from tinyalbert import AlbertTokenizer, finetune
from tinyalbert.finetune_loop import sentence_tags
from tinyalbert.task_data import IGNORE_INDEX, encode_examples, encode_tagged_words

TAGS = {"O": 0, "B-PER": 1, "B-LOC": 2}


@pytest.fixture(scope="module")
def tokenizer():
    return AlbertTokenizer.from_pretrained("tinyalbert-mini")


def long_sentence(length=30):
    """alice (two pieces), `length` times "went" (one piece each), paris (one): a name at each end."""
    return ["alice"] + ["went"] * length + ["paris"], ["B-PER"] + ["O"] * length + ["B-LOC"]


def test_a_sentence_that_fits_is_one_window_as_before(tokenizer):
    words, tags = ["alice", "visited", "paris"], ["B-PER", "O", "B-LOC"]
    pieces = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word)) for word in words]
    [feature] = encode_tagged_words(words, tags, tokenizer, 32, TAGS, doc_stride=8)
    flat = [piece for word in pieces for piece in word]
    assert feature["input_ids"] == [tokenizer.cls_token_id, *flat, tokenizer.sep_token_id]
    firsts = [1 + sum(len(word) for word in pieces[:index]) for index in range(len(words))]
    assert feature["first_pieces"] == firsts and feature["word_ids"] == [0, 1, 2]
    assert [feature["labels"][position] for position in firsts] == [1, 0, 2]
    assert sum(label != IGNORE_INDEX for label in feature["labels"]) == 3


@pytest.mark.parametrize("max_length, stride", [(16, 8), (16, 1), (12, 9), (24, 8)])
def test_the_windows_hold_every_word_within_max_length_sharing_the_stride(tokenizer, max_length, stride):
    words, tags = long_sentence(30)
    features = encode_tagged_words(words, tags, tokenizer, max_length, TAGS, doc_stride=stride)
    assert len(features) > 1 and all(len(feature["input_ids"]) <= max_length for feature in features)
    seen = sorted({word for feature in features for word in feature["word_ids"]})
    assert seen == list(range(len(words)))  # no word is cut off
    width = max_length - 2
    for before, after in zip(features, features[1:]):  # neighbours share `stride` pieces
        assert before["input_ids"][1:-1][width - stride:] == after["input_ids"][1:1 + stride]
    for feature in features:
        for position, word, context in zip(feature["first_pieces"], feature["word_ids"], feature["context"]):
            assert feature["labels"][position] == TAGS[tags[word]]
            assert context == min(position - 1, len(feature["input_ids"]) - 2 - position)
        labelled = [position for position, label in enumerate(feature["labels"]) if label != IGNORE_INDEX]
        assert labelled == feature["first_pieces"]


def test_a_word_cut_by_a_window_edge_is_labelled_only_where_its_first_piece_is(tokenizer):
    words = ["went"] * 5 + ["tinyalbertish"] + ["went"] * 5
    pieces = len(tokenizer.tokenize("tinyalbertish"))
    assert pieces >= 3
    features = encode_tagged_words(words, ["O"] * len(words), tokenizer, 9, TAGS, doc_stride=2)
    holding = [feature for feature in features if 5 in feature["word_ids"]]
    assert holding and all(feature["labels"][feature["first_pieces"][feature["word_ids"].index(5)]] == 0
                           for feature in holding)
    assert sum(word == 5 for feature in features for word in feature["word_ids"]) == len(holding)


def test_each_word_takes_the_tag_of_the_window_that_sees_most_around_it():
    examples = [{"tags": ["O"] * 4}, {"tags": ["O"]}]
    features = [{"sentence": 0, "word_ids": [0, 1, 2], "context": [0, 1, 0]},
                {"sentence": 0, "word_ids": [1, 2, 3], "context": [0, 1, 0]},
                {"sentence": 1, "word_ids": [0], "context": [0]}]
    predictions = [[1, 1, 1], [2, 2, 2], [0]]  # label ids, per word of each window
    labels = ["O", "B-PER", "B-LOC"]
    # word 1: context 1 in the first window, 0 in the second; word 2 the other way round
    assert sentence_tags(examples, features, predictions, labels) == [["B-PER", "B-PER", "B-LOC", "B-LOC"], ["O"]]
    features[1]["context"] = [1, 0, 0]  # a tie for word 1: the first window keeps it
    assert sentence_tags(examples, features, predictions, labels)[0][:3] == ["B-PER", "B-PER", "B-PER"]


def test_a_stride_that_would_never_move_on_is_an_error_naming_the_line(tokenizer):
    words, tags = long_sentence(30)
    example = {"tokens": words, "tags": tags, "line": 7}
    with pytest.raises(ValueError, match=r"^line 7: the sentence takes 33 pieces, more than the 14 of a window "
                                         r"\(--max-seq-length 16\); --doc-stride 14, .*pass --doc-stride 13 or less"):
        encode_examples("token-classification", [example], tokenizer, 16, TAGS, doc_stride=14)
    short = {"tokens": ["alice"], "tags": ["B-PER"], "line": 1}  # a sentence that fits never steps
    assert len(encode_examples("token-classification", [short], tokenizer, 16, TAGS, doc_stride=14)) == 1


def write_long_sentences(path, rows=8):
    with open(path, "w") as handle:
        for _ in range(rows):
            words, tags = long_sentence(30)
            handle.write(json.dumps({"tokens": words, "tags": tags}) + "\n")
    return path


def run(train, out, *extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        return finetune.main(["--task", "token-classification", "--model", "tinyalbert-mini", "--train", str(train),
                              "--validation", str(train), "--out", str(out), "--max-seq-length", "16",
                              "--lr", "1e-3", *extra])


def test_an_entity_past_max_length_is_learnt_and_scored(tmp_path, capsys):
    """Every sentence ends with a place 33 pieces in, past a window of 14: cut off, it could
    never be predicted (recall at most 0.5); in the windows it is learnt. Windows of 14 pieces
    sharing 8 start at pieces 0, 6, 12, 18 and 24: five features a sentence."""
    train = write_long_sentences(tmp_path / "long.jsonl")
    assert run(train, tmp_path / "out", "--epochs", "3") == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["best"]["recall"] == 1.0 and summary["best"]["f1"] == 1.0, summary
    assert "tagging: 40 training features from 8 sentences" in captured.err
    assert "--doc-stride 8 pieces shared by neighbours" in captured.err


def test_resuming_needs_the_same_windows(tmp_path, capsys):
    train, out = write_long_sentences(tmp_path / "long.jsonl"), tmp_path / "out"
    assert run(train, out, "--epochs", "2", "--stop-after", "1", "--quiet") == 0
    assert run(train, out, "--epochs", "2", "--resume", "--doc-stride", "4", "--quiet") == 2
    assert "doc_stride is 4 but the checkpoint was made with 8" in capsys.readouterr().err
    state_file = out / "checkpoint" / "state.json"
    state = json.loads(state_file.read_text())
    assert state["train_features"] == 40
    del state["train_features"]  # as a checkpoint from when long sentences were cut
    state_file.write_text(json.dumps(state))
    assert run(train, out, "--epochs", "2", "--resume", "--quiet") == 2
    assert "made when tagged sentences longer than --max-seq-length were cut" in capsys.readouterr().err
