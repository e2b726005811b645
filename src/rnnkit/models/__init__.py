"""Task models built from rnnkit's layers, each with a hand-written backward.

One file per model: ``classifier`` (many-to-one), ``tagger`` (aligned many-to-many),
``seq2seq`` (encoder-decoder, with ``attention``), ``forecaster`` (time-series regression),
``language_model`` (next-token prediction); ``metrics`` holds tagging measures.
"""

from rnnkit.models import metrics
from rnnkit.models.attention import LuongAttention
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import Forecaster, persistence_forecast
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.tagger import SequenceTagger

__all__ = [
    "SequenceClassifier", "SequenceTagger", "Seq2Seq", "LuongAttention", "Forecaster", "persistence_forecast",
    "LanguageModel", "metrics",
]
