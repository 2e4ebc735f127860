//! Finding the application a path `{id}` names: its `conn_app_…` id or its client id (shared by
//! the application and client-secret routes).

use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::connect_applications::{self, ConnectApplication};

/// The 404 of an application.
pub fn unknown(id: &str) -> ApiError {
    ApiError::not_found("Connect Application", id)
}

/// The application named by a path `{id}` (its id or client id).
pub async fn find(
    state: &AppState,
    env: &EnvironmentId,
    id: &str,
) -> ApiResult<ConnectApplication> {
    if has_nul(id) {
        return Err(unknown(id));
    }
    let mut conn = state.db.acquire().await?;
    connect_applications::find(&mut conn, env, id)
        .await?
        .ok_or_else(|| unknown(id))
}
