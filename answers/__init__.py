"""Answer engines (offline and LLM) behind one contract, and the quote verifier they share."""
