//! DNS TXT lookups for organization-domain verification
//! (`POST /organization_domains/{id}/verify`).
//!
//! [`TxtResolver`] is injectable: the server uses [`SystemResolver`] (hickory, the system
//! configuration or `KEYSTEAD_DNS_SERVER`), tests use [`StaticResolver`] or a local DNS server.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Looks up the TXT strings published at a name.
pub trait TxtResolver: Send + Sync + 'static {
    /// Every TXT record at `name`, each record's character-strings joined. An empty list when
    /// the name has none (NXDOMAIN included); `Err` only for resolver failures.
    fn lookup_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;
}

/// hickory-resolver over the system configuration, or over one given server.
pub struct SystemResolver {
    resolver: TokioResolver,
}

impl SystemResolver {
    /// The system resolver (`/etc/resolv.conf`), or `server` when given.
    pub fn new(server: Option<SocketAddr>) -> anyhow::Result<Self> {
        let builder = match server {
            None => Resolver::builder_tokio().context("reading the system DNS configuration")?,
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
        };
        Ok(Self {
            resolver: builder.build().context("building the DNS resolver")?,
        })
    }
}

impl TxtResolver for SystemResolver {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        Box::pin(async move {
            let fqdn = format!("{}.", name.trim_end_matches('.'));
            match self.resolver.txt_lookup(fqdn).await {
                Ok(lookup) => Ok(lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|s| String::from_utf8_lossy(s))
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect()),
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

/// An in-memory zone for tests: `set(name, values)` publishes TXT records.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl StaticResolver {
    /// Publishes `values` as the TXT records of `name` (replacing earlier ones).
    pub fn set(&self, name: &str, values: Vec<String>) {
        if let Ok(mut r) = self.records.lock() {
            r.insert(name.trim_end_matches('.').to_ascii_lowercase(), values);
        }
    }
}

impl TxtResolver for StaticResolver {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        let found = self
            .records
            .lock()
            .ok()
            .and_then(|r| r.get(&key).cloned())
            .unwrap_or_default();
        Box::pin(async move { Ok(found) })
    }
}
