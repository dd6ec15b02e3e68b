"""The LlamaIndex side of `bench peer`: FAISS vector store and our own MiniLM embedder, nothing downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
from llama_index.core import Document, SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core import Settings as LlamaSettings
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.retrievers import BaseRetriever
from llama_index.vector_stores.faiss import FaissVectorStore
from pydantic import PrivateAttr

from citewise.core.embedding import Embedder
from citewise.core.settings import ChunkSettings
from citewise.core.tokenizer import get_encoding

EMBED_BATCH = 256


class CitewiseEmbedding(BaseEmbedding):
    """LlamaIndex's embedding interface over our already-loaded embedder."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.signature, embed_batch_size=EMBED_BATCH, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()


def configure(embedder: Embedder, chunking: ChunkSettings) -> tuple[CitewiseEmbedding, SentenceSplitter]:
    # Chunks like ours (cl100k tokens, same size and overlap), counted with our bundled ranks so that
    # LlamaIndex's own tokenizer is never asked to fetch any.
    encoding = get_encoding(chunking.encoding)
    LlamaSettings.llm = MockLLM()  # retrieval only: no hosted model is ever contacted
    LlamaSettings.tokenizer = encoding.encode
    embed_model = CitewiseEmbedding(embedder)
    LlamaSettings.embed_model = embed_model
    splitter = SentenceSplitter(chunk_size=chunking.max_tokens, chunk_overlap=chunking.overlap_tokens,
                                tokenizer=encoding.encode)
    return embed_model, splitter


def build_index(documents: list[Document], embedder: Embedder, chunking: ChunkSettings,
                persist_dir: Path | None = None) -> tuple[VectorStoreIndex, int]:
    """Split, embed, and store in an exact inner-product FAISS index (vectors are unit length: cosine)."""
    embed_model, splitter = configure(embedder, chunking)
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(embedder.dim))
    context = StorageContext.from_defaults(vector_store=store)
    nodes = splitter.get_nodes_from_documents(documents)
    index = VectorStoreIndex(nodes, storage_context=context, embed_model=embed_model, show_progress=False)
    if persist_dir is not None:  # citewise writes its index to disk, so the peer does too
        context.persist(persist_dir=str(persist_dir))
    return index, len(nodes)


def read_folder(folder: Path) -> list[Document]:
    return SimpleDirectoryReader(str(folder), required_exts=[".txt", ".md"]).load_data(show_progress=False)


def documents_from_texts(texts: dict[str, str]) -> list[Document]:
    """One Document per (doc id, text); the id is kept out of the embedded and chunked text."""
    return [Document(text=text, metadata={"doc_id": doc_id}, excluded_embed_metadata_keys=["doc_id"],
                     excluded_llm_metadata_keys=["doc_id"]) for doc_id, text in texts.items()]


def retriever(index: VectorStoreIndex, k: int) -> BaseRetriever:
    return index.as_retriever(similarity_top_k=k)
