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

/// Longest URL, in characters: redirect URIs, CORS origins, a webhook's `endpoint_url`, a
/// connection's IdP URLs and metadata URL. Not stated by the spec; 2048 is the sane limit chosen
/// (the de-facto browser limit, as `app_homepage_url` already had).
pub const URL_MAX: usize = 2048;

/// Longest domain name, in characters: 253, the text form of RFC 1035 §2.3.4's 255 octets.
pub const DOMAIN_MAX: usize = 253;

/// Longest role slug (`role_slug`, `role_slugs[]` of memberships and invitations), in
/// characters: the spec's `maxLength` for `CreateRoleDto.slug`.
pub const ROLE_SLUG_MAX: usize = 48;

/// Longest password a sign-in checks, in characters (the password grant, the hosted sign-in
/// form). Longer than any new password may be (`password::MAX_PASSWORD_BYTES`) so imported
/// hashes of long passwords still verify, far above NIST SP 800-63B §3.1.1.2's "at least 64",
/// and short enough that hashing stays cheap. Sane limit chosen.
pub const SIGN_IN_PASSWORD_MAX: usize = 1024;

/// Longest one-time code, token or credential a client sends (`code`, `token`, `device_code`,
/// `pending_authentication_token`, `invitation_token`, `refresh_token`, `code_verifier`,
/// `client_id`, `client_secret`), and the `ip_address`/`user_agent` a server forwards with a
/// sign-in (stored on the session), in characters. Keystead's own are far shorter; sane limit
/// chosen.
pub const TOKEN_MAX: usize = 1024;

/// Longest `userName`, `externalId` or group `displayName` the SCIM server stores, in
/// characters: those are indexed, and 512 characters (at most 2048 bytes of UTF-8) keep an
/// index entry under PostgreSQL's b-tree limit of about 2700 bytes. Sane limit chosen.
pub const SCIM_KEY_MAX: usize = 512;

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

/// The OAuth endpoints' form of [`max_chars`] (`/user_management/authenticate`, `/sso/token`):
/// each `(field, max)` that `body` holds as a string is at most `max` characters. Errors: 400
/// `{error: "invalid_request", error_description}` naming the field.
pub fn oauth_max_chars(body: &serde_json::Value, fields: &[(&str, usize)]) -> ApiResult<()> {
    for (field, max) in fields {
        if let Some(v) = body.get(*field).and_then(serde_json::Value::as_str)
            && v.chars().count() > *max
        {
            return Err(ApiError::oauth(
                "invalid_request",
                format!("{field} must be at most {max} characters."),
            ));
        }
    }
    Ok(())
}
