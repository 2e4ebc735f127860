//! `settings.radar` of `PATCH /environment` (and `keystead environments update --set
//! radar.<key>=…`): `enabled` (boolean) and the thresholds of
//! [`crate::store::radar_settings::THRESHOLDS`] (integers within their ranges); `null`
//! returns a value (or, for `radar: null`, every value) to its default.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::store::radar_settings::{RadarPatch, THRESHOLDS};

fn invalid(field: &str, what: &str) -> ApiError {
    ApiError::invalid_field(field, "invalid", format!("{field} must be {what}."))
}

/// Parses `settings.radar`. Errors: 422 `invalid_request_parameters` naming the field
/// (`settings.radar.<key>`) for an unknown key, a wrong type or an absurd threshold.
pub fn parse(v: &Value) -> ApiResult<RadarPatch> {
    let mut p = RadarPatch::default();
    let empty = Map::new();
    let map = match v {
        Value::Null => {
            p.enabled = Some(None);
            p.values = std::array::from_fn(|_| Some(None));
            &empty
        }
        Value::Object(m) => m,
        _ => return Err(invalid("settings.radar", "an object or null")),
    };
    for (key, v) in map {
        let field = format!("settings.radar.{key}");
        if key == "enabled" {
            p.enabled = Some(match v {
                Value::Null => None,
                Value::Bool(b) => Some(*b),
                _ => return Err(invalid(&field, "a boolean or null")),
            });
            continue;
        }
        let Some(i) = THRESHOLDS.iter().position(|t| t.key == key) else {
            return Err(ApiError::invalid_field(
                &field,
                "unknown_field",
                format!("Unknown field '{field}'."),
            ));
        };
        let t = &THRESHOLDS[i];
        let value = if v.is_null() {
            None
        } else {
            let n = v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| t.range.contains(n))
                .ok_or_else(|| {
                    invalid(
                        &field,
                        &format!(
                            "an integer from {} to {}, or null",
                            t.range.start(),
                            t.range.end()
                        ),
                    )
                })?;
            Some(n)
        };
        if let Some(slot) = p.values.get_mut(i) {
            *slot = Some(value);
        }
    }
    Ok(p)
}
