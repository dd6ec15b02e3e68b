"""`citewise ingest`: files -> canonical texts -> passages -> vectors -> a new published index generation."""

from __future__ import annotations

import bisect
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from citewise.core.embedding import Embedder
from citewise.core.errors import CitewiseError, IndexIncompatibleError
from citewise.core.index import IndexStore, IndexWriter, NewPassage, NewSource
from citewise.core.settings import Settings
from citewise.core.text import primary_author
from citewise.core.types import ParsedDocument, Passage, PassageVectors, Source, SourceMeta, content_hash
from citewise.ingest.chunker import Chunker
from citewise.ingest.embedder import load_embedder
from citewise.ingest.files import CorpusFile, collect_files, files_under

__all__ = ["CorpusFile", "IngestReport", "Ingestor", "collect_files", "files_under"]
from citewise.core.sentences import passage_sentences, sentence_spans, unwrap, unwrapped_spans
from citewise.ingest.readers import UnreadableFile, read_document
from citewise.store import open_store

EMBED_BATCH = 256
# Bump when a reader's output (text, headings, pages, hidden spans) or the chunker's cuts change: the next ingest
# then re-reads unchanged files, reusing their cached vectors wherever a passage's text is unchanged.
# 3: passages never pass the token limit (cut between tokens where no space is) or reach into Markdown markup.
# 4: the overlap between passages counts the white space it spans (about 1% of the demo corpus's passages move);
#    Markdown headings are found in linear time (the same ones, bar lines of '#' alone).
READER_VERSION = "4"


@dataclass
class IngestReport:
    index_dir: str
    sources: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    # Indexed sources that were not among the paths given: kept, unless the run was asked to --prune them.
    not_given: int = 0
    passages: int = 0
    passages_embedded: int = 0
    passages_reused: int = 0
    tokens: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    vector_index: str = ""  # the kind of vector index the store built (flat-ip, hnsw32-ip, ...)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Prepared:
    file: CorpusFile
    source: Source
    document: ParsedDocument
    passages: list[Passage]
    search_texts: list[str]
    text_hashes: list[str]
    sentence_spans: list[list[tuple[int, int]]]  # per passage, in its search text


class Ingestor:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, progress: bool = True,
                 store: IndexStore | None = None) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.chunker = Chunker(settings.chunking)
        self._embedder = embedder
        self.progress = progress
        self.embedder_signature = embedder.signature if embedder else (
            f"{settings.embedding.model}/{settings.embedding.variant}"
        )

    @property
    def context_signature(self) -> str:
        return "title-author-heading" if self.settings.ingest.contextual else "none"

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:  # loaded only when something needs embedding
            self._embedder = load_embedder(self.settings.embedding)
        return self._embedder

    def run(self, paths: list[Path], rebuild: bool = False, prune: bool = False) -> IngestReport:
        """Adds and updates the sources under `paths`; sources indexed before and not among them are kept, or with
        `prune` removed (never all of them: an empty folder or a FIFO must not empty an index)."""
        started = time.perf_counter()
        files, skipped = collect_files(paths)
        report = IngestReport(index_dir=self.store.location, skipped=list(skipped))
        # What can be refused is refused before the writing session copies the index (the embedded index copies
        # its whole database); the session checks again, under its lock, from what it copied.
        if not rebuild:
            self._check_compatible(self.store.current_meta() or {})
        if prune and not files:
            self._refuse_pruning_everything(self._indexed_sources(), paths, report)
        with self.store.writing(rebuild=rebuild) as writer:
            self._check_compatible(writer.meta())
            self._update(writer, files, report, prune, paths)
            writer.set_meta({
                "embedder": self.embedder_signature, "chunker": self.chunker.signature, "readers": READER_VERSION,
                "passage_context": self.context_signature,
                "dim": str(self._dimension(writer)), "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            })
            facts = writer.publish()
        report.vector_index = facts["index_kind"]
        report.passages = int(facts["passages"])
        report.seconds = time.perf_counter() - started
        return report

    def _dimension(self, writer: IndexWriter) -> int:
        if self._embedder is not None:
            return self._embedder.dim
        stored = writer.meta().get("dim")
        return int(stored) if stored else self.embedder.dim

    def _check_compatible(self, meta: dict[str, str]) -> None:
        """An index grows only with the embedder, chunker and passage context it was built with (meta is empty when
        the index is new or rebuilt; an index from before passage contexts had none)."""
        wanted = {"embedder": self.embedder_signature, "chunker": self.chunker.signature,
                  "passage_context": self.context_signature}
        stored = {**({"passage_context": "none"} if meta.get("embedder") else {}), **meta}
        differing = [f"{key} {stored.get(key)!r} (now {value!r})" for key, value in wanted.items()
                     if stored.get(key) is not None and stored.get(key) != value]
        if differing:
            raise IndexIncompatibleError(
                f"the index at {self.store.location} was built with another {', '.join(differing)}; "
                "run `citewise ingest --rebuild` to rebuild it"
            )

    def _indexed_sources(self) -> int:
        """How many sources the published index holds, read without a writing session (0 when there is none; a
        broken index or one of an older schema is left to the session, which repairs or upgrades it)."""
        if self.store.current_token() is None:
            return 0
        try:
            reader = self.store.reader()
        except CitewiseError:
            return 0
        try:
            return len(reader.sources)
        finally:
            reader.close()

    def _refuse_pruning_everything(self, indexed: int, paths: list[Path], report: IngestReport) -> None:
        """--prune with nothing to index would empty the index: refused, naming what was skipped."""
        if not indexed:
            return
        skipped = "".join(f"; skipped {path}: {reason}" for path, reason in report.skipped[:3])
        raise CitewiseError(
            f"nothing to index under {', '.join(map(str, paths))}{skipped}; so --prune would remove all "
            f"{indexed} sources of {self.store.location}; nothing was changed "
            "(`citewise remove SOURCE...` removes sources by name)")

    def _before_prepare(self, files: list[CorpusFile], stored: dict[str, Source], max_bytes: int,
                        reread: bool) -> None:
        """Called by _update before it reads any file, with what each `_prepare` call will be given: a subclass
        may prepare the files elsewhere first (the Ray ingestor does). Here, nothing."""

    def _update(self, writer: IndexWriter, files: list[CorpusFile], report: IngestReport, prune: bool,
                paths: list[Path]) -> None:
        stored = writer.sources_by_file()
        reread = writer.meta().get("readers") != READER_VERSION
        max_bytes = int(self.settings.ingest.max_file_mb * 1024 * 1024)
        self._before_prepare(files, stored, max_bytes, reread)
        present = {f.rel for f in files}
        not_given = [source for rel, source in stored.items() if rel not in present]
        if prune and not present:
            self._refuse_pruning_everything(len(not_given), paths, report)
        prepared: list[_Prepared] = []
        for corpus_file in tqdm(files, desc="reading", unit="file", disable=not self.progress, leave=False):
            try:
                item = self._prepare(corpus_file, stored.get(corpus_file.rel), max_bytes, reread)
            except UnreadableFile as exc:
                report.skipped.append((str(corpus_file.path), str(exc)))
                # A file that became unreadable keeps its previous passages: nothing indexed is lost.
                if corpus_file.rel in stored:
                    report.unchanged += 1
                continue
            except OSError as exc:
                report.skipped.append((str(corpus_file.path), exc.strerror or str(exc)))
                if corpus_file.rel in stored:
                    report.unchanged += 1
                continue
            except CitewiseError:
                raise
            except Exception as exc:  # a reader bug or a library choking on odd input costs one file, not the run
                report.skipped.append((str(corpus_file.path), f"could not be read ({_one_line(exc)})"))
                if corpus_file.rel in stored:
                    report.unchanged += 1
                continue
            if item is None:
                report.unchanged += 1
            else:
                prepared.append(item)
        if prune:
            for source in not_given:
                writer.remove_source(source.id)
            report.removed = len(not_given)
        else:
            report.not_given = len(not_given)
        vectors = self._vectors_for(writer, prepared, report)
        for item in prepared:
            old = stored.get(item.file.rel)
            if old is not None:
                writer.remove_source(old.id)
                report.updated += 1
            else:
                report.added += 1
            writer.add_source(NewSource(item.source, item.document.text, item.document.pages,
                                        item.document.headings))
            writer.add_passages([
                NewPassage(p, search, h, vectors[h])
                for p, search, h in zip(item.passages, item.search_texts, item.text_hashes, strict=True)
            ])
            report.tokens += sum(p.tokens for p in item.passages)
        report.sources = len(writer.sources_by_file())

    def _prepare(self, corpus_file: CorpusFile, old: Source | None, max_bytes: int, reread: bool = False
                 ) -> _Prepared | None:
        size = corpus_file.path.stat().st_size
        if size > max_bytes:
            raise UnreadableFile(
                f"too large ({_megabytes(size)}; the limit is {self.settings.ingest.max_file_mb:g} MB, "
                "set CITEWISE_INGEST__MAX_FILE_MB to raise it)"
            )
        data = corpus_file.path.read_bytes()
        file_sha = hashlib.sha256(data).hexdigest()
        if not reread and old is not None and old.file_sha256 == file_sha and _same_meta(old, corpus_file.meta):
            return None
        document = read_document(corpus_file.path, data, corpus_file.meta)
        source_id = content_hash(corpus_file.rel, document.text)
        chunks = self.chunker.chunk(document.text, document.hidden)
        if not chunks:
            raise UnreadableFile("no text could be extracted")
        page_starts = [start for start, _, _ in document.pages]
        heading_offsets = [offset for offset, _ in document.headings]
        passages, search_texts, hashes, sentences = [], [], [], []
        work = _work_of(document.meta) if self.settings.ingest.contextual else None
        for ordinal, chunk in enumerate(chunks):
            text = document.text[chunk.start:chunk.end]
            page_index = bisect.bisect_right(page_starts, chunk.start) - 1
            heading_index = bisect.bisect_right(heading_offsets, chunk.start) - 1
            passages.append(Passage(
                id=content_hash(source_id, str(chunk.start), str(chunk.end)), source_id=source_id,
                ordinal=ordinal, start=chunk.start, end=chunk.end, text=text, tokens=chunk.tokens,
                page=document.pages[page_index][2] if page_index >= 0 else None,
                heading=document.headings[heading_index][1] if heading_index >= 0 else None,
            ))
            plain = unwrap(text)
            context = _context_of(work, passages[-1].heading) if work is not None else ""
            search = context + plain
            search_texts.append(search)
            hashes.append(content_hash(self.embedder_signature, search))
            sentences.append([(s + len(context), e + len(context))
                              for s, e in _sentences_to_embed(document.text, chunk.start, chunk.end, plain)])
        meta = document.meta
        source = Source(
            id=source_id, file=corpus_file.rel, title=meta.title, author=meta.author, year=meta.year,
            licence=meta.licence, origin=meta.origin, file_sha256=file_sha, chars=len(document.text),
            passages=len(passages), kind=meta.kind, aliases=meta.aliases,
        )
        return _Prepared(corpus_file, source, document, passages, search_texts, hashes, sentences)

    def _vectors_for(self, writer: IndexWriter, prepared: list[_Prepared], report: IngestReport
                     ) -> dict[str, PassageVectors]:
        """Vectors for every passage to add: reused when the same text was embedded before, else computed."""
        needed: dict[str, tuple[str, list[tuple[int, int]]]] = {}
        for item in prepared:
            needed.update(zip(item.text_hashes, zip(item.search_texts, item.sentence_spans, strict=True),
                              strict=True))
        vectors = writer.cached_vectors(list(needed))
        missing = sorted((h for h in needed if h not in vectors), key=lambda h: -len(needed[h][0]))
        report.passages_reused = sum(len(item.passages) for item in prepared) - len(missing)
        if not missing:
            return vectors
        started = time.perf_counter()
        vectors.update(self._embed_missing({h: needed[h] for h in missing}))
        report.embed_seconds = time.perf_counter() - started
        report.passages_embedded = len(missing)
        return vectors

    def _embed_missing(self, texts: dict[str, tuple[str, list[tuple[int, int]]]]) -> dict[str, PassageVectors]:
        """Embeds each (search text, sentence spans) by its hash, in this process, in the order given."""
        vectors: dict[str, PassageVectors] = {}
        order = list(texts)
        with tqdm(total=len(order), desc="embedding", unit="passage", disable=not self.progress) as bar:
            for i in range(0, len(order), EMBED_BATCH):
                batch = order[i:i + EMBED_BATCH]
                passage_vectors, sentence_vectors = self.embedder.embed_with_spans(
                    [texts[h][0] for h in batch], [texts[h][1] for h in batch])
                for h, vector, pooled in zip(batch, passage_vectors, sentence_vectors, strict=True):
                    vectors[h] = PassageVectors(vector, tuple(texts[h][1]), pooled)
                bar.update(len(batch))
        return vectors


def passage_context(meta: SourceMeta, heading: str | None) -> str:
    """What a passage of a long book loses when it is cut out: the work it is from, its author and the heading it
    stands under ("The Varieties of Religious Experience. William James. LECTURE XVI. MYSTICISM.")."""
    return _context_of(_work_of(meta), heading)


def _work_of(meta: SourceMeta) -> tuple[str, str]:
    """The short title and first author a passage context names; the same for every passage of a document."""
    title = re.split(r"[:(]", meta.title)[0].strip()
    return title, primary_author(meta.author)


def _context_of(work: tuple[str, str], heading: str | None) -> str:
    parts = [part.strip().rstrip(".") for part in (*work, heading) if part and part.strip()]
    return ". ".join(parts) + ".\n\n" if parts else ""


def _sentences_to_embed(text: str, start: int, end: int, search: str) -> list[tuple[int, int]]:
    """Spans in the passage's search text of the sentences a query may need vectors for: the whole sentences
    the answer engines quote from, and the sentences of the search text itself that the support scorer
    compares a claim with (these differ at paragraph breaks and at the passage's cut edges)."""
    whole = [(s - start, e - start) for s, e in passage_sentences(text, start, end)]
    mapped = [span for span in unwrapped_spans(text[start:end], whole) if span is not None]
    return sorted(set(mapped) | set(sentence_spans(search)))


def _megabytes(size: int) -> str:
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{size / 1048576:.3f} MB"


def _one_line(exc: Exception) -> str:
    message = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _same_meta(old: Source, meta: SourceMeta | None) -> bool:
    if meta is None:
        return True  # metadata read from the file itself cannot change while its bytes stay the same
    year = None if meta.year is None else meta.year
    return (old.title, old.author, old.year, old.licence, old.origin, old.kind, old.aliases) == (
        meta.title, meta.author, year, meta.licence, meta.origin, meta.kind, meta.aliases)
