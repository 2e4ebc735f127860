//! SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (RFC 7644 §3.10): a parser into
//! [`Filter`] and an evaluator over a resource's JSON, shared by `GET …?filter=` and PATCH value
//! paths (`emails[type eq "work"].value`).
//!
//! Supported: `eq ne co sw ew gt ge lt le pr`, `and`, `or`, `not (…)`, grouping, value paths
//! (`emails[type eq "work" and primary eq true]`), value paths with a sub-attribute comparison
//! (`emails[type eq "work"].value eq "…"`), schema-URN-qualified paths, string, number,
//! boolean and `null` literals. Attribute names compare case-insensitively; string values too,
//! except for the case-exact `id` and `externalId`. Timestamps compare as instants.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{canonical, get_ci};

/// `[urn:]attr[.sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN, when the path is qualified by a non-core schema.
    pub urn: Option<String>,
    /// The attribute (canonical spelling when known).
    pub attr: String,
    /// The sub-attribute.
    pub sub: Option<String>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`
    Compare(AttrPath, Op, Value),
    /// `attr pr`
    Present(AttrPath),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attr[filter]`: some element of `attr` matches `filter`.
    ValuePath(AttrPath, Box<Filter>),
}

const CORE_PREFIXES: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:user",
    "urn:ietf:params:scim:schemas:core:2.0:group",
];

/// Parses `[urn:]attr[.sub]`. The core User/Group URN prefixes are dropped.
pub fn parse_attr_path(s: &str) -> Result<AttrPath, ScimError> {
    let bad = || ScimError::invalid_path(format!("'{s}' is not a valid attribute path."));
    let s = s.trim();
    let (urn, rest) = if s.to_ascii_lowercase().starts_with("urn:") {
        let (urn, rest) = s.rsplit_once(':').ok_or_else(bad)?;
        let urn = if CORE_PREFIXES.contains(&urn.to_ascii_lowercase().as_str()) {
            None
        } else {
            Some(canonical(urn).to_string())
        };
        (urn, rest)
    } else {
        (None, s)
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    let valid = |x: &str| {
        !x.is_empty()
            && x.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
        return Err(bad());
    }
    Ok(AttrPath {
        urn,
        attr: canonical(attr).to_string(),
        sub: sub.map(|s| canonical(s).to_string()),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    LBracket,
    RBracket,
    Str(String),
    Word(String),
}

fn tokenize(input: &str) -> Result<Vec<Tok>, ScimError> {
    let mut out = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1;
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1;
            }
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(ScimError::invalid_filter("Unterminated string literal."));
                }
                let lit: String = chars[start..=i].iter().collect();
                let s: String = serde_json::from_str(&lit)
                    .map_err(|_| ScimError::invalid_filter("Invalid string literal."))?;
                out.push(Tok::Str(s));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !" \t\n\r()[]\"".contains(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.pos += 1;
            if self.next() != Some(Tok::Open) {
                return Err(ScimError::invalid_filter("Expected '(' after 'not'."));
            }
            let inner = self.or()?;
            if self.next() != Some(Tok::Close) {
                return Err(ScimError::invalid_filter("Expected ')'."));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let inner = self.or()?;
            if self.next() != Some(Tok::Close) {
                return Err(ScimError::invalid_filter("Expected ')'."));
            }
            return Ok(inner);
        }
        let Some(Tok::Word(path)) = self.next() else {
            return Err(ScimError::invalid_filter("Expected an attribute path."));
        };
        let path = parse_attr_path(&path)
            .map_err(|_| ScimError::invalid_filter(format!("Invalid attribute path '{path}'.")))?;
        if self.peek() == Some(&Tok::LBracket) {
            self.pos += 1;
            let inner = self.or()?;
            if self.next() != Some(Tok::RBracket) {
                return Err(ScimError::invalid_filter("Expected ']'."));
            }
            return self.value_path_tail(path, inner);
        }
        self.comparison(path)
    }

    /// After `attr[filter]`: an optional `.sub op value` (the form Entra ID sends, e.g.
    /// `emails[type eq "work"].value eq "…"`), read as "some element matches `filter` and its
    /// `sub` compares"; `ne` is "no element matching `filter` has `sub` equal to the value",
    /// like `ne` on any multi-valued attribute.
    fn value_path_tail(&mut self, path: AttrPath, inner: Filter) -> Result<Filter, ScimError> {
        let sub = match self.peek() {
            Some(Tok::Word(w)) => w.strip_prefix('.').map(str::to_string),
            _ => None,
        };
        let Some(sub) = sub else {
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        };
        self.pos += 1;
        let sub_path = parse_attr_path(&sub)
            .ok()
            .filter(|p| p.urn.is_none() && p.sub.is_none())
            .ok_or_else(|| ScimError::invalid_filter(format!("Invalid sub-attribute '.{sub}'.")))?;
        let (negate, cond) = match self.comparison(sub_path)? {
            Filter::Compare(p, Op::Ne, v) => (true, Filter::Compare(p, Op::Eq, v)),
            other => (false, other),
        };
        let f = Filter::ValuePath(path, Box::new(Filter::And(Box::new(inner), Box::new(cond))));
        Ok(if negate { Filter::Not(Box::new(f)) } else { f })
    }

    /// `op value` (or `pr`) after an attribute path.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let Some(Tok::Word(op)) = self.next() else {
            return Err(ScimError::invalid_filter("Expected an operator."));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "Unknown operator '{other}'."
                )));
            }
        };
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| {
                        ScimError::invalid_filter(format!("Invalid comparison value '{w}'."))
                    })?,
            },
            _ => return Err(ScimError::invalid_filter("Expected a comparison value.")),
        };
        Ok(Filter::Compare(path, op, value))
    }
}

/// Parses a filter expression. Errors: 400 `invalidFilter`.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    let mut p = Parser {
        toks: tokenize(input)?,
        pos: 0,
    };
    if p.toks.is_empty() {
        return Err(ScimError::invalid_filter("The filter is empty."));
    }
    let f = p.or()?;
    if p.pos != p.toks.len() {
        return Err(ScimError::invalid_filter("Unexpected trailing input."));
    }
    Ok(f)
}

/// The values a path designates in `root` (multi-valued attributes flatten; complex
/// multi-valued attributes without a sub-attribute yield their `value`s).
fn resolve<'a>(root: &'a Map<String, Value>, path: &AttrPath) -> Vec<&'a Value> {
    let base = match &path.urn {
        Some(urn) => match get_ci(root, urn).and_then(Value::as_object) {
            Some(ext) => ext,
            None => return Vec::new(),
        },
        None => root,
    };
    let Some(v) = get_ci(base, &path.attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let sub = path
        .sub
        .as_deref()
        .or_else(|| (v.is_array() && items.iter().any(|i| i.is_object())).then_some("value"));
    match sub {
        Some(sub) => items
            .into_iter()
            .filter_map(|i| i.as_object().and_then(|o| get_ci(o, sub)))
            .collect(),
        None => items,
    }
}

/// True for the case-exact attributes (`id`, `externalId`); every other string compares
/// case-insensitively (RFC 7643 §2.3.1, `caseExact`).
pub fn case_exact(path: &AttrPath) -> bool {
    path.urn.is_none() && path.sub.is_none() && matches!(path.attr.as_str(), "id" | "externalId")
}

/// The instant a string value denotes, when it is an RFC 3339 timestamp (such strings compare
/// as instants).
pub fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn compare(actual: &Value, op: Op, expected: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(_), Value::String(_))
            if instant(actual).is_some() && instant(expected).is_some() =>
        {
            instant(actual).partial_cmp(&instant(expected))
        }
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                Op::Co => return a.contains(&b),
                Op::Sw => return a.starts_with(&b),
                Op::Ew => return a.ends_with(&b),
                _ => Some(a.cmp(&b)),
            }
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq | Op::Ne => Some(a.cmp(b)),
            _ => None,
        },
        _ => None,
    };
    match (op, ordering) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => true,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

/// True when `root` (a resource, or one element of a multi-valued attribute) matches `f`.
pub fn matches(f: &Filter, root: &Map<String, Value>) -> bool {
    match f {
        Filter::And(a, b) => matches(a, root) && matches(b, root),
        Filter::Or(a, b) => matches(a, root) || matches(b, root),
        Filter::Not(a) => !matches(a, root),
        Filter::Present(p) => resolve(root, p).iter().any(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        }),
        Filter::Compare(p, op, Value::Null) => {
            let present = matches(&Filter::Present(p.clone()), root);
            match op {
                Op::Eq => !present,
                Op::Ne => present,
                _ => false,
            }
        }
        Filter::Compare(p, op, expected) => {
            let values = resolve(root, p);
            let exact = case_exact(p);
            if *op == Op::Ne {
                !values.iter().any(|v| compare(v, Op::Eq, expected, exact))
            } else {
                values.iter().any(|v| compare(v, *op, expected, exact))
            }
        }
        Filter::ValuePath(p, inner) => {
            let base = match &p.urn {
                Some(urn) => get_ci(root, urn).and_then(Value::as_object),
                None => Some(root),
            };
            match base.and_then(|b| get_ci(b, &p.attr)) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_object)
                    .any(|o| matches(inner, o)),
                Some(Value::Object(o)) => matches(inner, o),
                _ => false,
            }
        }
    }
}

/// True when the filter reads attribute `attr` anywhere (e.g. `members`, `groups`).
pub fn mentions(f: &Filter, attr: &str) -> bool {
    match f {
        Filter::Compare(p, ..) | Filter::Present(p) => p.attr == attr,
        Filter::ValuePath(p, inner) => p.attr == attr || mentions(inner, attr),
        Filter::And(a, b) | Filter::Or(a, b) => mentions(a, attr) || mentions(b, attr),
        Filter::Not(a) => mentions(a, attr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Map<String, Value> {
        json!({
            "id": "directory_user_1", "userName": "Bjensen@Example.com", "externalId": "abc",
            "active": true, "displayName": "Babs Jensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@home.org", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations"},
            "meta": {"lastModified": "2026-01-15T12:00:00.000Z"}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn check(filter: &str) -> bool {
        matches(&parse(filter).unwrap(), &user())
    }

    #[test]
    fn operators_and_logic() {
        assert!(check(r#"userName eq "bjensen@example.com""#));
        assert!(check(r#"USERNAME Eq "BJENSEN@example.com""#));
        assert!(!check(r#"externalId eq "ABC""#), "externalId is case-exact");
        assert!(check(r#"userName sw "bj" and userName ew ".com""#));
        assert!(check(r#"displayName co "jen""#));
        assert!(check(r#"name.familyName eq "jensen""#));
        assert!(check("active eq true and not (active eq false)"));
        assert!(check(r#"title pr or emails pr"#));
        assert!(!check("title pr"));
        assert!(check(r#"userName ne "x""#));
        assert!(check(r#"emails co "home.org""#));
        assert!(check(r#"emails.type eq "home""#));
        assert!(check(
            r#"emails[type eq "work" and value co "@example.com"]"#
        ));
        assert!(!check(r#"emails[type eq "other"]"#));
        assert!(check(r#"meta.lastModified gt "2025-12-31T00:00:00Z""#));
        assert!(check(r#"meta.lastModified le "2026-01-15T12:00:00Z""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#
        ));
        assert!(check(
            r#"(userName eq "x" or displayName eq "Babs Jensen") and active eq true"#
        ));
        assert!(check("title eq null"));
    }

    #[test]
    fn bad_filters_are_invalid_filter_errors() {
        for f in [
            "",
            "userName",
            "userName eq",
            "userName zz \"x\"",
            "(userName pr",
            "userName eq \"x",
            "emails[type eq \"w\"",
        ] {
            let e = parse(f).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{f}");
        }
    }

    #[test]
    fn a_value_path_may_end_in_a_sub_attribute_comparison() {
        assert!(check(
            r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
        ));
        assert!(!check(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(check(
            r#"emails[type eq "home"].value ne "bjensen@example.com""#
        ));
        assert!(!check(
            r#"emails[type eq "work"].value ne "bjensen@example.com""#
        ));
        assert!(check(r#"emails[type eq "home"].value pr"#));
        assert_eq!(
            parse(r#"emails[type eq "work"].a.b eq "x""#)
                .unwrap_err()
                .scim_type,
            Some("invalidFilter")
        );
    }
}
