"""The reader: a cross-encoder trained here that reads a question against one sentence and says whether the
sentence answers it (not merely whether it is about the question's topic)."""

from citewise.answers.reader.inputs import MAX_TOKENS, reader_pair
from citewise.answers.reader.model import MODEL_PATH, TOKENIZER_PATH, SentenceReader, load_reader

__all__ = ["MAX_TOKENS", "MODEL_PATH", "TOKENIZER_PATH", "SentenceReader", "load_reader", "reader_pair"]
