"""Fine-tuning on files of a real data set's size (SQuAD's 88k questions on 19k contexts, MNLI's
393k pairs, CoNLL's 14k sentences): the encoding's work grows with the text, not with the text
times its questions, its memory stays a chunk's, and every phase that takes long (reading,
encoding, each evaluation) shows that it runs. The counts stand in for the wall time: a test
counts what the work is made of (calls of SentencePiece, texts per call, steps of a bar)."""
import csv
import gc
import io
import json
import warnings

import pytest

import tinyalbert.tokenizer.albert
from tinyalbert import finetune
from tinyalbert.tokenizer import AlbertTokenizer
from tinyalbert.train import progress

WORDS = ("the red apple fell from a tall tree near an old house while two small birds sang in "
         "warm light and one dog slept by its green door").split()


class CountingProcessor:
    """A SentencePiece processor that counts the calls of `encode` and the texts each one encodes;
    every other attribute is the wrapped processor's."""

    def __init__(self, processor):
        self.processor, self.calls, self.texts, self.largest_call = processor, 0, 0, 0
        self.collector_on = []  # whether Python's cyclic garbage collector was on, at each call

    def encode(self, input, *args, **kwargs):
        texts = len(input) if isinstance(input, list) else 1
        self.calls, self.texts, self.largest_call = self.calls + 1, self.texts + texts, max(self.largest_call, texts)
        self.collector_on.append(gc.isenabled())
        return self.processor.encode(input, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.processor, name)


@pytest.fixture
def tokenizer(monkeypatch):
    # Every list of texts goes to SentencePiece in one call, however short (the tokenizer encodes
    # a few texts one by one, which is faster): SentencePiece's calls are then the tokenizer's.
    monkeypatch.setattr(tinyalbert.tokenizer.albert, "BATCHED_ENCODE_FROM", 1)
    return AlbertTokenizer.from_pretrained("tinyalbert-mini")


def counting(tokenizer) -> CountingProcessor:
    tokenizer.sp_model = CountingProcessor(tokenizer.sp_model)
    return tokenizer.sp_model


def sentence(index: int, length: int) -> str:
    """A text of `length` words of WORDS (no digits, so no comma rule calls SentencePiece again)."""
    return " ".join(WORDS[(index * 7 + position) % len(WORDS)] for position in range(length))


def squad_examples(contexts: int, questions_each: int, words: int) -> list[dict]:
    """SQuAD examples as `read_squad` gives them: `questions_each` questions on each of `contexts`
    contexts of `words` words, the answer the context's first two words."""
    examples = []
    for number in range(contexts):
        context = sentence(number, words)
        answer = " ".join(context.split()[:2])
        examples += [{"id": f"c{number}q{question}", "question": sentence(number + question, 6) + "?",
                      "context": context, "answers": [{"text": answer, "answer_start": 0}]}
                     for question in range(questions_each)]
    return examples


def test_each_squad_context_is_tokenized_once_however_many_questions_it_has(tokenizer):
    """SQuAD v1.1's train file asks 4.6 questions per context: tokenizing the context once per
    question made the encoding of its 88k questions take minutes. Its words go to SentencePiece
    once, with the questions, a call for each (one chunk here)."""
    from tinyalbert.task_data import encode_examples, encode_question

    examples = squad_examples(contexts=2, questions_each=5, words=40)
    reference = [feature for example in examples for feature in encode_question(example, tokenizer, 32, 8)]
    processor = counting(tokenizer)
    features = encode_examples("question-answering", examples, tokenizer, 32, None, doc_stride=8)
    assert features == reference
    # The words of the two contexts, once each, and the ten questions: counted by str.split.
    assert processor.texts == 2 * 40 + 10 and processor.calls == 2
    # One list of word offsets per context, shared by the windows of all its questions.
    assert len({id(feature["word_spans"]) for feature in features}) == 2


@pytest.mark.reference
def test_the_pieces_of_a_chunk_are_those_of_transformers_slow_tokenizer_text_by_text(tokenizer, monkeypatch):
    """The pieces that one call gives for a chunk of words and questions are those Transformers'
    slow AlbertTokenizer gives each text alone (`convert_tokens_to_ids(tokenize(text))`), words of
    no piece becoming <unk>; and Transformers' tokenizer, passed in instead, makes the same features."""
    from transformers import AlbertTokenizer as ReferenceTokenizer

    from tinyalbert import task_data
    from tinyalbert.task_data import context_words, encode_examples, piece_ids_of_texts

    monkeypatch.setattr(task_data, "ENCODING_CHUNK", 3)
    reference = ReferenceTokenizer(str(tokenizer.vocab_file))
    texts = ["Hello,", "world!", "naïve", "1,000", "\u0007", "Whát's up?", "[MASK]", "don't", "  spaced  "]
    assert piece_ids_of_texts(tokenizer, texts) == [reference.convert_tokens_to_ids(reference.tokenize(text))
                                                   for text in texts]
    examples = squad_examples(contexts=2, questions_each=4, words=30)
    examples[1] = {**examples[1], "context": examples[1]["context"] + " \u0007 1,000 naïve"}
    features = encode_examples("question-answering", examples, tokenizer, 24, None, doc_stride=6)
    theirs = encode_examples("question-answering", examples, reference, 24, None, doc_stride=6)
    assert features == theirs
    unk = [feature for feature in features if tokenizer.unk_token_id in feature["input_ids"]]
    assert unk and all(feature["id"] == examples[1]["id"] for feature in unk)  # the lone control character
    assert len(context_words(examples[1]["context"])) == 33


def test_the_words_of_tagged_sentences_are_tokenized_a_chunk_at_a_time(tokenizer, monkeypatch):
    """CoNLL-2003's 14k sentences have 200k words: a SentencePiece call for each word cost more
    than its encoding. Each chunk of sentences is one call with all their words."""
    from tinyalbert import task_data
    from tinyalbert.task_data import encode_examples, encode_tagged_words

    monkeypatch.setattr(task_data, "ENCODING_CHUNK", 4, raising=False)
    examples = [{"tokens": sentence(index, 3 + index % 9).split(), "tags": ["O"] * (3 + index % 9), "line": index + 1}
                for index in range(10)]
    tags = {"O": 0, "B-X": 1}
    reference = [{**feature, "sentence": index} for index, example in enumerate(examples)
                 for feature in encode_tagged_words(example["tokens"], example["tags"], tokenizer, 8, tags, 3)]
    processor = counting(tokenizer)
    features = encode_examples("token-classification", examples, tokenizer, 8, tags, doc_stride=3)
    assert features == reference and len(features) > len(examples)  # windows, numbered across the chunks
    assert processor.calls == 3 and processor.texts == sum(len(example["tokens"]) for example in examples)


def test_text_pairs_are_tokenized_a_chunk_at_a_time(tokenizer, monkeypatch):
    """MNLI's 393k pairs tokenized in one call held every piece of every text at once, as strings
    (2.5 GB); a chunk's texts at a time hold a chunk's."""
    from tinyalbert import task_data
    from tinyalbert.task_data import encode_examples

    monkeypatch.setattr(task_data, "ENCODING_CHUNK", 4, raising=False)
    examples = [{"text": sentence(index, 5), "text_pair": sentence(index + 1, 4), "label": "a" if index % 2 else "b",
                 "line": index + 2} for index in range(10)]
    whole = tokenizer([(e["text"], e["text_pair"]) for e in examples], truncation=True, max_length=12,
                      return_token_type_ids=True)
    processor = counting(tokenizer)
    features = encode_examples("text-classification", examples, tokenizer, 12, {"a": 0, "b": 1})
    assert [feature["input_ids"] for feature in features] == whole["input_ids"]
    assert [feature["token_type_ids"] for feature in features] == whole["token_type_ids"]
    assert processor.largest_call == 2 * 4 and processor.texts == 2 * len(examples)


def test_the_choices_of_many_questions_are_tokenized_in_one_call(tokenizer, monkeypatch):
    """SWAG's 73k questions of four endings each: a tokenizer call per question took 18 times as
    long as a call per chunk of them."""
    from tinyalbert import task_data
    from tinyalbert.task_data import encode_choices, encode_examples

    monkeypatch.setattr(task_data, "ENCODING_CHUNK", 4, raising=False)
    examples = [{"question": sentence(index, 5), "choices": [sentence(index + 1, 3), sentence(index + 2, 9)],
                 "label": index % 2, "truncation": "longest_first", "line": index + 2} for index in range(10)]
    reference = [encode_choices(example, tokenizer, 12) for example in examples]
    processor = counting(tokenizer)
    assert encode_examples("multiple-choice", examples, tokenizer, 12, None) == reference
    assert processor.calls == 3 and processor.texts == 10 * 2 * 2  # the two texts of each of the two pairs


def test_the_garbage_collector_rests_while_features_are_built_and_comes_back_after(tokenizer):
    """Encoding SQuAD's train file builds a million lists and no reference cycle: the collector's
    passes over them, set off again and again as they pile up, took four fifths of its time."""
    from tinyalbert.task_data import encode_examples

    processor = counting(tokenizer)
    examples = squad_examples(contexts=2, questions_each=2, words=20)
    encode_examples("question-answering", examples, tokenizer, 32, None, doc_stride=8)
    assert processor.collector_on and not any(processor.collector_on) and gc.isenabled()
    with pytest.raises(ValueError, match="no room"):  # a question too long for --max-seq-length 8
        encode_examples("question-answering", examples, tokenizer, 8, None, doc_stride=2)
    assert gc.isenabled()


@pytest.mark.parametrize("task", ["text-classification", "token-classification", "question-answering",
                                  "multiple-choice"])
def test_encoding_reports_each_chunk_of_examples_it_has_done(tokenizer, monkeypatch, task):
    """The progress bar of an encoding phase moves a chunk at a time, up to every example."""
    from tinyalbert import task_data
    from tinyalbert.task_data import encode_examples

    monkeypatch.setattr(task_data, "ENCODING_CHUNK", 3, raising=False)
    if task == "question-answering":
        examples, labels = squad_examples(contexts=2, questions_each=4, words=12), None
    elif task == "multiple-choice":
        examples = [{"question": sentence(index, 4), "choices": [sentence(index, 2), sentence(index + 1, 2)],
                     "label": 0, "line": index + 1} for index in range(8)]
        labels = None
    elif task == "token-classification":
        examples = [{"tokens": sentence(index, 4).split(), "tags": ["O"] * 4, "line": index + 1} for index in range(8)]
        labels = {"O": 0}
    else:
        examples = [{"text": sentence(index, 4), "text_pair": None, "label": "a", "line": index + 2}
                    for index in range(8)]
        labels = {"a": 0}
    counts = []
    encode_examples(task, examples, tokenizer, 24, labels, doc_stride=4, on_progress=counts.append)
    assert counts == [3, 3, 2]


# --- the progress output of the command ---------------------------------------------------------------
def write_pairs(path, rows: int, first: int = 0):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["premise", "hypothesis", "label"])
        for index in range(first, first + rows):
            writer.writerow([sentence(index, 6), sentence(index + 3, 4), index % 3])
    return path


def run_main(arguments) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        return finetune.main(arguments)


def test_reading_encoding_and_each_evaluation_show_that_they_run(tmp_path, capsys, monkeypatch):
    """Every phase whose time grows with the files writes a line as it starts and one with the
    time it took (here after any time at all), as pretraining's phases do; without them, a run on
    SQuAD sat silent for minutes before its first step and after its last."""
    monkeypatch.setattr(progress, "DONE_AFTER_SECONDS", 0.0)
    train, validation, test = (write_pairs(tmp_path / f"{name}.csv", rows, first)
                               for name, rows, first in (("train", 9, 0), ("dev", 6, 20), ("test", 5, 40)))
    status = run_main(["--task", "text-classification", "--model", "tinyalbert-mini", "--train", str(train),
                       "--validation", str(validation), "--test", str(test), "--out", str(tmp_path / "out"),
                       "--text-column", "premise", "--text-pair-column", "hypothesis", "--label-names", "e,n,c",
                       "--epochs", "2", "--batch-size", "4", "--max-seq-length", "24"])
    assert status == 0
    lines = capsys.readouterr().err.splitlines()
    expected = [f"reading {train} (", "read 9 examples in", f"reading {validation} (", "read 6 examples in",
                f"encoding 9 examples of {train}", "encoded 9 examples in",
                f"encoding 6 examples of {validation}", "encoded 6 examples in",
                f"reading {test} (", "read 5 examples in", f"encoding 5 examples of {test}", "encoded 5 examples in",
                "evaluating on 6 validation examples", "evaluated 6 validation examples in", "epoch 1/2:",
                "evaluating on 6 validation examples", "evaluated 6 validation examples in", "epoch 2/2:",
                "evaluating on 5 test examples", "evaluated 5 test examples in", "test:"]
    shown = [line for line in lines if not line.startswith(("step ", "warning:"))]
    assert len(shown) == len(expected), lines
    for line, start in zip(shown, expected):
        assert line.startswith(start), (line, start)
    assert sum(line.startswith("step ") for line in lines) == 2 * 3  # into a file: each step of 3 a pass


def test_quiet_shows_no_phase(tmp_path, capsys):
    train = write_pairs(tmp_path / "train.csv", 4)
    assert run_main(["--task", "text-classification", "--model", "tinyalbert-mini", "--train", str(train),
                     "--validation", str(train), "--out", str(tmp_path / "out"), "--text-column", "premise",
                     "--text-pair-column", "hypothesis", "--epochs", "1", "--max-seq-length", "16", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_an_evaluation_on_a_terminal_draws_a_bar_of_the_windows_it_has_scored(tokenizer, monkeypatch):
    """A question-answering evaluation counts windows: a SQuAD dev file is 10k questions and 11k
    windows or more, minutes of forward passes on a CPU."""
    from tinyalbert.finetune_args import FinetuneArguments
    from tinyalbert.finetune_loop import evaluate_in_phase
    from tinyalbert.task_data import encode_examples
    from tinyalbert.task_models import AlbertForQuestionAnswering

    monkeypatch.setattr(progress, "DONE_AFTER_SECONDS", 0.0)
    examples = squad_examples(contexts=2, questions_each=3, words=30)
    features = encode_examples("question-answering", examples, tokenizer, 24, None, doc_stride=6)
    args = FinetuneArguments(task="question-answering", model="tinyalbert-mini", train=None, validation="dev.json",
                             out="out", eval_only=True, batch_size=4, max_seq_length=24, doc_stride=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AlbertForQuestionAnswering.from_pretrained("tinyalbert-mini").eval()
    advanced, advance = [], progress.Phase.advance
    monkeypatch.setattr(progress.Phase, "advance",
                        lambda phase, count=1: (advanced.append(count), advance(phase, count)))
    stream = Terminal()
    metrics, answers = evaluate_in_phase(args, "validation", model, examples, features, None, 0, stream)
    text = stream.getvalue()
    assert text.startswith(f"evaluating on 6 validation questions ({len(features)} windows)\n")
    assert f"0/{len(features)} " in text and " windows/s" in text  # the bar, drawn as it starts
    assert advanced == [4] * (len(features) // 4) + [len(features) % 4] * (len(features) % 4 > 0)  # batch by batch
    assert text.splitlines()[-1].startswith("evaluated 6 validation questions in")
    assert len(answers) == 6 and set(metrics) == {"exact_match", "f1"}


def test_eval_only_shows_its_phases_and_writes_every_prediction(tmp_path, capsys, monkeypatch):
    """--eval-only on a file of many questions: its reading, encoding and evaluation show, and its
    predictions file has one line per question, in the file's order."""
    from tinyalbert.task_models import AlbertForQuestionAnswering

    monkeypatch.setattr(progress, "DONE_AFTER_SECONDS", 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AlbertForQuestionAnswering.from_pretrained("tinyalbert-mini")
    model.save_pretrained(tmp_path / "model")
    AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(tmp_path / "model")
    examples = squad_examples(contexts=3, questions_each=4, words=30)
    paragraphs = [{"context": examples[index]["context"],
                   "qas": [{key: e[key] for key in ("id", "question", "answers")} for e in examples[index:index + 4]]}
                  for index in range(0, 12, 4)]
    (tmp_path / "dev.json").write_text(json.dumps({"data": [{"title": "t", "paragraphs": paragraphs}]}))
    status = run_main(["--task", "question-answering", "--model", str(tmp_path / "model"), "--eval-only",
                       "--validation", str(tmp_path / "dev.json"), "--out", str(tmp_path / "out"),
                       "--max-seq-length", "24", "--doc-stride", "6", "--batch-size", "8"])
    assert status == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")]
    dev = tmp_path / "dev.json"
    expected = [f"reading {dev} (", "read 12 questions in", f"encoding 12 questions of {dev}",
                "encoded 12 questions into ", "evaluating on 12 validation questions (", "evaluated 12 validation "
                "questions in", "validation: exact_match"]
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected):
        assert line.startswith(start), (line, start)
    predictions = (tmp_path / "out" / "validation_predictions.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in predictions]
    assert [record["id"] for record in records] == [example["id"] for example in examples]
