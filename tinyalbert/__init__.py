"""tinyalbert: ALBERT in plain array code, exact enough to stand in for Transformers' ALBERT."""
from .auto import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForPreTraining,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTextEncoding,
    AutoModelForTokenClassification,
    AutoModelWithLMHead,
    AutoTokenizer,
)
from .config import AlbertConfig
from .models import AlbertForMaskedLM, AlbertForPreTraining, AlbertModel, AlbertPreTrainedModel
from .task_models import (
    AlbertForMultipleChoice,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
)

__version__ = "0.1.0"

# What `from tinyalbert import *` gives: the classes above and the two names imported on first use.
__all__ = [
    "AlbertConfig", "AlbertForMaskedLM", "AlbertForMultipleChoice", "AlbertForPreTraining",
    "AlbertForQuestionAnswering", "AlbertForSequenceClassification", "AlbertForTokenClassification",
    "AlbertModel", "AlbertPreTrainedModel", "AlbertTokenizer", "AutoConfig", "AutoModel",
    "AutoModelForMaskedLM", "AutoModelForMultipleChoice", "AutoModelForPreTraining",
    "AutoModelForQuestionAnswering", "AutoModelForSequenceClassification", "AutoModelForTextEncoding",
    "AutoModelForTokenClassification", "AutoModelWithLMHead", "AutoTokenizer", "pipeline",
]


def __getattr__(name):
    # Imported lazily so that `import tinyalbert` stays quick for the command-line tools.
    if name == "AlbertTokenizer":
        from .tokenizer import AlbertTokenizer

        return AlbertTokenizer
    if name == "pipeline":
        from .pipelines import pipeline

        return pipeline
    raise AttributeError(f"module 'tinyalbert' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), "AlbertTokenizer", "pipeline"})
