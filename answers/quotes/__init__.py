"""Quotations checked against their sources: the verifier that locates a quote in its passage (normalize, near
miss), and the support scorer that says how well a passage supports the sentence citing it."""

from citewise.answers.quotes.near_miss import MIN_WORDS as NEAR_MISS_MIN_WORDS
from citewise.answers.quotes.near_miss import NearMiss, best_near_miss
from citewise.answers.quotes.normalize import Normalized, TextFinder, normalize_text, word_spans

# Under another name: `normalize` is also the module's, and an import of it would read as the module.
from citewise.answers.quotes.normalize import normalize as normalize_with_offsets
from citewise.answers.quotes.support import MODEL_PATH as SUPPORT_MODEL_PATH
from citewise.answers.quotes.support import SupportScorer, load_support_scorer, sigmoid
from citewise.answers.quotes.support_features import FEATURES as SUPPORT_FEATURES
from citewise.answers.quotes.support_features import clean_claim, feature_matrix
from citewise.answers.quotes.verifier import QuoteMatch, QuoteStatus, QuoteVerifier, locate

__all__ = [
    "NEAR_MISS_MIN_WORDS",
    "SUPPORT_FEATURES",
    "SUPPORT_MODEL_PATH",
    "NearMiss",
    "Normalized",
    "QuoteMatch",
    "QuoteStatus",
    "QuoteVerifier",
    "SupportScorer",
    "TextFinder",
    "best_near_miss",
    "clean_claim",
    "feature_matrix",
    "load_support_scorer",
    "locate",
    "normalize_text",
    "normalize_with_offsets",
    "sigmoid",
    "word_spans",
]
