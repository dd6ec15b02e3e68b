"""`citewise bench ...`: benchmarks that print numbers (text or --json); they never pass or fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citewise.commands.common import IndexOption, JsonOption
from citewise.core.errors import CitewiseError
from citewise.core.settings import load_settings

bench_app = typer.Typer(help="Measure speed: ingest, query, load, scale, cold start, a peer pipeline, an LLM, the "
                        "index backends and the distributed ingest.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    bench_app.command("ingest")(ingest)
    bench_app.command("query")(query)
    bench_app.command("scale")(scale)
    bench_app.command("cold")(cold)
    bench_app.command("peer")(peer)
    bench_app.command("variants")(variants)
    bench_app.command("backends")(backends)
    bench_app.command("distributed")(distributed)
    bench_app.command("llm")(llm)
    bench_app.command("load")(load)
    app.add_typer(bench_app, name="bench")


def _print(result: dict[str, object], json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            typer.echo(f"{key}:")
            for sub, sub_value in value.items():
                typer.echo(f"  {sub}: {sub_value}")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            typer.echo(f"{key}:")
            for row in value:
                typer.echo("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
        else:
            typer.echo(f"{key}: {value}")


def ingest(
    files: Annotated[int | None, typer.Option("--files", min=1, help="whole corpus files to ingest")] = None,
    passages: Annotated[int | None, typer.Option("--passages", min=1,
                                                 help="about this many passages [default: 600]")] = None,
    shapes_kb: Annotated[int, typer.Option(
        "--shapes-kb", min=0, help="size of each hostile-shape file timed against prose (0: none)")] = 400,
    memory_mb: Annotated[str, typer.Option(
        "--memory-mb", help="also run `citewise ingest` on prose of these sizes (comma-separated MB, e.g. 0.5,2) "
                            "and report its peak memory per MB of text; this embeds every passage")] = "",
    json_out: JsonOption = False,
) -> None:
    """Pipeline passages/s against the bare model's passages/s on the same passages (and their ratio); the time
    to read and chunk files of hostile shapes against prose of their size; with --memory-mb, peak memory."""
    from citewise.bench.ingest_bench import as_dict, bench_ingest

    if files is not None and passages is not None:
        raise CitewiseError("give --files or --passages, not both")
    try:
        sizes = [float(size) for size in memory_mb.split(",") if size.strip()]
    except ValueError:
        raise CitewiseError(f"--memory-mb {memory_mb!r}: give sizes in MB separated by commas, e.g. 0.5,2") from None
    if any(size <= 0 for size in sizes):
        raise CitewiseError(f"--memory-mb {memory_mb!r}: sizes must be above 0")
    result = bench_ingest(load_settings(), files=files, passages=None if files else (passages or 600),
                          shape_bytes=shapes_kb * 1000, memory_mb=sizes)
    _print(as_dict(result), json_out)


def query(
    index: IndexOption = None,
    clients: Annotated[int, typer.Option("--clients", min=1, max=32, help="concurrent HTTP clients")] = 4,
    requests: Annotated[int, typer.Option("--requests", min=1, max=10_000, help="requests per measurement")] = 40,
    no_http: Annotated[bool, typer.Option("--no-http", help="retrieval only; do not start the service")] = False,
    json_out: JsonOption = False,
) -> None:
    """p50/p95 of retrieval in process and of offline answers over HTTP on loopback (sequential, concurrent)."""
    from citewise.bench.query_bench import as_dict, bench_query

    result = bench_query(load_settings(index=index), clients=clients, requests=requests, http=not no_http)
    _print(as_dict(result), json_out)


def scale(
    sizes: Annotated[str, typer.Option("--sizes", help="comma-separated passage counts")] = "100000,1000000",
    queries: Annotated[int, typer.Option("--queries", min=1, max=10_000, help="queries per size")] = 200,
    ef_sweep: Annotated[str, typer.Option("--ef-sweep", help="HNSW efSearch values to try (comma-separated)")
                        ] = "16,32,64,128,256",
    hnsw_m: Annotated[int | None, typer.Option("--hnsw-m", min=4, max=128,
                                               help="force HNSW with this M instead of the automatic choice")
                      ] = None,
    json_out: JsonOption = False,
) -> None:
    """Build time, bytes/passage, p50 and recall@10 of the automatically chosen FAISS index on synthetic data."""
    from citewise.bench.scale_bench import as_dict, bench_scale_point

    try:
        counts = [int(s) for s in sizes.split(",") if s.strip()]
        efs = tuple(int(s) for s in ef_sweep.split(",") if s.strip())
    except ValueError as exc:
        raise CitewiseError(f"--sizes and --ef-sweep take comma-separated integers: {exc}") from exc
    if not counts or min(counts) < 1 or (efs and min(efs) < 1):
        raise CitewiseError("--sizes and --ef-sweep take positive integers")
    settings = load_settings()
    points = []
    for n in counts:
        point = as_dict(bench_scale_point(n, settings.ingest.exact_index_limit, queries=queries, ef_sweep=efs,
                                          hnsw_m=hnsw_m))
        points.append(point)
        if not json_out:
            _print(point, False)
            typer.echo("")
    if json_out:
        typer.echo(json.dumps(points, indent=2))


def cold(
    index: IndexOption = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="skip the time to /readyz")] = False,
    from_empty: Annotated[Path | None, typer.Option(
        "--from-empty", metavar="CORPUS", help="instead: `citewise serve --ingest CORPUS` on an empty index (--index, "
        "or a temporary folder) to the first cited answer and to the whole index served")] = None,
    question: Annotated[str | None, typer.Option("--question", help="with --from-empty: the question to ask "
                                                 "[default: one the demo corpus's smallest files answer]",
                                                 show_default=False)] = None,
    json_out: JsonOption = False,
) -> None:
    """Process start to first answer (`citewise ask`) and to /readyz (`citewise serve`), and where it goes."""
    if from_empty is not None:
        from citewise.bench.first_answer_bench import DEFAULT_QUESTION, bench_from_empty
        from citewise.bench.first_answer_bench import as_dict as from_empty_dict

        load_settings()  # the environment's settings are checked here rather than in the service
        result = bench_from_empty(from_empty, index, question or DEFAULT_QUESTION)
        _print(from_empty_dict(result), json_out)
        return
    from citewise.bench.cold_bench import as_dict, bench_cold

    result = bench_cold(load_settings(index=index).index, serve=not no_serve)
    _print(as_dict(result), json_out)


def peer(
    scifact_docs: Annotated[int | None, typer.Option(
        "--scifact-docs", min=1, help="SciFact corpus subset: the test queries' relevant docs plus distractors "
        "up to this many [default: all]")] = None,
    scifact_queries: Annotated[int | None, typer.Option("--scifact-queries", min=1,
                                                        help="SciFact test queries to use [default: all]")] = None,
    passages: Annotated[int, typer.Option("--passages", min=1, help="demo-corpus slice size")] = 300,
    questions: Annotated[int | None, typer.Option("--questions", min=1,
                                                  help="dev questions timed on the slice [default: all]")] = None,
    json_out: JsonOption = False,
) -> None:
    """The same corpus slice and queries through LlamaIndex (FAISS, same MiniLM) beside citewise."""
    from citewise.bench.peer_bench import as_dict, bench_peer

    result = bench_peer(load_settings(), passages=passages, scifact_docs=scifact_docs,
                        scifact_queries=scifact_queries, questions_limit=questions)
    _print(as_dict(result), json_out)


def variants(
    passages: Annotated[int, typer.Option("--passages", min=8, help="demo-corpus passages timed")] = 400,
    scifact_docs: Annotated[int | None, typer.Option(
        "--scifact-docs", min=1, help="SciFact abstracts: all judged ones plus distractors up to this many")] = 1500,
    scifact_queries: Annotated[int | None, typer.Option("--scifact-queries", min=1,
                                                        help="SciFact test queries [default: all]")] = None,
    json_out: JsonOption = False,
) -> None:
    """Embedding variants (fp32, bf16, onnxruntime int8): passages/s, cosine to fp32, SciFact nDCG@10."""
    from citewise.bench.variants_bench import as_dict, bench_variants

    result = bench_variants(load_settings(), passages=passages, scifact_docs=scifact_docs,
                            scifact_queries=scifact_queries)
    _print(as_dict(result), json_out)


def backends(
    index: Annotated[Path | None, typer.Option("--index", help="the embedded index to compare; copied into "
                                               "PostgreSQL first [default: settings]", show_default=False)] = None,
    synthetic: Annotated[int, typer.Option("--synthetic", min=0, help="synthetic passages for the second "
                                           "comparison (0: none)")] = 1_000_000,
    queries: Annotated[int, typer.Option("--queries", min=1, max=10_000,
                                         help="synthetic queries (the demo index uses the dev questions)")] = 200,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="skip the demo-index comparison")] = False,
    ef_sweep: Annotated[str, typer.Option("--ef-sweep", help="pgvector efSearch values also timed "
                                          "(comma-separated; empty: none)")] = "40,200,400",
    json_out: JsonOption = False,
) -> None:
    """SQLite + FAISS beside PostgreSQL + pgvector (CITEWISE_STORE__URL, e.g. from scripts/postgres.sh): dense and
    lexical latency p50/p95 and recall@10 on the demo index, and on a synthetic index of --synthetic passages.
    Writes the schemas bench_demo and bench_synthetic of that database."""
    try:
        from citewise.bench.backends_bench import as_dict, bench_backends
    except ImportError as exc:
        raise CitewiseError(f"bench backends needs the extra citewise[postgres]: {exc}") from None
    settings = load_settings(index=index)
    if not settings.store.url:
        raise CitewiseError("bench backends needs a PostgreSQL with pgvector: set CITEWISE_STORE__URL (`bash "
                            "scripts/postgres.sh` starts one and prints its URL)")
    try:
        efs = tuple(int(s) for s in ef_sweep.split(",") if s.strip())
    except ValueError as exc:
        raise CitewiseError(f"--ef-sweep takes comma-separated integers: {exc}") from exc
    result = bench_backends(settings, None if no_demo else Path(settings.index), settings.store.url,
                            synthetic or None, queries=queries, efs=efs)
    _print(as_dict(result), json_out)


def distributed(
    passages: Annotated[int, typer.Option("--passages", min=1, help="demo-corpus slice size")] = 600,
    workers: Annotated[str, typer.Option("--workers", help="Ray embedding actor counts to time (comma-separated)")
                       ] = "1,2",
    json_out: JsonOption = False,
) -> None:
    """Ingest throughput: the plain ingest beside `ingest --distributed` on Ray with each worker count, on the same
    slice of the demo corpus (a local Ray cluster, or RAY_ADDRESS)."""
    try:
        from citewise.bench.distributed_bench import as_dict, bench_distributed
    except ImportError as exc:
        raise CitewiseError(f"bench distributed needs the extra citewise[distributed]: {exc}") from None
    try:
        counts = [int(s) for s in workers.split(",") if s.strip()]
    except ValueError as exc:
        raise CitewiseError(f"--workers takes comma-separated integers: {exc}") from exc
    if not counts or min(counts) < 1:
        raise CitewiseError("--workers takes positive integers")
    _print(as_dict(bench_distributed(load_settings(), passages=passages, workers=counts)), json_out)
def llm(
    index: IndexOption = None,
    questions: Annotated[int, typer.Option("--questions", min=1, max=1000, help="questions to answer")] = 5,
    questions_file: Annotated[Path | None, typer.Option(
        "--questions-file", help="an eval questions file (evals/data/README.md) [default: the dev questions]",
        show_default=False)] = None,
    split: Annotated[str | None, typer.Option(
        "--split", help="only the questions of this split of --questions-file (tune or validation)",
        show_default=False)] = None,
    model: Annotated[Path | None, typer.Option(
        "--model", help="a .gguf file to run locally [default: CITEWISE_LLM__LOCAL_MODEL, the endpoint configured, "
        "or the model install.sh --local-llm fetched]", show_default=False)] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, max=256,
                                                help="CPU threads of a local model")] = None,
    json_out: JsonOption = False,
) -> None:
    """The LLM engine streamed: answers written by the model vs fallback, time to the first quotation and to the
    whole answer, output tokens, the model's sentences shown vs suppressed, tokens/s."""
    from citewise.bench.llm_bench import as_dict, bench_llm, default_model

    settings = load_settings(index=index)
    model = model or default_model(settings)
    updates = {key: value for key, value in (("local_model", model), ("threads", threads)) if value is not None}
    if updates:
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update=updates)})
    if split is not None and questions_file is None:
        raise CitewiseError("--split needs --questions-file")
    _print(as_dict(bench_llm(settings, questions=questions, questions_file=questions_file, split=split)), json_out)


def load(
    index: IndexOption = None,
    clients: Annotated[int, typer.Option("--clients", min=1, max=200, help="concurrent HTTP clients")] = 50,
    requests: Annotated[int, typer.Option("--requests", min=1, max=20_000,
                                          help="requests in all, shared by the clients")] = 1000,
    seconds: Annotated[float, typer.Option("--seconds", min=1, max=600, help="stop after this long at the latest")
                       ] = 180.0,
    url: Annotated[str | None, typer.Option("--url", help="a running service on loopback [default: start "
                                            "`citewise serve` on the index]", show_default=False)] = None,
    json_out: JsonOption = False,
) -> None:
    """Concurrent clients asking, searching, streaming completions and listing sources on loopback: errors,
    p50/p95 per kind of request, requests/s, and the load average."""
    from citewise.bench.load_bench import as_dict, bench_load

    result = bench_load(load_settings(index=index), clients=clients, requests=requests, seconds=seconds, url=url)
    _print(as_dict(result), json_out)
