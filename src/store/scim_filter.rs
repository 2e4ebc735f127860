//! SCIM filters (RFC 7644 §3.4.2.2) and sort keys (RFC 7644 §3.4.2.3) as SQL over the directory
//! user and group tables.
//!
//! [`plan`] turns a parsed [`Filter`] into a parameterised [`Cond`] with the semantics of the
//! in-memory evaluator ([`crate::protocols::scim::filter::matches`]): attribute-name lookup, case-insensitive
//! strings except the case-exact `id`/`externalId`, `ne` as "no value equals", `pr` as "some
//! non-empty value", type mismatches as "no match". Every atom is two-valued (never NULL), so
//! `not (…)` is exact. Forms it cannot translate exactly (attributes without a column, number
//! literals, timestamp literals on string attributes, non-ASCII literals on case-insensitive
//! attributes) make the plan inexact: the condition is then a superset of the matches (those
//! parts read as `true`) and the caller runs the full filter in memory over the candidates.
//!
//! Values are always bound parameters; SQL text comes only from the fragments here and the
//! static column expressions of [`Column`].

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

use crate::protocols::scim::filter::{AttrPath, Filter, Op, case_exact, instant};

/// Where a SCIM attribute is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// A text SQL expression. `nullable`: NULL when the attribute is absent; `empty_is_null`:
    /// an empty string is stored as NULL too, so a comparison with `""` is left to memory.
    Text {
        /// The expression, e.g. `u.user_name`.
        expr: &'static str,
        /// It can be NULL.
        nullable: bool,
        /// `""` is stored as NULL.
        empty_is_null: bool,
    },
    /// A `timestamptz` column, which SCIM renders with millisecond precision (`meta.*`).
    Instant(&'static str),
    /// A boolean member of the resource document, as a `jsonb` expression (`active`).
    JsonBool(&'static str),
    /// A multi-valued complex attribute of the resource document, as a `jsonb` expression
    /// (`emails`); its elements compare through `value`, `type`, `display` and `primary`.
    JsonMulti(&'static str),
    /// The members of the group aliased `g` (`directory_group_members`); `value` is the user id.
    Members,
}

impl Column {
    /// A [`Column::Text`].
    pub const fn text(expr: &'static str, nullable: bool, empty_is_null: bool) -> Self {
        Self::Text {
            expr,
            nullable,
            empty_is_null,
        }
    }
}

/// The sub-attributes of [`Column::JsonMulti`] elements that SQL compares (canonical names,
/// which is how stored documents spell them).
const ELEMENT_FIELDS: &[&str] = &["value", "type", "display", "primary"];

#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Time(DateTime<Utc>),
    Json(Value),
}

#[derive(Debug, Clone)]
enum Piece {
    Sql(String),
    Bind(Arg),
}

#[derive(Debug, Clone)]
enum Node {
    Const(bool),
    Atom(Vec<Piece>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

/// A parameterised, two-valued SQL condition.
#[derive(Debug, Clone)]
pub struct Cond(Node);

impl Cond {
    /// The condition that holds for every row (no filter).
    pub fn always() -> Self {
        Self(Node::Const(true))
    }

    /// Appends the condition to a query, binding its values.
    pub fn push(&self, qb: &mut QueryBuilder<Postgres>) {
        push_node(&self.0, qb);
    }
}

fn push_node(n: &Node, qb: &mut QueryBuilder<Postgres>) {
    match n {
        Node::Const(b) => {
            qb.push(if *b { "true" } else { "false" });
        }
        Node::Atom(pieces) => {
            qb.push("(");
            for p in pieces {
                match p {
                    Piece::Sql(s) => qb.push(s),
                    Piece::Bind(Arg::Text(s)) => qb.push_bind(s.clone()),
                    Piece::Bind(Arg::Time(t)) => qb.push_bind(*t),
                    Piece::Bind(Arg::Json(v)) => qb.push_bind(v.clone()),
                };
            }
            qb.push(")");
        }
        Node::And(a, b) | Node::Or(a, b) => {
            qb.push("(");
            push_node(a, qb);
            qb.push(if matches!(n, Node::And(..)) {
                " and "
            } else {
                " or "
            });
            push_node(b, qb);
            qb.push(")");
        }
        Node::Not(a) => {
            qb.push("(not ");
            push_node(a, qb);
            qb.push(")");
        }
    }
}

fn and(a: Node, b: Node) -> Node {
    match (a, b) {
        (Node::Const(true), x) | (x, Node::Const(true)) => x,
        (Node::Const(false), _) | (_, Node::Const(false)) => Node::Const(false),
        (a, b) => Node::And(Box::new(a), Box::new(b)),
    }
}

fn or(a: Node, b: Node) -> Node {
    match (a, b) {
        (Node::Const(false), x) | (x, Node::Const(false)) => x,
        (Node::Const(true), _) | (_, Node::Const(true)) => Node::Const(true),
        (a, b) => Node::Or(Box::new(a), Box::new(b)),
    }
}

fn not(a: Node) -> Node {
    match a {
        Node::Const(b) => Node::Const(!b),
        Node::Not(inner) => *inner,
        a => Node::Not(Box::new(a)),
    }
}

fn sql(s: impl Into<String>) -> Piece {
    Piece::Sql(s.into())
}

/// How to look up where an attribute is stored.
pub type Columns = fn(&AttrPath) -> Option<Column>;

/// The SQL condition for a filter and whether it is exact; when it is not, it is a superset of
/// the matching rows and the filter must still run in memory.
pub fn plan(f: &Filter, columns: Columns) -> (Cond, bool) {
    match exact(f, columns) {
        Some(n) => (Cond(n), true),
        None => (Cond(superset(f, columns)), false),
    }
}

fn superset(f: &Filter, columns: Columns) -> Node {
    if let Some(n) = exact(f, columns) {
        return n;
    }
    match f {
        Filter::And(a, b) => and(superset(a, columns), superset(b, columns)),
        Filter::Or(a, b) => or(superset(a, columns), superset(b, columns)),
        _ => Node::Const(true),
    }
}

fn exact(f: &Filter, columns: Columns) -> Option<Node> {
    match f {
        Filter::And(a, b) => Some(and(exact(a, columns)?, exact(b, columns)?)),
        Filter::Or(a, b) => Some(or(exact(a, columns)?, exact(b, columns)?)),
        Filter::Not(a) => Some(not(exact(a, columns)?)),
        Filter::Present(p) => present(p, columns(p)?),
        Filter::Compare(p, op, v) => compare(p, columns(p)?, *op, v),
        Filter::ValuePath(p, inner) => match columns(p)? {
            Column::JsonMulti(expr) if p.sub.is_none() => {
                let cond = element(inner)?;
                Some(elements_exist(
                    expr,
                    and(atom_sql("jsonb_typeof(e.v) = 'object'"), cond),
                ))
            }
            Column::Members if p.sub.is_none() => Some(members_exist(member(inner)?)),
            _ => None,
        },
    }
}

fn atom_sql(s: &str) -> Node {
    Node::Atom(vec![sql(s)])
}

/// `some non-empty value` of a `jsonb` expression (the evaluator's `pr`).
fn json_present(expr: &str) -> Node {
    atom_sql(&format!(
        "coalesce(case jsonb_typeof({expr}) when 'string' then {expr} <> '\"\"'::jsonb \
         when 'array' then {expr} <> '[]'::jsonb when 'object' then {expr} <> '{{}}'::jsonb \
         when 'number' then true when 'boolean' then true else false end, false)"
    ))
}

fn present(p: &AttrPath, col: Column) -> Option<Node> {
    match col {
        Column::Text { expr, nullable, .. } => Some(atom_sql(&if nullable {
            format!("{expr} is not null and {expr} <> ''")
        } else {
            format!("{expr} <> ''")
        })),
        Column::Instant(_) => Some(Node::Const(true)),
        Column::JsonBool(expr) => Some(json_present(expr)),
        Column::JsonMulti(expr) => {
            let field = element_field(p.sub.as_deref()?)?;
            Some(elements_exist(expr, json_present(&field)))
        }
        Column::Members => member_path(p).then(|| members_exist(Node::Const(true))),
    }
}

/// What a literal compares as, following the evaluator's `compare`.
enum Literal<'a> {
    /// `null`: `eq` is "absent", `ne` is "present".
    Null,
    /// A string that compares as text.
    Text(&'a str),
    /// A literal of another type than the attribute: nothing matches, so `ne` always holds.
    Mismatch,
}

/// Classifies a literal against a string attribute; `None` when only memory can decide
/// (timestamp literals compare as instants there; non-ASCII case folding may differ).
fn string_literal(v: &Value, exact: bool) -> Option<Literal<'_>> {
    match v {
        Value::Null => Some(Literal::Null),
        Value::String(s) if instant(v).is_some() || (!exact && !s.is_ascii()) => None,
        Value::String(s) => Some(Literal::Text(s)),
        Value::Number(_) => None,
        Value::Bool(_) => Some(Literal::Mismatch),
        _ => None,
    }
}

/// `expr op $value` on text, case-insensitively unless `exact`; `expr` must be non-NULL.
fn text_op(expr: &str, exact: bool, op: Op, value: &str) -> Option<Node> {
    let a = if exact {
        expr.to_string()
    } else {
        format!("lower({expr})")
    };
    let (open, close) = if exact { ("", "") } else { ("lower(", ")") };
    let (before, after) = match op {
        Op::Eq => (format!("{a} = {open}"), close.to_string()),
        Op::Co => (format!("strpos({a}, {open}"), format!("{close}) > 0")),
        Op::Sw => (format!("starts_with({a}, {open}"), format!("{close})")),
        Op::Ew => (
            format!("starts_with(reverse({a}), reverse({open}"),
            format!("{close}))"),
        ),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            let sym = match op {
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Lt => "<",
                _ => "<=",
            };
            (format!("{a} collate \"C\" {sym} {open}"), close.to_string())
        }
        Op::Ne => return None,
    };
    Some(Node::Atom(vec![
        sql(before),
        Piece::Bind(Arg::Text(value.to_string())),
        sql(after),
    ]))
}

/// A string comparison with the evaluator's `ne` (no value equals) and `null` rules; `pos`
/// builds the positive comparison, `is_present` the `pr` condition.
fn string_compare(
    op: Op,
    lit: Literal<'_>,
    is_present: impl FnOnce() -> Option<Node>,
    pos: impl FnOnce(Op, &str) -> Option<Node>,
) -> Option<Node> {
    match (lit, op) {
        (Literal::Null, Op::Eq) => Some(not(is_present()?)),
        (Literal::Null, Op::Ne) => is_present(),
        (Literal::Null, _) => Some(Node::Const(false)),
        (Literal::Mismatch, Op::Ne) => Some(Node::Const(true)),
        (Literal::Mismatch, _) => Some(Node::Const(false)),
        (Literal::Text(s), Op::Ne) => Some(not(pos(Op::Eq, s)?)),
        (Literal::Text(s), op) => pos(op, s),
    }
}

fn compare(p: &AttrPath, col: Column, op: Op, v: &Value) -> Option<Node> {
    let exact = case_exact(p);
    match col {
        Column::Text {
            expr,
            nullable,
            empty_is_null,
        } => {
            let lit = string_literal(v, exact)?;
            if empty_is_null && matches!(lit, Literal::Text("")) {
                return None;
            }
            string_compare(
                op,
                lit,
                || present(p, col),
                |op, s| {
                    let cmp = text_op(expr, exact, op, s)?;
                    Some(if nullable {
                        and(atom_sql(&format!("{expr} is not null")), cmp)
                    } else {
                        cmp
                    })
                },
            )
        }
        Column::Instant(expr) => instant_compare(expr, op, v),
        Column::JsonBool(expr) => json_scalar_compare(expr, op, v),
        Column::JsonMulti(expr) => {
            let field = element_field(p.sub.as_deref()?)?;
            let cond = |op| json_compare(&field, exact, op, v);
            match (op, v) {
                (Op::Eq, Value::Null) => Some(not(elements_exist(expr, json_present(&field)))),
                (Op::Ne, Value::Null) => Some(elements_exist(expr, json_present(&field))),
                (_, Value::Null) => Some(Node::Const(false)),
                (Op::Ne, _) => Some(not(elements_exist(expr, cond(Op::Eq)?))),
                _ => Some(elements_exist(expr, cond(op)?)),
            }
        }
        Column::Members => {
            if !member_path(p) {
                return None;
            }
            string_compare(
                op,
                string_literal(v, exact)?,
                || Some(members_exist(Node::Const(true))),
                |op, s| Some(members_exist(text_op("m.user_id", exact, op, s)?)),
            )
        }
    }
}

/// `meta.created` / `meta.lastModified`: instants compare as instants at the rendered
/// (millisecond) precision; `co`/`sw`/`ew` never match an instant; other strings are left to
/// memory, which compares the rendered text.
fn instant_compare(expr: &str, op: Op, v: &Value) -> Option<Node> {
    let t = match v {
        Value::Null => return Some(Node::Const(op == Op::Ne)),
        Value::String(_) => instant(v)?,
        Value::Number(_) => return None,
        _ => return Some(Node::Const(op == Op::Ne)),
    };
    let sym = match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Co | Op::Sw | Op::Ew => return Some(Node::Const(false)),
    };
    Some(Node::Atom(vec![
        sql(format!("date_trunc('milliseconds', {expr}) {sym} ")),
        Piece::Bind(Arg::Time(t)),
    ]))
}

/// A `jsonb` value that may be a boolean (`active`): `eq`/`ne` with booleans, `null` rules.
fn json_scalar_compare(expr: &str, op: Op, v: &Value) -> Option<Node> {
    match (v, op) {
        (Value::Null, Op::Eq) => Some(not(json_present(expr))),
        (Value::Null, Op::Ne) => Some(json_present(expr)),
        (Value::Bool(_), Op::Eq) => Some(Node::Atom(vec![
            sql(format!("coalesce({expr} = ")),
            Piece::Bind(Arg::Json(v.clone())),
            sql(", false)"),
        ])),
        (Value::Bool(_), Op::Ne) => Some(not(json_scalar_compare(expr, Op::Eq, v)?)),
        (Value::Number(_), _) => None,
        (_, Op::Ne) => Some(Node::Const(true)),
        _ => Some(Node::Const(false)),
    }
}

/// A comparison on one element field (a `jsonb` value of any type), positive form.
fn json_compare(field: &str, exact: bool, op: Op, v: &Value) -> Option<Node> {
    match v {
        Value::Bool(_) | Value::Null => json_scalar_compare(field, op, v),
        Value::String(_) => match string_literal(v, exact)? {
            Literal::Text(s) if op == Op::Ne => Some(not(json_compare(
                field,
                exact,
                Op::Eq,
                &Value::String(s.into()),
            )?)),
            Literal::Text(s) => Some(and(
                atom_sql(&format!("jsonb_typeof({field}) = 'string'")),
                text_op(&format!("({field} #>> '{{}}')"), exact, op, s)?,
            )),
            _ => None,
        },
        _ => None,
    }
}

fn element_field(sub: &str) -> Option<String> {
    ELEMENT_FIELDS
        .iter()
        .find(|f| **f == sub)
        .map(|f| format!("e.v -> '{f}'"))
}

/// A filter inside `attr[…]` of a [`Column::JsonMulti`], over the element `e.v`.
fn element(f: &Filter) -> Option<Node> {
    let simple = |p: &AttrPath| p.urn.is_none() && p.sub.is_none();
    match f {
        Filter::And(a, b) => Some(and(element(a)?, element(b)?)),
        Filter::Or(a, b) => Some(or(element(a)?, element(b)?)),
        Filter::Not(a) => Some(not(element(a)?)),
        Filter::Present(p) if simple(p) => Some(json_present(&element_field(&p.attr)?)),
        Filter::Compare(p, op, v) if simple(p) => {
            json_compare(&element_field(&p.attr)?, case_exact(p), *op, v)
        }
        _ => None,
    }
}

/// `exists` over the elements `e(v)` of a multi-valued `jsonb` attribute (a single object counts
/// as one element).
fn elements_exist(expr: &str, cond: Node) -> Node {
    let mut pieces = vec![sql(format!(
        "exists (select 1 from jsonb_array_elements(case jsonb_typeof({expr}) \
         when 'array' then {expr} when 'object' then jsonb_build_array({expr}) \
         else '[]'::jsonb end) as e(v) where "
    ))];
    push_pieces(&cond, &mut pieces);
    pieces.push(sql(")"));
    Node::Atom(pieces)
}

/// `members` or `members.value`.
fn member_path(p: &AttrPath) -> bool {
    p.urn.is_none() && matches!(p.sub.as_deref(), None | Some("value"))
}

/// A filter inside `members[…]`: only `value` (the user id) is in SQL.
fn member(f: &Filter) -> Option<Node> {
    let value = |p: &AttrPath| p.urn.is_none() && p.sub.is_none() && p.attr == "value";
    match f {
        Filter::And(a, b) => Some(and(member(a)?, member(b)?)),
        Filter::Or(a, b) => Some(or(member(a)?, member(b)?)),
        Filter::Not(a) => Some(not(member(a)?)),
        Filter::Present(p) if value(p) => Some(Node::Const(true)),
        Filter::Compare(p, op, v) if value(p) => string_compare(
            *op,
            string_literal(v, case_exact(p))?,
            || Some(Node::Const(true)),
            |op, s| text_op("m.user_id", case_exact(p), op, s),
        ),
        _ => None,
    }
}

/// `exists` over the members `m` of the group `g` (same environment).
fn members_exist(cond: Node) -> Node {
    let mut pieces = vec![sql("exists (select 1 from directory_group_members m \
         where m.environment_id = g.environment_id and m.group_id = g.id and ")];
    push_pieces(&cond, &mut pieces);
    pieces.push(sql(")"));
    Node::Atom(pieces)
}

/// Flattens a node into pieces (for nesting inside a subquery atom).
fn push_pieces(n: &Node, out: &mut Vec<Piece>) {
    match n {
        Node::Const(b) => out.push(sql(if *b { "true" } else { "false" })),
        Node::Atom(ps) => {
            out.push(sql("("));
            out.extend(ps.iter().cloned());
            out.push(sql(")"));
        }
        Node::And(a, b) | Node::Or(a, b) => {
            out.push(sql("("));
            push_pieces(a, out);
            out.push(sql(if matches!(n, Node::And(..)) {
                " and "
            } else {
                " or "
            }));
            push_pieces(b, out);
            out.push(sql(")"));
        }
        Node::Not(a) => {
            out.push(sql("(not "));
            push_pieces(a, out);
            out.push(sql(")"));
        }
    }
}

/// The `order by` expression of a `sortBy` attribute (RFC 7644 §3.4.2.3): strings sort
/// case-insensitively unless case-exact, by code point; `None` when the attribute is not
/// sortable. Rows without a value sort last ascending and first descending (Postgres' NULL
/// order, as the RFC asks).
pub fn sort_expr(p: &AttrPath, col: Column) -> Option<String> {
    match col {
        Column::Text { expr, .. } if case_exact(p) => Some(format!("{expr} collate \"C\"")),
        Column::Text { expr, .. } => Some(format!("lower({expr}) collate \"C\"")),
        Column::Instant(expr) => Some(expr.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::scim::filter::parse;

    fn columns(p: &AttrPath) -> Option<Column> {
        match (p.attr.as_str(), p.sub.as_deref()) {
            ("userName", None) => Some(Column::text("u.user_name", false, false)),
            ("emails", _) => Some(Column::JsonMulti("u.resource -> 'emails'")),
            _ => None,
        }
    }

    fn sql_of(f: &str) -> (String, bool) {
        let (cond, exact) = plan(&parse(f).unwrap(), columns);
        let mut qb = QueryBuilder::<Postgres>::new("");
        cond.push(&mut qb);
        (qb.sql().as_str().to_string(), exact)
    }

    #[test]
    fn values_are_bound_never_interpolated() {
        let (s, exact) = sql_of(r#"userName eq "x'; drop table t; --""#);
        assert!(exact);
        assert_eq!(s, "(lower(u.user_name) = lower($1))");
        let (s, exact) = sql_of(r#"emails[type eq "work"].value co "it's""#);
        assert!(exact);
        assert!(
            !s.contains("it's") && s.contains("$1") && s.contains("$2"),
            "{s}"
        );
    }

    #[test]
    fn untranslatable_parts_widen_to_a_superset() {
        let (s, exact) = sql_of(r#"userName sw "a" and title eq "x""#);
        assert!(!exact);
        assert_eq!(s, "(starts_with(lower(u.user_name), lower($1)))");
        let (s, exact) = sql_of(r#"userName sw "a" or title eq "x""#);
        assert_eq!((s.as_str(), exact), ("true", false));
        let (_, exact) = sql_of(r#"not (userName eq "é")"#);
        assert!(!exact, "non-ASCII case folding is left to memory");
        let (s, exact) = sql_of(r#"userName eq true"#);
        assert_eq!((s.as_str(), exact), ("false", true));
    }
}
