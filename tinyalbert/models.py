"""The model classes, named and called as in Transformers: the shared machinery, the bare
body and the two pretraining classes (the four task classes are in `tinyalbert.task_models`).

Each class is thin: a config, a flat parameter dict keyed by Transformers names, and a call
that runs the functions of `tinyalbert.nn`. Arrays come in as NumPy, CuPy or any Array API
arrays and leave on the model's backend.

    model = AlbertForMaskedLM.from_pretrained("path/to/albert-base-v2")
    logits = model(input_ids=ids, attention_mask=mask).logits     # (batch, seq, vocab)
"""
from __future__ import annotations

import dataclasses
import importlib
import math
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import numpy as np

from .backend import (
    array_namespace, asarray, backend_for_device, device_of_map, dtype_name, get_backend, get_dtype, is_torch_tensor,
    names_a_device, to_numpy,
)
from .config import AlbertConfig, check_attn_implementation, pruned_heads_map
from .nn.albert import albert_body_forward
from .nn.embeddings import embedding_lookup
from .nn.encoder import layer_prefix, weights_below
from .nn.heads import UNTIED_DECODER, WORD_EMBEDDINGS
from .nn.losses import cross_entropy_forward
from .nn.pretraining import SOP_CLASSES, SOP_PREFIX, pretraining_backward, pretraining_forward
from .inputs import check_ids, check_labels, output_flags, prepare_inputs
from .outputs import (  # noqa: F401  (the output classes are importable from here too, as in Transformers)
    AlbertForPreTrainingOutput, BaseModelOutputWithPooling, MaskedLMOutput, ModelOutput,
)
from .weights import (
    PICKLED_WEIGHTS_NAME, body_shapes, init_parameters, linear_shapes, match_checkpoint,
    mlm_head_shapes, normalize_checkpoint_keys, prune_attention_heads, read_checkpoint, read_weights_file,
    remove_stale_weights, rename_keys, resize_vocabulary, shard_size_in_bytes, split_into_shards, warn_nonfinite,
    write_sharded_safetensors,
)


MLM_BIAS = "predictions.bias"


# --- the shared machinery -----------------------------------------------------------------------
class AlbertPreTrainedModel:
    """Parameters, backend, loading and saving; subclasses add their head and their call."""

    with_pooler = True  # whether this class has `albert.pooler.*`
    # Whether the model has a `num_labels` attribute, the config's at construction: Transformers
    # sets one in its sequence-classification, token-classification and question-answering classes.
    has_num_labels_attribute = False
    config_class = AlbertConfig  # as in Transformers: generic code reads a model's config through it
    base_model_prefix = "albert"
    main_input_name = "input_ids"
    # What `state_dict()` strips from the parameter names: the bare body (AlbertModel) is saved
    # without its `albert.` prefix, as Transformers saves it; the classes with a head keep it.
    stripped_prefix = ""

    def __init__(self, config: AlbertConfig, params: dict | None = None, *, backend="numpy", dtype="float32", seed: int = 0):
        """A model with `params` (NumPy or backend arrays keyed by Transformers names) or, when
        None, freshly initialized ones drawn from a generator seeded with `seed`. `config` may
        also be Transformers' AlbertConfig, read as a tinyalbert one (see `_as_albert_config`)."""
        config = _as_albert_config(config)
        config.validate()  # again: fields set after the config was built are checked here
        _check_pad_token_id(config)
        self.config = config
        self.name_or_path = config.name_or_path  # as in Transformers: where from_pretrained read it, or ""
        if self.has_num_labels_attribute:
            self.num_labels = config.num_labels
        self.xp: ModuleType = get_backend(backend)
        self.dtype = get_dtype(self.xp, dtype)
        self.dtype_name = dtype_name(self.xp, self.dtype)
        self.training = False
        self.rng: np.random.Generator | None = None
        self._kept_rng: np.random.Generator | None = None  # the dropout generator across train()/eval()
        if params is None:
            params = init_parameters(self._shapes(config), config, np.random.default_rng(seed))
        self.params = {name: asarray(self.xp, value, dtype=self.dtype) for name, value in params.items()}

    # -- names and shapes
    @classmethod
    def head_shapes(cls, config) -> dict:
        return {}

    @classmethod
    def parameter_shapes(cls, config) -> dict:
        return {**body_shapes(config, cls.with_pooler), **cls.head_shapes(config)}

    def _shapes(self, config) -> dict:
        # This model's own: an AlbertModel built with add_pooling_layer=False has no pooler.
        return {**body_shapes(config, self.with_pooler), **self.head_shapes(config)}

    # -- modes
    def train(self, mode: bool = True, rng: np.random.Generator | None = None):
        """Training mode turns dropout on, drawing masks from `rng`. Without one, the model keeps
        drawing from the generator it has (so `train()` at every epoch does not repeat the masks),
        or starts one seeded with 0, so that a run can be repeated exactly. `mode` must be True or
        False, as torch requires: `train("no")` or `train(None)` would else read as a truth value."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean (True or False), got {mode!r}")
        self.training = mode
        if not mode:
            self.rng = None
        elif rng is not None:
            self.rng = rng
        else:
            self.rng = self._kept_rng if self._kept_rng is not None else np.random.default_rng(0)
        if self.rng is not None:
            self._kept_rng = self.rng  # eval() then train() goes on with the same stream
        return self

    def eval(self):
        return self.train(False)

    # -- loading and saving
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, config=None, backend="numpy", dtype=None,
                        ignore_mismatched_sizes: bool = False, seed: int = 0, revision: str = "main",
                        cache_dir=None, local_files_only: bool = False, token=None, subfolder: str = "",
                        force_download: bool = False, use_safetensors: bool | None = None, device_map=None,
                        low_cpu_mem_usage: bool | None = None, trust_remote_code: bool | None = None,
                        output_loading_info: bool = False, state_dict: dict | None = None,
                        key_mapping: dict | None = None, from_tf: bool = False, from_flax: bool = False,
                        variant: str | None = None, quantization_config=None, **config_overrides):
        """Load a Transformers-layout directory (`config.json` + `model.safetensors` or
        `pytorch_model.bin`, or their shard indexes), a name found in the local Hugging Face
        cache, or (with `huggingface_hub`) a Hub name at `revision`; or, as Transformers does,
        one weights file (`.safetensors`, else a torch file) whose config `config=` gives.
        `cache_dir`, `local_files_only`, `token`, `subfolder`, `force_download` and
        `use_safetensors` mean what they mean to Transformers (`tinyalbert.hub.resolve_model_dir`,
        `tinyalbert.weights.read_checkpoint`).

        `device_map` puts the whole model on one device, as `to()` does ("cpu", "cuda", 0,
        `{"": 0}`; "auto": the GPU when CuPy finds one, else the CPU; see
        `tinyalbert.backend.device_of_map`). `low_cpu_mem_usage` and `trust_remote_code` are
        accepted so that lines written for Transformers run, and change nothing: the weights are
        read once into the model, and no code is ever loaded from a checkpoint.

        `output_loading_info=True` returns `(model, info)`, where `info` lists `missing_keys`,
        `unexpected_keys`, `mismatched_keys` and `error_msgs` as Transformers does. `state_dict`
        gives the weights in place of a checkpoint (`from_pretrained(None, config=...,
        state_dict=...)`, keys as `model.state_dict()` has them); `key_mapping` renames checkpoint keys by regular expression first
        (`{pattern: replacement}`). The loader options of Transformers that tune downloads,
        devices or torch's unpickling (`proxies`, `resume_download`, `max_memory`,
        `offload_folder`, `weights_only`, ...) are accepted and change nothing here;
        `from_tf`, `from_flax`, `variant` and `quantization_config` are refused with a reason, and
        so are `load_in_8bit`, `load_in_4bit`, `gguf_file`, `tp_plan`, `tp_size`, `device_mesh` and
        `use_kernels` unless they are at their defaults (False or None). `attn_implementation` may
        be "eager" or "sdpa", the two ALBERT has in Transformers, which compute the same numbers.

        `config` (an `AlbertConfig`, or where to read one) replaces the directory's `config.json`,
        as in Transformers; the caller's object is copied, not changed. `config_overrides` set
        config fields on top (`num_labels=5` gives a 5-label head even when the saved config names
        2 labels). `dtype` (float32 when left out) and Transformers' `torch_dtype` are one option:
        give either, not both. `torch_dtype="auto"` (or `dtype="auto"`) takes the dtype config.json names or,
        when it names none, that of the checkpoint's first floating tensor, as Transformers does.
        Head weights the checkpoint lacks are initialized as Transformers does, with a warning; a
        checkpoint tensor of another shape raises, unless `ignore_mismatched_sizes=True`
        re-initializes it (with a warning).
        """
        from .hub import resolve_model_dir

        name_or_path = pretrained_model_name_or_path  # (Transformers' name for the argument, by keyword too)
        for name in set(config_overrides) & IGNORED_LOADER_OPTIONS:
            config_overrides.pop(name)
        for name in set(config_overrides) & set(INERT_LOADER_OPTIONS):
            _check_inert_loader_option(name, config_overrides.pop(name))
        if "attn_implementation" in config_overrides:  # the caller's, checked before anything is read
            check_attn_implementation(config_overrides["attn_implementation"])
        if "use_auth_token" in config_overrides:  # Transformers' older name for token
            token = config_overrides.pop("use_auth_token") if token is None else token
        model_options = {}
        if "add_pooling_layer" in config_overrides:
            if cls is not AlbertModel:
                raise TypeError(f"{cls.__name__}.from_pretrained() got add_pooling_layer, which only AlbertModel takes")
            model_options["add_pooling_layer"] = config_overrides.pop("add_pooling_layer")
        _refuse_unsupported_loading(from_tf, from_flax, variant, quantization_config)
        unknown = AlbertConfig.unknown_names(config_overrides)
        if unknown:
            raise TypeError(f"{cls.__name__}.from_pretrained() got unexpected keyword argument(s) {unknown}: "
                            "not a field of AlbertConfig")
        if device_map is not None:  # before the weights are read, so that a missing GPU fails fast
            backend = backend_for_device(device_of_map(device_map), get_backend(backend))
        where = dict(revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token,
                     subfolder=subfolder, force_download=force_download)
        if state_dict is not None:  # as in Transformers: the weights come from the dict, the config from config=
            if name_or_path is not None or config is None:
                raise ValueError("state_dict= takes the place of a checkpoint: call from_pretrained(None, "
                                 "config=..., state_dict=...)")
            directory = None
        elif _names_a_file(name_or_path):  # one weights file, as Transformers takes it; the config from config=
            if config is None:
                raise FileNotFoundError(f"{name_or_path} is a file: pass the directory that holds config.json and "
                                        "the weights, or give the config too, from_pretrained(weights_file, config=...)")
            directory = None
        else:
            directory = resolve_model_dir(name_or_path, **where, use_safetensors=use_safetensors)
        torch_dtype = config_overrides.pop("torch_dtype", None)
        if config is None:
            config, config_source = AlbertConfig.from_pretrained(directory, **config_overrides), directory / "config.json"
        elif isinstance(config, AlbertConfig):
            config, config_source = AlbertConfig.from_dict(config.to_dict(), **config_overrides), "config"
        elif isinstance(config, (str, Path)):
            config, config_source = AlbertConfig.from_pretrained(config, **where, **config_overrides), config
        elif getattr(config, "model_type", None) == "albert":  # Transformers' AlbertConfig
            config, config_source = AlbertConfig.from_dict(_as_albert_config(config).to_dict(),
                                                           **config_overrides), "config"
        else:
            raise TypeError(f"config must be a tinyalbert AlbertConfig (or Transformers') or a path to one, "
                            f"got {type(config).__name__}")
        _check_pad_token_id(config, config_source)  # before the weights are read
        if name_or_path is not None:  # as Transformers does: the model and its config say where they came from
            config.name_or_path = name_or_path
        dtype = chosen_dtype(dtype, torch_dtype)
        if directory is not None:
            tensors, source = read_checkpoint(directory, use_safetensors)
        elif state_dict is None:
            source = Path(name_or_path)
            tensors = read_weights_file(source)
        else:
            tensors = {name: to_numpy(value) for name, value in state_dict.items()}
            source = "the state_dict given"
        if isinstance(dtype, str) and dtype == "auto":
            dtype = _auto_dtype(config, tensors)
        if key_mapping:
            tensors = rename_keys(tensors, key_mapping)
        tensors = normalize_checkpoint_keys(tensors, config)
        with_pooler = model_options.get("add_pooling_layer", cls.with_pooler)
        shapes = {**body_shapes(config, with_pooler), **cls.head_shapes(config)}
        params, report = match_checkpoint(tensors, shapes, source, config, np.random.default_rng(seed),
                                          ignore_mismatched_sizes=ignore_mismatched_sizes, class_name=cls.__name__,
                                          stripped_prefix=cls.stripped_prefix)
        warn_nonfinite(params, source)
        model = cls(config, params=params, backend=backend, dtype=dtype, **model_options)
        if not output_loading_info:
            return model
        return model, model._loading_info(report)

    def _loading_info(self, report: dict) -> dict:
        """`match_checkpoint`'s report under the names Transformers reports for this class."""
        cut = len(self.stripped_prefix)
        named = {key: sorted(name[cut:] if name.startswith(self.stripped_prefix) else name for name in names)
                 for key, names in report.items()}
        if "predictions.bias" in named["missing_keys"]:  # Transformers' decoder has the bias as a parameter too
            named["missing_keys"] = sorted(named["missing_keys"] + ["predictions.decoder.bias"])
        return {**named, "error_msgs": []}

    def state_dict(self, *, destination: dict | None = None, prefix: str = "", keep_vars: bool = False) -> dict:
        """The parameters keyed by the names Transformers gives them in this class, each after
        `prefix`; put into `destination` (and that returned) when one is given, as torch does.
        `keep_vars` changes nothing: the arrays here have no autograd wrapper to keep or drop."""
        cut = len(self.stripped_prefix)
        named = {prefix + name[cut:]: value for name, value in self.params.items()}
        if destination is None:
            return named
        destination.update(named)
        return destination

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(name, array) pairs under the names of `state_dict()`, as torch's `named_parameters()`
        yields them: a shared layer or a tied decoder once, by the name of what it shares; with
        `remove_duplicate=False` the tied decoder's names follow too (`predictions.decoder.weight`,
        `predictions.decoder.bias`). A `prefix` is joined with a dot, as torch joins it ("model"
        gives "model.albert..."). `recurse=False` yields nothing, as in Transformers, where every
        parameter belongs to a submodule. The order is `state_dict()`'s, with the tied names last:
        match parameters with torch's by name, not by position."""
        if not recurse:
            return
        named = {**self.state_dict(), **({} if remove_duplicate else self._tied_decoder())}
        for name, value in named.items():
            yield (f"{prefix}.{name}" if prefix else name), value

    def parameters(self, recurse: bool = True):
        """The parameter arrays, in the order of `named_parameters()`."""
        for _, value in self.named_parameters(recurse=recurse):
            yield value

    def _tied_decoder(self) -> dict:
        """The decoder's names that torch lists apart from the tables they are tied to: its bias
        (the MLM bias) and, when tied, its weight (the word embeddings)."""
        if MLM_BIAS not in self.params:
            return {}
        tied = {"predictions.decoder.bias": self.params[MLM_BIAS]}
        if UNTIED_DECODER not in self.params:
            tied = {"predictions.decoder.weight": self.params[WORD_EMBEDDINGS], **tied}
        return tied

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False) -> "IncompatibleKeys":
        """Replace the parameters named in `state_dict` (names and shapes as `state_dict()`; NumPy
        arrays, any backend's, or torch tensors), as torch's `load_state_dict` does.

        The keys Transformers' `state_dict()` repeats for a tied decoder
        (`predictions.decoder.weight`, `predictions.decoder.bias`) are read as the tables they
        are tied to. With `strict` (the default) a missing or unexpected name raises; without it
        they are left out, the missing parameters keep their values, and both lists come back:
        `(missing_keys, unexpected_keys)`.

        The values are copied onto the model's backend and dtype, as torch's default copies them
        into the existing tensors. `assign=True` (torch: keep the given tensors, and their dtype)
        is refused: a model here computes in one dtype (see `to()`).
        """
        if assign:
            raise ValueError("assign=True: tinyalbert copies the values into the model's backend and dtype "
                             "(assign=False); to change the dtype, call model.to(dtype) after loading")
        own = self.state_dict()
        state = {name: _host_array(value) for name, value in state_dict.items()}
        for tied, table in (("predictions.decoder.bias", "predictions.bias"),
                            ("predictions.decoder.weight", WORD_EMBEDDINGS[len(self.stripped_prefix):])):
            if tied in state and tied not in own and table in own:
                value = state.pop(tied)
                state.setdefault(table, value)
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise ValueError(f"state dict keys differ: missing {missing}, unexpected {unexpected}")
        for name in set(state) & set(own):
            if tuple(state[name].shape) != tuple(own[name].shape):
                raise ValueError(f"{name}: shape {tuple(state[name].shape)} does not match {tuple(own[name].shape)}")
        prefix = self.stripped_prefix
        # Keep the model's own key order: sums over all parameters (the global gradient norm)
        # then add in the same order before and after a checkpoint round trip.
        self.params = {prefix + name: asarray(self.xp, state[name], dtype=self.dtype) if name in state
                       else self.params[prefix + name] for name in own}
        return IncompatibleKeys(missing, unexpected)

    def save_pretrained(self, save_directory, is_main_process: bool = True, state_dict: dict | None = None,
                        save_function=None, push_to_hub: bool = False, max_shard_size="5GB",
                        safe_serialization: bool = True, variant: str | None = None, token=None,
                        save_peft_format: bool = True, **hub_options) -> Path:
        """Write `config.json` and `model.safetensors` so that this package and Transformers load them.
        The arguments come in Transformers' order, so a positional call binds as it does there.

        `safe_serialization=False` writes `pytorch_model.bin` instead, as Transformers does, for
        tools that read only that (it needs torch; loading it back here does not). Weights larger
        than `max_shard_size` ("5GB", "200MB" or bytes, as in Transformers) are split into
        `model-0000k-of-0000n.safetensors` files with an index. `state_dict` saves those
        weights instead of the model's (keys as `state_dict()` has them). `is_main_process=False`
        writes only the weights, for a process other than the first in distributed training.
        `push_to_hub` and `variant` are refused with a reason; Transformers' upload options
        (`token`, `commit_message`, ...) are accepted with `push_to_hub=False` and do nothing.
        `save_function` (torch's saving function for pickled weights) is refused unless None: the
        files are written here. `save_peft_format` does nothing: a model here has no adapters.
        """
        from .hub import check_no_upload

        check_no_upload(push_to_hub, hub_options)  # `token` goes with them: it only says who would upload
        if save_function is not None:
            raise ValueError("save_function: tinyalbert writes the weights itself (model.safetensors, or "
                             "pytorch_model.bin with safe_serialization=False) and calls no saving function")
        if variant is not None:
            raise ValueError(f"variant={variant!r}: tinyalbert writes and reads model.safetensors and "
                             "pytorch_model.bin only")
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        # The saved config names this class and dtype; the model's own config is left as it was.
        config = dataclasses.replace(self.config, architectures=[type(self).__name__],
                                     extra={**self.config.extra, "torch_dtype": self.dtype_name})
        tensors = {name: to_numpy(value) for name, value in (self.state_dict() if state_dict is None
                                                             else state_dict).items()}
        max_bytes = shard_size_in_bytes(max_shard_size)
        if safe_serialization:
            written = write_sharded_safetensors(tensors, directory, max_bytes)
        else:
            if len(split_into_shards(tensors, max_bytes)) > 1:
                raise ValueError(f"the weights exceed max_shard_size={max_shard_size!r}: shards are written as "
                                 "safetensors only (safe_serialization=True); Transformers' pickled shards "
                                 "(pytorch_model.bin.index.json) are read, not written")
            from .torch_checkpoint import write_torch_checkpoint

            write_torch_checkpoint(tensors, directory / PICKLED_WEIGHTS_NAME)
            written = [PICKLED_WEIGHTS_NAME]
        if is_main_process:
            remove_stale_weights(directory, kept=written)
            config.save_pretrained(directory)
        return directory

    def resize_token_embeddings(self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None,
                                mean_resizing: bool = True, seed: int = 0):
        """Grow or cut the vocabulary to `new_num_tokens` (rounded up to a multiple of
        `pad_to_multiple_of`), after tokens were added to the tokenizer. Returns the word
        embeddings, as `get_input_embeddings()` (`.weight` is the (vocab, embedding_size) table).

        Rows past the old vocabulary start as the mean of the old rows (`mean_resizing`, as in
        Transformers, which adds noise of 1e-9 times their covariance, far below float32
        precision of the rows' spread) or as N(0, initializer_range) drawn from a generator seeded
        with `seed`. An untied MLM bias grows the same way, a tied one with zeros (as in Transformers);
        tied decoders follow the embeddings.
        """
        name = WORD_EMBEDDINGS
        if new_num_tokens is None and pad_to_multiple_of is None:
            return self.get_input_embeddings()
        count = self.params[name].shape[0] if new_num_tokens is None else new_num_tokens
        self.params = resize_vocabulary(self.params, count, pad_to_multiple_of, mean_resizing,
                                        self.config.initializer_range, np.random.default_rng(seed))
        self.config.vocab_size = self.params[name].shape[0]
        return self.get_input_embeddings()

    def get_input_embeddings(self) -> "WordEmbeddings":
        """The word-embedding table, as Transformers hands out its `nn.Embedding`: `.weight`
        (vocab, embedding_size) is this model's own array; calling it looks ids up."""
        return WordEmbeddings(self)

    def set_input_embeddings(self, value) -> None:
        """Replace the word-embedding table with `value` (an array, or anything with `.weight`) of the same shape."""
        WordEmbeddings(self).weight = getattr(value, "weight", value)

    def get_output_embeddings(self) -> "MlmDecoder | None":
        """The MLM decoder (tied to the word embeddings unless the config says otherwise, with the
        MLM bias) for the classes that have one, as in Transformers; None for the others."""
        return MlmDecoder(self) if MLM_BIAS in self.params else None

    @property
    def device(self) -> str:
        """Where the parameters live, as Transformers' `model.device`: "cpu", or "cuda:N" on CuPy
        (so that `tokenizer(text, return_tensors="np").to(model.device)` runs unchanged)."""
        device = getattr(next(iter(self.params.values())), "device", "cpu")
        return f"cuda:{device.id}" if hasattr(device, "id") else str(device)

    def to(self, *args, device=None, dtype=None, non_blocking: bool = False):
        """Move the parameters to `device` and/or cast them to `dtype`, in place, as torch's
        `model.to(...)`; returns the model. Lines written for Transformers run unchanged:
        `model.to("cuda")`, `model.to(torch.float16)`, `model.to(device, dtype=...)`.

        device: "cpu" (NumPy), "cuda" or "cuda:N" (CuPy, on the current CUDA device), an int N
        (read as "cuda:N") or a torch.device. dtype: "float32", "float16", "float64" or a NumPy,
        CuPy or torch dtype. A model already on a CPU backend (NumPy, array_api_strict) stays on it
        for "cpu". `non_blocking` is a hint in torch; here the copy is always done when `to` returns.
        """
        for arg in args:  # torch's order-free positional form: .to(device), .to(dtype), .to(device, dtype)
            if names_a_device(arg):
                device = arg
            else:
                dtype = arg
        xp = self.xp if device is None else backend_for_device(device, self.xp)
        dtype = get_dtype(xp, self.dtype_name if dtype is None else dtype)
        if xp is not self.xp:  # across libraries through host memory: CuPy refuses implicit copies
            self.params = {name: to_numpy(value) for name, value in self.params.items()}
        self.params = {name: asarray(xp, value, dtype=dtype) for name, value in self.params.items()}
        self.xp, self.dtype, self.dtype_name = xp, dtype, dtype_name(xp, dtype)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def half(self):
        return self.to(dtype="float16")

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """How many numbers the parameters hold (every parameter is trainable; shared layers count once).

        `exclude_embeddings` leaves out the embedding tables, as Transformers does (the relative
        positions' distance table too: it is an embedding there).
        """
        return sum(
            int(np.prod(value.shape)) for name, value in self.params.items()
            if not (exclude_embeddings and name.endswith(("embeddings.weight", "distance_embedding.weight")))
        )

    @property
    def base_model(self) -> "AlbertModel":
        """The body alone, as Transformers' `model.albert` (or `model.base_model`): an
        `AlbertModel` on this model's own parameter arrays (changing an array in place changes
        both; replacing one in either leaves the other as it was). An AlbertModel is its own."""
        if isinstance(self, AlbertModel):
            return self
        body = AlbertModel.__new__(AlbertModel)
        body.__dict__.update(self.__dict__)  # config, backend, dtype, mode and dropout generator
        body.with_pooler = self.with_pooler
        body.params = {name: value for name, value in self.params.items() if name.startswith(self.base_model_prefix + ".")}
        return body

    @property
    def albert(self) -> "AlbertModel":
        """Transformers' attribute for the body (`base_model_prefix`): see `base_model`."""
        return self.base_model

    def tie_weights(self) -> None:
        """Transformers' call to (re)tie the decoder to the word embeddings. Here a tied decoder
        is the word-embedding table itself (there is no copy to tie), so nothing is to be done."""

    def prune_heads(self, heads_to_prune: dict) -> None:
        """Remove attention heads for good, as Transformers' `prune_heads`: `{layer: [head, ...]}`.

        `layer` numbers the layers that have weights of their own, group by group
        (group * inner_group_num + inner, Transformers' numbering: with ALBERT's one shared layer,
        0 is the only one, and pruning it prunes every pass). Heads are numbered as in the
        unpruned layer. Their query, key and value rows and output-projection columns are cut
        (`weights.prune_attention_heads`), and `config.pruned_heads` records every head removed
        so far, so that `save_pretrained` then `from_pretrained` (here or in Transformers) gives
        the same smaller model. Call it on the model you run: `model.albert` is a view whose
        arrays would be replaced without the model's."""
        requested = pruned_heads_map(heads_to_prune)
        before = self.config.pruned_heads
        after = {**before, **{layer: sorted(set(before.get(layer, [])) | set(heads)) for layer, heads in requested.items()}}
        AlbertConfig.from_dict({**self.config.to_dict(), "pruned_heads": after})  # refuses bad numbers before any change
        for layer, heads in requested.items():
            prefix = layer_prefix(*divmod(layer, self.config.inner_group_num)) + "attention."
            pruned = prune_attention_heads(weights_below(self.params, prefix), before.get(layer, []), heads,
                                           self.config.num_attention_heads, self.config.head_size)
            self.params.update({prefix + name: value for name, value in pruned.items()})
        self.config.pruned_heads = after

    # -- copies: the backend module is kept by name, so a model pickles and deep-copies
    def __getstate__(self):
        state = self.__dict__.copy()
        state["xp"] = self.xp.__name__  # "numpy", "cupy", ...: a module does not pickle
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["xp"] = importlib.import_module(state["xp"])
        self.__dict__.update(state)

    # -- the forward pass
    def _prepare_inputs(self, input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds):
        """Move inputs to the backend, check them and fill in Transformers' defaults (`inputs.py`)."""
        return prepare_inputs(self.xp, self.dtype, self.config, input_ids, attention_mask, token_type_ids,
                              position_ids, head_mask, inputs_embeds)

    def _body(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
              inputs_embeds=None, output_hidden_states=None, output_attentions=None):
        input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds = self._prepare_inputs(
            input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds
        )
        output_hidden_states, output_attentions = output_flags(self.config, output_hidden_states, output_attentions)
        return albert_body_forward(
            self.params, self.config, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
            position_ids=position_ids, head_mask=head_mask, inputs_embeds=inputs_embeds,
            with_pooler=self.with_pooler, output_hidden_states=output_hidden_states,
            output_attentions=output_attentions, rng=self._dropout_rng(),
        )

    def _dropout_rng(self):
        return self.rng if self.training else None

    def _labels(self, labels, name: str = "labels", classes: int | None = None, shape=None):
        """`labels` on the backend, checked to be class ids in [0, classes) or -100 (ignored)."""
        return None if labels is None else check_labels(self.xp, labels, name, classes, shape)

    def _position_labels(self, labels, name: str, classes: int, shape):
        """`_labels` for the losses Transformers computes on flattened labels (`labels.view(-1)`):
        flat labels (batch * seq,) or a trailing axis of 1 are read as `shape`; any other layout
        must be `shape` itself (a transposed (seq, batch) array is refused, not misread)."""
        if labels is not None:
            labels = asarray(self.xp, labels)
            flattened = labels.ndim == 1 or (labels.ndim == len(shape) + 1 and labels.shape[-1] == 1)
            if flattened and tuple(labels.shape) != tuple(shape) and labels.size == math.prod(shape):
                labels = self.xp.reshape(labels, tuple(shape))
        return self._labels(labels, name, classes, shape)

    def _finish_output(self, output: ModelOutput, return_dict):
        """The output object, or with `return_dict=False` its tuple. The default (None) is
        `config.use_return_dict`, as in Transformers: `config.return_dict`, tuples under `torchscript`."""
        return_dict = self.config.use_return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()

    @staticmethod
    def _tuple(values):
        return None if values is None else tuple(values)

    def _pretraining(self, input_ids, labels, sentence_order_label, attention_mask=None, token_type_ids=None,
                     position_ids=None, head_mask=None, inputs_embeds=None, output_hidden_states=None,
                     output_attentions=None, keep_caches=False, loss_scales=(1.0, 1.0), labelled_only=False):
        """Check and prepare the inputs, then run the MLM (+ SOP) objective of `nn.pretraining`."""
        input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds = self._prepare_inputs(
            input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds
        )
        shape = tuple(attention_mask.shape)
        labels = self._position_labels(labels, "labels", self.config.vocab_size, shape)
        sentence_order_label = self._position_labels(sentence_order_label, "sentence_order_label", SOP_CLASSES, shape[:1])
        output_hidden_states, output_attentions = output_flags(self.config, output_hidden_states, output_attentions)
        return pretraining_forward(
            self.params, self.config, input_ids, labels, sentence_order_label, attention_mask,
            token_type_ids, position_ids, self._dropout_rng(), head_mask=head_mask, inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states, output_attentions=output_attentions,
            keep_caches=keep_caches, loss_scales=loss_scales, labelled_only=labelled_only,
        )

    def _pretraining_loss_and_grads(self, input_ids, labels, sentence_order_label, attention_mask, token_type_ids,
                                    loss_scales):
        if labels is None:
            raise ValueError("loss_and_grads needs labels (batch, seq), -100 where nothing is predicted")
        loss, outputs, cache = self._pretraining(
            input_ids, labels, sentence_order_label, attention_mask, token_type_ids, keep_caches=True,
            loss_scales=loss_scales, labelled_only=True,  # perf: the MLM head only where there is a label
        )
        del outputs  # perf: the logits are not needed for the gradients: free them first
        return loss, pretraining_backward(cache)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


def _replace_parameter(model, name: str, value) -> None:
    """Put `value` in place of the parameter `name`, on the model's backend and dtype; same shape only.
    A torch tensor (an `nn.Embedding`'s weight) is detached and copied from the host."""
    value = _host_array(value)
    current = model.params[name]
    if tuple(value.shape) != tuple(current.shape):
        raise ValueError(f"{name}: a new value must have shape {tuple(current.shape)}, got {tuple(value.shape)}; "
                         "to change the vocabulary use resize_token_embeddings")
    model.params[name] = asarray(model.xp, value, dtype=model.dtype)


class WordEmbeddings:
    """`get_input_embeddings()`: weight (vocab, embedding_size); calling it, `embeddings(ids)`,
    gives (..., embedding_size).

    A view, not a copy: `weight` is read from the model's parameter dict every time, so it follows
    the optimizer, `to()` and `resize_token_embeddings`, and setting it replaces the model's table.
    """

    def __init__(self, model):
        self.model = model

    @property
    def weight(self):
        return self.model.params[WORD_EMBEDDINGS]

    @weight.setter
    def weight(self, value):
        _replace_parameter(self.model, WORD_EMBEDDINGS, value)

    @property
    def num_embeddings(self) -> int:
        return self.weight.shape[0]

    @property
    def embedding_dim(self) -> int:
        return self.weight.shape[1]

    @property
    def padding_idx(self):
        return self.model.config.pad_token_id

    def __call__(self, input_ids):
        # Checked as a model call checks them: NumPy would read -1 as the last row, CuPy wraps any id.
        return embedding_lookup(self.weight, check_ids(self.model.xp, input_ids, "input_ids", self.num_embeddings))


class MlmDecoder:
    """`get_output_embeddings()`: the MLM decoder, a view like `WordEmbeddings`. weight
    (vocab, embedding_size) is the word-embedding table itself when tied (the default), else
    `predictions.decoder.weight`; bias (vocab,) is the MLM bias; calling it, `decoder(h)`, scores
    vectors (..., embedding_size) against the vocabulary: (..., vocab)."""

    def __init__(self, model):
        self.model = model
        self.weight_name = UNTIED_DECODER if UNTIED_DECODER in model.params else WORD_EMBEDDINGS

    @property
    def weight(self):
        return self.model.params[self.weight_name]

    @weight.setter
    def weight(self, value):
        _replace_parameter(self.model, self.weight_name, value)

    @property
    def bias(self):
        return self.model.params[MLM_BIAS]

    @bias.setter
    def bias(self, value):
        _replace_parameter(self.model, MLM_BIAS, value)

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def __call__(self, hidden):
        xp = self.model.xp
        return asarray(xp, hidden) @ xp.matrix_transpose(self.weight) + self.bias


def flat_cross_entropy(logits, labels, classes: int):
    """Mean cross-entropy of logits (..., classes) against integer labels (...), -100 ignored."""
    xp = array_namespace(logits)
    loss, _ = cross_entropy_forward(xp.reshape(logits, (-1, classes)), xp.reshape(labels, (-1,)))
    return loss


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict` did not match, as torch reports it."""

    missing_keys: list
    unexpected_keys: list


def _host_array(value):
    """`value` as it is, unless it is a torch tensor: then a NumPy copy (see `to_numpy`)."""
    return to_numpy(value) if is_torch_tensor(value) else value


# Options of Transformers' from_pretrained for downloads, devices and torch's loader: accepted, no effect
# here. ALBERT does not generate: Transformers ignores `generation_config` for it too.
IGNORED_LOADER_OPTIONS = frozenset({
    "proxies", "resume_download", "mirror", "_fast_init", "offload_folder", "offload_state_dict", "offload_buffers",
    "max_memory", "weights_only", "_from_auto", "_from_pipeline", "from_auto_class", "_commit_hash",
    "generation_config",
})
# Options of Transformers' from_pretrained that ask for something torch-only (quantization, GGUF,
# tensor parallelism, hub kernels): accepted at these, their defaults, and refused with a reason otherwise.
INERT_LOADER_OPTIONS = {
    "load_in_8bit": (False, "8-bit weights are quantization (bitsandbytes)"),
    "load_in_4bit": (False, "4-bit weights are quantization (bitsandbytes)"),
    "gguf_file": (None, "GGUF files are not read; convert with Transformers and save_pretrained first"),
    "tp_plan": (None, "tensor parallelism is torch.distributed's"),
    "tp_size": (None, "tensor parallelism is torch.distributed's"),
    "device_mesh": (None, "tensor parallelism is torch.distributed's"),
    "use_kernels": (False, "Hub kernels are torch code"),
    "adapter_name": ("default", "PEFT adapters are not loaded"),
    "adapter_kwargs": ({}, "PEFT adapters are not loaded"),
}


def _check_inert_loader_option(name: str, value) -> None:
    """Accept an `INERT_LOADER_OPTIONS` option at its default; else say why tinyalbert cannot honour it."""
    default, why = INERT_LOADER_OPTIONS[name]
    if value is not None and value is not default and value != default:  # None: not given
        raise ValueError(f"from_pretrained(..., {name}={value!r}): tinyalbert computes in float32, float16 or "
                         f"float64 NumPy/CuPy arrays on one device; {why}")


def chosen_dtype(dtype=None, torch_dtype=None):
    """The dtype a loader is asked for: `dtype`, or Transformers' name for the same option,
    `torch_dtype` ("float16", torch.float16 or "auto"); None is not given. Both given is refused,
    neither is float32."""
    if dtype is not None and torch_dtype is not None:
        raise ValueError(f"pass dtype or torch_dtype, not both (got dtype={dtype!r}, torch_dtype={torch_dtype!r})")
    chosen = torch_dtype if dtype is None else dtype
    return "float32" if chosen is None else chosen


def _auto_dtype(config: AlbertConfig, tensors: dict) -> str:
    """The dtype `torch_dtype="auto"` picks, as Transformers does: the config's saved dtype, or when
    config.json names none, that of the checkpoint's first floating tensor (float32 where
    tinyalbert does not compute in it)."""
    if config.extra.get("dtype") or config.extra.get("torch_dtype"):
        return config.saved_dtype()
    first = next((value.dtype for value in tensors.values() if np.issubdtype(value.dtype, np.floating)), None)
    return str(first) if str(first) in ("float16", "float32", "float64") else "float32"


def _as_albert_config(config) -> AlbertConfig:
    """`config` itself when it is a tinyalbert `AlbertConfig`; a copy of Transformers' AlbertConfig
    (anything with `model_type == "albert"` and `to_diff_dict()`), so that code building a model from
    `transformers.AlbertConfig(...)` runs, saves and reloads as with ours; else a TypeError."""
    if isinstance(config, AlbertConfig):
        return config
    if getattr(config, "model_type", None) == "albert" and callable(getattr(config, "to_diff_dict", None)):
        # The fields that differ from the defaults, as Transformers saves them; not its private
        # attributes (`_attn_implementation_autoset`) nor the version that wrote it.
        values = {name: value for name, value in config.to_diff_dict().items()
                  if not name.startswith("_") and name != "transformers_version"}
        return AlbertConfig.from_dict(values)
    raise TypeError(f"config must be a tinyalbert AlbertConfig or Transformers' AlbertConfig, "
                    f"got {type(config).__name__}")


def _check_pad_token_id(config: AlbertConfig, source: str | Path = "config") -> None:
    """The padding row of the word embeddings is kept at zero and gets no gradient, so
    `pad_token_id` must name a row; Transformers' `nn.Embedding(padding_idx=...)` refuses the
    model too."""
    pad = config.pad_token_id
    if pad is not None and pad >= config.vocab_size:
        raise ValueError(f"{source} has pad_token_id {pad}, not an id of its {config.vocab_size}-piece vocabulary "
                         "(vocab_size): set it to the tokenizer's <pad> id, 0 for ALBERT")


def _names_a_file(name_or_path) -> bool:
    """Whether `from_pretrained`'s first argument is the path of a file (not a directory or a Hub name)."""
    return isinstance(name_or_path, (str, Path)) and Path(name_or_path).expanduser().is_file()


def _refuse_unsupported_loading(from_tf, from_flax, variant, quantization_config) -> None:
    if from_tf or from_flax:
        raise ValueError("tinyalbert reads PyTorch and safetensors checkpoints only; convert TensorFlow or Flax "
                         "weights with Transformers first (from_pretrained(..., from_tf=True).save_pretrained(dir))")
    if variant is not None:
        raise ValueError(f"variant={variant!r}: tinyalbert reads model.safetensors (or its index) and "
                         "pytorch_model.bin only; save the variant under those names to load it")
    if quantization_config is not None:
        raise ValueError("quantization_config: tinyalbert computes in float32, float16 or float64 (dtype=), "
                         "not in quantized weights")


# --- the model classes --------------------------------------------------------------------------
class AlbertModel(AlbertPreTrainedModel):
    """The bare body: `last_hidden_state` (batch, seq, hidden) and `pooler_output` (batch, hidden;
    None for a model built with `add_pooling_layer=False`, as in Transformers)."""

    stripped_prefix = "albert."

    def __init__(self, config: AlbertConfig, add_pooling_layer: bool = True, *, params: dict | None = None, **options):
        # add_pooling_layer second, as Transformers has it: AlbertModel(config, False).
        if not isinstance(add_pooling_layer, bool):
            raise TypeError(f"add_pooling_layer must be True or False, got {type(add_pooling_layer).__name__} "
                            "(parameters go by name: AlbertModel(config, params=...))")
        self.with_pooler = add_pooling_layer  # an attribute of this model, hiding the class's
        super().__init__(config, params, **options)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None):
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        output = self._finish_output(BaseModelOutputWithPooling(
            body.sequence_output, body.pooled_output, self._tuple(body.hidden_states), self._tuple(body.attentions)
        ), return_dict)
        if isinstance(output, tuple) and not self.with_pooler:  # Transformers' tuple keeps the pooler's place
            output = (output[0], None, *output[1:])
        return output


class AlbertForPreTraining(AlbertPreTrainedModel):
    """MLM head (tied to the word embeddings) and sentence-order-prediction head."""

    @classmethod
    def head_shapes(cls, config):
        return {**mlm_head_shapes(config), **linear_shapes(SOP_PREFIX, config.hidden_size, config.num_labels)}

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, sentence_order_label=None, output_attentions=None,
                output_hidden_states=None, return_dict=None):
        if labels is None or sentence_order_label is None:  # Transformers gives a loss only with both
            labels = sentence_order_label = None
        loss, out, _ = self._pretraining(input_ids, labels, sentence_order_label, attention_mask, token_type_ids,
                                         position_ids, head_mask, inputs_embeds, output_hidden_states,
                                         output_attentions)
        return self._finish_output(AlbertForPreTrainingOutput(
            loss, out.prediction_logits, out.sop_logits, self._tuple(out.hidden_states), self._tuple(out.attentions)
        ), return_dict)

    def loss_and_grads(self, input_ids, labels, sentence_order_label, attention_mask=None, token_type_ids=None,
                       loss_scales=(1.0, 1.0)):
        """Total MLM + SOP loss and the gradient of every parameter (keys of `state_dict()`).
        `loss_scales` weights the MLM and SOP terms (data-parallel training passes each process's shares)."""
        return self._pretraining_loss_and_grads(input_ids, labels, sentence_order_label, attention_mask, token_type_ids,
                                                loss_scales)


class AlbertForMaskedLM(AlbertPreTrainedModel):
    """The MLM head alone: `logits` (batch, seq, vocab)."""

    with_pooler = False

    @classmethod
    def head_shapes(cls, config):
        return mlm_head_shapes(config)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=None):
        loss, out, _ = self._pretraining(input_ids, labels, None, attention_mask, token_type_ids, position_ids,
                                         head_mask, inputs_embeds, output_hidden_states, output_attentions)
        output = MaskedLMOutput(loss, out.prediction_logits, self._tuple(out.hidden_states), self._tuple(out.attentions))
        return self._finish_output(output, return_dict)

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, loss_scales=(1.0, 1.0)):
        """MLM loss and the gradient of every parameter (keys of `state_dict()`); only the first of
        `loss_scales` applies, there being no SOP term."""
        return self._pretraining_loss_and_grads(input_ids, labels, None, attention_mask, token_type_ids, loss_scales)
