//! Who may connect: tokens, compared in constant time, and a per-address
//! limit on failed authentications. Tokens are never logged or journalled:
//! only the user name they map to, or a short hash for a token that matched
//! no one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::protocol::Role;

/// Failed authentications an address may make within `FAILURE_WINDOW`
/// before it is refused without a check for `LOCKOUT`.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
pub const LOCKOUT: Duration = Duration::from_secs(30);

struct Entry {
    digest: [u8; 32],
    user: String,
    role: Role,
}

/// Who may connect, by token.
#[derive(Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    users: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    token: String,
    user: String,
    role: Role,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A token as logs may show it: the first 8 hex digits of its SHA-256.
pub fn token_hint(token: &str) -> String {
    digest(token)[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Tokens {
    pub fn add(&mut self, token: &str, user: &str, role: Role) -> Result<()> {
        if token.len() < 4 {
            bail!("token for {user} is too short (at least 4 characters)");
        }
        let d = digest(token);
        if self.entries.iter().any(|e| bool::from(e.digest.ct_eq(&d))) {
            bail!("token for {user} is used twice");
        }
        self.entries.push(Entry {
            digest: d,
            user: user.to_string(),
            role,
        });
        Ok(())
    }

    /// Read a TOML file of `[[users]] token, user, role`. The file holds
    /// secrets: one that others may read (or write) is refused.
    pub fn load_file(&mut self, path: &Path) -> Result<()> {
        check_private(path)?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading tokens file {}", path.display()))?;
        let file: TokenFile =
            toml::from_str(&text).with_context(|| format!("tokens file {}", path.display()))?;
        for u in file.users {
            self.add(&u.token, &u.user, u.role)
                .with_context(|| format!("tokens file {}", path.display()))?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The user and role a token grants. Every entry is compared, each in
    /// constant time, so the time taken says nothing about how close a guess is.
    pub fn lookup(&self, token: &str) -> Option<(String, Role)> {
        let d = digest(token);
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.digest.ct_eq(&d)) {
                found = Some((e.user.clone(), e.role));
            }
        }
        found
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading tokens file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "tokens file {} is open to other users (mode {mode:03o}); it holds secrets: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// Failed authentications per peer address.
#[derive(Default)]
pub struct FailureLimiter {
    by_addr: Mutex<HashMap<IpAddr, Failures>>,
}

struct Failures {
    window_start: Instant,
    count: u32,
    locked_until: Option<Instant>,
}

impl FailureLimiter {
    /// If `addr` is locked out, for how much longer.
    pub fn locked(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.by_addr.lock().expect("limiter lock");
        let until = map.get(&addr)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Count a failure; returns true when it locks the address out.
    pub fn failed(&self, addr: IpAddr, now: Instant) -> bool {
        let mut map = self.by_addr.lock().expect("limiter lock");
        // Forget quiet addresses so a scan of many addresses cannot grow the map for ever.
        if map.len() > 10_000 {
            map.retain(|_, f| now.duration_since(f.window_start) < FAILURE_WINDOW);
        }
        let f = map.entry(addr).or_insert(Failures {
            window_start: now,
            count: 0,
            locked_until: None,
        });
        if now.duration_since(f.window_start) >= FAILURE_WINDOW {
            f.window_start = now;
            f.count = 0;
        }
        f.count += 1;
        if f.count >= MAX_FAILURES {
            f.locked_until = Some(now + LOCKOUT);
            f.window_start = now;
            f.count = 0;
            return true;
        }
        false
    }

    /// A success clears the address's record.
    pub fn succeeded(&self, addr: IpAddr) {
        self.by_addr.lock().expect("limiter lock").remove(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_the_user_and_refuses_others() {
        let mut t = Tokens::default();
        t.add("secret-1", "ann", Role::Trader).unwrap();
        t.add("secret-2", "bob", Role::Viewer).unwrap();
        assert_eq!(t.lookup("secret-2"), Some(("bob".into(), Role::Viewer)));
        assert_eq!(t.lookup("secret-"), None);
        assert_eq!(t.lookup(""), None);
        assert!(t.add("secret-1", "eve", Role::Viewer).is_err());
    }

    #[test]
    fn five_failures_lock_an_address_out_for_a_while() {
        let l = FailureLimiter::default();
        let a: IpAddr = "10.0.0.7".parse().unwrap();
        let b: IpAddr = "10.0.0.8".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            assert!(!l.failed(a, t0));
        }
        assert!(l.locked(a, t0).is_none());
        assert!(l.failed(a, t0));
        assert!(l.locked(a, t0).is_some());
        assert!(
            l.locked(b, t0).is_none(),
            "other addresses are not affected"
        );
        assert!(l.locked(a, t0 + LOCKOUT).is_none(), "the lockout ends");
    }

    #[cfg(unix)]
    #[test]
    fn a_tokens_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens.toml");
        std::fs::write(
            &p,
            "[[users]]\ntoken = \"abcd-1234\"\nuser = \"ann\"\nrole = \"trader\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Tokens::default().load_file(&p).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut t = Tokens::default();
        t.load_file(&p).unwrap();
        assert_eq!(t.lookup("abcd-1234").unwrap().0, "ann");
    }

    #[test]
    fn hints_do_not_reveal_the_token() {
        let h = token_hint("my-secret-token");
        assert_eq!(h.len(), 8);
        assert!(!h.contains("secret"));
    }
}
