//! The layer and import-cycle check over `src/` (docs/architecture.md, "Layers").
//!
//! Reads every `src/**/*.rs`, resolves its `use crate::…`, `crate::…::`, `super::…` and
//! `self::…` paths (and paths through names a `use` brought in) to the module files they name,
//! ignoring comments, doc comments, string literals and `#[cfg(test)]` items, and fails on
//! (a) an import cycle between files, (b) a cycle between top-level modules, and (c) an import
//! that runs up or sideways against [`LAYERS`]. Offending edges are printed with file and line.
//!
//! Run it alone with `cargo test --test api layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The layers, top first. A module may import from layers below its own; within an `open`
/// layer its modules may also import each other (cycles are still refused); within a closed
/// layer they may not. Every top-level module of `src/` must be listed.
const LAYERS: &[(&str, bool, &[&str])] = &[
    ("composition", true, &["main", "cli", "app"]),
    (
        "entry points",
        false,
        &["api", "pages", "idp", "scim", "workers"],
    ),
    ("domain", false, &["auth"]),
    ("http plumbing", false, &["http"]),
    ("shared state", false, &["state"]),
    ("store", false, &["store"]),
    (
        "foundations",
        true,
        &[
            "protocols",
            "db",
            "crypto",
            "password",
            "ids",
            "limits",
            "error",
            "config",
            "settings",
            "telemetry",
            "timestamp",
            "dns",
            "email",
            "storage",
        ],
    ),
];

/// Edges still to be removed by branches in flight: `"<from file prefix> -> <to module or
/// file prefix>"`. Whoever removes an edge deletes its line; at the end this list is empty.
const ALLOWED: &[&str] = &[];

/// An import of one module file by another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    line: usize,
}

/// The crate's module tree: file path (`src/a/b.rs`) → module path (`a::b`).
struct Tree {
    files: BTreeMap<String, String>,
    by_module: BTreeMap<String, String>,
}

impl Tree {
    fn new(paths: impl IntoIterator<Item = String>) -> Self {
        let mut files = BTreeMap::new();
        let mut by_module = BTreeMap::new();
        for p in paths {
            let rel = p.trim_start_matches("src/").trim_end_matches(".rs");
            let module = match rel {
                "lib" => String::new(),
                "main" => "main".to_string(),
                _ => rel.trim_end_matches("/mod").replace('/', "::"),
            };
            by_module.insert(module.clone(), p.clone());
            files.insert(p, module);
        }
        Self { files, by_module }
    }

    /// The file holding the longest module prefix of `path` (absolute, without `crate`).
    fn resolve(&self, path: &[String]) -> Option<&String> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.by_module.get(&path[..n].join("::")))
    }
}

/// `code` with comments, string and char literals blanked (newlines kept).
fn strip(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br"))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let start = if rest[0] == b'b' { i + 2 } else { i + 1 };
            let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
            if b.get(start + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = start + hashes + 1;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |n| body + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, (j + 1).min(b.len()));
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'); otherwise a lifetime.
            let end = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&c| c == b'\'').map(|n| n + 3)
            } else {
                let ch = std::str::from_utf8(&rest[1..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (rest.get(1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            match end {
                Some(n) => {
                    blank(&mut out, i, i + n);
                    i += n;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Blanks every `#[cfg(test)]` item of stripped code; returns the names of `#[cfg(test)] mod
/// x;` declarations (whole files that are test-only).
fn drop_test_items(code: &mut String) -> Vec<String> {
    let mut test_mods = Vec::new();
    while let Some(at) = code.find("#[cfg(test)]") {
        let b = code.as_bytes();
        let mut j = at + "#[cfg(test)]".len();
        let mut depth = 0usize;
        loop {
            match b.get(j) {
                None => break,
                Some(b'[' | b'(' | b'{') => depth += 1,
                Some(b']' | b')') => depth = depth.saturating_sub(1),
                Some(b'}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                Some(b';') if depth == 0 => {
                    j += 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let item = code[at..j.min(code.len())].to_string();
        let words: Vec<&str> = item
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ';'))
            .filter(|w| !w.is_empty())
            .collect();
        if let Some(p) = words.iter().position(|w| *w == "mod")
            && let Some(name) = words.get(p + 1)
            && name.ends_with(';')
        {
            test_mods.push(name.trim_end_matches(';').to_string());
        }
        let blanked: String = item
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        code.replace_range(at..j.min(code.len()), &blanked);
    }
    test_mods
}

/// Tokens with their line numbers: identifiers, `::` and single punctuation.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            line += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((code[i..end].trim_start_matches("r#").to_string(), line));
        } else if c == ':' && chars.peek().map(|&(_, d)| d) == Some(':') {
            chars.next();
            out.push(("::".to_string(), line));
        } else if !c.is_whitespace() {
            out.push((c.to_string(), line));
        }
    }
    out
}

/// Expands the `use` tree starting at `toks[*i]` into `(path, alias)` pairs.
fn use_tree(
    toks: &[(String, usize)],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, String)>,
) {
    let mut path = prefix.to_vec();
    while *i < toks.len() {
        let t = toks[*i].0.as_str();
        match t {
            "{" => {
                *i += 1;
                while *i < toks.len() && toks[*i].0 != "}" {
                    let before = *i;
                    use_tree(toks, i, &path, out);
                    if *i < toks.len() && toks[*i].0 == "," {
                        *i += 1;
                    }
                    if *i == before {
                        return;
                    }
                }
                *i += 1;
                return;
            }
            "::" => *i += 1,
            "*" => {
                *i += 1;
                out.push((path, "*".to_string()));
                return;
            }
            "as" => {
                *i += 1;
                let alias = toks.get(*i).map(|t| t.0.clone()).unwrap_or_default();
                *i += 1;
                if path.last().is_some_and(|l| l == "self") {
                    path.pop();
                }
                out.push((path, alias));
                return;
            }
            "," | "}" | ";" => {
                if path.last().is_some_and(|l| l == "self") {
                    path.pop();
                }
                if let Some(last) = path.last().cloned() {
                    out.push((path, last));
                }
                return;
            }
            _ => {
                path.push(t.to_string());
                *i += 1;
            }
        }
    }
}

/// Turns a path as written in `module` into an absolute module path, or `None` when it does not
/// start inside the crate.
fn absolute(
    module: &str,
    path: &[String],
    aliases: &BTreeMap<String, Vec<String>>,
) -> Option<Vec<String>> {
    let mut here: Vec<String> = if module.is_empty() || module == "main" {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let first = path.first()?.as_str();
    match first {
        "crate" | "keystead" => Some(path[1..].to_vec()),
        "self" | "super" => {
            let mut rest = path;
            while let Some(s) = rest.first() {
                match s.as_str() {
                    "self" => {}
                    "super" => {
                        here.pop()?;
                    }
                    _ => break,
                }
                rest = &rest[1..];
            }
            here.extend(rest.iter().cloned());
            Some(here)
        }
        _ => {
            let mut base = aliases.get(first)?.clone();
            base.extend(path[1..].iter().cloned());
            Some(base)
        }
    }
}

/// Every crate-internal import of every file, as edges between files.
fn edges(sources: &BTreeMap<String, String>) -> Vec<Edge> {
    let mut test_only = BTreeSet::new();
    let mut code: BTreeMap<String, String> = BTreeMap::new();
    for (path, text) in sources {
        let mut c = strip(text);
        for m in drop_test_items(&mut c) {
            let dir = path
                .trim_end_matches(".rs")
                .trim_end_matches("/mod")
                .trim_end_matches("/lib");
            let dir = if dir == "src/main" || dir == "src/lib" {
                "src"
            } else {
                dir
            };
            test_only.insert(format!("{dir}/{m}.rs"));
            test_only.insert(format!("{dir}/{m}/mod.rs"));
        }
        code.insert(path.clone(), c);
    }
    let tree = Tree::new(code.keys().filter(|p| !test_only.contains(*p)).cloned());
    let mut out = BTreeSet::new();
    for (path, module) in &tree.files {
        let toks = tokens(&code[path]);
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut found: Vec<(Vec<String>, usize)> = Vec::new();
        // Declared child modules are reachable by their bare name.
        for w in toks.windows(3) {
            if w[0].0 == "mod" && w[2].0 == ";" {
                let mut child: Vec<String> = if module.is_empty() || module == "main" {
                    Vec::new()
                } else {
                    module.split("::").map(str::to_string).collect()
                };
                child.push(w[1].0.clone());
                aliases.insert(w[1].0.clone(), child);
            }
        }
        // `use` trees first, so later bare paths can go through their names.
        let mut i = 0;
        while i < toks.len() {
            if toks[i].0 == "use" {
                let line = toks[i].1;
                i += 1;
                let mut leaves = Vec::new();
                use_tree(&toks, &mut i, &[], &mut leaves);
                for (p, alias) in leaves {
                    if let Some(abs) = absolute(module, &p, &aliases) {
                        if alias != "*" && tree.by_module.contains_key(&abs.join("::")) {
                            aliases.insert(alias, abs.clone());
                        }
                        found.push((abs, line));
                    }
                }
            } else {
                i += 1;
            }
        }
        // Paths in code: `a::b::c` not preceded by `::` and not inside a `use`.
        let mut in_use = false;
        for (k, (t, line)) in toks.iter().enumerate() {
            if t == "use" {
                in_use = true;
            } else if t == ";" {
                in_use = false;
            }
            if in_use
                || toks.get(k + 1).map(|t| t.0.as_str()) != Some("::")
                || (k > 0 && toks[k - 1].0 == "::")
            {
                continue;
            }
            let mut p = vec![t.clone()];
            let mut j = k + 1;
            while j + 1 < toks.len() && toks[j].0 == "::" {
                let next = &toks[j + 1].0;
                if !(next
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_'))
                {
                    break;
                }
                p.push(next.clone());
                j += 2;
            }
            if let Some(abs) = absolute(module, &p, &aliases) {
                found.push((abs, *line));
            }
        }
        for (abs, line) in found {
            if let Some(to) = tree.resolve(&abs)
                && to != path
                && to != "src/lib.rs"
            {
                out.insert(Edge {
                    from: path.clone(),
                    to: to.clone(),
                    line,
                });
            }
        }
    }
    // One edge per file pair (the first line).
    let mut seen = BTreeSet::new();
    out.into_iter()
        .filter(|e| seen.insert((e.from.clone(), e.to.clone())))
        .collect()
}

/// The top-level module of a file path (`src/store/users.rs` → `store`).
fn file_top(path: &str) -> &str {
    let rel = path.trim_start_matches("src/");
    let first = rel.split('/').next().unwrap_or(rel);
    first.trim_end_matches(".rs")
}

fn allowed(e: &Edge, allow: &[&str]) -> bool {
    allow.iter().any(|a| {
        let (from, to) = a.split_once(" -> ").unwrap_or((a, ""));
        e.from.starts_with(from.trim())
            && (e.to.starts_with(to.trim()) || file_top(&e.to) == to.trim())
    })
}

/// Strongly connected components with more than one node (Tarjan).
fn cycles(nodes: &BTreeSet<String>, adj: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct St<'a> {
        adj: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on: BTreeSet<String>,
        out: Vec<Vec<String>>,
    }
    fn visit(s: &mut St<'_>, v: &str) {
        let n = s.index.len();
        s.index.insert(v.to_string(), n);
        s.low.insert(v.to_string(), n);
        s.stack.push(v.to_string());
        s.on.insert(v.to_string());
        for w in s.adj.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                if let Some(l) = s.low.get_mut(v) {
                    *l = (*l).min(lw);
                }
            } else if s.on.contains(w) {
                let iw = s.index[w];
                if let Some(l) = s.low.get_mut(v) {
                    *l = (*l).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(&w);
                let done = w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        adj,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Every violation of the rules, one line each (empty when the tree is clean).
fn check(
    sources: &BTreeMap<String, String>,
    layers: &[(&str, bool, &[&str])],
    allow: &[&str],
) -> Vec<String> {
    let rank: BTreeMap<&str, (usize, bool)> = layers
        .iter()
        .enumerate()
        .flat_map(|(r, (_, open, ms))| ms.iter().map(move |m| (*m, (layers.len() - r, *open))))
        .collect();
    let all = edges(sources);
    let live: Vec<&Edge> = all.iter().filter(|e| !allowed(e, allow)).collect();
    let mut problems = Vec::new();
    let at = |e: &Edge| format!("{}:{} -> {}", e.from, e.line, e.to);

    // (c) layering.
    for e in &live {
        let (a, b) = (file_top(&e.from), file_top(&e.to));
        if a == b || a == "lib" {
            continue;
        }
        match (rank.get(a), rank.get(b)) {
            (Some(&(ra, open)), Some(&(rb, _))) => {
                if rb > ra || (rb == ra && !open) {
                    let how = if rb > ra { "up" } else { "sideways" };
                    problems.push(format!("layer: {} imports {how} ({a} -> {b})", at(e)));
                }
            }
            (None, _) => problems.push(format!("layer: module {a} is in no layer ({})", e.from)),
            (_, None) => problems.push(format!("layer: module {b} is in no layer ({})", e.to)),
        }
    }

    // (a) file-level cycles.
    let mut nodes = BTreeSet::new();
    let mut adj: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &live {
        nodes.insert(e.from.clone());
        nodes.insert(e.to.clone());
        adj.entry(e.from.clone()).or_default().insert(e.to.clone());
    }
    for comp in cycles(&nodes, &adj) {
        let mut msg = format!("file cycle among {}:", comp.join(", "));
        for e in live
            .iter()
            .filter(|e| comp.contains(&e.from) && comp.contains(&e.to))
        {
            let _ = write!(msg, "\n    {}", at(e));
        }
        problems.push(msg);
    }

    // (b) top-level module cycles.
    let mut mnodes = BTreeSet::new();
    let mut madj: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &live {
        let (a, b) = (file_top(&e.from).to_string(), file_top(&e.to).to_string());
        if a != b && a != "lib" {
            mnodes.insert(a.clone());
            mnodes.insert(b.clone());
            madj.entry(a).or_default().insert(b);
        }
    }
    for comp in cycles(&mnodes, &madj) {
        // One line per module pair: its first edge and how many more there are.
        let mut pairs: BTreeMap<(&str, &str), Vec<&Edge>> = BTreeMap::new();
        for e in &live {
            let (a, b) = (file_top(&e.from), file_top(&e.to));
            if a != b && comp.iter().any(|c| c == a) && comp.iter().any(|c| c == b) {
                pairs.entry((a, b)).or_default().push(e);
            }
        }
        let mut msg = format!("module cycle among {}:", comp.join(", "));
        for ((a, b), es) in pairs {
            let _ = write!(msg, "\n    {a} -> {b}: {}", at(es[0]));
            if es.len() > 1 {
                let _ = write!(msg, " (+{} more)", es.len() - 1);
            }
        }
        problems.push(msg);
    }

    // Allowlist lines that no longer match anything are stale.
    for a in allow {
        if !all.iter().any(|e| allowed(e, &[a])) {
            problems.push(format!(
                "allowlist: `{a}` matches no edge any more; delete it"
            ));
        }
    }
    problems
}

fn read_src(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_src(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(root)
                .expect("under the crate")
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read_to_string(&p).expect("read source"));
        }
    }
}

#[test]
fn src_has_no_import_cycle_and_respects_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = BTreeMap::new();
    read_src(&root.join("src"), root, &mut sources);
    let problems = check(&sources, LAYERS, ALLOWED);
    assert!(
        problems.is_empty(),
        "{} layering problem(s) (see docs/architecture.md, \"Layers\"):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[cfg(test)]
mod checker {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    const TINY: &[(&str, bool, &[&str])] = &[
        ("top", false, &["api", "web"]),
        ("store", false, &["store"]),
        ("base", true, &["db"]),
    ];

    #[test]
    fn a_clean_tree_passes() {
        let t = tree(&[
            ("src/lib.rs", "pub mod api; pub mod store; pub mod db;"),
            (
                "src/api/mod.rs",
                "//! `crate::web` only in a comment.\nmod users;\nuse crate::store::{self, users::User};\nfn f() { users::list(); let s = \"crate::web::x\"; }",
            ),
            (
                "src/api/users.rs",
                "use crate::store;\npub fn list() { store::users::all(); }",
            ),
            ("src/store/mod.rs", "pub mod users;"),
            (
                "src/store/users.rs",
                "use crate::db::Pool;\npub struct User;\n#[cfg(test)]\nmod tests { use crate::api::users; }",
            ),
            ("src/db.rs", "pub struct Pool;"),
        ]);
        assert_eq!(check(&t, TINY, &[]), Vec::<String>::new());
    }

    #[test]
    fn cycles_upward_and_sideways_edges_fail() {
        let t = tree(&[
            (
                "src/lib.rs",
                "pub mod api; pub mod web; pub mod store; pub mod db;",
            ),
            ("src/api/mod.rs", "pub fn f() { crate::web::g(); }"),
            ("src/web.rs", "pub fn g() { crate::store::a::A; }"),
            ("src/store/mod.rs", "pub mod a; pub mod b;"),
            ("src/store/a.rs", "use super::b::B;\npub struct A;"),
            (
                "src/store/b.rs",
                "use crate::store::a::{self as other};\npub struct B;\nfn h() { other::A; crate::api::f(); }",
            ),
            ("src/db.rs", "use crate::store::a::A;"),
        ]);
        let problems = check(&t, TINY, &[]);
        let all = problems.join("\n");
        assert!(all.contains("src/api/mod.rs:1 -> src/web.rs"), "{all}");
        assert!(all.contains("imports sideways (api -> web)"), "{all}");
        assert!(
            all.contains("src/store/b.rs:3 -> src/api/mod.rs")
                && all.contains("imports up (store -> api)"),
            "{all}"
        );
        assert!(
            all.contains("src/db.rs:1 -> src/store/a.rs")
                && all.contains("imports up (db -> store)"),
            "{all}"
        );
        assert!(
            all.contains("file cycle among") && all.contains("src/store/b.rs:1 -> src/store/a.rs"),
            "{all}"
        );
        assert!(all.contains("module cycle among"), "{all}");
        // An allowlisted edge is skipped; a stale allowlist line is reported.
        let allowed = check(&t, TINY, &["src/api/mod.rs -> web", "src/web.rs -> db"]);
        assert!(!allowed.join("\n").contains("(api -> web)"), "{allowed:?}");
        assert!(
            allowed
                .join("\n")
                .contains("`src/web.rs -> db` matches no edge"),
            "{allowed:?}"
        );
    }
}
