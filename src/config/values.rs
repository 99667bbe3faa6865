//! The values of the configuration that need their own parsing or printing: durations, database URLs
//! (password hidden), secrets, listening addresses (`HOST:PORT` resolved).

use secrecy::SecretString;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// A duration: `24h`, `90m`, `1h 30m`, `250ms` (humantime), or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration '{s}' ({e}; e.g. 24h, 90m, 3600)"))
}

/// A whole number of seconds between `min` and `max`, as a duration.
pub(super) fn secs_between(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |s| whole_between(s, min, max, "seconds").map(Duration::from_secs)
}

/// A whole number of milliseconds between `min` and `max`, as a duration.
pub(super) fn millis_between(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |s| whole_between(s, min, max, "milliseconds").map(Duration::from_millis)
}

pub(super) fn whole_between(s: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number of {unit}"))?;
    if !(min..=max).contains(&n) {
        return Err(format!("{n} is not in {min}..={max} {unit}"));
    }
    Ok(n)
}

/// A database URL; its `Debug` and `Display` hide any password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(SecretUrl);

#[derive(Clone, PartialEq, Eq)]
struct SecretUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0 .0
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("sqlite:")
            || s.starts_with("postgres://")
            || s.starts_with("postgresql://")
        {
            Ok(DatabaseUrl(SecretUrl(s.to_string())))
        } else {
            Err("expected sqlite:PATH, postgres://… or postgresql://…".to_string())
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.expose()))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces the password of a URL (`scheme://user:password@host`) with `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

/// Secrets are held as `SecretString` from the moment they are parsed: `Debug` prints `[REDACTED]`.
pub(super) fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(value))
}

/// An optional secret, `None` when empty.
pub fn secret(value: Option<SecretString>) -> Option<SecretString> {
    use secrecy::ExposeSecret;
    value.filter(|v| !v.expose_secret().is_empty())
}

/// A listening address: `IP:PORT`, or `HOST:PORT` resolved once (an IPv4 address when the name has
/// one, as `localhost` does).
pub fn listen_addr(raw: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = raw.parse() {
        return Ok(addr);
    }
    let found: Vec<SocketAddr> = raw
        .to_socket_addrs()
        .map_err(|e| format!("expected IP:PORT or HOST:PORT, such as 127.0.0.1:8000 ({e})"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("{raw} resolves to no address"))
}
