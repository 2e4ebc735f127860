//! `/scim/v2/{directory_id}/Users` (RFC 7644 §3.3 create, §3.5.1 PUT, §3.5.2 PATCH) over
//! directory users; list, search, get and delete (§3.4, §3.6) are the shared handlers of
//! [`super::resources`], for which this module implements [`ScimResource`].
//!
//! `active: false` (Okta's deactivation, by PUT or PATCH) keeps the user with state `inactive`
//! and records `dsync.user.updated`; DELETE removes it and records `dsync.user.deleted`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::context::{ScimContext, ScimId, ScimJson, ScimQuery, respond};
use super::resource::{self, Projection};
use super::resources::{self, ScimResource};
use crate::ids::DirectoryUserId;
use crate::protocols::scim::error::ScimError;
use crate::protocols::scim::patch;
use crate::state::AppState;
use crate::store::directory_groups;
use crate::store::directory_users::{self as users, UserRecord};

/// (group id, group name) pairs of each user.
type GroupsOf = HashMap<DirectoryUserId, Vec<(String, String)>>;

impl ScimResource for UserRecord {
    const KIND: &'static str = "User";
    const RELATED: &'static str = "groups";
    const SORTABLE: &'static str = "id, userName, displayName, externalId, meta.created and \
                                    meta.lastModified";
    type Related = GroupsOf;

    async fn load_related(
        conn: &mut PgConnection,
        ctx: &ScimContext,
        rows: &[Self],
    ) -> Result<GroupsOf, ScimError> {
        let ids: Vec<DirectoryUserId> = rows.iter().map(|u| u.id.clone()).collect();
        let map = directory_groups::groups_of_users(conn, &ctx.dir.environment_id, &ids).await?;
        Ok(map
            .into_iter()
            .map(|(u, gs)| {
                let groups = gs.into_iter().map(|g| (g.id.into_string(), g.name));
                (u, groups.collect())
            })
            .collect())
    }

    fn render(&self, related: Option<&GroupsOf>, ctx: &ScimContext) -> Map<String, Value> {
        let groups = related
            .and_then(|m| m.get(&self.id))
            .map(Vec::as_slice)
            .unwrap_or_default();
        resource::render_user(self, groups, &ctx.base)
    }
}

/// `POST /Users` → 201. Errors: 409 `uniqueness` for a taken userName, 400 `invalidValue`.
pub async fn create(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimQuery(q): ScimQuery,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let resource = resource::prepare_user(body)?;
    let mut tx = state.db.begin().await?;
    let u = users::insert(&mut tx, &ctx.dir, resource).await?;
    tx.commit().await?;
    let projection = Projection::new(q.get("attributes"), q.get("excludedAttributes"));
    Ok(respond(
        StatusCode::CREATED,
        projection.apply(resource::render_user(&u, &[], &ctx.base)),
    ))
}

/// Locks the user, lets `change` compute its new resource from the old one, stores it.
async fn write(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    change: impl FnOnce(&UserRecord) -> Result<Value, ScimError>,
) -> Result<Response, ScimError> {
    let mut tx = state.db.begin().await?;
    let old: UserRecord = resources::lock(&mut tx, ctx, id, headers).await?;
    let resource = change(&old)?;
    let u = users::update(&mut tx, &ctx.dir, &old, resource).await?;
    tx.commit().await?;
    resources::written(state, ctx, &u).await
}

/// `PUT /Users/{id}`: replaces the resource (Okta deactivates with `active: false` here).
pub async fn replace(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimId(id): ScimId,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let resource = resource::prepare_user(body)?;
    write(&state, &ctx, &id, &headers, |_| Ok(resource)).await
}

/// `PATCH /Users/{id}`: applies a PatchOp (Entra and Okta dialects included).
pub async fn modify(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimId(id): ScimId,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    write(&state, &ctx, &id, &headers, |old| {
        let mut doc = old.resource.as_object().cloned().unwrap_or_default();
        patch::apply(&mut doc, &body)?;
        resource::prepare_user(Value::Object(doc))
    })
    .await
}
