//! Parsing of the WorkOS list parameters (WORKOS-API-NOTES §2.5) from a query string.
//!
//! `limit` (1–100, default 10), `before`, `after` and `order` (`asc`, `desc`, `normal`) become a
//! [`ListParams`]; the keyset SQL and the list envelope live in [`crate::store::page`].

use super::extract::QueryMap;
use crate::error::{ApiError, ApiResult};
pub use crate::store::page::{List, ListMetadata, ListParams, Order};

impl ListParams {
    /// Parses `limit`, `before`, `after` and `order`, with `default_order` when absent.
    ///
    /// Errors: 422 `invalid_request_parameters` naming the field for a limit outside 1–100, a
    /// non-numeric limit or an unknown order.
    pub fn from_query(q: &QueryMap, default_order: Order) -> ApiResult<Self> {
        let limit = match q.get("limit") {
            None => 10,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid_field(
                        "limit",
                        "invalid",
                        "limit must be an integer between 1 and 100.",
                    ));
                }
            },
        };
        let order = match q.get("order") {
            None => default_order,
            Some("asc") => Order::Asc,
            Some("desc") => Order::Desc,
            Some("normal") => Order::Normal,
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "order",
                    "invalid",
                    "order must be one of asc, desc, normal.",
                ));
            }
        };
        Ok(Self {
            limit,
            before: q.get("before").map(String::from),
            after: q.get("after").map(String::from),
            order,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> ListParams {
        ListParams::from_query(&QueryMap::parse(q), Order::Desc).unwrap()
    }

    #[test]
    fn limits_outside_the_range_are_rejected() {
        for q in ["limit=0", "limit=101", "limit=x", "order=up"] {
            assert!(
                ListParams::from_query(&QueryMap::parse(q), Order::Desc).is_err(),
                "{q}"
            );
        }
        assert_eq!(params("").limit, 10);
    }

    #[test]
    fn cursors_and_order_are_read() {
        let p = params("limit=2&before=a&order=asc");
        assert_eq!(
            (p.limit, p.before.as_deref(), p.order),
            (2, Some("a"), Order::Asc)
        );
    }
}
