"""The file-search bench's scoring: NDCG@10 and Recall@10 over files, and its annotation files' shape."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))  # the bench scripts import each other as top-level modules

import file_search  # noqa: E402


def test_files_count_once_at_their_best_rank() -> None:
    assert file_search.ranked_files(["a.py", "b.py", "a.py", "c.py", "b.py"]) == ["a.py", "b.py", "c.py"]


def test_ndcg_is_one_for_the_ideal_order_and_zero_without_a_hit() -> None:
    assert file_search.ndcg(["a", "b", "c"], ["a", "b"], ["c"]) == pytest.approx(1.0)
    assert file_search.ndcg(["x", "y"], ["a"], []) == 0.0


def test_ndcg_discounts_by_rank_and_gives_secondary_files_half() -> None:
    # relevant a at rank 2, secondary s at rank 1: ideal is a then s.
    dcg = 0.5 / math.log2(2) + 1.0 / math.log2(3)
    idcg = 1.0 / math.log2(2) + 0.5 / math.log2(3)
    assert file_search.ndcg(["s", "a"], ["a"], ["s"]) == pytest.approx(dcg / idcg)
    # a relevant file below rank 10 is not counted
    assert file_search.ndcg([f"x{i}" for i in range(10)] + ["a"], ["a"], []) == 0.0


def test_the_ideal_counts_at_most_ten_files() -> None:
    relevant = [f"r{i}" for i in range(12)]
    assert file_search.ndcg(relevant[:10], relevant, []) == pytest.approx(1.0)


def test_recall_is_the_share_of_relevant_files_in_the_first_ten() -> None:
    assert file_search.recall(["a", "x", "b"], ["a", "b", "c", "d"]) == 0.5
    assert file_search.recall(["s"], ["a"]) == 0.0


@pytest.mark.parametrize("path", sorted(file_search.ANNOTATIONS.glob("*.json")), ids=lambda p: p.stem)
def test_annotations_have_the_benchmark_shape(path: Path) -> None:
    entries = json.loads(path.read_text())
    assert path.stem in file_search.SOURCES
    assert {e["category"] for e in entries} <= set(file_search.CATEGORIES)
    for e in entries:
        assert set(e) == {"query", "relevant", "secondary", "category"}, e
        assert e["relevant"] and not set(e["relevant"]) & set(e["secondary"]), e
    queries = [e["query"].lower() for e in entries]
    assert len(queries) == len(set(queries)), "a query is asked twice"
