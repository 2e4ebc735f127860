//! Keyset pagination and the WorkOS list envelope (WORKOS-API-NOTES §2.5), store side.
//!
//! [`ListParams`] holds `limit` (1–100), `before`, `after` and `order` (`asc`, `desc`, `normal`);
//! `http::pagination` parses them from a query string. Store functions append
//! [`ListParams::push_keyset`] to their query and turn the `limit + 1` rows they fetched into a
//! [`List`] with [`ListParams::page`]. Cursors are ids, which sort by creation time. No offsets
//! anywhere.

use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};

use crate::ids::{IdFilter, TypedId};

/// Sort order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest first; `after` pages forward (newer).
    Asc,
    /// Newest first; `after` pages forward (older). The WorkOS default.
    Desc,
    /// Newest first with reversed cursors: `before` fetches older, `after` newer.
    Normal,
}

/// Parsed list parameters.
#[derive(Debug, Clone)]
pub struct ListParams {
    /// Page size, 1–100.
    pub limit: i64,
    /// Cursor: the id to page back from.
    pub before: Option<String>,
    /// Cursor: the id to page on from.
    pub after: Option<String>,
    /// Sort order.
    pub order: Order,
}

/// The list envelope: `{object: "list", data, list_metadata: {before, after}}`.
#[derive(Debug, Serialize)]
pub struct List<T> {
    /// Always `"list"`.
    pub object: &'static str,
    /// The page.
    pub data: Vec<T>,
    /// Cursors; `null` when there is nothing further that way.
    pub list_metadata: ListMetadata,
}

/// Both cursors are always present (nullable), as the SDKs require.
#[derive(Debug, Serialize)]
pub struct ListMetadata {
    /// Pass as `before` to get the previous page.
    pub before: Option<String>,
    /// Pass as `after` to get the next page.
    pub after: Option<String>,
}

/// Which way a query scans, relative to the order the page is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

impl ListParams {
    /// The defaults of a request without paging parameters: 10 rows, no cursor, `order`.
    pub fn first(order: Order) -> Self {
        Self {
            limit: 10,
            before: None,
            after: None,
            order,
        }
    }

    /// (comparison against the cursor, SQL order, direction) for this request.
    fn plan(&self) -> (Option<(&'static str, &str)>, &'static str, Direction) {
        use Direction::*;
        match (self.order, self.after.as_deref(), self.before.as_deref()) {
            (Order::Asc, Some(a), _) => (Some((">", a)), "asc", Forward),
            (Order::Asc, None, Some(b)) => (Some(("<", b)), "desc", Backward),
            (Order::Asc, None, None) => (None, "asc", Forward),
            (Order::Desc, Some(a), _) => (Some(("<", a)), "desc", Forward),
            (Order::Desc, None, Some(b)) => (Some((">", b)), "asc", Backward),
            (Order::Desc | Order::Normal, None, None) => (None, "desc", Forward),
            (Order::Normal, _, Some(b)) => (Some(("<", b)), "desc", Forward),
            (Order::Normal, Some(a), None) => (Some((">", a)), "asc", Backward),
        }
    }

    /// Appends ` and <column> <op> $cursor order by <column> <dir> limit <limit + 1>` to a query
    /// that already has a `where` clause. `column` must be a trusted identifier.
    pub fn push_keyset(&self, qb: &mut QueryBuilder<Postgres>, column: &str) {
        let (cmp, dir, _) = self.plan();
        if let Some((op, cursor)) = cmp {
            qb.push(format_args!(" and {column} {op} "));
            qb.push_bind(cursor.to_string());
        }
        qb.push(format_args!(" order by {column} {dir} limit "));
        qb.push_bind(self.limit + 1);
    }

    /// Builds the envelope from the `limit + 1` rows fetched with [`Self::push_keyset`].
    pub fn page<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> &str) -> List<T> {
        let (cmp, _, direction) = self.plan();
        let has_more = rows.len() as i64 > self.limit;
        rows.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        if direction == Direction::Backward {
            rows.reverse();
        }
        let first = rows.first().map(|r| id(r).to_string());
        let last = rows.last().map(|r| id(r).to_string());
        // `toward_end`: the cursor that continues in display order; `toward_start` goes back.
        let (toward_start, toward_end) = match direction {
            Direction::Forward => (
                if cmp.is_some() { first } else { None },
                if has_more { last } else { None },
            ),
            Direction::Backward => (if has_more { first } else { None }, last),
        };
        let list_metadata = match self.order {
            // `normal` shows newest first but `before` continues toward older records.
            Order::Normal => ListMetadata {
                before: toward_end,
                after: toward_start,
            },
            Order::Asc | Order::Desc => ListMetadata {
                before: toward_start,
                after: toward_end,
            },
        };
        List {
            object: "list",
            data: rows,
            list_metadata,
        }
    }
}

/// Appends ` and <column> = $id` for a list filter on an id, or ` and false` when the id sent
/// was malformed (it names no row: the list is empty, as for an unknown id). `column` must be a
/// trusted identifier.
pub fn push_id_filter<T: TypedId>(
    qb: &mut QueryBuilder<Postgres>,
    column: &str,
    filter: Option<&IdFilter<T>>,
) {
    match filter {
        None => {}
        Some(IdFilter::Id(id)) => {
            qb.push(format_args!(" and {column} = "))
                .push_bind(id.clone());
        }
        Some(IdFilter::Malformed) => {
            qb.push(" and false");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(limit: i64, before: Option<&str>) -> ListParams {
        ListParams {
            limit,
            before: before.map(String::from),
            ..ListParams::first(Order::Desc)
        }
    }

    #[test]
    fn a_full_first_page_points_after_its_last_row() {
        let p = params(2, None);
        let list = p.page(vec!["c", "b", "a"], |s| s);
        assert_eq!(list.data, ["c", "b"]);
        assert_eq!(list.list_metadata.after.as_deref(), Some("b"));
        assert_eq!(list.list_metadata.before, None);
    }

    #[test]
    fn paging_back_reverses_rows_and_points_both_ways() {
        // desc, before=a: scanned ascending (b, c, d) and shown descending.
        let p = params(2, Some("a"));
        let list = p.page(vec!["b", "c", "d"], |s| s);
        assert_eq!(list.data, ["c", "b"]);
        assert_eq!(list.list_metadata.before.as_deref(), Some("c"));
        assert_eq!(list.list_metadata.after.as_deref(), Some("b"));
    }
}
