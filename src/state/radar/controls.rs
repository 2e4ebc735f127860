//! Radar's controls as one pure decision ([`decide`]) over what an assessment gathered: the
//! matching list entries, the bot check, the windowed counters and the email's profile. Each
//! control answers with the spec's `control` value (`RadarStandaloneResponse.control`):
//!
//! 1. an allow-list entry allows, whatever else matches;
//! 2. `restriction`: a block-list entry blocks (`blocklist_type` names the list);
//! 3. `bot_detection`: an automation user agent blocks;
//! 4. sign-in: `brute_force_attack` (failed sign-ins of the email, any IP, at the threshold)
//!    and `credential_stuffing` (distinct failing emails from the IP at the threshold) block;
//! 5. sign-up: `ip_sign_up_rate_limit`, `domain_sign_up_rate_limit` and `repeat_sign_up`
//!    (other emails with the same `+tag`-less address or the same device) block;
//! 6. sign-in of an email with history (a successful sign-in before): `impossible_travel`
//!    (faster than the setting's km/h between the two positions), `stale_account` (no success
//!    for the setting's days) and `unrecognized_device` challenge. An email never seen before
//!    is never challenged.
//!
//! Counters count the attempts before this one, so a threshold of 10 lets 10 failures through
//! and stops the 11th attempt.

use chrono::{DateTime, Utc};

use crate::store::radar_attempts::Signals;
use crate::store::radar_settings::RadarSettings;

/// Sign-in or sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `sign-in` (also `login`, `sign_in`, `sign in`).
    SignIn,
    /// `sign-up` (also `signup`, `sign_up`, `sign up`).
    SignUp,
}

impl Action {
    /// Parses the spec's spellings.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign-in" | "login" | "sign_in" | "sign in" => Some(Self::SignIn),
            "sign-up" | "signup" | "sign_up" | "sign up" => Some(Self::SignUp),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign-in",
            Self::SignUp => "sign-up",
        }
    }
}

/// The list types in the order a block names them.
pub const LIST_TYPES: [&str; 7] = [
    "ip_address",
    "domain",
    "email",
    "device",
    "user_agent",
    "device_fingerprint",
    "country",
];

/// Shortest distance, in km, that counts as travel (GeoIP is coarse within a region).
const MIN_TRAVEL_KM: f64 = 200.0;

/// What [`decide`] looks at.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// Sign-in or sign-up.
    pub action: Action,
    /// The list entries matching the attempt, as `list_type:action`.
    pub lists: &'a [String],
    /// Whether the user agent is an automation one.
    pub is_bot: bool,
    /// Counters and profile.
    pub signals: &'a Signals,
    /// The environment's thresholds.
    pub settings: &'a RadarSettings,
    /// GeoIP position of the attempt.
    pub position: Option<(f64, f64)>,
    /// The attempt's device signature.
    pub device: Option<&'a str>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A verdict with the control behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `allow`, `block` or `challenge`.
    pub verdict: &'static str,
    /// The control, for `block` and `challenge`.
    pub control: Option<&'static str>,
    /// The list type, for `restriction`.
    pub blocklist_type: Option<&'static str>,
    /// Human-readable reason.
    pub reason: String,
}

fn allow(reason: impl Into<String>) -> Decision {
    Decision {
        verdict: "allow",
        control: None,
        blocklist_type: None,
        reason: reason.into(),
    }
}

fn act(verdict: &'static str, control: &'static str, reason: impl Into<String>) -> Decision {
    Decision {
        verdict,
        control: Some(control),
        blocklist_type: None,
        reason: reason.into(),
    }
}

fn reached(count: i64, threshold: u32) -> bool {
    count >= i64::from(threshold)
}

/// Great-circle distance between two `(latitude, longitude)` positions, in km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// The verdict for one attempt (see the module documentation for the order).
pub fn decide(i: &Inputs<'_>) -> Decision {
    let listed = |action: &str| {
        LIST_TYPES.into_iter().find(|t| {
            i.lists
                .iter()
                .any(|m| m.split_once(':') == Some((*t, action)))
        })
    };
    if let Some(t) = listed("allow") {
        return allow(format!("Allowed by the {t} allow list"));
    }
    if let Some(t) = listed("block") {
        return Decision {
            blocklist_type: Some(t),
            ..act(
                "block",
                "restriction",
                format!("Blocked by the {t} block list"),
            )
        };
    }
    if i.is_bot {
        return act("block", "bot_detection", "Automated client detected");
    }
    let s = i.settings;
    let sig = i.signals;
    match i.action {
        Action::SignIn => {
            if reached(sig.email_failures, s.brute_force_threshold) {
                return act(
                    "block",
                    "brute_force_attack",
                    "Too many failed sign-ins for this email",
                );
            }
            if reached(sig.ip_failed_emails, s.credential_stuffing_threshold) {
                return act(
                    "block",
                    "credential_stuffing",
                    "Too many emails failing to sign in from this IP address",
                );
            }
        }
        Action::SignUp => {
            if reached(sig.ip_sign_ups, s.ip_sign_up_threshold) {
                return act(
                    "block",
                    "ip_sign_up_rate_limit",
                    "Too many sign-ups from this IP address",
                );
            }
            if reached(sig.domain_sign_ups, s.domain_sign_up_threshold) {
                return act(
                    "block",
                    "domain_sign_up_rate_limit",
                    "Too many sign-ups with this email domain",
                );
            }
            if reached(sig.repeat_sign_ups, s.repeat_sign_up_threshold) {
                return act(
                    "block",
                    "repeat_sign_up",
                    "Repeated sign-ups from the same device or email pattern",
                );
            }
            return allow("No Radar control triggered");
        }
    }
    let Some(last) = sig.last_success_at else {
        return allow("No Radar control triggered");
    };
    let elapsed = (i.now - last).num_seconds().max(0);
    if let (Some(here), (Some(lat), Some(lon))) =
        (i.position, (sig.last_latitude, sig.last_longitude))
    {
        let km = distance_km(here, (lat, lon));
        let hours = (elapsed.max(60) as f64) / 3600.0;
        if km >= MIN_TRAVEL_KM && km / hours > f64::from(s.impossible_travel_kmh) {
            return act(
                "challenge",
                "impossible_travel",
                format!("Sign-in {km:.0} km from the previous one, too soon after it"),
            );
        }
    }
    if elapsed > i64::from(s.stale_account_days) * 86_400 {
        return act(
            "challenge",
            "stale_account",
            "No successful sign-in for this account in a long time",
        );
    }
    if let (Some(device), Some(known)) = (i.device, sig.devices.as_ref())
        && !known.is_empty()
        && !known.iter().any(|d| d == device)
    {
        return act(
            "challenge",
            "unrecognized_device",
            "Sign-in from a device not seen for this account",
        );
    }
    allow("No Radar control triggered")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::radar_settings::{RadarSettings, RadarStored};

    fn inputs<'a>(sig: &'a Signals, s: &'a RadarSettings, lists: &'a [String]) -> Inputs<'a> {
        Inputs {
            action: Action::SignIn,
            lists,
            is_bot: false,
            signals: sig,
            settings: s,
            position: None,
            device: None,
            now: Utc::now(),
        }
    }

    #[test]
    fn allow_lists_beat_block_lists_and_thresholds_are_inclusive() {
        let s = RadarSettings::resolve(&RadarStored::default());
        let sig = Signals {
            email_failures: 9,
            ..Default::default()
        };
        assert_eq!(decide(&inputs(&sig, &s, &[])).verdict, "allow");
        let sig = Signals {
            email_failures: 10,
            ..Default::default()
        };
        assert_eq!(
            decide(&inputs(&sig, &s, &[])).control,
            Some("brute_force_attack")
        );
        let m = |t: &str, a: &str| format!("{t}:{a}");
        let both = [m("ip_address", "block"), m("email", "allow")];
        assert_eq!(decide(&inputs(&sig, &s, &both)).verdict, "allow");
        let block = [m("country", "block")];
        let d = decide(&inputs(&sig, &s, &block));
        assert_eq!(d.blocklist_type, Some("country"));
    }

    #[test]
    fn distances_are_great_circle() {
        let paris = (48.8566, 2.3522);
        let new_york = (40.7128, -74.0060);
        let km = distance_km(paris, new_york);
        assert!((5800.0..5900.0).contains(&km), "{km}");
    }
}
