//! Input extractors that speak our error: malformed JSON, wrong types, missing fields, bad query
//! values and oversize bodies become WorkOS-shaped 4xx responses, never axum's plain text.
//! [`IdPath`] parses a typed id from the path: a malformed id is as unknown as a missing one.
//!
//! A NUL character (`\u0000` in a JSON string or key, `%00` in a form or query) is refused here,
//! once, before it can reach PostgreSQL (which cannot store it in `text`): 422
//! `invalid_request_parameters` naming the field, or, through [`OAuthJson`] and [`OAuthQuery`]
//! on the OAuth endpoints, 400 `{error: "invalid_request", error_description}`. A path id or key
//! with a NUL names no row, so it answers the route's 404 ([`crate::ids`] and [`has_nul`]).

use axum::body::{Body, Bytes};
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::ids::TypedId;

/// A JSON request body (`application/json`; `application/x-www-form-urlencoded` is accepted too,
/// as OAuth-style clients send it). An empty body reads as `{}`.
///
/// Errors: 400 `bad_request` for malformed JSON, 413 past the body limit, 422
/// `invalid_request_parameters` with `errors[{code, field}]` for missing or mistyped fields.
#[derive(Debug)]
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        read_body(req, state, Dialect::Api).await.map(AppJson)
    }
}

/// [`AppJson`] for the OAuth endpoints (`/sso/token`, `/user_management/authenticate`,
/// `/user_management/authorize/device`): identical, except that a NUL character answers the
/// OAuth 400 `{error: "invalid_request", error_description}`.
#[derive(Debug)]
pub struct OAuthJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OAuthJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        read_body(req, state, Dialect::OAuth).await.map(OAuthJson)
    }
}

/// Which error dialect a NUL character is refused in.
#[derive(Debug, Clone, Copy)]
enum Dialect {
    /// 422 `invalid_request_parameters` with `errors[{code: "invalid", field}]`.
    Api,
    /// 400 `{error: "invalid_request", error_description}`.
    OAuth,
}

impl Dialect {
    fn refuse_nul(self, field: &str) -> ApiError {
        match self {
            Self::Api => ApiError::invalid_field(
                field,
                "invalid",
                format!("Validation failed: {field}: must not contain a NUL character."),
            ),
            Self::OAuth => ApiError::oauth(
                "invalid_request",
                format!("{field} must not contain a NUL character."),
            ),
        }
    }
}

async fn read_body<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
    dialect: Dialect,
) -> Result<T, ApiError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request("bad_request", "The request body could not be read.")
        }
    })?;
    let value = if is_form {
        let map: Map<String, Value> = url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Value::Object(map)
    } else if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(
                "bad_request",
                format!("The request body is not valid JSON: {e}."),
            )
        })?
    };
    if let Some(field) = nul_field(&value) {
        return Err(dialect.refuse_nul(&field));
    }
    from_value(value)
}

/// A posted form (`application/x-www-form-urlencoded`, read as `axum::Form` reads it) that
/// refuses a NUL character in any name or value. The hosted pages read their forms with it.
#[derive(Debug)]
pub struct FormBody<T>(pub T);

/// Why a [`FormBody`] was refused.
#[derive(Debug)]
pub enum FormError {
    /// Unreadable: wrong content type, bad encoding, missing or mistyped fields.
    Unreadable(FormRejection),
    /// The named field (or the name itself) holds a NUL character.
    Nul(String),
}

impl axum::response::IntoResponse for FormError {
    /// Used only where a handler does not take the `Result`: axum's answer, or a plain 400.
    fn into_response(self) -> axum::response::Response {
        match self {
            Self::Unreadable(e) => e.into_response(),
            Self::Nul(field) => (
                axum::http::StatusCode::BAD_REQUEST,
                format!("{field} must not contain a NUL character."),
            )
                .into_response(),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for FormBody<T> {
    type Rejection = FormError;

    async fn from_request(req: Request, state: &S) -> Result<Self, FormError> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| FormError::Unreadable(e.into()))?;
        if let Some((k, _)) =
            url::form_urlencoded::parse(&bytes).find(|(k, v)| has_nul(k) || has_nul(v))
        {
            return Err(FormError::Nul(printable(&k)));
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(f)| FormBody(f))
            .map_err(FormError::Unreadable)
    }
}

/// Whether `s` holds a NUL character, which no stored text can (PostgreSQL refuses it): a path
/// key (external id, slug, token, client id) with one names no row.
pub fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// A field name as it appears in an error: NUL characters written `\u0000`.
fn printable(s: &str) -> String {
    s.replace('\0', "\\u0000")
}

/// The path (`metadata.key`, `items[0]`, the key itself) of the first string or object key in
/// `value` that holds a NUL character; `None` when there is none.
pub fn nul_field(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &str) -> Option<String> {
        let join = |key: &str| {
            if path.is_empty() {
                printable(key)
            } else {
                format!("{path}.{}", printable(key))
            }
        };
        match value {
            Value::String(s) if has_nul(s) => Some(if path.is_empty() {
                ".".to_string()
            } else {
                path.to_string()
            }),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                if has_nul(k) {
                    Some(join(k))
                } else {
                    walk(v, &join(k))
                }
            }),
            _ => None,
        }
    }
    walk(value, "")
}

/// Deserializes `value` into `T`, mapping failures to 422 `invalid_request_parameters` with the
/// offending field path.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let (code, field) = match inner.strip_prefix("missing field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or_default();
                let field = if path == "." {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                };
                ("required", field)
            }
            None => ("invalid", if path == "." { String::new() } else { path }),
        };
        let message = if field.is_empty() {
            format!("Validation failed: {inner}.")
        } else {
            format!("Validation failed: {field}: {inner}.")
        };
        ApiError::Unprocessable {
            code: "invalid_request_parameters",
            message,
            errors: vec![json!({ "code": code, "field": field })],
        }
    })
}

/// The query string as key/value pairs, with the lenient array handling the SDKs need:
/// `events=a,b`, `events=a&events=b` and `events[]=a` all mean `[a, b]` (WORKOS-API-NOTES §2.6).
#[derive(Debug, Default, Clone)]
pub struct QueryMap(Vec<(String, String)>);

impl QueryMap {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The last value of `key`, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// All values of `key` / `key[]`, comma-split, trimmed, empty ones dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracketed)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect()
    }
}

impl QueryMap {
    fn extract(parts: &Parts, dialect: Dialect) -> Result<Self, ApiError> {
        let q = Self::parse(parts.uri.query().unwrap_or_default());
        match q.0.iter().find(|(k, v)| has_nul(k) || has_nul(v)) {
            Some((k, _)) => Err(dialect.refuse_nul(&printable(k))),
            None => Ok(q),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::extract(parts, Dialect::Api)
    }
}

/// [`QueryMap`] for the OAuth endpoints (`/sso/authorize`, `/user_management/authorize`, the
/// query of `/sso/token`): a NUL character answers 400 `{error: "invalid_request", …}`.
#[derive(Debug, Default, Clone)]
pub struct OAuthQuery(pub QueryMap);

impl<S: Send + Sync> FromRequestParts<S> for OAuthQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        QueryMap::extract(parts, Dialect::OAuth).map(OAuthQuery)
    }
}

/// The one path parameter of a route, parsed as a typed id (`/organizations/{id}` →
/// `IdPath<OrganizationId>`).
///
/// An id with the wrong prefix cannot name a row, so it answers exactly what an unknown id
/// answers: 404 `{"message": "<T::ENTITY> not found: '<id>'."}` (with `code` when
/// [`TypedId::NOT_FOUND_CODE`] has one), never a 400 that reveals the parsing.
#[derive(Debug)]
pub struct IdPath<T>(pub T);

impl<S: Send + Sync, T: TypedId> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found_id::<T>(""))?;
        raw.parse::<T>()
            .map(IdPath)
            .map_err(|e| ApiError::not_found_id::<T>(e.id))
    }
}

/// Tri-state for nullable fields of partial updates: absent (leave), `null` (clear), value (set).
///
/// Use with `#[serde(default)]`; WORKOS-API-NOTES §8 item 5.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The key was not sent: leave the stored value unchanged.
    #[default]
    Absent,
    /// The key was sent as `null`: clear the stored value.
    Null,
    /// The key was sent with a value.
    Value(T),
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Self::Value(v),
            None => Self::Null,
        })
    }
}

impl<T> Patch<T> {
    /// `Some(new value)` when the key was sent (`Some(None)` for `null`), `None` when absent.
    pub fn into_update(self) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Value(v) => Some(Some(v)),
        }
    }

    /// The value when one was sent.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Body {
        name: String,
        #[serde(default)]
        external_id: Patch<String>,
    }

    #[test]
    fn query_arrays_accept_every_sdk_style() {
        let q = QueryMap::parse("events=a,b&events=c&events[]=d&limit=5&empty=");
        assert_eq!(q.list("events"), ["a", "b", "c", "d"]);
        assert_eq!(q.get("limit"), Some("5"));
        assert_eq!(q.get("empty"), None);
    }

    #[test]
    fn missing_and_mistyped_fields_name_the_field() {
        let e = from_value::<Body>(json!({})).unwrap_err();
        assert_eq!(
            e.body()["errors"][0],
            json!({"code": "required", "field": "name"})
        );
        let e = from_value::<Body>(json!({"name": 5})).unwrap_err();
        assert_eq!(e.body()["errors"][0]["field"], "name");
    }

    #[test]
    fn nul_characters_are_found_in_strings_keys_and_nesting() {
        assert_eq!(nul_field(&json!({"name": "a"})), None);
        assert_eq!(
            nul_field(&json!({"name": "a\u{0}b"})).as_deref(),
            Some("name")
        );
        assert_eq!(
            nul_field(&json!({"metadata": {"k": "v\u{0}"}})).as_deref(),
            Some("metadata.k")
        );
        assert_eq!(
            nul_field(&json!({"metadata": {"k\u{0}": "v"}})).as_deref(),
            Some("metadata.k\\u0000")
        );
        assert_eq!(
            nul_field(&json!({"domains": ["a", "b\u{0}"]})).as_deref(),
            Some("domains[1]")
        );
        let e = Dialect::Api.refuse_nul("name");
        assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body()["code"], "invalid_request_parameters");
        assert_eq!(
            e.body()["errors"][0],
            json!({"code": "invalid", "field": "name"})
        );
        let e = Dialect::OAuth.refuse_nul("code");
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(e.body()["error"], "invalid_request");
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let b: Body = from_value(json!({"name": "a"})).unwrap();
        assert_eq!(b.external_id, Patch::Absent);
        let b: Body = from_value(json!({"name": "a", "external_id": null})).unwrap();
        assert_eq!(b.external_id, Patch::Null);
        let b: Body = from_value(json!({"name": "a", "external_id": "x"})).unwrap();
        assert_eq!(b.external_id.into_update(), Some(Some("x".to_string())));
    }
}
