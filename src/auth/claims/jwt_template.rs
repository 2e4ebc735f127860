//! The JWT template's claims contributor ([`TemplateClaims`]) and its renderer, shared with
//! `PUT /user_management/jwt_template` (which checks a template renders before storing it).
//!
//! The template is a JSON object whose values may hold `{{ path }}` placeholders over
//! `user.*` (`id`, `email`, `first_name`, `last_name`, `email_verified`, `external_id`,
//! `locale`, `metadata.<key>`), `organization.*` (`id`, `name`, `external_id`,
//! `metadata.<key>`, `domains`) and `organization_membership.*` (`role`, `roles`). Inside a JSON
//! string a placeholder is interpolated as text; outside one it becomes the JSON value (a missing
//! value is `null`, and `null` claims are left out). Keystead's own claims (`iss`, `sub`, `sid`,
//! `org_id`, `role`, `roles`, `permissions`, `exp`, `iat`, `nbf`, `jti`, `aud`) cannot be set,
//! and a template claim never replaces a claim an earlier contributor set.

use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use crate::auth::hooks::BoxFuture;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, OrganizationId};
use crate::state::extensions::{ClaimsContext, ClaimsContributor};
use crate::store::users::User;
use crate::store::{jwt_templates, organizations};

/// Claims a template may not set.
pub const RESERVED_CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "sid",
    "org_id",
    "role",
    "roles",
    "permissions",
    "exp",
    "iat",
    "nbf",
    "jti",
    "aud",
];

/// Merges the environment's JWT template, when it has one, into the claims (existing claims
/// win; a template that no longer renders is skipped with a warning).
#[derive(Debug, Default, Clone, Copy)]
pub struct TemplateClaims;

impl ClaimsContributor for TemplateClaims {
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            let env = ctx.environment_id;
            let Some(template) = jwt_templates::find(&mut *conn, env).await? else {
                return Ok(());
            };
            let values = context(
                conn,
                env,
                ctx.user,
                ctx.session.organization_id.as_ref(),
                ctx.roles,
            )
            .await?;
            match render(&template.content, &values) {
                Ok(extra) => {
                    for (k, v) in extra {
                        claims.entry(k).or_insert(v);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "JWT template skipped"),
            }
            Ok(())
        })
    }
}

/// The values placeholders read: the user, and for a scoped session the organization and the
/// membership's roles.
pub async fn context(
    conn: &mut sqlx::PgConnection,
    env: &EnvironmentId,
    user: &User,
    organization_id: Option<&OrganizationId>,
    roles: Option<&[String]>,
) -> ApiResult<Value> {
    let organization = match organization_id {
        Some(id) => organizations::find(conn, env, id).await?.map(|o| {
            json!({
                "id": o.id,
                "name": o.name,
                "external_id": o.external_id,
                "metadata": o.metadata,
                "domains": o.domains.iter().map(|d| d.domain.clone()).collect::<Vec<_>>(),
            })
        }),
        None => None,
    };
    let membership = roles.map(|r| json!({ "role": r.first(), "roles": r }));
    Ok(json!({
        "user": user,
        "organization": organization,
        "organization_membership": membership,
    }))
}

fn lookup<'a>(ctx: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .map(str::trim)
        .try_fold(ctx, |v, key| v.get(key))
}

/// Renders `template` against `ctx` into the claims to merge (non-null values only).
///
/// Errors: a message for unbalanced placeholders, a result that is not a JSON object, or a
/// reserved claim.
pub fn render(template: &str, ctx: &Value) -> Result<Map<String, Value>, String> {
    let mut out = String::with_capacity(template.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") {
            let end = rest
                .find("}}")
                .ok_or_else(|| "a '{{' placeholder is not closed".to_string())?;
            let path = rest[2..end].trim();
            let value = lookup(ctx, path).unwrap_or(&Value::Null);
            if in_string {
                let text = match value {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let quoted = serde_json::to_string(&text).map_err(|e| e.to_string())?;
                out.push_str(&quoted[1..quoted.len() - 1]);
            } else {
                out.push_str(&value.to_string());
            }
            rest = &rest[end + 2..];
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    let parsed: Value =
        serde_json::from_str(&out).map_err(|e| format!("it does not render to JSON ({e})"))?;
    let Value::Object(claims) = parsed else {
        return Err("it must render to a JSON object".into());
    };
    if let Some(reserved) = claims
        .keys()
        .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
    {
        return Err(format!("the claim '{reserved}' is reserved"));
    }
    Ok(claims.into_iter().filter(|(_, v)| !v.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_render_as_values_or_text() {
        let ctx = json!({
            "user": {"email": "ada@example.com", "first_name": "Ada", "last_name": null,
                     "metadata": {"tier": "gold"}},
            "organization": {"name": "Acme \"Inc\"", "domains": ["acme.com"]},
        });
        let claims = render(
            r#"{"email": {{user.email}}, "name": "{{ user.first_name }} {{user.last_name}}",
                "tier": {{ user.metadata.tier }}, "org": "{{organization.name}}",
                "domains": {{organization.domains}}, "gone": {{user.nope}}}"#,
            &ctx,
        )
        .unwrap();
        assert_eq!(
            Value::Object(claims),
            json!({"email": "ada@example.com", "name": "Ada ", "tier": "gold",
                   "org": "Acme \"Inc\"", "domains": ["acme.com"]})
        );
    }

    #[test]
    fn bad_templates_are_rejected() {
        assert!(render("[1]", &json!({})).is_err());
        assert!(render("{\"a\": {{user.email}", &json!({})).is_err());
        assert!(render("{\"sub\": \"x\"}", &json!({})).is_err());
        assert!(render("not json", &json!({})).is_err());
        assert!(render("{}", &json!({})).unwrap().is_empty());
    }
}
