//! Vault: encrypted key-value objects and data keys for the app's own encryption. Not in the
//! WorkOS spec: the contract is the official SDKs (`workos-node` `src/vault/`, `workos-python`
//! `workos.vault`); `docs/openapi-vault.yaml` describes it (tag `vault`).
//!
//! - [`keys`]: `POST /vault/v1/keys/data-key`, `POST /vault/v1/keys/decrypt`,
//!   `POST /vault/v1/keys/rekey`.
//! - [`objects`]: `POST`/`GET /vault/v1/kv`, `GET /vault/v1/kv/name/{name}`,
//!   `GET`/`PUT`/`DELETE /vault/v1/kv/{id}`, `GET /vault/v1/kv/{id}/metadata`,
//!   `GET /vault/v1/kv/{id}/versions`.
//!
//! Every data key is wrapped under the key-encryption key of its key context, derived with HKDF
//! from the environment's root key ([`keyring`], `crypto::data_keys`). The encrypted key blob
//! names its root key and carries its context, so a blob is decrypted from itself alone, and a
//! blob wrapped for one context (or in another environment) never unwraps as another.

pub mod keyring;
pub mod keys;
pub mod objects;

use crate::state::AppState;
use axum::Router;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new().merge(keys::router()).merge(objects::router())
}
