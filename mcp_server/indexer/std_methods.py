"""Standard-library method names per language, which a call on a receiver of unknown type means, not a same-named repository method."""

from __future__ import annotations

# Kotlin's scope functions and the methods of its and Swift's standard collections, maps, strings
# and optionals: a call of one of these on an implicit or untyped receiver (`put` inside
# `JSONObject().apply { }`, `Parcel.obtain().run { }`) is the standard library's, and a same-named
# repository method is a guess (hand-checked on expo-modules-core: such guesses were wrong 8 times in 12).
_KOTLIN_SWIFT = frozenset(
    """run let apply also with takeIf takeUnless use lazy repeat require check error println print
    put putAll get getOrPut getOrDefault getOrElse getOrNull set add addAll remove removeAll removeAt
    clear contains containsKey containsValue first firstOrNull last lastOrNull single singleOrNull
    map mapNotNull mapValues mapKeys mapIndexed filter filterNot filterIsInstance filterNotNull
    forEach forEachIndexed flatMap flatten fold reduce any all none count sum sumOf maxOf minOf
    joinToString toList toMutableList toSet toMutableSet toMap toMutableMap toTypedArray toArray
    sorted sortedBy sortedWith sortBy reversed distinct associate associateBy associateWith groupBy
    zip plus minus isEmpty isNotEmpty isNullOrEmpty orEmpty iterator next hasNext equals hashCode
    toString compareTo invoke copy size keys values entries indexOf split trim substring startsWith
    endsWith replace format toInt toLong toDouble toFloat toBoolean lowercase uppercase
    append insert compactMap joined description hash isEqual removeFirst
    removeLast popLast dropFirst dropLast prefix suffix enumerated index firstIndex lastIndex
    hasPrefix hasSuffix components""".split()
)
# System.Object's, the collections', LINQ's (System.Linq.Enumerable), string's and StringBuilder's
# methods (hand-checked on Newtonsoft.Json: `objA.GetType()`, `ret.Reverse()` on a List, `fields.Where`
# had gone to the repository's ReflectionObject.GetType and its LinqBridge copy of LINQ).
_CSHARP = frozenset(
    """ToString Equals GetHashCode GetType MemberwiseClone ReferenceEquals
    Add AddRange Remove RemoveAt RemoveAll RemoveRange Insert InsertRange Clear Contains ContainsKey
    ContainsValue TryGetValue TryAdd GetValueOrDefault IndexOf LastIndexOf CopyTo ToArray Reverse Sort
    Find FindAll FindIndex FindLast Exists TrueForAll ForEach GetEnumerator MoveNext Reset Dispose
    Push Pop Peek Enqueue Dequeue AsReadOnly BinarySearch
    Where Select SelectMany First FirstOrDefault Last LastOrDefault Single SingleOrDefault Any All
    Count LongCount Sum Min Max Average Aggregate OrderBy OrderByDescending ThenBy ThenByDescending
    GroupBy Join GroupJoin Distinct Union Intersect Except Concat Zip Skip SkipWhile Take TakeWhile
    ToList ToDictionary ToLookup ToHashSet Cast OfType AsEnumerable DefaultIfEmpty ElementAt
    ElementAtOrDefault SequenceEqual
    Substring StartsWith EndsWith Replace Split Trim TrimStart TrimEnd ToUpper ToLower
    ToUpperInvariant ToLowerInvariant PadLeft PadRight CompareTo CompareOrdinal IsNullOrEmpty
    IsNullOrWhiteSpace Append AppendLine AppendFormat ToCharArray Normalize""".split()
)
# Ruby's Object, Kernel, Enumerable, Array, Hash, String, Symbol, Integer, Proc and IO methods
# (hand-checked on rack: `split(',').map`, `options.merge`, `@data.dig`, `(100..199).to_a` had gone
# to Builder#map, HeaderHash#merge, SessionHash#dig, BufferedResponse#to_a).
_RUBY = frozenset(
    """each each_with_index each_with_object each_pair each_key each_value each_slice each_char
    each_line each_byte map map! collect collect! flat_map select select! filter filter_map reject
    reject! find detect find_index find_all inject reduce sum min max min_by max_by minmax sort sort!
    sort_by sort_by! group_by partition chunk_while slice_when zip take drop take_while drop_while
    first last count size length empty? any? all? none? one? include? member? key? has_key? value?
    has_value? fetch dig store delete delete_if delete_at keep_if merge merge! update keys values
    values_at transform_values transform_keys invert to_a to_h to_s to_str to_i to_f to_r to_c
    to_sym to_proc to_ary to_hash inspect join split strip strip! lstrip rstrip chomp chomp! chop
    gsub gsub! sub sub! start_with? end_with? upcase downcase capitalize swapcase match match? scan
    tr squeeze unpack unpack1 pack encode encode! force_encoding valid_encoding? bytesize byteslice
    bytes chars lines ord chr hex oct succ next pred times upto downto step abs round floor ceil
    push pop shift unshift append prepend insert concat compact compact! flatten flatten! uniq uniq!
    reverse reverse! rotate sample shuffle slice slice! clear replace freeze frozen? dup clone hash
    eql? equal? call yield curry arity read write close closed? flush seek rewind gets puts print
    printf eof? eof sync binmode fileno pos readpartial read_nonblock write_nonblock nil? is_a?
    kind_of? instance_of? respond_to? send __send__ public_send tap then itself object_id
    instance_variable_get instance_variable_set instance_variables method methods extend
    instance_eval instance_exec class_eval module_eval define_method const_get const_set
    sort_by_key default default= compare_by_identity lazy force""".split()
)
STD_METHODS: dict[str, frozenset[str]] = {
    "kotlin": _KOTLIN_SWIFT,
    "swift": _KOTLIN_SWIFT,
    "csharp": _CSHARP,
    "ruby": _RUBY,
}
