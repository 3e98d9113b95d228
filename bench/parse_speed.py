"""CPU time per file to read, parse and chunk a corpus (what a worker does per file), per language.

    python bench/parse_speed.py                                  # Django 5.1.4's package, best of 3
    PYTHONPATH=/path/to/other/checkout python bench/parse_speed.py   # the same for another version

No database and no model: one process, `prepare_file` on every discovered file, process time,
the best of --repeat passes per language. Less disturbed by a loaded machine than bench/speed.py's
wall-clock figures, and what a change to a parser or the chunker costs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
from _common import load, machine, table, write_result  # noqa: E402

from mcp_server.index.discover import discover  # noqa: E402
from mcp_server.index.modules import module_names  # noqa: E402
from mcp_server.index.prepare import prepare_file  # noqa: E402

_MAX_BYTES = 1 << 20


def per_language(root: Path, repeat: int) -> dict[str, dict[str, float]]:
    files = discover(root, _MAX_BYTES).files
    modules = module_names([f.path for f in files], {f.path: f.language for f in files})
    best: dict[str, float] = {}
    for _ in range(repeat):
        spent: dict[str, float] = {}
        for f in files:
            t = time.process_time()
            prepare_file(str(root), f, modules[f.path], _MAX_BYTES, None)
            spent[f.language] = spent.get(f.language, 0.0) + time.process_time() - t
        for language, seconds in spent.items():
            best[language] = min(best.get(language, seconds), seconds)
    counts: dict[str, int] = {}
    for f in files:
        counts[f.language] = counts.get(f.language, 0) + 1
    return {
        language: {
            "files": counts[language],
            "cpu_s": round(s, 3),
            "ms_per_file": round(1000 * s / counts[language], 3),
        }
        for language, s in sorted(best.items(), key=lambda item: -item[1])
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="django")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the corpus; the best counts")
    args = parser.parse_args()
    corpus = corpora.get(args.corpus)
    before = load()
    figures = per_language(corpora.corpus_root(corpus.name), args.repeat)
    rows = [(lang, f["files"], f["cpu_s"], f["ms_per_file"]) for lang, f in figures.items()]
    print(table(["language", "files", "CPU s", "ms/file"], rows, title=f"parse+chunk, {corpus.requirement}"))
    payload = {"corpus": corpus.requirement, "load_before": before, "load_after": load(), "machine": machine()}
    print("wrote", write_result("parse_speed", {**payload, "figures": figures}, corpus.name))


if __name__ == "__main__":
    main()
