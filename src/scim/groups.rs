//! `/scim/v2/{directory_id}/Groups` (RFC 7644 §3.3 create, §3.5.1 PUT, §3.5.2 PATCH) over
//! directory groups and their memberships; list, search, get and delete (§3.4, §3.6) are the
//! shared handlers of [`super::resources`], for which this module implements [`ScimResource`].
//!
//! `members` changes arrive through every path IdPs use: POST and PUT bodies (Okta), PATCH `add`
//! / `remove` with `members[value eq "…"]` (Okta, RFC) or with a `value` list (Entra ID), and
//! `replace`. Whatever the path, the new member set is diffed against the stored one and each
//! change records `dsync.group.user_added` or `dsync.group.user_removed`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use super::context::{ScimContext, ScimId, ScimJson, ScimQuery, respond};
use super::resource::{self, Projection};
use super::resources::{self, ScimResource, render_one};
use crate::db::Tx;
use crate::ids::DirectoryGroupId;
use crate::protocols::scim::error::ScimError;
use crate::protocols::scim::patch;
use crate::state::AppState;
use crate::store::directory_group_members::{self as members, Member};
use crate::store::directory_groups::{self as groups, GroupRecord};

/// The members of each group.
type MembersOf = HashMap<DirectoryGroupId, Vec<Member>>;

impl ScimResource for GroupRecord {
    const KIND: &'static str = "Group";
    const RELATED: &'static str = "members";
    const SORTABLE: &'static str =
        "id, displayName, externalId, meta.created and meta.lastModified";
    type Related = MembersOf;

    async fn load_related(
        conn: &mut PgConnection,
        ctx: &ScimContext,
        rows: &[Self],
    ) -> Result<MembersOf, ScimError> {
        let ids: Vec<DirectoryGroupId> = rows.iter().map(|g| g.id.clone()).collect();
        let mut out: MembersOf = HashMap::new();
        for m in members::members(conn, &ctx.dir.environment_id, &ids).await? {
            out.entry(m.group_id.clone()).or_default().push(m);
        }
        Ok(out)
    }

    fn render(&self, related: Option<&MembersOf>, ctx: &ScimContext) -> Map<String, Value> {
        let list: Option<Vec<&Member>> = related.map(|m| {
            m.get(&self.id)
                .map(|v| v.iter().collect())
                .unwrap_or_default()
        });
        resource::render_group(self, list.as_deref(), &ctx.base)
    }
}

/// `POST /Groups` → 201, with its initial `members`.
pub async fn create(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimQuery(q): ScimQuery,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let (resource, members) = resource::prepare_group(body)?;
    let mut tx = state.db.begin().await?;
    let g = groups::insert(&mut tx, &ctx.dir, resource).await?;
    members::change_members(&mut tx, &ctx.dir, &g, &members, &[]).await?;
    tx.commit().await?;
    let projection = Projection::new(q.get("attributes"), q.get("excludedAttributes"));
    let mut conn = state.db.acquire().await?;
    Ok(respond(
        StatusCode::CREATED,
        render_one(&mut conn, &ctx, &g, &projection).await?,
    ))
}

/// Locks the group and its member list, lets `change` compute the new resource and member set
/// from the old document (resource plus `members`), stores both.
async fn write(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    change: impl FnOnce(Value) -> Result<(Value, Vec<String>), ScimError>,
) -> Result<Response, ScimError> {
    let mut tx: Tx = state.db.begin().await?;
    let old: GroupRecord = resources::lock(&mut tx, ctx, id, headers).await?;
    let current: Vec<String> = members::members(
        &mut tx,
        &ctx.dir.environment_id,
        std::slice::from_ref(&old.id),
    )
    .await?
    .into_iter()
    .map(|m| m.user_id.into_string())
    .collect();
    let mut doc = old.resource.as_object().cloned().unwrap_or_default();
    doc.insert(
        "members".into(),
        Value::Array(current.iter().map(|id| json!({ "value": id })).collect()),
    );
    let (resource, wanted) = change(Value::Object(doc))?;
    let g = groups::update(&mut tx, &ctx.dir, &old, resource).await?;
    let add: Vec<String> = wanted
        .iter()
        .filter(|id| !current.contains(id))
        .cloned()
        .collect();
    let remove: Vec<String> = current
        .iter()
        .filter(|id| !wanted.contains(id))
        .cloned()
        .collect();
    members::change_members(&mut tx, &ctx.dir, &g, &add, &remove).await?;
    tx.commit().await?;
    resources::written(state, ctx, &g).await
}

/// `PUT /Groups/{id}`: replaces the group, members included (Okta's membership path).
pub async fn replace(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimId(id): ScimId,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let prepared = resource::prepare_group(body)?;
    write(&state, &ctx, &id, &headers, |_| Ok(prepared)).await
}

/// `PATCH /Groups/{id}`: applies a PatchOp to the group document including `members`.
pub async fn modify(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimId(id): ScimId,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    write(&state, &ctx, &id, &headers, |doc| {
        let Value::Object(mut doc) = doc else {
            return Err(ScimError::invalid_syntax("Stored group is not an object."));
        };
        patch::apply(&mut doc, &body)?;
        resource::prepare_group(Value::Object(doc))
    })
    .await
}
