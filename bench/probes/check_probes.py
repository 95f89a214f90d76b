"""Validate the WordNet fill-in-the-blank probes (wordnet_probes.tsv).

Each probe is one English sentence with exactly one [MASK] and 1-3 accepted
fills. The rules checked here:

* Format: a tab-separated file whose header is ``id category text answers note``;
  every row has those five columns, a unique id and a unique text; the
  category is one of CATEGORIES, and no category holds more than 35% of the set.
* The text contains exactly one ``[MASK]``.
* ``answers`` holds 1-3 distinct lower-case words separated by ``|``. Each is a
  content word (not in STOP_WORDS) and a single whole-word piece of the
  tinyalbert-mini vocabulary: ``tokenize(" " + word)`` gives exactly one piece
  that starts with "▁". A multi-piece answer cannot be scored as one
  masked-token prediction, so it is not allowed.

With ``--corpus PATH`` (one sentence per line, e.g. corpus/wordnet.txt) two more
things are computed:

* Held out (an error if violated): for every accepted answer, the probe with
  the answer filled in, normalized (lower case, punctuation turned into spaces,
  the articles a/an/the dropped, spaces collapsed), must not be a substring of
  any normalized corpus line. The probes test knowledge, not recall of a
  training sentence.
* Supported (reported only): a probe counts as supported when some corpus line
  contains, as whole words, both one of its answers and its subject word. The
  subject is a deliberately crude choice: the longest word of the text that is
  not a stop word, not a template word (FRAME_WORDS, e.g. "opposite",
  "capital"), and not one of the answers; ties go to the earlier word. It is a
  rough measure of how many facts the corpus states somewhere, nothing more.

Usage: python bench/probes/check_probes.py [--probes FILE] [--corpus PATH]
Exits 0 when every check passes, 1 otherwise.
"""

import argparse
import collections
import os
import re
import sys

HEADER = ["id", "category", "text", "answers", "note"]
CATEGORIES = ["hypernym", "definition", "synonym", "antonym", "part", "geography", "other"]
MAX_CATEGORY_SHARE = 0.35
MASK = "[MASK]"
DEFAULT_PROBES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wordnet_probes.tsv")

# Function words: never an accepted answer, never a subject word.
STOP_WORDS = set("""
a an the this that these those some any each every no all both either neither
of in on at to for from by with without about into onto over under above below
between among through during before after against around across along behind
beyond near off out up down upon via than as like
and or but nor so yet if then because while when where whether though although
is are was were be been being am do does did done has have had having
will would shall should can could may might must
i me my mine you your yours he him his she her hers it its we us our ours
they them their theirs who whom whose which what there here
not very too also just only more most less least much many such own same other
one another its
""".split())

# Words of the probe templates; they carry no subject ("The opposite of hot
# is [MASK]." is about "hot", not "opposite").
FRAME_WORDS = set("""
opposite kind type sort part word name called known means mean meaning
capital country city famous something someone person place
""".split())

WORD_RE = re.compile(r"[a-z0-9]+")


def normalize(text):
    """Lower case, punctuation to spaces, articles dropped, spaces collapsed."""
    words = WORD_RE.findall(text.lower())
    return " ".join(w for w in words if w not in ("a", "an", "the"))


def subject_word(text, answers):
    """Longest non-stop, non-template word of the text other than the answers."""
    best = ""
    for word in WORD_RE.findall(text.replace(MASK, " ").lower()):
        if word in STOP_WORDS or word in FRAME_WORDS or word in answers or word.isdigit():
            continue
        if len(word) > len(best):
            best = word
    return best


def read_probes(path, errors):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or lines[0].split("\t") != HEADER:
        errors.append(f"header must be: {' '.join(HEADER)} (tab-separated)")
        return []
    probes = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != len(HEADER):
            errors.append(f"line {lineno}: {len(cols)} columns, expected {len(HEADER)}")
            continue
        probe = dict(zip(HEADER, cols))
        probe["line"] = lineno
        probe["answer_list"] = probe["answers"].split("|")
        probes.append(probe)
    return probes


def check_format(probes, tokenizer, errors):
    ids, texts = set(), set()
    for p in probes:
        where = f"line {p['line']} ({p['id']})"
        if not p["id"] or p["id"] in ids:
            errors.append(f"{where}: empty or duplicate id")
        ids.add(p["id"])
        if p["text"] in texts:
            errors.append(f"{where}: duplicate text")
        texts.add(p["text"])
        if p["category"] not in CATEGORIES:
            errors.append(f"{where}: unknown category {p['category']!r}")
        if p["text"].count(MASK) != 1:
            errors.append(f"{where}: text must contain exactly one {MASK}")
        answers = p["answer_list"]
        if not 1 <= len(answers) <= 3 or len(set(answers)) != len(answers):
            errors.append(f"{where}: need 1-3 distinct answers, got {p['answers']!r}")
        for a in answers:
            if a != a.lower() or not a.isalpha():
                errors.append(f"{where}: answer {a!r} must be a lower-case word")
            elif a in STOP_WORDS:
                errors.append(f"{where}: answer {a!r} is a function word")
            else:
                pieces = tokenizer.tokenize(" " + a)
                if len(pieces) != 1 or not pieces[0].startswith("▁") or pieces[0] == "▁":
                    errors.append(f"{where}: answer {a!r} is not one vocabulary word: {pieces}")
    counts = collections.Counter(p["category"] for p in probes)
    for cat, n in counts.items():
        if probes and n / len(probes) > MAX_CATEGORY_SHARE:
            errors.append(f"category {cat!r} holds {n}/{len(probes)} probes (> {MAX_CATEGORY_SHARE:.0%})")
    return counts


def check_corpus(probes, corpus_path, errors):
    """Return (held-out violations, supported count) against the corpus."""
    # Words whose corpus lines we need for the "supported" count; indexing
    # only these keeps one pass over the corpus cheap.
    subjects = {p["id"]: subject_word(p["text"], p["answer_list"]) for p in probes}
    wanted = set(subjects.values()) | {a for p in probes for a in p["answer_list"]}
    lines_with = collections.defaultdict(set)
    normalized = []
    with open(corpus_path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            line = line.strip()
            if not line:
                continue
            norm = normalize(line)
            normalized.append(norm)
            for w in wanted.intersection(norm.split()):
                lines_with[w].add(i)
    # A filled probe never contains a newline, so a substring search of the
    # joined text finds exactly the substrings of single lines.
    joined = "\n".join(normalized)
    violations = 0
    for p in probes:
        for a in p["answer_list"]:
            filled = normalize(p["text"].replace(MASK, a))
            pos = joined.find(filled)
            if pos >= 0:
                start = joined.rfind("\n", 0, pos) + 1
                end = joined.find("\n", pos)
                corpus_line = joined[start:end if end >= 0 else None]
                errors.append(f"line {p['line']} ({p['id']}): not held out, {filled!r} is in corpus line {corpus_line!r}")
                violations += 1
    supported = 0
    for p in probes:
        subj_lines = lines_with.get(subjects[p["id"]], set())
        if any(subj_lines & lines_with.get(a, set()) for a in p["answer_list"]):
            supported += 1
    return violations, supported


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", default=DEFAULT_PROBES, help="probe TSV (default: wordnet_probes.tsv next to this script)")
    parser.add_argument("--corpus", help="corpus text, one sentence per line; enables the held-out and supported checks")
    args = parser.parse_args()

    from tinyalbert import AlbertTokenizer

    tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
    errors = []
    probes = read_probes(args.probes, errors)
    counts = check_format(probes, tokenizer, errors)

    print(f"probes: {len(probes)}")
    for cat in CATEGORIES:
        print(f"  {cat:<11} {counts.get(cat, 0):4d}")
    if args.corpus:
        violations, supported = check_corpus(probes, args.corpus, errors)
        print(f"held-out violations: {violations}")
        print(f"supported by the corpus (answer and subject in one sentence): {supported}/{len(probes)}")
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
