//! GeoIP for Radar: MaxMind DB files (`KEYSTEAD_GEOIP_DATABASE`) read with the `maxminddb`
//! crate, once at start-up. Both record layouts in use are understood: MaxMind's GeoIP2 /
//! GeoLite2 City (`country.iso_code`, `location.latitude`/`longitude`) and the flat one of the
//! ip-location-db builds (`country_code`, `latitude`, `longitude`).

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

/// Where an IP address is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// ISO 3166-1 alpha-2 country code, uppercase.
    pub country: Option<String>,
    /// `(latitude, longitude)`, when the database has them.
    pub position: Option<(f64, f64)>,
}

#[derive(Debug, Default, Deserialize)]
struct Country {
    iso_code: Option<String>,
}

/// A coordinate stored as a `double` (GeoIP2) or a `float` (ip-location-db): the decoder is
/// strict about the two, so this accepts either.
#[derive(Debug, Clone, Copy)]
struct Coordinate(f64);

impl<'de> Deserialize<'de> for Coordinate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Number;
        impl serde::de::Visitor<'_> for Number {
            type Value = Coordinate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Coordinate, E> {
                Ok(Coordinate(v))
            }
            fn visit_f32<E>(self, v: f32) -> Result<Coordinate, E> {
                Ok(Coordinate(f64::from(v)))
            }
        }
        d.deserialize_any(Number)
    }
}

#[derive(Debug, Default, Deserialize)]
struct Location {
    latitude: Option<Coordinate>,
    longitude: Option<Coordinate>,
}

/// The fields of either layout.
#[derive(Debug, Default, Deserialize)]
struct Record {
    country: Option<Country>,
    location: Option<Location>,
    country_code: Option<String>,
    latitude: Option<Coordinate>,
    longitude: Option<Coordinate>,
}

/// The opened databases, looked up in order.
pub struct GeoIp {
    readers: Vec<maxminddb::Reader<Vec<u8>>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("databases", &self.readers.len())
            .finish()
    }
}

impl GeoIp {
    /// Opens every database; `None` when there is none. Errors name the file that failed.
    pub fn open(paths: &[PathBuf]) -> anyhow::Result<Option<Self>> {
        if paths.is_empty() {
            return Ok(None);
        }
        let readers = paths
            .iter()
            .map(|p| {
                maxminddb::Reader::open_readfile(p)
                    .with_context(|| format!("KEYSTEAD_GEOIP_DATABASE: {}", p.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(Self { readers }))
    }

    /// Where `ip` is, from the first database that knows it (a malformed record counts as
    /// unknown).
    pub fn lookup(&self, ip: IpAddr) -> Place {
        for reader in &self.readers {
            let Ok(found) = reader.lookup(ip) else {
                continue;
            };
            let Ok(Some(r)) = found.decode::<Record>() else {
                continue;
            };
            let country = r
                .country
                .and_then(|c| c.iso_code)
                .or(r.country_code)
                .map(|c| c.to_ascii_uppercase());
            let location = r.location.unwrap_or_default();
            let lat = location.latitude.or(r.latitude).map(|c| c.0);
            let lon = location.longitude.or(r.longitude).map(|c| c.0);
            return Place {
                country,
                position: lat.zip(lon),
            };
        }
        Place::default()
    }
}
