//! SCIM discovery endpoints (RFC 7644 §4; RFC 7643 §5–§7): `/ServiceProviderConfig`,
//! `/ResourceTypes[/{id}]` and `/Schemas[/{id}]` describing the User (with the enterprise
//! extension) and Group resources this server stores.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::context::{MAX_RESULTS, ScimContext, ScimId, list_response, respond};
use crate::protocols::scim::error::ScimError;
use crate::protocols::scim::schema::{ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5).
pub async fn service_provider_config(ctx: ScimContext) -> Response {
    respond(
        StatusCode::OK,
        object(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The directory's SCIM bearer token, sent as `Authorization: Bearer …`.",
                "primary": true
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", ctx.base)
            }
        })),
    )
}

fn resource_type_doc(base: &str, id: &str) -> Option<Map<String, Value>> {
    let v = match id {
        "User" => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users",
            "description": "User Account", "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        "Group" => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "Group", "schema": GROUP_SCHEMA, "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
        _ => return None,
    };
    Some(object(v))
}

/// `GET /ResourceTypes`.
pub async fn resource_types(ctx: ScimContext) -> Response {
    let all: Vec<_> = ["User", "Group"]
        .iter()
        .filter_map(|id| resource_type_doc(&ctx.base, id))
        .collect();
    list_response(2, 1, all)
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type(ctx: ScimContext, ScimId(id): ScimId) -> Result<Response, ScimError> {
    resource_type_doc(&ctx.base, &id)
        .map(|d| respond(StatusCode::OK, d))
        .ok_or_else(|| ScimError::not_found("ResourceType", &id))
}

/// One attribute definition (RFC 7643 §7).
fn attr(name: &str, kind: &str, multi: bool, required: bool, opts: Value) -> Value {
    let mut a = json!({
        "name": name, "type": kind, "multiValued": multi, "description": name,
        "required": required, "caseExact": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
    });
    if let (Some(a), Value::Object(o)) = (a.as_object_mut(), opts) {
        a.extend(o);
    }
    a
}

fn s(name: &str) -> Value {
    attr(name, "string", false, false, json!({}))
}

fn multi(name: &str, types: &[&str]) -> Value {
    attr(
        name,
        "complex",
        true,
        false,
        json!({"subAttributes": [
            s("value"), s("display"),
            attr("type", "string", false, false, json!({"canonicalValues": types})),
            attr("primary", "boolean", false, false, json!({})),
        ]}),
    )
}

fn schema_doc(base: &str, id: &str) -> Option<Map<String, Value>> {
    let (name, attributes) = match id {
        USER_SCHEMA => (
            "User",
            json!([
                attr(
                    "userName",
                    "string",
                    false,
                    true,
                    json!({"uniqueness": "server"})
                ),
                attr(
                    "name",
                    "complex",
                    false,
                    false,
                    json!({"subAttributes": [
                        s("formatted"), s("familyName"), s("givenName"), s("middleName"),
                        s("honorificPrefix"), s("honorificSuffix"),
                    ]})
                ),
                s("displayName"),
                s("nickName"),
                attr(
                    "profileUrl",
                    "reference",
                    false,
                    false,
                    json!({"referenceTypes": ["external"]})
                ),
                s("title"),
                s("userType"),
                s("preferredLanguage"),
                s("locale"),
                s("timezone"),
                attr("active", "boolean", false, false, json!({})),
                attr(
                    "password",
                    "string",
                    false,
                    false,
                    json!({"mutability": "writeOnly", "returned": "never"})
                ),
                multi("emails", &["work", "home", "other"]),
                multi(
                    "phoneNumbers",
                    &["work", "home", "mobile", "fax", "pager", "other"]
                ),
                attr(
                    "addresses",
                    "complex",
                    true,
                    false,
                    json!({"subAttributes": [
                        s("formatted"), s("streetAddress"), s("locality"), s("region"), s("postalCode"),
                        s("country"),
                        attr("type", "string", false, false, json!({"canonicalValues": ["work", "home", "other"]})),
                        attr("primary", "boolean", false, false, json!({})),
                    ]})
                ),
                attr(
                    "groups",
                    "complex",
                    true,
                    false,
                    json!({"mutability": "readOnly", "subAttributes": [
                        attr("value", "string", false, false, json!({"mutability": "readOnly"})),
                        attr("$ref", "reference", false, false, json!({"mutability": "readOnly", "referenceTypes": ["Group"]})),
                        attr("display", "string", false, false, json!({"mutability": "readOnly"})),
                        attr("type", "string", false, false, json!({"mutability": "readOnly", "canonicalValues": ["direct", "indirect"]})),
                    ]})
                ),
                multi("roles", &[]),
                multi("entitlements", &[]),
            ]),
        ),
        GROUP_SCHEMA => (
            "Group",
            json!([
                attr("displayName", "string", false, true, json!({})),
                attr(
                    "members",
                    "complex",
                    true,
                    false,
                    json!({"subAttributes": [
                        attr("value", "string", false, false, json!({"mutability": "immutable"})),
                        attr("$ref", "reference", false, false, json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                        attr("display", "string", false, false, json!({"mutability": "readOnly"})),
                        attr("type", "string", false, false, json!({"mutability": "immutable", "canonicalValues": ["User"]})),
                    ]})
                ),
            ]),
        ),
        ENTERPRISE => (
            "EnterpriseUser",
            json!([
                s("employeeNumber"),
                s("costCenter"),
                s("organization"),
                s("division"),
                s("department"),
                attr(
                    "manager",
                    "complex",
                    false,
                    false,
                    json!({"subAttributes": [
                        attr("value", "string", false, false, json!({})),
                        attr("$ref", "reference", false, false, json!({"referenceTypes": ["User"]})),
                        attr("displayName", "string", false, false, json!({"mutability": "readOnly"})),
                    ]})
                ),
            ]),
        ),
        _ => return None,
    };
    Some(object(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id, "name": name, "description": name, "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
    })))
}

/// `GET /Schemas`.
pub async fn schemas(ctx: ScimContext) -> Response {
    let all: Vec<_> = [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]
        .iter()
        .filter_map(|id| schema_doc(&ctx.base, id))
        .collect();
    list_response(3, 1, all)
}

/// `GET /Schemas/{id}`.
pub async fn schema(ctx: ScimContext, ScimId(id): ScimId) -> Result<Response, ScimError> {
    schema_doc(&ctx.base, &id)
        .map(|d| respond(StatusCode::OK, d))
        .ok_or_else(|| ScimError::not_found("Schema", &id))
}
