//! Audit Logs (spec tag `audit-logs`), first slice: ingestion and schemas, retention and the
//! organization's configuration.
//!
//! - `POST /audit_logs/actions/{actionName}/schemas` (`AuditLogValidatorVersionsController_create`),
//!   `GET /audit_logs/actions` (`AuditLogValidatorsController_list`) and
//!   `GET /audit_logs/actions/{actionName}/schemas` (`AuditLogValidatorVersionsController_schemas`):
//!   [`schemas`].
//! - `POST /audit_logs/events` (`AuditLogEventsController_create`): [`events`].
//! - `GET`/`PUT /organizations/{id}/audit_logs_retention`
//!   (`AuditLogsRetentionController_auditLogsRetention`, `…_updateAuditLogsRetention`) and
//!   `GET /organizations/{id}/audit_log_configuration`
//!   (`OrganizationsController_getAuditLogConfiguration`): [`retention`].
//!
//! - `POST /audit_logs/exports` (`AuditLogExportsController_exports`) and
//!   `GET /audit_logs/exports/{auditLogExportId}` (`AuditLogExportsController_export`):
//!   [`exports`]; the CSV file's signed download URL (public, a Keystead extension):
//!   [`export_download`].
//! - Extension: `POST`/`GET`/`DELETE /organizations/{id}/audit_log_stream`, the organization's
//!   log stream to a SIEM (`GenericHttps`, `Datadog`, `Splunk`, `S3`): [`streams`]; delivery
//!   and the retention purge run in `workers::audit_log_streams`.

pub mod events;
pub mod export_download;
pub mod exports;
pub mod retention;
pub mod schemas;
pub mod streams;

use axum::Router;
use axum::http::Method;
use axum::routing::{get, post};

use crate::http::idempotency::InHandlerRoute;
use crate::state::AppState;

/// Routes whose handlers claim their `Idempotency-Key` in their own transaction.
pub const IDEMPOTENT_IN_HANDLER: &[InHandlerRoute] = &[(Method::POST, "/audit_logs/events")];

/// Routes of this area (API-key authenticated). `POST /audit_logs/events` claims its
/// `Idempotency-Key` in its own transaction ([`IDEMPOTENT_IN_HANDLER`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit_logs/actions", get(schemas::list_actions))
        .route(
            "/audit_logs/actions/{actionName}/schemas",
            get(schemas::list_schemas).post(schemas::create_schema),
        )
        .route("/audit_logs/events", post(events::create_event))
        .route(
            "/organizations/{id}/audit_logs_retention",
            get(retention::get_retention).put(retention::update_retention),
        )
        .route(
            "/organizations/{id}/audit_log_configuration",
            get(retention::get_configuration),
        )
        .route(
            "/organizations/{id}/audit_log_stream",
            post(streams::create_stream)
                .get(streams::get_stream)
                .delete(streams::delete_stream),
        )
        .route("/audit_logs/exports", post(exports::create_export))
        .route(
            "/audit_logs/exports/{auditLogExportId}",
            get(exports::get_export),
        )
}

/// Public routes of this area (no API key): the export download, authorized by its signed URL.
pub fn public_router() -> Router<AppState> {
    Router::new().route(
        "/audit_logs/exports/{auditLogExportId}/download",
        get(export_download::download),
    )
}
