"""How many of a corpus's words each vocabulary size keeps whole, as one SentencePiece piece.

    python bench/vocab_coverage.py --corpus corpus/wordnet.txt --sizes 16000 32000 \
        --model tinyalbert/data/tinyalbert-mini/spiece.model

A fill-mask model predicts one piece per [MASK], so a word it should answer must be a single
piece of its vocabulary: a probe answer that splits ("clouds" -> "▁cloud", "s") cannot be
asked. For every size in `--sizes` this trains a vocabulary on the corpus with the trainer's
flags (`train_sentencepiece`, seed 0); `--model` adds existing ones. It prints, for each, the
share of the corpus's word occurrences that are one piece, and the share of its most frequent
content words (`memorize.is_content_word`, as in the probes' content-word baseline) that are.
"""
from __future__ import annotations

import argparse
import re
import tempfile
from collections import Counter
from pathlib import Path

from memorize import is_content_word

_WORD = re.compile(r"[a-z]+")
TOP_CONTENT = (500, 2000, 5000)


def word_counts(corpus: Path) -> Counter:
    """Lower-cased alphabetic words of the corpus and how often each occurs."""
    with open(corpus, encoding="utf-8") as lines:
        return Counter(word for line in lines for word in _WORD.findall(line.lower()))


def content_words(counts: Counter) -> list[str]:
    """The content words, most frequent first (ties in first-seen order)."""
    return [word for word, _ in counts.most_common() if is_content_word(word)]


def coverage(is_whole: dict, counts: Counter, top: tuple[int, ...] = TOP_CONTENT) -> dict:
    """{"occurrences": share of word occurrences kept whole, top_n: share of the n most frequent
    content words kept whole}. `is_whole` maps each word of `counts` to a bool."""
    result = {"occurrences": sum(count for word, count in counts.items() if is_whole[word]) / sum(counts.values())}
    ranked = content_words(counts)
    for n in top:
        head = ranked[:n]
        result[n] = sum(is_whole[word] for word in head) / len(head) if head else 0.0
    return result


def whole_words(model_file: Path, words) -> dict:
    """{word: True when " word" is one piece of the SentencePiece model}."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    return {word: len(processor.encode(" " + word, out_type=str)) == 1 for word in words}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the text to count words in and train on")
    parser.add_argument("--sizes", type=int, nargs="*", default=[], help="vocabulary sizes to train and measure")
    parser.add_argument("--model", type=Path, nargs="*", default=[], help="existing spiece.model files to measure")
    args = parser.parse_args(argv)
    if not args.sizes and not args.model:
        parser.error("nothing to measure: give --sizes, --model or both")
    for path in [args.corpus, *args.model]:
        if not path.is_file():
            parser.error(f"{path} is not a file")
    from tinyalbert.tokenizer.training import train_sentencepiece

    counts = word_counts(args.corpus)
    models = [(str(path), path) for path in args.model]
    with tempfile.TemporaryDirectory() as work:
        for size in args.sizes:
            trained = train_sentencepiece(args.corpus, Path(work) / f"sp{size}", size, seed=0, num_threads=1)
            models.append((f"{size} pieces, trained here", trained))
        header = f"{'vocabulary':<48} {'occurrences':>11}" + "".join(f" {f'top {n}':>9}" for n in TOP_CONTENT)
        print(header + "   (share kept whole: word occurrences, most frequent content words)")
        for name, path in models:
            shares = coverage(whole_words(path, counts), counts)
            print(f"{name:<48} {shares['occurrences']:>11.1%}" + "".join(f" {shares[n]:>9.1%}" for n in TOP_CONTENT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
