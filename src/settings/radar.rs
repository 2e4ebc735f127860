//! Radar's server-wide settings (`KEYSTEAD_GEOIP_DATABASE`): the MaxMind-format databases the
//! impossible-travel and country controls read. The per-environment Radar settings are
//! `crate::store::radar_settings`.

use std::path::PathBuf;

/// Radar's process settings.
#[derive(Debug, Clone, Default)]
pub struct RadarConfig {
    /// GeoIP2/GeoLite2 City databases (MaxMind DB format), looked up in order; empty: no GeoIP.
    pub geoip_databases: Vec<PathBuf>,
}

impl RadarConfig {
    /// From `KEYSTEAD_GEOIP_DATABASE`: comma-separated paths.
    pub fn from_args(geoip: Option<&str>) -> Self {
        Self {
            geoip_databases: geoip
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect(),
        }
    }
}
