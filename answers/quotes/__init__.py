"""Quotations checked against their sources: the verifier that locates a quote in its passage (normalize, near
miss), and the support scorer that says how well a passage supports the sentence citing it."""

from citewise.answers.quotes.normalize import normalize_text
from citewise.answers.quotes.support import MODEL_PATH as SUPPORT_MODEL_PATH
from citewise.answers.quotes.support import SupportScorer, load_support_scorer, sigmoid
from citewise.answers.quotes.support_features import FEATURES as SUPPORT_FEATURES
from citewise.answers.quotes.support_features import clean_claim, feature_matrix
from citewise.answers.quotes.verifier import QuoteMatch, QuoteStatus, QuoteVerifier, locate

__all__ = [
    "SUPPORT_FEATURES",
    "SUPPORT_MODEL_PATH",
    "QuoteMatch",
    "QuoteStatus",
    "QuoteVerifier",
    "SupportScorer",
    "clean_claim",
    "feature_matrix",
    "load_support_scorer",
    "locate",
    "normalize_text",
    "sigmoid",
]
