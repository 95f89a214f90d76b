"""Raw text to documents: a corpus is a list of documents, a document a list of sentences.

`read_documents` reads a text file (or a directory of them): blank lines separate documents,
every other line is a sentence or a paragraph, split with a few fixed rules
(`split_sentences`). `encode_documents` turns the sentence strings into token ids.
"""
from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

# brackets) when whitespace and then a capital letter or an opening quote come next.
_SENTENCE_END = re.compile(r"""([.!?]+["'\u201d\u2019)\]]*)\s+(?=["'\u201c\u2018(\[]?[A-Z])""")
# Titles written with a period that almost never end a sentence in English prose.
_ABBREVIATIONS = frozenset({"Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "vs"})
_LAST_WORD_BEFORE_PERIOD = re.compile(r"""(\w+)\.$""")


def _ends_with_abbreviation(text: str) -> bool:
    """True if `text` ends with a title ("Dr.") or an initial ("J.") rather than a sentence."""
    match = _LAST_WORD_BEFORE_PERIOD.search(text)
    if match is None:
        return False
    word = match.group(1)
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isupper())


def split_sentences(text: str) -> list[str]:
    """Split English text into sentences with a few fixed rules.

    A boundary is '.', '!' or '?' (and any closing quotes/brackets after it) followed by
    whitespace and a capital letter or an opening quote. A period after a common title
    (Mr, Mrs, Ms, Dr, Prof, Sr, Jr, St, vs) or after a single capital letter (an initial) is
    not a boundary. Whitespace runs, newlines included, become single spaces.

    >>> split_sentences('It rained. "Stay in," said Dr. Lee! Why? no idea.')
    ['It rained.', '"Stay in," said Dr. Lee!', 'Why? no idea.']
    """
    text = " ".join(text.split())
    sentences = []
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        candidate = text[start : boundary.end(1)]
        if _ends_with_abbreviation(candidate):
            continue
        sentences.append(candidate)
        start = boundary.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def read_documents(path_or_dir: str | Path) -> list[list[str]]:
    """Read a text corpus into documents, each a list of sentences.

    `path_or_dir` is one text file or a directory whose `*.txt` files (searched recursively,
    read in sorted order) make the corpus; hidden ones (a name, or a folder on the way, that
    starts with '.') are left out, see `corpus_files`. In a file, blank lines separate
    documents and every other line is a sentence or a paragraph, split further with
    `split_sentences`. The end of a file ends a document too.
    """
    documents = []
    for file in corpus_files(path_or_dir):
        document: list[str] = []
        for line in text_lines(read_utf8(file)):
            if line.strip():
                document.extend(split_sentences(line))
            elif document:
                documents.append(document)
                document = []
        if document:
            documents.append(document)
    return documents


def corpus_files(path_or_dir: str | Path) -> list[Path]:
    """The files a corpus path names: the file itself, or a directory's `*.txt` files, searched
    recursively, in sorted order.

    Hidden files and folders (`.ipynb_checkpoints/`, an editor's `.notes.txt`) are left out, as
    `datasets` leaves them out: they hold stale copies and scratch text, and a stale copy would
    put its documents into training twice, or one of them into the held-out set as well.
    """
    path = Path(path_or_dir)
    if not path.exists():
        raise FileNotFoundError(f"corpus path {str(path)!r} does not exist")
    if not path.is_dir():
        return [path]
    files = sorted(file for file in path.rglob("*.txt") if file.is_file()
                   and not any(part.startswith(".") for part in file.relative_to(path).parts))
    if not files:
        raise FileNotFoundError(f"corpus directory {str(path)!r} has no .txt files (hidden ones are left out)")
    return files


def text_lines(text: str) -> list[str]:
    r"""The lines of `text`, ended by "\n", "\r\n" or "\r" only.

    Not `str.splitlines`, which also ends a line at a form feed, at U+2028 and at a few control
    characters: the form feed that `pdftotext` puts at every page break would then end the line
    before it and leave a blank line, that is, a document boundary at every page. Here they are
    whitespace inside a line (see `split_sentences`), and a line of nothing else is blank.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def read_utf8(file: Path, what: str = "corpus file", otherwise: str = " or leave it out of the corpus") -> str:
    """The text of `file`; ValueError naming the file (as `what`), line and byte when it is not
    UTF-8, and what to do (`otherwise`: a choice beside converting it)."""
    data = Path(file).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(f"{what} {file} is not UTF-8 text: byte {data[error.start]:#04x} on line {line} "
                         f"({error.reason}); convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                         f"{otherwise}") from None


def encode_documents(
    documents: Sequence[Sequence[str]], encode_batch: Callable[[list[str]], Sequence[Sequence[int]]]
) -> list[list[list[int]]]:
    """Turn documents of sentence strings into documents of token-id lists.

    `encode_batch` maps a list of sentences to their ids in one call (a tokenizer is much
    faster on a batch than sentence by sentence). Sentences that encode to nothing and
    documents left empty are dropped.
    """
    sentences = [sentence for document in documents for sentence in document]
    ids = encode_batch(sentences) if sentences else []
    encoded, start = [], 0
    for document in documents:
        sentence_ids = [list(s) for s in ids[start : start + len(document)] if len(s)]
        start += len(document)
        if sentence_ids:
            encoded.append(sentence_ids)
    return encoded


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off within the block, and back as it was after it.

    Encoding a corpus (or a fine-tuning file) and building its examples make millions of lists
    and tuples that all stay alive and hold no reference cycles for the collector to free. Left
    on, it runs after every 700 new ones and walks those made so far again and again: on a
    12.9 MB corpus (234,000 sentences), encoding took 2.7 s with it and 1.7 s without, and
    building the examples 1.5 s and 1.2 s; encoding 40,000 SQuAD questions 22.1 s and 4.1 s. The
    peak memory grew by 5% at most: memory is still freed by reference counting. Reading a corpus
    (strings, which the collector does not track) gains nothing, so it runs with the collector on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
