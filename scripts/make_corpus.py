"""Build an English pretraining corpus from the WordNet 3.0 database.

    python scripts/make_corpus.py --out /work/corpus/wordnet.txt
    python scripts/make_corpus.py --wordnet-dir /usr/share/wordnet --out corpus.txt

Source: Debian's `wordnet-base` package (`apt-get install wordnet-base`, or `apt-get download
wordnet-base && dpkg -x wordnet-base_*.deb DIR`, then `--wordnet-dir DIR/usr/share/wordnet`).
WordNet 3.0 Copyright 2006 by Princeton University; its licence allows use, copying,
modification and distribution, for any purpose and without fee, provided that the copyright
notice and the licence statements are kept with every copy. The corpus is a derived work: keep
it outside the repository and name WordNet (with `NOTICE`) wherever a model trained on it goes.

Every synset (a set of synonyms with one meaning) gives a few sentences in a fixed order, one
per line; up to four consecutive synsets of one WordNet topic file make a document, and a
blank line separates documents. Paris's synset gives:

    Paris is the capital and largest city of France; and international center of culture and commerce.
    Paris is also called City of Light, French capital or capital of France.
    Paris is a national capital.
    Paris is part of France.

Definitions are rewritten into sentences that state them ("X is ...", "To X is to ...",
"X means ..."), followed by synonyms, the kind of thing it is (hypernym), the whole it
belongs to (holonym), the opposite (antonym, for adjectives and adverbs) and the quoted
example sentences of the gloss. The output depends only on the WordNet files: the same input
gives the same corpus byte for byte.

Every sentence of a synset names it, so a masked name can be read off the next sentence: a
model learns to copy. `--name-once` names it in the first sentence only ("Paris is the capital
and largest city of France; ... It is a national capital.").

`--min-tag-count N` keeps only the synsets in everyday use: those whose words were tagged with
that meaning at least N times in the Semantic Concordance, as counted in WordNet's own
`cntlist.rev` (at N = 1, 27,190 of the 117,659 synsets; the few sense keys of that file that
this WordNet's data files lack, about 4% of the counts, are ignored). Sentences may still name
any synset ("Oak is a kind of tree"); only the documents about rare meanings go.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NamedTuple

NOTICE = "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved."
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")
DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")

_QUOTED = re.compile(r'"([^"]+)"')
_ADJECTIVE_MARKER = re.compile(r"\((a|p|ip)\)$")  # syntactic markers such as "dead-on(a)"


class Synset(NamedTuple):
    offset: str
    lexicographer_file: int  # the topic file the synset was written in (noun.location, verb.motion, ...)
    pos: str  # n, v, a, s (satellite adjective), r
    words: list[str]  # lemmas as written, spaces for underscores
    lexical_ids: list[int]  # per word: which of its meanings in this topic file (part of its sense key)
    pointers: list[tuple[str, str, str, int, int]]  # (symbol, target offset, target pos, source word, target word)
    gloss: str


def _clean_word(word: str) -> str:
    return _ADJECTIVE_MARKER.sub("", word).replace("_", " ")


def parse_data_line(line: str) -> Synset:
    """One line of a `data.POS` file (format in wndb(5WN)) as a Synset."""
    fields_part, _, gloss = line.partition(" | ")
    fields = fields_part.split()
    offset, lexicographer_file, pos = fields[0], int(fields[1]), fields[2]
    word_count = int(fields[3], 16)
    words = [_clean_word(fields[4 + 2 * i]) for i in range(word_count)]
    lexical_ids = [int(fields[5 + 2 * i], 16) for i in range(word_count)]
    index = 4 + 2 * word_count
    pointer_count = int(fields[index])
    index += 1
    pointers = []
    for _ in range(pointer_count):
        symbol, target, target_pos, source_target = fields[index : index + 4]
        pointers.append((symbol, target, target_pos, int(source_target[:2], 16), int(source_target[2:], 16)))
        index += 4
    return Synset(offset, lexicographer_file, pos, words, lexical_ids, pointers, gloss.strip())


def read_synsets(wordnet_dir: Path) -> list[Synset]:
    """Every synset of data.noun, data.verb, data.adj and data.adv, in file order."""
    synsets = []
    for part in PARTS_OF_SPEECH:
        path = wordnet_dir / f"data.{part}"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: is --wordnet-dir the folder with WordNet's data.* files? "
                                    "(Debian and Ubuntu: apt-get install wordnet-base puts them in /usr/share/wordnet)")
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("  "):  # the licence header
                    continue
                synsets.append(parse_data_line(line.rstrip("\n")))
    return synsets


# The synset type digit of a sense key ("paris%1:15:00::" is a noun); s is a satellite adjective.
SENSE_KEY_TYPES = {"n": 1, "v": 2, "a": 3, "r": 4, "s": 5}


def read_tag_counts(wordnet_dir: Path) -> dict[str, int]:
    """How often each word was tagged in each meaning in the Semantic Concordance, from
    `cntlist.rev` (lines "sense_key sense_number count"), by sense key."""
    path = wordnet_dir / "cntlist.rev"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --min-tag-count needs WordNet's cntlist.rev")
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            sense_key, _, count = line.split()
            counts[sense_key] = counts.get(sense_key, 0) + int(count)
    return counts


def _sense_key_lemma(word: str) -> str:
    return word.lower().replace(" ", "_")


def sense_key(synset: Synset, index: int, by_key: dict) -> str:
    """The sense key of the synset's `index`-th word (senseidx(5WN)), "lemma%type:topic:lexical_id:head:head_id";
    head and head_id name the head adjective of a satellite's cluster and are empty for every other synset."""
    head = ""
    if synset.pos == "s":
        for symbol, offset, pos, _, _ in synset.pointers:
            other = by_key.get(_key(pos, offset)) if symbol == "&" else None
            if other is not None and other.pos == "a":
                head = f"{_sense_key_lemma(other.words[0])}:{other.lexical_ids[0]:02d}"
                break
    return (f"{_sense_key_lemma(synset.words[index])}%{SENSE_KEY_TYPES[synset.pos]}:"
            f"{synset.lexicographer_file:02d}:{synset.lexical_ids[index]:02d}:{head or ':'}")


def tag_count(synset: Synset, counts: dict[str, int], by_key: dict) -> int:
    """Tagged uses of all the synset's words in this meaning."""
    return sum(counts.get(sense_key(synset, index, by_key), 0) for index in range(len(synset.words)))


def _key(pos: str, offset: str) -> tuple[str, str]:
    # Satellite adjectives share data.adj (and its offsets) with head adjectives.
    return ("a" if pos == "s" else pos), offset


def split_gloss(gloss: str) -> tuple[str, list[str]]:
    """`'a definition; more of it; "an example"; "another"'` -> (definition, examples)."""
    examples = [example.strip() for example in _QUOTED.findall(gloss) if example.strip()]
    first_quote = gloss.find('"')
    definition = gloss if first_quote < 0 else gloss[:first_quote]
    definition = definition.strip().strip(";").strip()
    return definition, examples


def as_sentence(text: str) -> str:
    """Capitalize the first letter and end with a full stop unless it ends in . ! or ?"""
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _join_alternatives(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# Words spelled with a vowel but spoken with a consonant first ("a European", "a unit").
_CONSONANT_SOUND_STARTS = ("eu", "uni", "use", "usu", "uti", "one", "once", "ur")


def _with_article(noun: str) -> str:
    lower = noun.lower()
    vowel_sound = lower[:1] in "aeiou" and not lower.startswith(_CONSONANT_SOUND_STARTS)
    return ("an " if vowel_sound else "a ") + noun


def synset_sentences(synset: Synset, by_key: dict, name_once: bool = False) -> list[str]:
    """The sentences of one synset's document, in a fixed order (see the module docstring).

    With `name_once`, only the first sentence names the synset ("Tulip is ..."); the later
    ones say "It" ("It is a kind of flower."), so that a masked name cannot be copied from
    the next sentence.
    """
    lemma, synonyms = synset.words[0], synset.words[1:]
    definition, examples = split_gloss(synset.gloss)
    statements = []  # (subject, the rest of the sentence)

    def target(symbol_prefixes: tuple[str, ...]) -> list[str]:
        """First lemma of every synset the pointers starting with one of the prefixes reach."""
        found = []
        for symbol, offset, pos, _, _ in synset.pointers:
            if symbol in symbol_prefixes:
                other = by_key.get(_key(pos, offset))
                if other is not None and other.words[0] not in found:
                    found.append(other.words[0])
        return found

    if synset.pos == "n":
        name = lemma
        if definition:
            statements.append((name, f"is {definition}"))
        if synonyms:
            statements.append((name, f"is also called {_join_alternatives(synonyms)}"))
        for hypernym in target(("@",)):
            statements.append((name, f"is a kind of {hypernym}"))
        for category in target(("@i",)):
            statements.append((name, f"is {_with_article(category)}"))
        for whole in target(("#p",)):
            statements.append((name, f"is part of {whole}"))
        for group in target(("#m",)):
            statements.append((name, f"is a member of {group}"))
    elif synset.pos == "v":
        name = f"to {lemma}"
        if definition:
            statements.append((name, f"is to {definition}"))
        if synonyms:
            statements.append((name, f"means the same as to {_join_alternatives(synonyms)}"))
        for hypernym in target(("@",)):
            statements.append((name, f"is a way to {hypernym}"))
    else:  # adjectives (a, s) and adverbs (r)
        name = lemma
        if definition:
            statements.append((name, f"means {definition}"))
        if synonyms:
            statements.append((name, f"means the same as {_join_alternatives(synonyms)}"))
        for symbol, offset, pos, source, target_word in synset.pointers:
            if symbol == "!" and source and target_word:
                other = by_key.get(_key(pos, offset))
                if other is not None and 0 < target_word <= len(other.words):
                    word = synset.words[source - 1] if source <= len(synset.words) else lemma
                    statements.append((word, f"is the opposite of {other.words[target_word - 1]}"))
    sentences, named = [], False
    for subject, rest in statements:
        says_it = name_once and named and subject == name  # "It" only once the name has been said
        sentences.append(f"{'it' if says_it else subject} {rest}")
        named = named or subject == name
    sentences.extend(examples)
    return [sentence for sentence in (as_sentence(text) for text in sentences) if sentence]


def build_corpus(wordnet_dir: Path, synsets_per_document: int = 4, name_once: bool = False,
                 min_tag_count: int = 0) -> list[list[str]]:
    """Documents (lists of sentences): up to `synsets_per_document` consecutive synsets of one
    lexicographer file each, so that a document is long enough for a 128-token example and
    its synsets are on one topic (WordNet files keep related synsets next to each other).
    With `min_tag_count`, only the synsets tagged at least that often (`tag_count`)."""
    synsets = read_synsets(wordnet_dir)
    by_key = {_key(synset.pos, synset.offset): synset for synset in synsets}  # every synset: pointers reach rare ones
    if min_tag_count > 0:
        counts = read_tag_counts(wordnet_dir)
        synsets = [synset for synset in synsets if tag_count(synset, counts, by_key) >= min_tag_count]
    documents: list[list[str]] = []
    group: tuple | None = None
    count = 0
    for synset in synsets:
        sentences = synset_sentences(synset, by_key, name_once)
        if not sentences:
            continue
        this_group = (_key(synset.pos, "")[0], synset.lexicographer_file)
        if this_group != group or count == synsets_per_document:
            documents.append([])
            group, count = this_group, 0
        documents[-1].extend(sentences)
        count += 1
    return documents


def write_corpus(documents: list[list[str]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write("\n\n".join("\n".join(document) for document in documents) + "\n")
    temporary.replace(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet-dir", type=Path, default=DEFAULT_WORDNET_DIR,
                        help="folder holding data.noun, data.verb, data.adj, data.adv (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="the corpus file to write (outside the repository)")
    parser.add_argument("--synsets-per-document", type=int, default=4, metavar="N",
                        help="consecutive synsets of one topic file per document (default: %(default)s)")
    parser.add_argument("--name-once", action="store_true",
                        help="name a synset only in its first sentence and say 'It' in the later ones, so that "
                        "a masked name is not there to copy in the next sentence")
    parser.add_argument("--min-tag-count", type=int, default=0, metavar="N",
                        help="keep only the synsets whose words were tagged in that meaning at least N times in "
                        "WordNet's cntlist.rev: the meanings in everyday use (default: %(default)s, every synset)")
    args = parser.parse_args(argv)
    if args.min_tag_count < 0:
        parser.error(f"--min-tag-count must be 0 or more, got {args.min_tag_count}")
    try:
        documents = build_corpus(args.wordnet_dir, args.synsets_per_document, args.name_once, args.min_tag_count)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_corpus(documents, args.out)
    sentences = sum(len(document) for document in documents)
    words = sum(len(sentence.split()) for document in documents for sentence in document)
    print(f"wrote {args.out}: {len(documents)} documents, {sentences} sentences, {words} words ({NOTICE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
