"""Everything a run builds before its first step: tokenizer, examples, model, optimizer, batches.

Each phase whose time grows with the corpus (reading it, training a vocabulary, encoding,
building the examples) says so on the run's stream as it starts, see `tinyalbert.train.progress`.

The model starts from random weights, except for the MLM output bias (`predictions.bias`):
with `output_bias_init="log-frequency"` it starts at the log frequency of each piece among
the training text's maskable tokens, so that the untrained model already predicts the word
frequencies. Learning them is the first thing an MLM does; when the bias does it at once,
the body is not pushed to map every position to the same vector to express them (the
collapse measured by `final_layer_cosine`).
"""
from __future__ import annotations

import hashlib
import re
import shutil
import warnings
from pathlib import Path
from typing import Callable, NamedTuple, Sequence, TextIO

import numpy as np

from ..backend import asarray, get_backend
from ..models import AlbertForPreTraining
from .arguments import TrainingArguments, check_resumable, resolve_config, saved_arguments
from .checkpoints import CHECKPOINT_DIR, STATE_FILE, TOKENIZER_DIR, checkpoint_dir, load_checkpoint, read_trainer_state
from .data import BatchIterator, PretrainingExample, Remasking, create_pretraining_examples, pack_documents
from .masking import Masking, SpecialIds, word_start_ids_from_pieces
from .metrics import common_pieces
from .optim import LAMB, AdamW
from .progress import Phase, format_bytes
from .text import collector_paused, corpus_files, encode_documents, read_documents

# Shares of the corpus's tokens that are <unk>, the piece for a word the tokenizer cannot spell
# (another script, say). From the first the run goes on with a warning; at the second it stops.
# Each unknown word becomes two tokens, a bare word start "▁" and <unk>, so a text wholly in a
# script the tokenizer lacks is 50% <unk> (and the MLM accuracy on it 1.0: both are easy to
# guess); at 25%, half the tokens are unknown words and their "▁", and the loss and accuracy
# say more about the tokenizer than about what the model learns.
UNKNOWN_SHARE_WARNED = 0.01
UNKNOWN_SHARE_REFUSED = 0.25
# Share of the training text's tokens that lie beyond --max-seq-length - 3 in sentences longer than
# that, from which the run goes on with a warning. Such a sentence makes one example, trimmed to
# fit (as in the original recipe), so the rest of it is never seen: a paragraph line that
# `split_sentences` cannot cut (lower-case text, no full stops) loses most of itself, silently.
OVERLONG_SHARE_WARNED = 0.2
# SentencePiece's trainer, asked for fewer pieces than the characters of the text (plus the
# special pieces) need: "... required_chars. 8 vs 35" where 35 is the least it accepts.
_TOO_FEW_PIECES = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")
# Sentences per tokenizer call when encoding a corpus: a call per chunk lets a bar count them
# (with the garbage collector paused, see `collector_paused`, it is no slower than one call on
# everything: 1.8 s against 2.0 s for the 234,000 sentences of a 12.9 MB corpus).
ENCODE_CHUNK_SENTENCES = 500
NO_TOKENIZER = ("give a tokenizer (--tokenizer DIR_OR_spiece.model) or a vocabulary size to train one "
                "(--vocab-size N)")


def corpus_fingerprint(documents: Sequence[Sequence[str]]) -> str:
    """A short hash of the documents' text, to recognise the corpus a checkpoint was trained on."""
    digest = hashlib.sha256()
    for document in documents:
        digest.update("\n".join(document).encode("utf-8") + b"\n\n")
    return digest.hexdigest()[:16]


def corpus_bytes(corpus) -> int:
    """The size of the corpus's files, in bytes (FileNotFoundError names a missing corpus)."""
    return sum(file.stat().st_size for file in corpus_files(corpus))


def prepare_tokenizer(args: TrainingArguments, documents, out: Path, model_max_length: int, *,
                      corpus_size: int, follower: bool = False, stream: TextIO | None = None):
    """The run's tokenizer, saved into OUT/tokenizer: the one already there (a resumed run, or a
    `follower` process of a data-parallel job, which reads what the first process wrote), the one
    given with `tokenizer`, or a new SentencePiece model of `vocab_size` pieces, trained on
    `documents` (the text of `args.corpus`, `corpus_size` bytes of files) as a phase written to
    `stream`."""
    from ..tokenizer import AlbertTokenizer, train_sentencepiece

    saved = out / TOKENIZER_DIR
    if (args.resume or follower) and (saved / "spiece.model").is_file():
        return AlbertTokenizer.from_pretrained(saved)
    if args.tokenizer is not None or args.init_from is not None:
        option, spec = ("--tokenizer", args.tokenizer) if args.tokenizer is not None \
            else ("--init-from", args.init_from)
        check_tokenizer_files(spec, option)
        tokenizer = AlbertTokenizer.from_pretrained(spec)
    elif args.vocab_size is not None:
        # hard_vocab_limit=False: a small corpus may support fewer pieces than asked for.
        sentences = (sentence for document in documents for sentence in document)
        size = format_bytes(corpus_size)
        with Phase(stream, f"training a vocabulary of {args.vocab_size:,} pieces on {size} of text") as phase:
            try:
                model_file = train_sentencepiece(sentences, saved / "spiece", args.vocab_size, seed=args.seed,
                                                 hard_vocab_limit=False)
            except RuntimeError as error:  # SentencePiece's own errors, as RuntimeError
                raise ValueError(vocabulary_training_failure(str(error), args.vocab_size)) from None
            tokenizer = AlbertTokenizer(model_file)
            phase.outcome = f"trained a vocabulary of {len(tokenizer):,} pieces"
    else:
        raise ValueError(NO_TOKENIZER)
    tokenizer.model_max_length = model_max_length
    tokenizer.save_pretrained(saved)
    return AlbertTokenizer.from_pretrained(saved)


def vocabulary_training_failure(message: str, vocab_size: int) -> str:
    """SentencePiece's error when training a vocabulary, said in terms of --vocab-size."""
    too_few = _TOO_FEW_PIECES.search(message)
    if too_few:
        least = too_few.group(2)
        return (f"--vocab-size {vocab_size} is too small for this corpus: its characters and the special pieces "
                f"need {least} pieces; give --vocab-size {least} or more")
    return f"training a vocabulary of --vocab-size {vocab_size} pieces failed: {message.strip().splitlines()[-1]}"


def check_tokenizer_files(spec: str, option: str) -> None:
    """Refuse a local tokenizer directory whose spiece.model is missing or not a file, naming the
    option it came from (the tokenizer's loader would only say that it "has no spiece.model")."""
    directory = Path(spec)
    if not directory.is_dir():
        return  # a spiece.model file, or a name for the hub to find
    vocabulary = directory / "spiece.model"
    if vocabulary.is_dir():
        raise ValueError(f"{option} {spec}: {vocabulary} is a directory, not a SentencePiece model file")
    if not vocabulary.exists():
        raise FileNotFoundError(f"{option} {spec}: the directory has no spiece.model, the one file a tokenizer needs")


def unknown_share(counts: np.ndarray, unk_id: int) -> float:
    """The share of the text's tokens that are <unk>, from `target_counts`."""
    total = counts.sum()
    return float(counts[unk_id] / total) if total else 0.0


def check_unknown_share(share: float, source: str) -> str | None:
    """Refuse a corpus that is mostly <unk> to the tokenizer (see UNKNOWN_SHARE_REFUSED); a
    warning to show when a noticeable share is, else None. `source` says where the tokenizer came from."""
    if share >= UNKNOWN_SHARE_REFUSED:
        raise ValueError(f"{share:.0%} of the corpus's tokens are <unk>: the tokenizer {source} cannot spell this "
                         "text, so the model would learn to predict <unk> and its accuracy would mean nothing; "
                         "train a vocabulary on the corpus with --vocab-size N instead")
    if share >= UNKNOWN_SHARE_WARNED:
        return (f"{share:.1%} of the corpus's tokens are <unk> (text the tokenizer {source} cannot spell), "
                "which the model cannot read; a vocabulary trained on the corpus (--vocab-size N) has fewer")
    return None


def special_ids_of(tokenizer) -> SpecialIds:
    return SpecialIds(cls=tokenizer.cls_token_id, sep=tokenizer.sep_token_id, mask=tokenizer.mask_token_id,
                      pad=tokenizer.pad_token_id)


def split_documents(documents: list, heldout_fraction: float, rng: np.random.Generator) -> tuple[list, list]:
    """(training, held-out) documents: a random `heldout_fraction` of them (at least one when
    the fraction is not 0) is kept out of training for `evaluate`."""
    num_heldout = 0 if heldout_fraction == 0 else max(1, round(len(documents) * heldout_fraction))
    if num_heldout >= len(documents):
        count = f"{len(documents)} document" + ("s" if len(documents) != 1 else "")
        raise ValueError(f"the corpus has {count}: too few to hold {num_heldout} out for evaluation and train on "
                         "the rest (add documents, separated by blank lines, or lower --heldout-fraction; "
                         "0 evaluates nothing)")
    heldout = set(rng.permutation(len(documents))[:num_heldout].tolist())
    training = [document for index, document in enumerate(documents) if index not in heldout]
    held = [document for index, document in enumerate(documents) if index in heldout]
    return training, held


def encode_corpus(documents: Sequence[Sequence[str]], tokenizer, phase: Phase | None = None) -> list[list[list[int]]]:
    """Sentence strings -> token ids, in batched tokenizer calls of ENCODE_CHUNK_SENTENCES
    sentences, each counted into `phase`'s bar. The tokenizer encodes each sentence of a batch on
    its own, so the ids are those of one call on all of them."""
    def encode_batch(sentences):
        ids = []
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*model_max_length.*")  # long sentences get cut into pairs
            for start in range(0, len(sentences), ENCODE_CHUNK_SENTENCES):
                chunk = sentences[start : start + ENCODE_CHUNK_SENTENCES]
                ids.extend(tokenizer(chunk, add_special_tokens=False, return_attention_mask=False,
                                     return_token_type_ids=False)["input_ids"])
                if phase is not None:
                    phase.advance(len(chunk))
        return ids

    return encode_documents(documents, encode_batch)


def masking_of(tokenizer, args: TrainingArguments) -> Masking:
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return Masking(args.masked_lm_prob, args.max_predictions_per_seq, 3, word_start_ids_from_pieces(pieces))


def build_examples(encoded, tokenizer, args: TrainingArguments, rng: np.random.Generator, *,
                   masked: bool = True, on_document: Callable[[int], None] | None = None) -> list[PretrainingExample]:
    """Sentence-order examples (see `tinyalbert.train.data`) from documents of token ids;
    unmasked with `masked=False`, for masks drawn anew every epoch. `on_document(num_sentences)`
    after each document of each pass (`args.dupe_factor` of them), e.g. a phase's `advance`."""
    if args.pack_documents:
        encoded = pack_documents(encoded, args.max_seq_length - 3)
    masking = masking_of(tokenizer, args)
    return create_pretraining_examples(
        encoded, special_ids_of(tokenizer), len(tokenizer), rng, max_seq_length=args.max_seq_length,
        max_predictions_per_seq=args.max_predictions_per_seq, masked_lm_prob=args.masked_lm_prob if masked else 0.0,
        short_seq_prob=args.short_seq_prob, dupe_factor=args.dupe_factor, word_start_ids=masking.is_word_start,
        on_document=on_document,
    )


def target_counts(encoded, vocab_size: int, special_ids: SpecialIds) -> np.ndarray:
    """How often each piece occurs among the maskable tokens of documents of ids (vocab,)."""
    ids = [token for document in encoded for sentence in document for token in sentence]
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocab_size)[:vocab_size]
    counts[list(special_ids)] = 0
    return counts


def log_frequency_bias(counts: np.ndarray) -> np.ndarray:
    """log p(piece) with add-one smoothing (vocab,): the MLM output bias that predicts the
    piece frequencies before the body has learnt anything."""
    return np.log((counts + 1.0) / (counts.sum() + len(counts)))


def _generators(seed: int) -> dict:
    """Independent random streams, one per use, so that e.g. a new held-out split leaves
    the masking and the batch order of the other streams unchanged."""
    names = ("heldout_split", "train_examples", "heldout_examples", "batch_order", "dropout")
    return dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names)))))


def arguments_of_run(out) -> TrainingArguments:
    """The arguments the run in `out` was made with, read from its checkpoint (an argument added
    since then takes the value that reproduces the run, see `saved_arguments`)."""
    directory = checkpoint_dir(Path(out))
    if directory is None:
        raise FileNotFoundError(f"{out} has no checkpoint to read the run's arguments from")
    return TrainingArguments(**saved_arguments(read_trainer_state(directory)))


def _rebuilt_run(out) -> tuple:
    """The arguments, tokenizer, random streams and documents of the run in `out`, from its checkpoint."""
    from ..tokenizer import AlbertTokenizer

    args = arguments_of_run(out)
    rngs = _generators(args.seed)
    documents = split_documents(read_documents(args.corpus), args.heldout_fraction, rngs["heldout_split"])
    return args, AlbertTokenizer.from_pretrained(Path(out) / TOKENIZER_DIR), rngs, documents


def heldout_examples_of_run(out) -> list[PretrainingExample]:
    """The held-out examples of the run in `out`, rebuilt from its checkpoint's arguments (the
    same documents, masks and order that `train` evaluated on), to evaluate other models on them."""
    args, tokenizer, rngs, (_, heldout_documents) = _rebuilt_run(out)
    return build_examples(encode_corpus(heldout_documents, tokenizer), tokenizer, args, rngs["heldout_examples"])


def training_examples_of_run(out) -> list[PretrainingExample]:
    """The training examples of the run in `out`, rebuilt like `heldout_examples_of_run`: the same
    segment pairs and cuts the model saw, with the fixed masks of a `static` run, and unmasked
    (labels all -100) for a `dynamic` one, whose masks were drawn anew at every step."""
    args, tokenizer, rngs, (train_documents, _) = _rebuilt_run(out)
    return build_examples(encode_corpus(train_documents, tokenizer), tokenizer, args, rngs["train_examples"],
                          masked=args.masking == "static")


class PreparedRun(NamedTuple):
    """Everything `train` builds before the first step."""

    tokenizer: object
    model: AlbertForPreTraining
    optimizer: object
    iterator: object  # BatchIterator over the training examples
    heldout_examples: list
    common: np.ndarray  # (vocab,) bool: the most frequent target pieces, see `metrics`
    corpus_fingerprint: str
    saved_state: dict | None  # the checkpoint's trainer state when resuming (already loaded into the above)
    warnings: tuple = ()  # what the user should know about the data before the steps, one sentence each


def check_out_dir(args: TrainingArguments, out: Path) -> None:
    """Refuse an --out that is a file, cannot be written, or does not fit --resume."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory")
    if args.resume:
        if checkpoint_dir(out) is None:
            raise FileNotFoundError(f"nothing to resume: {out / CHECKPOINT_DIR} has no {STATE_FILE}")
    elif checkpoint_dir(out) is not None:
        raise ValueError(f"{out} already holds a checkpoint: pass --resume to continue it, or choose another --out")
    existed = out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ".write-test").touch()
        (out / ".write-test").unlink()
    except OSError as error:
        if not existed and out.is_dir():
            shutil.rmtree(out, ignore_errors=True)
        raise ValueError(f"cannot write into --out {out}: {error.strerror or error}") from None


class Corpus(NamedTuple):
    """The text of --corpus, read."""

    documents: list  # of documents, each a list of sentence strings
    size: int  # bytes of its files, for the phase lines


def _read_corpus(args: TrainingArguments, stream: TextIO | None = None) -> Corpus:
    size = corpus_bytes(args.corpus)  # FileNotFoundError names a missing corpus
    with Phase(stream, f"reading the corpus {args.corpus} ({format_bytes(size)})") as phase:
        documents = read_documents(args.corpus)
        phase.outcome = f"read {len(documents):,} documents ({count_sentences(documents):,} sentences)"
    if not documents:
        raise ValueError(f"the corpus {args.corpus} holds no text")
    return Corpus(documents, size)


def count_sentences(documents) -> int:
    return sum(len(document) for document in documents)


def count_tokens(encoded) -> int:
    return sum(len(sentence) for document in encoded for sentence in document)


def _fit_config_to(config, tokenizer):
    config.vocab_size = len(tokenizer)
    config.pad_token_id, config.bos_token_id, config.eos_token_id = (
        tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id)
    config.validate()
    return config


def _model_config(args: TrainingArguments, out: Path):
    """The model's shape: a resumed run's own (its checkpoint's config.json, so that the model an
    `init_from` run started from need not exist any more), else `init_from`'s, else `config`."""
    from ..hub import resolve_model_dir

    if args.resume:
        return resolve_config(str(checkpoint_dir(out)))
    if args.init_from is not None:
        return resolve_config(str(resolve_model_dir(args.init_from)))
    return resolve_config(args.config)


def _initial_model(args: TrainingArguments, config, tokenizer, counts: np.ndarray) -> AlbertForPreTraining:
    """A new model from `config` (its MLM output bias as `output_bias_init` says), or the
    pretrained weights of `init_from` (continued pretraining: nothing is re-initialized).
    A resumed run's weights are replaced by its checkpoint's, so it does not load `init_from`."""
    if args.init_from is not None and not args.resume:
        model = AlbertForPreTraining.from_pretrained(args.init_from, backend=args.backend, **_two_way_sop(args.init_from))
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(f"the model {args.init_from!r} has {model.config.vocab_size} word embeddings but the "
                             f"tokenizer {len(tokenizer)} pieces: give the model's own tokenizer")
        return model
    model = AlbertForPreTraining(_fit_config_to(config, tokenizer), backend=args.backend, seed=args.seed)
    if args.output_bias_init == "log-frequency":
        model.params["predictions.bias"] = asarray(model.xp, log_frequency_bias(counts), dtype=model.dtype)
    return model


def _two_way_sop(init_from) -> dict:
    """The loading options for a model made with another number of labels than 2 (a classifier
    fine-tuned for 3, or an AlbertForPreTraining saved with num_labels=3): num_labels 2, since the
    sentence-order head is in order / swapped and one sized otherwise would not fit the loss, and
    ignore_mismatched_sizes, since a saved sentence-order head of another size is trained afresh
    (the other tensors fit: they do not depend on the labels)."""
    from ..config import AlbertConfig

    labels = AlbertConfig.from_pretrained(init_from).num_labels
    if labels == 2:
        return {}
    warnings.warn(f"the model {init_from!r} was made for {labels} labels; its sentence-order head is made for 2 "
                  "(in order, swapped) and trained afresh, and its label names are dropped", stacklevel=3)
    return {"num_labels": 2, "ignore_mismatched_sizes": True}


def _build(args: TrainingArguments, out: Path, corpus: Corpus, fingerprint: str, follower: bool = False,
           stream: TextIO | None = None) -> PreparedRun:
    config = _model_config(args, out)
    if args.max_seq_length > config.max_position_embeddings:
        raise ValueError(f"max_seq_length {args.max_seq_length} exceeds the config's max_position_embeddings "
                         f"({config.max_position_embeddings})")
    documents = corpus.documents
    tokenizer = prepare_tokenizer(args, documents, out, config.max_position_embeddings, corpus_size=corpus.size,
                                  follower=follower, stream=stream)
    rngs = _generators(args.seed)
    train_documents, heldout_documents = split_documents(documents, args.heldout_fraction, rngs["heldout_split"])
    num_sentences = count_sentences(documents)
    with Phase(stream, f"encoding {len(documents):,} documents ({num_sentences:,} sentences)", num_sentences,
               "sentences") as phase, collector_paused():
        train_encoded = encode_corpus(train_documents, tokenizer, phase)
        heldout_encoded = encode_corpus(heldout_documents, tokenizer, phase)
        counts = target_counts(train_encoded, len(tokenizer), special_ids_of(tokenizer))
        phase.outcome = f"encoded {count_tokens(train_encoded) + count_tokens(heldout_encoded):,} tokens"
    warned = data_warnings(args, tokenizer, counts) + overlong_warnings(train_encoded, args.max_seq_length)
    dynamic = args.masking == "dynamic"
    passes = f" in {args.dupe_factor} passes" if args.dupe_factor > 1 else ""
    remask = Remasking(special_ids_of(tokenizer), len(tokenizer), masking_of(tokenizer, args)) if dynamic else None
    # The bar counts sentences, the same number in each pass whether or not documents are packed.
    num_passed = args.dupe_factor * (count_sentences(train_encoded) + count_sentences(heldout_encoded))
    with Phase(stream, f"building examples from {len(train_encoded) + len(heldout_encoded):,} documents{passes}",
               num_passed, "sentences") as phase, collector_paused():
        train_examples = build_examples(train_encoded, tokenizer, args, rngs["train_examples"], masked=not dynamic,
                                        on_document=phase.advance)
        heldout_examples = build_examples(heldout_encoded, tokenizer, args, rngs["heldout_examples"],
                                          on_document=phase.advance)
        if len(train_examples) < args.batch_size:
            count = len(train_examples)
            raise ValueError(f"the corpus gives {count} training example{'' if count == 1 else 's'}, fewer than "
                             f"batch_size {args.batch_size}: add text or lower --batch-size")
        # Stacking the examples into the batches' arrays takes about half as long as building
        # them (1.2 s after 2.5 s on a 12.9 MB corpus): part of this phase, not a silent wait after it.
        iterator = BatchIterator(train_examples, args.batch_size, rngs["batch_order"], remask=remask)
        phase.outcome = f"built {len(train_examples):,} training and {len(heldout_examples):,} held-out examples"

    model = _initial_model(args, config, tokenizer, counts)
    model.train(rng=rngs["dropout"])
    optimizer = (AdamW if args.optimizer == "adamw" else LAMB)(weight_decay=args.weight_decay)
    saved_state = load_checkpoint(checkpoint_dir(out), model, optimizer, iterator) if args.resume else None
    return PreparedRun(tokenizer, model, optimizer, iterator, heldout_examples, common_pieces(counts), fingerprint,
                       saved_state, warned)


def data_warnings(args: TrainingArguments, tokenizer, counts: np.ndarray) -> tuple:
    """What the user should know about the tokenized text before training on it: a vocabulary
    smaller than --vocab-size asked for; a noticeable share of <unk> from a tokenizer made for other
    text (a large one is refused). A vocabulary trained on the corpus spells all but its rarest
    characters (SentencePiece's character_coverage), so its <unk> is not counted."""
    if args.vocab_size is not None:
        if len(tokenizer) < args.vocab_size:
            return (f"the corpus supports only {len(tokenizer)} vocabulary pieces, fewer than --vocab-size "
                    f"{args.vocab_size}: the model is made for {len(tokenizer)} (more text gives more pieces)",)
        return ()
    source = f"(--tokenizer {args.tokenizer})" if args.tokenizer is not None else f"(of --init-from {args.init_from})"
    unknown = check_unknown_share(unknown_share(counts, tokenizer.unk_token_id), source)
    return () if unknown is None else (unknown,)


def overlong_share(encoded, max_num_tokens: int) -> tuple[float, int]:
    """(share of the tokens that no example can hold, longest sentence) of documents of ids.

    A sentence longer than `max_num_tokens` (--max-seq-length - 3: [CLS] and two [SEP]) cannot fit
    an example: the pair it lands in is trimmed to fit, from the front or the back at random, so
    at least its tokens beyond `max_num_tokens` are dropped, in every pass over the data. The
    share counts those, a lower bound (trimming ordinary chunks loses a few more).
    """
    lengths = [len(sentence) for document in encoded for sentence in document]
    total = sum(lengths)
    lost = sum(length - max_num_tokens for length in lengths if length > max_num_tokens)
    return (lost / total if total else 0.0), max(lengths, default=0)


def overlong_warnings(encoded, max_seq_length: int) -> tuple:
    """A warning when much of the text is in sentences too long for an example (see
    `overlong_share`), saying how to keep it: cut the lines, or longer examples."""
    share, longest = overlong_share(encoded, max_seq_length - 3)
    if share < OVERLONG_SHARE_WARNED:
        return ()
    return (f"{share:.0%} of the training text's tokens are never trained on: they lie in sentences longer than "
            f"--max-seq-length {max_seq_length} - 3 tokens (the longest has {longest}), and each of those makes one "
            "example, cut to fit; put one sentence per line (a line is split only where '.', '!' or '?' and a "
            "space come before a capital letter) or raise --max-seq-length",)


def prepare_run(args: TrainingArguments, *, follower: bool = False, stream: TextIO | None = None) -> PreparedRun:
    """Check the arguments against the output directory, then build tokenizer, examples, model,
    optimizer and batch iterator, restored from OUT/checkpoint when resuming. A new run that
    fails here leaves no OUT behind (or OUT as it was, if it existed). The phases that take time
    on a large corpus (reading, a vocabulary, encoding, the examples) are written to `stream`
    as they start (None: nowhere); the checks come before them, so that a mistake in the options
    is said at once.

    follower=True: another process of a data-parallel job has prepared OUT already; build the
    same run from it, reading and writing nothing but what that process made, and writing no
    lines (the first process has written them)."""
    out = Path(args.out)
    try:
        get_backend(args.backend)  # no GPU for cupy: say so before the slow data preparation
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    if follower:
        corpus = _read_corpus(args)
        return _build(args, out, corpus, corpus_fingerprint(corpus.documents), follower=True)
    if not args.resume and args.tokenizer is None and args.init_from is None and args.vocab_size is None:
        raise ValueError(NO_TOKENIZER)
    out_existed, tokenizer_existed = out.exists(), (out / TOKENIZER_DIR).exists()
    check_out_dir(args, out)
    if args.resume:
        saved = read_trainer_state(checkpoint_dir(out))
        check_resumable(args, saved_arguments(saved))
        if args.steps < saved["step"]:
            raise ValueError(f"--steps {args.steps} ends before step {saved['step']}, where {checkpoint_dir(out)} "
                             f"already is: give --steps {saved['step']} or more")
        if args.stop_at is not None and args.stop_at <= saved["step"]:  # said before the data is built
            go_on = f", or leave it out to go on to step {args.steps}" if saved["step"] < args.steps else ""
            raise ValueError(f"--stop-at {args.stop_at} is not after step {saved['step']}, where "
                             f"{checkpoint_dir(out)} already is: give a later step{go_on}")
        corpus = _read_corpus(args, stream)
        fingerprint = corpus_fingerprint(corpus.documents)
        if saved.get("corpus_fingerprint") not in (None, fingerprint):  # None: saved before fingerprints
            raise ValueError(f"the corpus {args.corpus!r} is not the text {checkpoint_dir(out)} was trained on "
                             f"(fingerprint {fingerprint}, checkpoint {saved.get('corpus_fingerprint')}); if its "
                             "files did not change, the reading did: form feeds and other page breaks no longer "
                             "end a line, and hidden files are left out, so such a corpus needs a new run")
        return _build(args, out, corpus, fingerprint, stream=stream)
    try:
        corpus = _read_corpus(args, stream)
        return _build(args, out, corpus, corpus_fingerprint(corpus.documents), stream=stream)
    except BaseException:  # remove only what this call made
        if not out_existed:
            shutil.rmtree(out, ignore_errors=True)
        elif not tokenizer_existed:
            shutil.rmtree(out / TOKENIZER_DIR, ignore_errors=True)
        raise
