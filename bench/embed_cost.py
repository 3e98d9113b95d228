"""What a cold index costs the model: texts, tokens and model CPU-seconds to embed a whole repository.

    python bench/embed_cost.py                          # Django 5.1.4's package, the configured settings
    python bench/embed_cost.py --tokens 256 --label window   # each chunk read in the model's whole window
    python bench/embed_cost.py --text code --label code      # each chunk read as written, not as its words
    python bench/embed_cost.py --corpus requests --batch 8

The repository is indexed (lexically) once and kept; each run deletes the vectors of its chunk texts
and embeds them again through the indexer's own embedding pass. Model CPU-seconds are the process
CPU time spent inside the model's calls (not wall time: on a shared machine that is mostly other
work), and tokens are what the model was given: each text after the passage cut, special tokens
included; padded tokens also count each batch's padding to its longest text.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
from _common import add_database_arguments, load, machine, settings_for, table, write_result  # noqa: E402

from mcp_server.db.pool import open_database  # noqa: E402
from mcp_server.embed.model import Embedder, embedder_for  # noqa: E402
from mcp_server.indexer import repositories  # noqa: E402
from mcp_server.indexer.embed import embed_pending  # noqa: E402
from mcp_server.indexer.pipeline import index_repository  # noqa: E402


class Meter:
    """Stands in for the embedder's engine: passes every call on and counts what the model was given."""

    def __init__(self, embedder: Embedder) -> None:
        self._engine = embedder._engine
        self._embedder = embedder
        self.texts = 0
        self.tokens = 0
        self.padded_tokens = 0
        self.model_cpu_s = 0.0
        self.lengths: list[int] = []

    def passage_embed(self, texts: list[str], batch_size: int = 16) -> list[Any]:
        started = time.process_time()
        rows = list(self._engine.passage_embed(texts, batch_size=batch_size))
        self.model_cpu_s += time.process_time() - started
        cap = self._embedder.max_tokens
        lengths = [min(n, cap) for n in self._embedder.count_tokens(texts)]
        self.texts += len(texts)
        self.tokens += sum(lengths)
        self.padded_tokens += sum(
            max(lengths[i : i + batch_size]) * len(lengths[i : i + batch_size])
            for i in range(0, len(lengths), batch_size)
        )
        self.lengths += lengths
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


async def measure(settings: Any, root: Path, name: str, fresh: bool) -> dict[str, Any]:
    embedder = embedder_for(settings)
    meter = Meter(embedder)
    embedder._engine = meter
    async with open_database(settings) as db:
        if fresh:
            async with db.pool.acquire() as conn:
                await conn.execute("DELETE FROM repositories WHERE name = $1", name)
        await index_repository(db, settings, root, name=name)
        async with db.pool.acquire() as conn:
            repo = await repositories.find(conn, name)
            # Cold for the model: no vector of this repository's texts may be reused.
            await conn.execute(
                """DELETE FROM embeddings WHERE model = $1
                   AND content_hash IN (SELECT content_hash FROM chunks WHERE repository_id = $2)""",
                embedder.model_key,
                repo.id,
            )
            await conn.execute(
                "DELETE FROM vector_progress WHERE model = $1 AND repository_id = $2", embedder.model_key, repo.id
            )
            chunks = await conn.fetchval("SELECT count(*) FROM chunks WHERE repository_id = $1", repo.id)
            distinct = await conn.fetchval(
                "SELECT count(DISTINCT content_hash) FROM chunks WHERE repository_id = $1", repo.id
            )
        cpu0, wall0 = time.process_time(), time.perf_counter()
        embedded = await embed_pending(db.pool, embedder, settings, repo.id)
        pass_cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    lengths = sorted(meter.lengths)
    return {
        "model_key": embedder.model_key,
        "passage_tokens": embedder.passage_tokens,
        "passage_text": embedder.passage_text,
        "batch_size": settings.embed_batch_size,
        "chunks": chunks,
        "distinct_texts": distinct,
        "texts_embedded": meter.texts,
        "vectors_written": embedded,
        "tokens_embedded": meter.tokens,
        "padded_tokens": meter.padded_tokens,
        "median_tokens": lengths[len(lengths) // 2] if lengths else None,
        "model_cpu_s": round(meter.model_cpu_s, 2),
        "pass_cpu_s": round(pass_cpu, 2),
        "pass_wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="django")
    parser.add_argument("--tokens", type=int, default=None, help="embed_tokens for this run (default: the settings')")
    parser.add_argument("--batch", type=int, default=None, help="embed_batch_size for this run")
    parser.add_argument(
        "--text",
        choices=("code", "words", "lean", "lean-python"),
        default=None,
        help="embed_text for this run (default: the settings')",
    )
    parser.add_argument("--fresh", action="store_true", help="index the repository afresh (after a chunking change)")
    parser.add_argument("--label", default="", help="names the result file: embed_cost-<corpus>[-label]-<stamp>")
    add_database_arguments(parser)
    args = parser.parse_args()
    corpus = corpora.get(args.corpus)
    root = corpora.corpus_root(corpus.name)
    settings = settings_for(args.data_dir, args.database_url)
    changes = {"embed_tokens": args.tokens, "embed_batch_size": args.batch, "embed_text": args.text}
    settings = dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
    before = load()
    figures = anyio.run(measure, settings, root, f"embed-cost-{corpus.name}", args.fresh)
    print(table(["figure", "value"], list(figures.items()), title=f"embedding cost of {corpus.requirement}"))
    payload = {
        "corpus": corpus.requirement,
        "command": " ".join(sys.argv),
        "load_before": before,
        "load_after": load(),
        "machine": machine(),
        "figures": figures,
    }
    label = "-".join(p for p in (corpus.name, args.label) if p)
    print("wrote", write_result("embed_cost", payload, label))


if __name__ == "__main__":
    main()
