//! Field lengths shared by the REST API (`api::validate`) and the hosted pages, and the
//! check that enforces them.

use crate::error::{ApiError, ApiResult};

/// Longest name (an organization's `name`, a user's `first_name` and `last_name`), in
/// characters. Neither the vendored spec nor the WorkOS docs state one; 256 is the sane limit
/// chosen for issue 10 (a 1 MB name was accepted before).
pub const NAME_MAX: usize = 256;

/// Longest `external_id`, in characters: 128 for organizations and users
/// (WORKOS-API-NOTES §2.10).
pub const EXTERNAL_ID_MAX: usize = 128;

/// Longest `stripe_customer_id`, in characters. Not stated by the spec; Stripe's object ids are
/// at most 255 characters.
pub const STRIPE_CUSTOMER_ID_MAX: usize = 255;

/// Longest `locale`, in characters. Not stated by the spec; RFC 5646 §4.4.1 asks that
/// language tags of up to 35 characters be supported, 64 leaves room for extensions.
pub const LOCALE_MAX: usize = 64;

/// An optional string of at most `max` characters. Errors: 422 `invalid_request_parameters`
/// with `errors: [{field, code: "too_long"}]`.
pub fn max_chars(field: &str, value: Option<&str>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid_field(
            field,
            "too_long",
            format!("{field} must be at most {max} characters."),
        )),
        _ => Ok(()),
    }
}
