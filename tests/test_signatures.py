"""Call signatures and argument behaviour of the models, the config and the Auto classes, compared
at run time with Transformers 4.53.3: code written for Transformers, positional calls included,
must bind the same way here, and an argument Transformers takes is honoured or refused by name.
"""
import inspect
import warnings

import numpy as np
import pytest

import tinyalbert
from tinyalbert import auto

SMALL = dict(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
             intermediate_size=20, max_position_embeddings=32)
CLASS_NAMES = ("AlbertModel", "AlbertForPreTraining", "AlbertForMaskedLM", "AlbertForSequenceClassification",
               "AlbertForTokenClassification", "AlbertForQuestionAnswering", "AlbertForMultipleChoice")
AUTO_NAMES = ("AutoModel", "AutoModelForPreTraining", "AutoModelForMaskedLM", "AutoModelForSequenceClassification",
              "AutoModelForTokenClassification", "AutoModelForQuestionAnswering", "AutoModelForMultipleChoice")


def transformers_or_skip():
    pytest.importorskip("torch")
    return pytest.importorskip("transformers")


def positional(function) -> list:
    """(name, default) of the parameters a positional call binds, in order (`self`/`cls` left out)."""
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "cls")]


def accepted_names(function) -> set:
    return {p.name for p in inspect.signature(function).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@pytest.fixture
def saved(tmp_path):
    """A function: a Transformers class name -> (its random-weight model, the directory it was saved to)."""
    transformers = transformers_or_skip()
    import torch

    def save(class_name="AlbertForMaskedLM"):
        torch.manual_seed(0)
        model = getattr(transformers, class_name)(transformers.AlbertConfig(attn_implementation="eager", **SMALL))
        directory = tmp_path / class_name
        model.eval().save_pretrained(directory)
        return model, directory

    return save


# --- forward: the same parameters in the same order, and the same outputs --------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("class_name", CLASS_NAMES)
def test_forward_takes_transformers_parameters_in_its_order_with_its_defaults(class_name):
    transformers = transformers_or_skip()
    theirs = getattr(transformers, class_name).forward
    ours = getattr(tinyalbert, class_name).forward
    assert positional(ours) == positional(theirs)


def _inputs(class_name):
    rng = np.random.default_rng(0)
    ids, mask, types = rng.integers(5, 50, (2, 6)), np.ones((2, 6), np.int64), np.zeros((2, 6), np.int64)
    mask[1, 4:], types[:, 3:] = 0, 1
    if class_name == "AlbertForMultipleChoice":
        ids, mask, types = (np.repeat(value[:, None], 3, axis=1) for value in (ids, mask, types))
    labels = {"AlbertModel": {},
              "AlbertForPreTraining": dict(labels=rng.integers(0, 50, (2, 6)), sentence_order_label=np.array([0, 1])),
              "AlbertForMaskedLM": dict(labels=rng.integers(0, 50, (2, 6))),
              "AlbertForSequenceClassification": dict(labels=np.array([0, 1])),
              "AlbertForTokenClassification": dict(labels=rng.integers(0, 2, (2, 6))),
              "AlbertForQuestionAnswering": dict(start_positions=np.array([1, 2]), end_positions=np.array([3, 4])),
              "AlbertForMultipleChoice": dict(labels=np.array([0, 2]))}[class_name]
    return (ids, mask, types), labels


def _flat(values):
    if isinstance(values, (tuple, list)):
        return [leaf for value in values for leaf in _flat(value)]
    return [values]


@pytest.mark.reference
@pytest.mark.parametrize("class_name", CLASS_NAMES)
@pytest.mark.parametrize("flags", [{}, {"return_dict": False}, {"output_hidden_states": True, "return_dict": False},
                                   {"output_attentions": True, "output_hidden_states": True, "return_dict": False},
                                   {"output_attentions": True}])
@pytest.mark.parametrize("with_labels", [False, True])
def test_a_positional_call_gives_transformers_fields_in_its_order(saved, class_name, flags, with_labels):
    """model(input_ids, attention_mask, token_type_ids, ...): the same output class (or tuple),
    keys, order and values, with and without a loss."""
    import torch

    reference, directory = saved(class_name)
    ours = getattr(tinyalbert, class_name).from_pretrained(directory)
    args, labels = _inputs(class_name)
    labels = labels if with_labels else {}
    with torch.no_grad():
        theirs = reference(*map(torch.tensor, args), **{k: torch.tensor(v) for k, v in labels.items()}, **flags)
    mine = ours(*args, **labels, **flags)
    assert type(mine).__name__ == type(theirs).__name__
    if not isinstance(theirs, tuple):
        assert list(mine.keys()) == list(theirs.keys())
        theirs, mine = theirs.to_tuple(), mine.to_tuple()
    theirs, mine = _flat(theirs), _flat(mine)
    assert len(mine) == len(theirs)
    for expected, got in zip(theirs, mine):
        assert (got is None) == (expected is None)
        if expected is not None:
            # float32 through the same operations in another order: a few ulps of values near 1.
            np.testing.assert_allclose(np.asarray(got), expected.numpy(), atol=2e-5)


# --- the methods shared with PreTrainedModel ------------------------------------------------------------
SHARED_METHODS = ("from_pretrained", "save_pretrained", "resize_token_embeddings", "num_parameters",
                  "get_input_embeddings", "set_input_embeddings", "get_output_embeddings", "prune_heads", "cuda",
                  "train", "eval", "load_state_dict", "named_parameters", "parameters", "tie_weights")


@pytest.mark.reference
@pytest.mark.parametrize("method", SHARED_METHODS)
def test_the_shared_methods_bind_positional_arguments_as_transformers(method):
    """Transformers' positional parameters lead ours, in its order, with its defaults (ours may
    add some after them: `train(mode, rng)`, `resize_token_embeddings(..., seed)`). Torch's
    saving function's default is torch.save, ours None: it is compared by name only."""
    transformers = transformers_or_skip()
    theirs = positional(getattr(transformers.AlbertForMaskedLM, method))
    ours = positional(getattr(tinyalbert.AlbertForMaskedLM, method))
    assert [name for name, _ in ours[:len(theirs)]] == [name for name, _ in theirs]
    for (name, default), (_, expected) in zip(ours, theirs):
        if name != "save_function":
            assert default == expected, name


@pytest.mark.reference
def test_save_pretrained_with_a_second_positional_argument_is_is_main_process(saved, tmp_path):
    """Transformers' `save_pretrained(directory, False)` is is_main_process=False: the weights
    and no config.json. It was read as safe_serialization=False (pytorch_model.bin and a config)."""
    reference, directory = saved("AlbertForMaskedLM")
    reference.save_pretrained(tmp_path / "theirs", False)
    tinyalbert.AlbertForMaskedLM.from_pretrained(directory).save_pretrained(tmp_path / "ours", False)
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(
        p.name for p in (tmp_path / "theirs").iterdir()) == ["model.safetensors"]


def test_save_pretrained_refuses_a_saving_function(tmp_path):
    model = tinyalbert.AlbertForMaskedLM(tinyalbert.AlbertConfig(**SMALL))
    with pytest.raises(ValueError, match="save_function"):
        model.save_pretrained(tmp_path, save_function=lambda obj, path: None)
    model.save_pretrained(tmp_path, save_function=None, save_peft_format=True, token=None)
    assert (tmp_path / "config.json").is_file()


@pytest.mark.reference
@pytest.mark.parametrize("mode", ["no", 1, None])
def test_train_refuses_a_mode_that_is_not_a_bool_as_torch_does(mode):
    """`train("no")` turned dropout on, `train(None)` left `training` at None."""
    transformers = transformers_or_skip()
    with pytest.raises(ValueError, match="boolean"):
        transformers.AlbertModel(transformers.AlbertConfig(**SMALL)).train(mode)
    model = tinyalbert.AlbertModel(tinyalbert.AlbertConfig(**SMALL))
    with pytest.raises(ValueError, match="boolean"):
        model.train(mode)
    assert model.training is False


@pytest.mark.reference
def test_load_state_dict_takes_transformers_keyword_and_refuses_assign(saved):
    reference, directory = saved("AlbertForMaskedLM")
    ours = tinyalbert.AlbertForMaskedLM(tinyalbert.AlbertConfig(**SMALL), seed=1)
    result = ours.load_state_dict(state_dict=reference.state_dict(), strict=True, assign=False)
    assert result == ([], [])
    word = "albert.embeddings.word_embeddings.weight"
    np.testing.assert_array_equal(ours.state_dict()[word], reference.state_dict()[word].numpy())
    with pytest.raises(ValueError, match="assign=True"):
        ours.load_state_dict(reference.state_dict(), assign=True)


@pytest.mark.reference
@pytest.mark.parametrize("class_name", ["AlbertModel", "AlbertForMaskedLM", "AlbertForPreTraining"])
def test_named_parameters_and_state_dict_take_torch_arguments(saved, class_name):
    """prefix, recurse and remove_duplicate as torch reads them: the same names as Transformers'
    (its order aside: Transformers lists the MLM head's LayerNorm before its dense layer)."""
    reference, directory = saved(class_name)
    ours = getattr(tinyalbert, class_name).from_pretrained(directory)
    for options in ({"prefix": "m"}, {"recurse": False}, {"remove_duplicate": False},
                    {"prefix": "m", "remove_duplicate": False}):
        assert sorted(name for name, _ in ours.named_parameters(**options)) == sorted(
            name for name, _ in reference.named_parameters(**options)), options
    assert list(ours.parameters(recurse=False)) == list(reference.parameters(recurse=False)) == []
    assert sorted(ours.state_dict(prefix="m.")) == sorted(
        name for name in reference.state_dict(prefix="m.") if not name.startswith("m.predictions.decoder."))
    destination = {"kept": 1}
    assert ours.state_dict(destination=destination, keep_vars=True) is destination and "kept" in destination


def test_to_takes_non_blocking():
    model = tinyalbert.AlbertModel(tinyalbert.AlbertConfig(**SMALL))
    assert model.to("cpu", non_blocking=True) is model


# --- from_pretrained's Transformers options: honoured, or refused by name ------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("value", ["flash_attention_2", "bogus"])
def test_an_attention_implementation_albert_lacks_is_refused(saved, value):
    """Transformers refuses these for ALBERT; tinyalbert dropped them without a word."""
    transformers = transformers_or_skip()
    _, directory = saved("AlbertForMaskedLM")
    with pytest.raises(ValueError):
        transformers.AlbertForMaskedLM.from_pretrained(directory, attn_implementation=value)
    with pytest.raises(ValueError, match="attn_implementation"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(directory, attn_implementation=value)
    with pytest.raises(ValueError, match="attn_implementation"):
        auto.AutoModelForMaskedLM.from_config(tinyalbert.AlbertConfig(**SMALL), attn_implementation=value)
    with pytest.raises(ValueError, match="attn_implementation"):
        tinyalbert.AlbertConfig(attn_implementation=value)


@pytest.mark.reference
@pytest.mark.parametrize("value", ["eager", "sdpa", None])
def test_the_attention_implementations_of_albert_are_accepted(saved, value):
    transformers = transformers_or_skip()
    _, directory = saved("AlbertForMaskedLM")
    transformers.AlbertForMaskedLM.from_pretrained(directory, attn_implementation=value)
    tinyalbert.AlbertForMaskedLM.from_pretrained(directory, attn_implementation=value)
    auto.AutoModelForMaskedLM.from_config(tinyalbert.AlbertConfig(**SMALL), attn_implementation=value)


NO_OP_OPTIONS = {"load_in_8bit": False, "load_in_4bit": False, "gguf_file": None, "tp_plan": None, "tp_size": None,
                 "device_mesh": None, "use_kernels": False, "generation_config": None, "adapter_name": "default",
                 "adapter_kwargs": {}, "_commit_hash": None}


@pytest.mark.reference
@pytest.mark.parametrize("name", sorted(NO_OP_OPTIONS))
def test_transformers_loader_options_at_their_defaults_are_accepted(saved, name):
    """Transformers takes them at these values and changes nothing; they were refused as 'not a
    field of AlbertConfig'."""
    transformers = transformers_or_skip()
    _, directory = saved("AlbertForMaskedLM")
    transformers.AlbertForMaskedLM.from_pretrained(directory, **{name: NO_OP_OPTIONS[name]})
    model = tinyalbert.AlbertForMaskedLM.from_pretrained(directory, **{name: NO_OP_OPTIONS[name]})
    assert name not in model.config.to_dict()


@pytest.mark.parametrize("name, value", [("load_in_8bit", True), ("load_in_4bit", True), ("gguf_file", "m.gguf"),
                                         ("tp_plan", "auto"), ("tp_size", 2), ("use_kernels", True),
                                         ("adapter_name", "mine"), ("adapter_kwargs", {"revision": "v2"})])
def test_torch_only_loader_options_are_refused_by_name(tmp_path, name, value):
    tinyalbert.AlbertForMaskedLM(tinyalbert.AlbertConfig(**SMALL)).save_pretrained(tmp_path)
    with pytest.raises(ValueError) as refused:
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, **{name: value})
    assert f"{name}={value!r}" in str(refused.value)  # Transformers would load a PEFT adapter, quantize, ...


# --- AlbertConfig --------------------------------------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("method", ["__init__", "from_pretrained", "from_dict", "update", "to_dict", "to_diff_dict",
                                    "to_json_string", "to_json_file", "from_json_file", "save_pretrained",
                                    "update_from_string", "get_text_config"])
def test_config_methods_bind_positional_arguments_as_transformers(method):
    """`AlbertConfig.from_pretrained(path, cache_dir)` read the second argument as a revision;
    `from_dict(config_dict=...)` and `update(config_dict=...)` were refused."""
    transformers = transformers_or_skip()
    theirs = positional(getattr(transformers.AlbertConfig, method))
    if method == "__init__":  # ours takes the fields through *args, in Transformers' order
        from tinyalbert.config import _POSITIONAL_NAMES
        assert [name for name, _ in theirs] == list(_POSITIONAL_NAMES)
        assert [default for _, default in theirs] == [getattr(tinyalbert.AlbertConfig(), n) for n in _POSITIONAL_NAMES]
        return
    ours = positional(getattr(tinyalbert.AlbertConfig, method))
    assert ours[:len(theirs)] == theirs


@pytest.mark.reference
def test_config_from_pretrained_takes_transformers_positional_arguments(saved, tmp_path):
    transformers = transformers_or_skip()
    _, directory = saved("AlbertModel")
    cache = str(tmp_path / "cache")
    theirs = transformers.AlbertConfig.from_pretrained(directory, cache, False, True, None, "main")
    ours = tinyalbert.AlbertConfig.from_pretrained(directory, cache, False, True, None, "main")
    assert ours.hidden_size == theirs.hidden_size == SMALL["hidden_size"]


@pytest.mark.reference
def test_config_from_dict_and_update_take_config_dict_by_keyword():
    transformers = transformers_or_skip()
    values = {"hidden_size": 32, "num_attention_heads": 4}
    theirs, ours = (library.AlbertConfig.from_dict(config_dict=values) for library in (transformers, tinyalbert))
    assert ours.hidden_size == theirs.hidden_size == 32
    for config in (theirs, ours):
        config.update(config_dict={"hidden_size": 64})
    assert ours.hidden_size == theirs.hidden_size == 64
    with pytest.raises(TypeError):
        transformers.AlbertConfig.from_dict(values, True)
    with pytest.raises(TypeError):
        tinyalbert.AlbertConfig.from_dict(values, True)


@pytest.mark.reference
def test_get_text_config_is_the_config_itself():
    transformers = transformers_or_skip()
    theirs, ours = transformers.AlbertConfig(**SMALL), tinyalbert.AlbertConfig(**SMALL)
    assert theirs.get_text_config() is theirs and theirs.get_text_config(decoder=True) is theirs
    assert ours.get_text_config() is ours and ours.get_text_config(decoder=True) is ours


# --- Auto classes --------------------------------------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("auto_name", AUTO_NAMES)
def test_auto_classes_load_the_class_transformers_loads(saved, auto_name):
    transformers = transformers_or_skip()
    _, directory = saved("AlbertForPreTraining")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heads the checkpoint lacks
        theirs = getattr(transformers, auto_name).from_pretrained(directory)
        ours = getattr(auto, auto_name).from_pretrained(directory)
        from_config = getattr(auto, auto_name).from_config(tinyalbert.AlbertConfig(**SMALL))
    assert type(ours).__name__ == type(from_config).__name__ == type(theirs).__name__


# --- the newly-initialized warning of pretraining -----------------------------------------------------
@pytest.mark.parametrize("class_name", ["AlbertForPreTraining", "AlbertForMaskedLM"])
def test_a_new_pretraining_head_is_not_sent_to_a_down_stream_task(tmp_path, class_name):
    """Loading a pretraining class from a classifier's checkpoint (what `pretrain --init-from`
    does) warned "Train the model on a down-stream task": pretraining is what trains those heads."""
    tinyalbert.AlbertForSequenceClassification(tinyalbert.AlbertConfig(**SMALL)).save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="newly initialized") as caught:
        getattr(tinyalbert, class_name).from_pretrained(tmp_path)
    message = next(str(w.message) for w in caught if "newly initialized" in str(w.message))
    assert "down-stream" not in message and "Pretraining trains them" in message, message
    with pytest.warns(UserWarning, match="down-stream task"):  # a task head still is
        tinyalbert.AlbertForQuestionAnswering.from_pretrained(tmp_path)


def test_pretrain_init_from_a_classifier_says_pretraining_trains_the_new_heads(tmp_path, capsys):
    import test_trainer

    from tinyalbert import pretrain
    from tinyalbert.tokenizer import AlbertTokenizer, train_sentencepiece

    corpus = test_trainer.write_corpus(tmp_path / "corpus.txt")
    tokenizer = AlbertTokenizer(train_sentencepiece(corpus, tmp_path / "tok" / "spiece", 64, seed=0,
                                                    hard_vocab_limit=False))
    classifier = tmp_path / "classifier"
    config = tinyalbert.AlbertConfig(**{**test_trainer.TINY_CONFIG, "vocab_size": len(tokenizer)})
    tinyalbert.AlbertForSequenceClassification(config).save_pretrained(classifier)
    tokenizer.save_pretrained(classifier)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = pretrain.main(["--corpus", str(corpus), "--out", str(tmp_path / "run"), "--init-from",
                                str(classifier), "--steps", "1", "--batch-size", "4", "--max-seq-length", "24"])
    said = capsys.readouterr().err + "".join(str(w.message) for w in caught)
    assert status == 0, said
    assert "newly initialized" in said and "Pretraining trains them" in said and "down-stream" not in said, said


@pytest.mark.reference
def test_dtype_and_torch_dtype_together_are_refused_and_either_alone_is_honoured(saved):
    """They are one option under two names (Auto's from_config refused both already): with both,
    torch_dtype won without a word, even over a dtype that said otherwise."""
    _, saved = saved()
    with pytest.raises(ValueError, match="pass dtype or torch_dtype, not both"):
        tinyalbert.AlbertModel.from_pretrained(saved, dtype="float64", torch_dtype="float16")
    assert tinyalbert.AlbertModel.from_pretrained(saved, torch_dtype="float16").dtype == np.float16
    assert tinyalbert.AlbertModel.from_pretrained(saved, dtype="float64").dtype == np.float64
    assert tinyalbert.AlbertModel.from_pretrained(saved).dtype == np.float32


def test_a_bad_attn_implementation_is_the_callers_not_the_config_files(tmp_path):
    """The argument was checked while reading config.json, and the error named that file."""
    tinyalbert.AlbertForMaskedLM(tinyalbert.AlbertConfig(**SMALL)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="attn_implementation='bogus'") as refused:
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, attn_implementation="bogus")
    assert "config.json" not in str(refused.value)


def test_from_config_reads_torch_dtype_none_as_not_given():
    """Transformers takes torch_dtype=None as the default; it became the dtype 'None' here."""
    config = tinyalbert.AlbertConfig(**SMALL)
    assert tinyalbert.AutoModel.from_config(config, torch_dtype=None).dtype == np.float32
    assert tinyalbert.AutoModel.from_config(config, dtype=None, torch_dtype="float16").dtype == np.float16
    with pytest.raises(ValueError, match="pass dtype or torch_dtype, not both"):
        tinyalbert.AutoModel.from_config(config, dtype="float64", torch_dtype="float16")


def test_a_pipeline_takes_torch_dtype_in_model_kwargs_once():
    """`pipeline(..., model_kwargs={"torch_dtype": ...})` is Transformers' way too; given there and
    as pipeline's own argument, Transformers refuses it, and so does tinyalbert."""
    loaded = tinyalbert.pipeline("fill-mask", model="tinyalbert-mini", model_kwargs={"torch_dtype": "float16"})
    assert loaded.model.dtype == np.float16
    with pytest.raises(ValueError, match="torch_dtype is given twice"):
        tinyalbert.pipeline("fill-mask", model="tinyalbert-mini", torch_dtype="float16",
                            model_kwargs={"torch_dtype": "float16"})
