"""Java calls resolved across files the way javac does: declared types, return types, inherited fields, overloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer.pipeline import index_repository
from mcp_server.indexer.resolve import parameter_count

REPO = "java-resolve"

_FILES = {
    "src/app/Codec.java": """
package app;

public abstract class Codec {
    protected Buffer buffer;
    public byte[] encode(byte[] data) { return encode(data, 0, data.length, null); }
    abstract byte[] encode(byte[] data, int offset, int length, Object context);
    public Buffer buffer() { return buffer; }
}
""",
    "src/app/Hex.java": """
package app;

public class Hex extends Codec {
    @Override
    byte[] encode(byte[] data, int offset, int length, Object context) { return data; }

    void flush() {
        buffer.clear();
    }
}
""",
    "src/app/Buffer.java": """
package app;

public class Buffer {
    public void clear() {}
    public void flush() {}  // a second flush: a guess by name alone finds none
    public Mode mode() { return Mode.FAST; }
}
""",
    "src/app/Mode.java": """
package app;

public enum Mode {
    FAST, SLOW;
    public boolean quick() { return this == FAST; }
}
""",
    "src/app/Box.java": """
package app;

public abstract class Box<T extends Codec> {
    protected T held;
    public T get() { return held; }
}
""",
    "src/app/HexBox.java": """
package app;

class HexBox extends Box<Hex> {
    void drain() {
        get().flush();
        this.held.flush();
    }
}
""",
    "src/app/Use.java": """
package app;

class Use {
    byte[] run(Hex hex, byte[] data) {
        hex.buffer().mode().quick();
        Mode.SLOW.quick();
        return hex.encode(data);
    }
}
""",
}


@pytest.fixture(scope="module")
async def java_repo(db: Database, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("java") / REPO
    for rel, text in _FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.removeprefix("\n"))
    await index_repository(db, settings, root, name=REPO)
    return root


async def _calls(db: Database) -> dict[tuple[str, str], str | None]:
    rows = await db.pool.fetch(
        """SELECT src.qualified_name AS source, e.target_name, tgt.qualified_name AS target
           FROM edges e JOIN repositories r ON r.id = e.repository_id JOIN symbols src ON src.id = e.source_id
           LEFT JOIN symbols tgt ON tgt.id = e.target_id
           WHERE r.name = $1 AND e.kind = 'calls'""",
        REPO,
    )
    return {(r["source"], r["target_name"]): r["target"] for r in rows}


async def test_an_inherited_overload_is_found_on_the_base_by_its_argument_count(db: Database, java_repo: Path) -> None:
    calls = await _calls(db)
    # Hex declares only the four-argument encode: the one-argument call is Codec's.
    assert calls[("app.Use.run", "hex.encode")] == "app.Codec.encode"


async def test_members_of_inherited_fields_call_results_and_enum_constants(db: Database, java_repo: Path) -> None:
    calls = await _calls(db)
    assert calls[("app.Hex.flush", "buffer.clear")] == "app.Buffer.clear"  # a field of the base class
    assert calls[("app.Use.run", "hex.buffer().mode().quick")] == "app.Mode.quick"  # return types, chained
    assert calls[("app.Use.run", "Mode.SLOW.quick")] == "app.Mode.quick"


async def test_a_type_parameter_is_the_argument_the_subclass_passes(db: Database, java_repo: Path) -> None:
    calls = await _calls(db)
    # Box<T>.get() returns T; in HexBox (extends Box<Hex>) that is Hex, whose flush is called.
    assert calls[("app.HexBox.drain", "get().flush")] == "app.Hex.flush"
    assert calls[("app.HexBox.drain", "this.held.flush")] == "app.Hex.flush"


def test_parameter_counts_read_from_signatures() -> None:
    assert parameter_count("public static int add(int a, int b)") == (2, 2)
    assert parameter_count("void run()") == (0, 0)
    assert parameter_count("<T extends Comparable<? super T>> T max(Map<K, V> m, T... xs)") == (1, 1 << 16)
    assert parameter_count("Hex(@Named(a = 1, b = 2) int x, int[] y)") == (2, 2)
    assert parameter_count("int cut(int a, int") is None
