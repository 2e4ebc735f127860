//! List request parameters (RFC 7644 §3.4.2): `filter` (§3.4.2.2), `sortBy`/`sortOrder`
//! (§3.4.2.3), `startIndex`/`count` (§3.4.2.4) and `attributes`/`excludedAttributes` (§3.4.2.5),
//! from a `GET` query string or a `POST /.search` `SearchRequest` body (§3.4.3).

use serde_json::Value;

use super::context::MAX_RESULTS;
use super::resource::Projection;
use crate::http::QueryMap;
use crate::protocols::scim::error::ScimError;
use crate::protocols::scim::filter::{self, AttrPath, Filter};
use crate::protocols::scim::schema::get_ci;

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The filter, if any.
    pub filter: Option<Filter>,
    /// The `sortBy` attribute, if any.
    pub sort_by: Option<AttrPath>,
    /// `sortOrder=descending` (ascending otherwise, the default).
    pub descending: bool,
    /// 1-based index of the first result.
    pub start_index: i64,
    /// Page size (0 = only `totalResults`).
    pub count: i64,
    /// Attribute projection.
    pub projection: Projection,
}

/// The raw parameters, whichever way they arrived.
#[derive(Debug, Default)]
struct Raw<'a> {
    filter: Option<&'a str>,
    sort_by: Option<&'a str>,
    sort_order: Option<&'a str>,
    start: Option<i64>,
    count: Option<i64>,
    attributes: Option<&'a str>,
    excluded: Option<&'a str>,
}

impl ListQuery {
    fn build(raw: Raw<'_>) -> Result<Self, ScimError> {
        let sort_by = raw
            .sort_by
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                filter::parse_attr_path(s).map_err(|_| {
                    ScimError::invalid_value(format!("sortBy '{s}' is not an attribute path."))
                })
            })
            .transpose()?;
        let descending = match raw.sort_order.map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", not '{o}'."
                )));
            }
        };
        Ok(Self {
            filter: raw
                .filter
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(filter::parse)
                .transpose()?,
            sort_by,
            descending,
            start_index: raw.start.unwrap_or(1).max(1),
            count: raw.count.unwrap_or(100).clamp(0, MAX_RESULTS),
            projection: Projection::new(raw.attributes, raw.excluded),
        })
    }

    /// From the query string of `GET /Users` / `GET /Groups`.
    pub fn from_query(q: &QueryMap) -> Result<Self, ScimError> {
        let int = |k: &str| -> Result<Option<i64>, ScimError> {
            q.get(k)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| ScimError::invalid_value(format!("{k} must be an integer.")))
                })
                .transpose()
        };
        Self::build(Raw {
            filter: q.get("filter"),
            sort_by: q.get("sortBy"),
            sort_order: q.get("sortOrder"),
            start: int("startIndex")?,
            count: int("count")?,
            attributes: q.get("attributes"),
            excluded: q.get("excludedAttributes"),
        })
    }

    /// From a `SearchRequest` body.
    pub fn from_body(body: &Value) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("The search body must be an object."))?;
        let s = |k: &str| -> Option<String> {
            match get_ci(obj, k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => None,
            }
        };
        let n = |k: &str| get_ci(obj, k).and_then(Value::as_i64);
        let (filter, sort_by, sort_order) = (s("filter"), s("sortBy"), s("sortOrder"));
        let (attributes, excluded) = (s("attributes"), s("excludedAttributes"));
        Self::build(Raw {
            filter: filter.as_deref(),
            sort_by: sort_by.as_deref(),
            sort_order: sort_order.as_deref(),
            start: n("startIndex"),
            count: n("count"),
            attributes: attributes.as_deref(),
            excluded: excluded.as_deref(),
        })
    }
}
