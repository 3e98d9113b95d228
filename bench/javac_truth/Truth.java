// What javac resolves each name in a Java corpus to: the truth bench/graph_lsp.py scores pgcode's Java graph against.
//
// Usage: java -cp <dir with Truth.class> Truth <root> <classpath> <out.json> @<file listing the sources>
// Parses and attributes every source (javax.tools + com.sun.source), then writes JSON:
//   files: repo-relative paths; decls: [id, kind, file, line, col, name, enclosing decl id, qualified name];
//   uses: [file, line, col, decl id, flags (1 call, 2 method reference, 4 import), enclosing decl id];
//   erroneous: [file, line, col, name] of calls javac could not attribute (a dependency missing).
// Lines are 1-based, columns 0-based in UTF-16 units (LSP's default), both of the name's first character.

import com.sun.source.tree.*;
import com.sun.source.util.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import javax.lang.model.element.*;
import javax.lang.model.type.TypeKind;
import javax.lang.model.util.Elements;
import javax.tools.*;

public final class Truth {
    private static final EnumSet<ElementKind> DECL_KINDS = EnumSet.of(
            ElementKind.METHOD, ElementKind.CONSTRUCTOR, ElementKind.CLASS, ElementKind.INTERFACE,
            ElementKind.ENUM, ElementKind.ANNOTATION_TYPE, ElementKind.FIELD, ElementKind.ENUM_CONSTANT,
            ElementKind.valueOf("RECORD"));

    private final Path root;
    private final Trees trees;
    private final Elements elements;
    private final SourcePositions positions;
    private final List<String> files = new ArrayList<>();
    private final Map<CompilationUnitTree, Integer> fileIndex = new IdentityHashMap<>();
    private final Map<CompilationUnitTree, int[]> lineStarts = new IdentityHashMap<>();
    private final Map<CompilationUnitTree, String> texts = new IdentityHashMap<>();
    private final Map<Element, Integer> declIds = new HashMap<>();
    private final StringBuilder decls = new StringBuilder();
    private final StringBuilder uses = new StringBuilder();
    private final StringBuilder erroneous = new StringBuilder();
    private int nDecls, nUses, nErroneous;

    private Truth(Path root, JavacTask task) {
        this.root = root;
        this.trees = Trees.instance(task);
        this.elements = task.getElements();
        this.positions = trees.getSourcePositions();
    }

    public static void main(String[] args) throws IOException {
        Path root = Paths.get(args[0]).toAbsolutePath().normalize();
        String classpath = args[1];
        Path out = Paths.get(args[2]);
        List<File> sources = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            if (args[i].startsWith("@")) {
                for (String line : Files.readAllLines(Paths.get(args[i].substring(1)))) {
                    if (!line.isBlank()) sources.add(new File(line.trim()));
                }
            } else {
                sources.add(new File(args[i]));
            }
        }
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        StandardJavaFileManager fm = compiler.getStandardFileManager(diagnostics, null, StandardCharsets.UTF_8);
        List<String> options = new ArrayList<>(List.of(
                "-proc:none", "-implicit:none", "-encoding", "UTF-8", "-Xmaxerrs", "100000",
                // Attribute everything even when a dependency is missing (its names become error types).
                "-XDshould-stop.ifError=FLOW", "-XDshould-stop.ifNoError=FLOW"));
        if (!classpath.isEmpty()) {
            options.add("-classpath");
            options.add(classpath);
        }
        JavacTask task = (JavacTask) compiler.getTask(
                null, fm, diagnostics, options, null, fm.getJavaFileObjectsFromFiles(sources));
        List<CompilationUnitTree> units = new ArrayList<>();
        for (CompilationUnitTree u : task.parse()) units.add(u);
        task.analyze();
        Truth truth = new Truth(root, task);
        for (CompilationUnitTree u : units) truth.register(u);
        for (CompilationUnitTree u : units) new Scanner(truth, u).scan(u, null);
        int errors = 0;
        for (Diagnostic<?> d : diagnostics.getDiagnostics()) if (d.getKind() == Diagnostic.Kind.ERROR) errors++;
        try (Writer w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            w.write("{\"files\":[");
            for (int i = 0; i < truth.files.size(); i++) w.write((i > 0 ? "," : "") + quote(truth.files.get(i)));
            w.write("],\"compile_errors\":" + errors + ",\"decls\":[" + truth.decls + "],\"uses\":[" + truth.uses
                    + "],\"erroneous\":[" + truth.erroneous + "]}\n");
        }
        System.out.println(units.size() + " files, " + truth.nDecls + " declarations, " + truth.nUses + " uses, "
                + truth.nErroneous + " unattributed calls, " + errors + " compile errors");
    }

    private void register(CompilationUnitTree u) throws IOException {
        Path p = Paths.get(u.getSourceFile().toUri()).toAbsolutePath().normalize();
        fileIndex.put(u, files.size());
        files.add(root.relativize(p).toString().replace('\\', '/'));
        String text = u.getSourceFile().getCharContent(true).toString();
        texts.put(u, text);
        List<Integer> starts = new ArrayList<>();
        starts.add(0);
        for (int i = 0; i < text.length(); i++) if (text.charAt(i) == '\n') starts.add(i + 1);
        lineStarts.put(u, starts.stream().mapToInt(Integer::intValue).toArray());
    }

    private int[] lineCol(CompilationUnitTree u, long pos) {
        int[] starts = lineStarts.get(u);
        int i = Arrays.binarySearch(starts, (int) pos);
        if (i < 0) i = -i - 2;
        return new int[] {i + 1, (int) pos - starts[i]};
    }

    /** The corpus declaration an element stands for (a default constructor stands for its class), or null. */
    Integer declId(Element e) {
        if (e == null) return null;
        if (e.getKind() == ElementKind.CONSTRUCTOR && elements.getOrigin(e) == Elements.Origin.MANDATED) {
            e = e.getEnclosingElement();
        }
        if (!DECL_KINDS.contains(e.getKind())) return null;
        Integer known = declIds.get(e);
        if (known != null) return known < 0 ? null : known;
        TreePath path = trees.getPath(e);
        CompilationUnitTree u = path == null ? null : path.getCompilationUnit();
        if (u == null || !fileIndex.containsKey(u)) {
            declIds.put(e, -1);
            return null;
        }
        Tree leaf = path.getLeaf();
        String name = e.getKind() == ElementKind.CONSTRUCTOR
                ? e.getEnclosingElement().getSimpleName().toString() : e.getSimpleName().toString();
        long from = positions.getStartPosition(u, leaf);
        if (leaf instanceof MethodTree m) {
            from = Math.max(from, end(u, m.getModifiers()));
            if (m.getReturnType() != null) from = Math.max(from, end(u, m.getReturnType()));
        } else if (leaf instanceof ClassTree c) {
            from = Math.max(from, end(u, c.getModifiers()));
        } else if (leaf instanceof VariableTree v) {
            from = Math.max(from, end(u, v.getModifiers()));
            if (v.getType() != null && e.getKind() != ElementKind.ENUM_CONSTANT) from = Math.max(from, end(u, v.getType()));
        }
        long at = word(texts.get(u), name, (int) Math.max(from, 0));
        if (at < 0) at = positions.getStartPosition(u, leaf);
        int id = nDecls++;
        declIds.put(e, id);
        int[] lc = lineCol(u, at);
        Integer enclosing = null;
        for (TreePath p = path.getParentPath(); p != null && enclosing == null; p = p.getParentPath()) {
            if (p.getLeaf() instanceof MethodTree || p.getLeaf() instanceof ClassTree) {
                Element pe = trees.getElement(p);
                if (pe != null && pe != e) enclosing = declId(pe);
            }
        }
        String qname = e.getKind() == ElementKind.CONSTRUCTOR || e.getKind() == ElementKind.METHOD
                || e.getKind() == ElementKind.FIELD || e.getKind() == ElementKind.ENUM_CONSTANT
                ? e.getEnclosingElement() + "." + name : e.toString();
        if (decls.length() > 0) decls.append(',');
        decls.append('[').append(id).append(',').append(quote(e.getKind().toString().toLowerCase())).append(',')
                .append(fileIndex.get(u)).append(',').append(lc[0]).append(',').append(lc[1]).append(',')
                .append(quote(name)).append(',').append(enclosing == null ? "null" : enclosing).append(',')
                .append(quote(qname)).append(']');
        return id;
    }

    private long end(CompilationUnitTree u, Tree t) {
        return t == null ? -1 : positions.getEndPosition(u, t);
    }

    static long word(String text, String name, int from) {
        for (int i = text.indexOf(name, from); i >= 0; i = text.indexOf(name, i + 1)) {
            boolean before = i > 0 && Character.isJavaIdentifierPart(text.charAt(i - 1));
            int after = i + name.length();
            boolean next = after < text.length() && Character.isJavaIdentifierPart(text.charAt(after));
            if (!before && !next) return i;
        }
        return -1;
    }

    void use(CompilationUnitTree u, long at, Element e, int flags, TreePath where) {
        Integer id = declId(e);
        if (id == null || at < 0) return;
        int[] lc = lineCol(u, at);
        Integer enclosing = null;
        for (TreePath p = where; p != null && enclosing == null; p = p.getParentPath()) {
            if (p.getLeaf() instanceof MethodTree || p.getLeaf() instanceof ClassTree) enclosing = declId(trees.getElement(p));
        }
        nUses++;
        if (uses.length() > 0) uses.append(',');
        uses.append('[').append(fileIndex.get(u)).append(',').append(lc[0]).append(',').append(lc[1]).append(',')
                .append(id).append(',').append(flags).append(',').append(enclosing == null ? "null" : enclosing)
                .append(']');
    }

    void error(CompilationUnitTree u, long at, String name) {
        int[] lc = lineCol(u, at);
        nErroneous++;
        if (erroneous.length() > 0) erroneous.append(',');
        erroneous.append('[').append(fileIndex.get(u)).append(',').append(lc[0]).append(',').append(lc[1]).append(',')
                .append(quote(name)).append(']');
    }

    static boolean bad(Element e) {
        return e == null || e.getKind() == ElementKind.OTHER || e.asType() == null
                || e.asType().getKind() == TypeKind.ERROR;
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    /** Records every name that resolves into the corpus. */
    static final class Scanner extends TreePathScanner<Void, Void> {
        private final Truth t;
        private final CompilationUnitTree u;
        private final Set<Tree> callees = Collections.newSetFromMap(new IdentityHashMap<>());
        private int importFlag;

        Scanner(Truth t, CompilationUnitTree u) {
            this.t = t;
            this.u = u;
        }

        /** Where a name-bearing tree writes its last name. */
        private long nameAt(Tree tree, String name) {
            if (tree instanceof MemberSelectTree || tree instanceof MemberReferenceTree) {
                long end = t.positions.getEndPosition(u, tree);
                if (end > 0) {
                    String text = t.texts.get(u);
                    long at = end - name.length();
                    if (at >= 0 && text.startsWith(name, (int) at)) return at;
                    return lastWord(text, name, (int) t.positions.getStartPosition(u, tree), (int) end);
                }
            }
            if (tree instanceof ParameterizedTypeTree p) return nameAt(p.getType(), name);
            if (tree instanceof AnnotatedTypeTree a) return nameAt(a.getUnderlyingType(), name);
            return t.positions.getStartPosition(u, tree);
        }

        private static long lastWord(String text, String name, int from, int to) {
            long found = -1;
            for (long at = word(text, name, from); at >= 0 && at + name.length() <= to; at = word(text, name, (int) at + 1)) {
                found = at;
            }
            return found;
        }

        @Override
        public Void visitImport(ImportTree node, Void p) {
            importFlag = 4;
            try {
                Tree id = node.getQualifiedIdentifier();
                if (node.isStatic() && id instanceof MemberSelectTree ms) {
                    // javac binds no single symbol to a static import's member: every member of that name is imported.
                    Element owner = t.trees.getElement(new TreePath(new TreePath(getCurrentPath(), ms), ms.getExpression()));
                    String name = ms.getIdentifier().toString();
                    if (owner instanceof TypeElement te && !name.equals("*")) {
                        for (Element m : te.getEnclosedElements()) {
                            if (m.getSimpleName().contentEquals(name)) t.use(u, nameAt(ms, name), m, 4, getCurrentPath());
                        }
                    }
                    scan(new TreePath(new TreePath(getCurrentPath(), ms), ms.getExpression()), null);
                    return null;
                }
                return super.visitImport(node, p);
            } finally {
                importFlag = 0;
            }
        }

        @Override
        public Void visitMethodInvocation(MethodInvocationTree node, Void p) {
            Tree callee = node.getMethodSelect();
            callees.add(callee);
            Element e = t.trees.getElement(getCurrentPath());
            String name = callee instanceof MemberSelectTree ms ? ms.getIdentifier().toString()
                    : callee instanceof IdentifierTree id ? id.getName().toString() : null;
            if (name != null) {
                long at = nameAt(callee, name);
                if (bad(e)) t.error(u, at, name);
                else t.use(u, at, e, 1, getCurrentPath());
            }
            return super.visitMethodInvocation(node, p);
        }

        @Override
        public Void visitNewClass(NewClassTree node, Void p) {
            Element e = t.trees.getElement(getCurrentPath());
            Tree type = node.getIdentifier();
            String name = simpleName(type);
            if (name != null) {
                long at = nameAt(type, name);
                if (bad(e)) {
                    t.error(u, at, name);
                } else if (node.getClassBody() == null) {
                    t.use(u, at, e, 1, getCurrentPath());
                } else {
                    // An anonymous class's constructor calls its superclass's one with the same arguments.
                    Element sup = anonymousSuper(e);
                    if (sup != null) t.use(u, at, sup, 1, getCurrentPath());
                }
            }
            return super.visitNewClass(node, p);
        }

        private Element anonymousSuper(Element ctor) {
            if (!(ctor instanceof ExecutableElement ee)) return null;
            Element anon = ee.getEnclosingElement();
            if (!(anon instanceof TypeElement te) || te.getSuperclass().getKind() != TypeKind.DECLARED) return null;
            Element base = ((javax.lang.model.type.DeclaredType) te.getSuperclass()).asElement();
            List<ExecutableElement> fit = new ArrayList<>();
            for (Element m : base.getEnclosedElements()) {
                if (m instanceof ExecutableElement c && m.getKind() == ElementKind.CONSTRUCTOR
                        && c.getParameters().size() == ee.getParameters().size()) fit.add(c);
            }
            return fit.size() == 1 ? fit.get(0) : null;
        }

        private String simpleName(Tree type) {
            if (type instanceof IdentifierTree id) return id.getName().toString();
            if (type instanceof MemberSelectTree ms) return ms.getIdentifier().toString();
            if (type instanceof ParameterizedTypeTree pt) return simpleName(pt.getType());
            if (type instanceof AnnotatedTypeTree at) return simpleName(at.getUnderlyingType());
            return null;
        }

        @Override
        public Void visitIdentifier(IdentifierTree node, Void p) {
            if (!callees.contains(node)) {
                String name = node.getName().toString();
                if (!name.equals("this") && !name.equals("super")) {
                    t.use(u, t.positions.getStartPosition(u, node), t.trees.getElement(getCurrentPath()), importFlag,
                            getCurrentPath());
                }
            }
            return super.visitIdentifier(node, p);
        }

        @Override
        public Void visitMemberSelect(MemberSelectTree node, Void p) {
            if (!callees.contains(node)) {
                String name = node.getIdentifier().toString();
                if (!name.equals("class") && !name.equals("this") && !name.equals("super") && !name.equals("*")) {
                    t.use(u, nameAt(node, name), t.trees.getElement(getCurrentPath()), importFlag, getCurrentPath());
                }
            }
            return super.visitMemberSelect(node, p);
        }

        @Override
        public Void visitMemberReference(MemberReferenceTree node, Void p) {
            String name = node.getName().contentEquals("<init>") ? "new" : node.getName().toString();
            Element e = t.trees.getElement(getCurrentPath());
            long at = nameAt(node, name);
            if (bad(e)) t.error(u, at, name);
            else t.use(u, at, e, 2, getCurrentPath());
            return super.visitMemberReference(node, p);
        }
    }
}
