//! The address guard every outgoing request of the service passes, each redirect hop included
//! (issue #29): the Hub client's and the web-file reader's. A request may go to a host the operator
//! configured (the Hub's endpoint and its CDN hosts: trusted by configuration, whatever their address)
//! or to a host whose addresses are all on the public internet — never, by accident, to loopback, a
//! private network, the cloud metadata address (link-local) or a reserved range, however the address
//! is spelled (a number, an IPv4-mapped, 6to4 or Teredo IPv6 address embedding one). Private networks
//! can be allowed by the operator (`SYNC_INSPECT_PRIVATE_NETWORKS`: tests, a file server of their own).
//!
//! The decision is [`AddressGuard::verdict`], a pure function of the URL; a name is checked when it is
//! resolved ([`AddressGuard::resolver`] keeps only the addresses that pass), so a second lookup cannot
//! rebind it to a private address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use url::Url;

/// Why a request was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The guard's rule: what the person or setting that named the URL should change.
    #[error("{0}")]
    Refused(String),
    /// The name could not be resolved.
    #[error("{0}")]
    Unresolved(String),
}

/// A host the operator trusts: `host`, `host:port`, or `*.domain` (any subdomain), optionally with
/// `:port`; names compare without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

impl std::str::FromStr for HostPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<HostPattern, String> {
        let s = s.trim().to_ascii_lowercase();
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || s.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("'{s}': the port must be a number"))?;
                (h.to_string(), Some(port))
            }
            _ => (s.clone(), None),
        };
        let (host, wildcard) = match host.strip_prefix("*.") {
            Some(rest) => (rest.to_string(), true),
            None => (host, false),
        };
        if host.is_empty() || host.contains(['/', '*', '@', ' ']) {
            return Err(format!("'{s}' is not a host name"));
        }
        Ok(HostPattern {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            wildcard,
            port,
        })
    }
}

impl HostPattern {
    /// The pattern of exactly `url`'s host and port.
    pub fn origin(url: &Url) -> Option<HostPattern> {
        Some(HostPattern {
            host: url
                .host_str()?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            wildcard: false,
            port: url.port_or_known_default(),
        })
    }

    /// The patterns an endpoint the operator configured is trusted by: its host and port — and, when
    /// it is on this machine (a loopback address or `localhost`), the same port under the other
    /// loopback names, which reach the same server (the simulator's CDN is `localhost:PORT` beside
    /// `127.0.0.1:PORT`). Another port of this machine is not the endpoint.
    pub fn endpoint(url: &Url) -> Vec<HostPattern> {
        let Some(origin) = HostPattern::origin(url) else {
            return Vec::new();
        };
        let loopback = origin.host == "localhost"
            || origin
                .host
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return vec![origin];
        }
        ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|host| HostPattern {
                host: host.to_string(),
                wildcard: false,
                port: origin.port,
            })
            .chain(std::iter::once(origin.clone()))
            .collect()
    }

    fn matches_name(&self, name: &str) -> bool {
        let name = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if self.wildcard {
            name.len() > self.host.len()
                && name.ends_with(&self.host)
                && name.as_bytes()[name.len() - self.host.len() - 1] == b'.'
        } else {
            name == self.host
        }
    }

    fn matches(&self, url: &Url) -> bool {
        url.host_str().is_some_and(|h| self.matches_name(h))
            && self
                .port
                .is_none_or(|p| Some(p) == url.port_or_known_default())
    }
}

/// The guard: who is trusted by configuration, and whether private networks are allowed.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    trusted: Arc<Vec<HostPattern>>,
    allow_private: bool,
}

/// What the guard says of a URL before any connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go: a trusted host, or an address literal that passed.
    Go,
    /// A name to resolve: its addresses decide (through [`AddressGuard::resolver`]).
    Resolve(String),
}

impl AddressGuard {
    pub fn new(trusted: Vec<HostPattern>, allow_private: bool) -> AddressGuard {
        AddressGuard {
            trusted: Arc::new(trusted),
            allow_private,
        }
    }

    /// Whether `url`'s host (and port) is trusted by configuration.
    pub fn is_trusted(&self, url: &Url) -> bool {
        self.trusted.iter().any(|p| p.matches(url))
    }

    /// The decision for `url`, without any lookup or connection: its scheme, and its host when that
    /// is an address.
    pub fn verdict(&self, url: &Url) -> Result<Verdict, GuardError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::Refused(format!(
                "files are read over http or https, not {}",
                url.scheme()
            )));
        }
        if self.is_trusted(url) {
            return Ok(Verdict::Go);
        }
        let ip: IpAddr = match url.host() {
            None => return Err(GuardError::Refused("the URL names no host".into())),
            Some(url::Host::Domain(name)) => return Ok(Verdict::Resolve(name.to_string())),
            Some(url::Host::Ipv4(ip)) => ip.into(),
            Some(url::Host::Ipv6(ip)) => ip.into(),
        };
        if self.allow_private || is_public(ip) {
            Ok(Verdict::Go)
        } else {
            Err(GuardError::Refused(format!(
                "{ip} is not a public address: model files are read from public hosts only"
            )))
        }
    }

    /// Whether a request may go to `url`: [`Self::verdict`], and for a name, a lookup (so the refusal
    /// names the address; the connection's own lookup is guarded by [`Self::resolver`] too).
    pub async fn check(&self, url: &Url) -> Result<(), GuardError> {
        match self.verdict(url)? {
            Verdict::Go => Ok(()),
            Verdict::Resolve(name) => self.addresses(&name).await.map(drop),
        }
    }

    /// The addresses of `name` a connection may use.
    async fn addresses(&self, name: &str) -> Result<Vec<SocketAddr>, GuardError> {
        let all: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
            .await
            .map_err(|e| GuardError::Unresolved(format!("{name} could not be resolved: {e}")))?
            .collect();
        let trusted = self.trusted.iter().any(|p| p.matches_name(name));
        let kept: Vec<SocketAddr> = all
            .iter()
            .filter(|a| trusted || self.allow_private || is_public(a.ip()))
            .copied()
            .collect();
        match (kept.is_empty(), all.first()) {
            (false, _) => Ok(kept),
            (true, Some(first)) => Err(GuardError::Refused(format!(
                "{name} resolves to {}, not a public address: model files are read from public hosts only",
                first.ip()
            ))),
            (true, None) => Err(GuardError::Unresolved(format!("{name} has no address"))),
        }
    }

    /// A resolver for an HTTP client that connects only to the addresses this guard allows.
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(self.clone()))
    }
}

/// The resolver of [`AddressGuard::resolver`].
pub struct GuardedResolver(AddressGuard);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let kept = guard.addresses(name.as_str()).await?;
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is an address on the public internet (an IPv6 address that embeds an IPv4 one — mapped,
/// 6to4, Teredo — is public only when what it embeds is).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
            // 6to4 (2002::/16): the IPv4 address is the next 32 bits.
            if s[0] == 0x2002 && !is_public_v4(embedded(s[1], s[2])) {
                return false;
            }
            // Teredo (2001:0::/32): the server's address, and the client's, stored inverted.
            if s[0] == 0x2001
                && s[1] == 0
                && !(is_public_v4(embedded(s[2], s[3])) && is_public_v4(embedded(!s[6], !s[7])))
            {
                return false;
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64: an IPv4 address behind a translator
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || s[..6] == [0; 6]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_unspecified()
        || v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // shared address space, 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0.0/24
        || (a == 198 && (b & 0xfe) == 18) // benchmarking, 198.18.0.0/15
        || a >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_on_the_public_internet_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "::127.0.0.1",
            // 6to4 around 127.0.0.1, 169.254.169.254 and 10.0.0.1.
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:a00:1::1",
            // Teredo: server 65.54.227.120, client 127.0.0.1 (inverted: 80ff:fffe).
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            // Teredo whose server is private.
            "2001:0:a00:1::1",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(ip), "{private} is not public");
        }
        for public in [
            "8.8.8.8",
            "104.16.0.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            // 6to4 around 8.8.8.8; Teredo between two public addresses (client 8.8.8.8 inverted).
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public} is public");
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn address_literals_are_decided_without_a_connection() {
        let guard = AddressGuard::new(vec![], false);
        for refused in [
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:6379/",
            "http://[2002:7f00:1::]/m.tflite",
            "http://[::ffff:169.254.169.254]/",
            "http://2130706433/m.tflite",
            "http://0x7f.1/m.tflite",
            "http://10.0.0.1/",
            "gopher://8.8.8.8/",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(guard.verdict(&url(refused)), Err(GuardError::Refused(_))),
                "{refused}"
            );
        }
        assert_eq!(guard.verdict(&url("https://8.8.8.8/x")), Ok(Verdict::Go));
        assert_eq!(
            guard.verdict(&url("https://cdn.example.org/x")),
            Ok(Verdict::Resolve("cdn.example.org".into()))
        );
        let open = AddressGuard::new(vec![], true);
        assert_eq!(open.verdict(&url("http://127.0.0.1:9/")), Ok(Verdict::Go));
    }

    #[test]
    fn configured_hosts_are_trusted_by_host_and_port() {
        let trusted: Vec<HostPattern> = ["127.0.0.1:9000", "*.hf.co", "localhost:9000"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let guard = AddressGuard::new(trusted, false);
        assert_eq!(
            guard.verdict(&url("http://127.0.0.1:9000/api")),
            Ok(Verdict::Go)
        );
        assert_eq!(
            guard.verdict(&url("http://localhost:9000/_cdn/x")),
            Ok(Verdict::Go)
        );
        assert_eq!(
            guard.verdict(&url("https://cdn-lfs.hf.co/x")),
            Ok(Verdict::Go)
        );
        // The same host on another port, and a look-alike name, are not what was configured.
        assert!(guard.verdict(&url("http://127.0.0.1:6379/")).is_err());
        assert_eq!(
            guard.verdict(&url("https://evilhf.co/x")),
            Ok(Verdict::Resolve("evilhf.co".into()))
        );
        assert_eq!(
            guard.verdict(&url("https://hf.co/x")),
            Ok(Verdict::Resolve("hf.co".into())),
            "a wildcard is for subdomains"
        );
    }

    #[test]
    fn a_local_endpoint_is_trusted_on_its_port_under_every_loopback_name() {
        let guard = AddressGuard::new(HostPattern::endpoint(&url("http://127.0.0.1:9000")), false);
        for same in [
            "http://localhost:9000/_cdn/x",
            "http://[::1]:9000/",
            "http://127.0.0.1:9000/",
        ] {
            assert_eq!(guard.verdict(&url(same)), Ok(Verdict::Go), "{same}");
        }
        // Another port, or another loopback address, is not the endpoint: refused as the address it
        // is (a name is refused when it resolves to one).
        for other in [
            "http://127.0.0.1:6379/",
            "http://127.0.0.2:9000/",
            "http://[::1]:22/",
        ] {
            assert!(
                matches!(guard.verdict(&url(other)), Err(GuardError::Refused(_))),
                "{other}"
            );
        }
        assert_eq!(
            guard.verdict(&url("http://localhost:6379/")),
            Ok(Verdict::Resolve("localhost".into()))
        );
        let remote = HostPattern::endpoint(&url("https://huggingface.co"));
        assert_eq!(remote.len(), 1);
        assert!(remote[0].matches(&url("https://huggingface.co/api/models")));
        assert!(!remote[0].matches(&url("http://huggingface.co:8080/")));
    }

    #[test]
    fn host_patterns_parse_as_written() {
        let p: HostPattern = "*.HuggingFace.co".parse().unwrap();
        assert!(p.matches(&url("https://cdn-lfs.huggingface.co/x")));
        assert!(!p.matches(&url("https://huggingface.co.evil.net/x")));
        let p: HostPattern = "[::1]:8080".parse().unwrap();
        assert!(p.matches(&url("http://[::1]:8080/")));
        assert!("a/b".parse::<HostPattern>().is_err());
        assert!("host:port".parse::<HostPattern>().is_err());
    }
}
