"""C# and Ruby calls resolved across files: conditional compilation, framework and standard methods, privates, mixins, attributes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer.file_private import is_class_private

from .resolve_repo import index_files, targets

REPO = "csharp-ruby-resolve"

_FILES = {
    "src/Util/Seq.cs": """
namespace App.Util
{
    public static class Seq
    {
        public static System.Collections.Generic.IEnumerable<T> Where<T>(this System.Collections.Generic.IEnumerable<T> s, System.Func<T, bool> f) { return s; }
        public static int Evens(System.Collections.Generic.IEnumerable<int> source) { source.Where(x => x % 2 == 0); return 0; }
        public static string Shout(this string s) { return s; }
    }

    public class Horn
    {
        public void Beep() {}  // a second Beep: a guess by the name alone finds none
    }

    public class Bag
    {
        public void Clear() {}
        void Empty(System.Collections.Generic.List<int> items) { items.Clear(); }
    }

    public class Num : System.IConvertible
    {
        object System.IConvertible.ToType(System.Type t, System.IFormatProvider p) { return null; }
    }

    public class Reflect
    {
        public System.Type GetType(string member) { return null; }
        public void Beep() {}
        public bool IsDigit(char c) { return false; }
    }
}
""",
    "src/Token.cs": """
namespace App
{
    public abstract class Token : IToken
#if !PORTABLE
        , System.ICloneable
#endif
    {
        public void Emit() { Check(); }
        private static void Check() {}
    }
}
""",
    "src/Use.cs": """
using App.Util;

namespace App
{
    class Use
    {
        void Run(object objA, System.Collections.Generic.List<int> items, char c, System.IConvertible conv)
        {
            conv.ToType(null, null);
            objA.GetType();
            items.Where(x => x > 1);
            System.Console.Beep();
            Console.Beep();
            char.IsDigit(c);
        }
    }
}
""",
    "src/Typed.cs": """
using App.Util;

namespace App
{
    class Typed
    {
        void Run(Reflect r, string text, char c)
        {
            r.Beep();
            var made = new Reflect();
            made.IsDigit(c);
            _held.Beep();
            this._held.Beep();
            text.Shout();
            foreach (Reflect each in All()) { each.Beep(); }
        }

        private Reflect _held;
    }
}
""",
    "src/Convert.cs": """
namespace App
{
    class Converter
    {
        private void CreateDocumentType(int a) {}
        void Again(Converter other) { other.CreateDocumentType(2); }
    }

    class Wrapper
    {
        void Make(System.Xml.XmlDocument doc) { doc.CreateDocumentType(1); }
    }
}
""",
    "lib/shop/helpers.rb": """
module Shop
  module Helpers
    def price_label
      format_price(1)
    end
  end
end
""",
    "lib/shop/cart.rb": """
module Shop
  class Request
    def host
      "h"
    end
  end

  class Base
    def format_price(v)
      v
    end
  end

  class Cart < Base
    include Helpers
    attr_reader :total

    def summary
      price_label + total.to_s
    end

    def show
      format_price(3)
    end
  end
end
""",
    "lib/shop/util.rb": """
module Shop
  module Util
    module_function

    def slug(s)
      s
    end
  end
end
""",
    "lib/shop/list.rb": """
module Shop
  class List
    def map(&b)
      b
    end

    def names(items, uri, request)
      items.map { |i| i }
      Util.slug("x")
      uri.host
      request.host
    end
  end
end
""",
}


@pytest.fixture(scope="module")
async def repo(db: Database, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return await index_files(db, settings, tmp_path_factory.mktemp("csruby") / REPO, _FILES)


async def _calls(db: Database) -> dict[tuple[str, str], str | None]:
    return await targets(db, REPO)


async def test_a_class_whose_base_list_has_directives_is_parsed(db: Database, repo: Path) -> None:
    calls = await _calls(db)
    assert calls[("App.Token.Emit", "Check")] == "App.Token.Check"


async def test_csharp_standard_and_framework_methods_are_no_guess(db: Database, repo: Path) -> None:
    calls = await _calls(db)
    # each name is defined once in the repository, and a guess by it alone would find it
    assert calls[("App.Use.Run", "objA.GetType")] is None  # object.GetType
    assert calls[("App.Use.Run", "items.Where")] is None  # LINQ's, not Seq's
    assert calls[("App.Use.Run", "System.Console.Beep")] is None
    assert calls[("App.Use.Run", "Console.Beep")] is None
    assert calls[("App.Use.Run", "char.IsDigit")] is None
    # the file that defines its own LINQ calls it, but a standard name is not its other methods
    assert calls[("App.Util.Seq.Evens", "source.Where")] == "App.Util.Seq.Where"
    assert calls[("App.Util.Bag.Empty", "items.Clear")] is None


async def test_an_explicit_interface_implementation_is_no_guess(db: Database, repo: Path) -> None:
    calls = await _calls(db)
    assert calls[("App.Use.Run", "conv.ToType")] is None  # any IConvertible's, called through it


async def test_a_declared_type_names_the_member_called(db: Database, repo: Path) -> None:
    calls = await _calls(db)
    for written in ("r.Beep", "_held.Beep", "this._held.Beep", "each.Beep"):  # parameter, field, foreach
        assert calls[("App.Typed.Run", written)] == "App.Util.Reflect.Beep", written
    assert calls[("App.Typed.Run", "made.IsDigit")] == "App.Util.Reflect.IsDigit"  # var x = new T()
    assert calls[("App.Typed.Run", "text.Shout")] == "App.Util.Seq.Shout"  # a string's extension method


async def test_a_private_csharp_method_is_guessed_from_its_own_class_only(db: Database, repo: Path) -> None:
    calls = await _calls(db)
    assert calls[("App.Wrapper.Make", "doc.CreateDocumentType")] is None  # XmlDocument's
    assert calls[("App.Converter.Again", "other.CreateDocumentType")] == "App.Converter.CreateDocumentType"


async def test_ruby_methods_of_bases_mixins_attributes_and_module_functions(db: Database, repo: Path) -> None:
    calls = await _calls(db)
    assert calls[("Shop::Cart#summary", "price_label")] == "Shop::Helpers#price_label"  # include Helpers
    assert calls[("Shop::Cart#summary", "total")] == "Shop::Cart#total"  # attr_reader :total
    assert calls[("Shop::Cart#show", "format_price")] == "Shop::Base#format_price"  # the superclass's
    assert calls[("Shop::List#names", "Util.slug")] == "Shop::Util#slug"  # module_function
    assert calls[("Shop::List#names", "items.map")] is None  # Array#map, not List#map


async def test_an_untyped_ruby_receiver_is_guessed_when_its_name_spells_the_type(db: Database, repo: Path) -> None:
    calls = await _calls(db)
    assert calls[("Shop::List#names", "request.host")] == "Shop::Request#host"
    assert calls[("Shop::List#names", "uri.host")] is None  # a URI's


def test_class_private_reads_the_modifiers_before_the_name() -> None:
    assert is_class_private("csharp", "private static void Check()")
    assert is_class_private("csharp", "[DebuggerStepThrough] private T Get<T>(object value)")
    assert not is_class_private("csharp", "public void Run(bool private_)")
    assert not is_class_private("csharp", "internal void Run()")
    assert not is_class_private("java", "private void run()")
    assert is_class_private("csharp", "object IConvertible.ToType(Type conversionType, IFormatProvider provider)")
    assert is_class_private(
        "csharp", "void ICollection<KeyValuePair<string, JToken>>.Add(KeyValuePair<string, JToken> item)"
    )
    assert not is_class_private("csharp", "public IDictionary<string, object> Get<T>(T x)")
