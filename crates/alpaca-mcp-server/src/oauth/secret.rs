//! The secrets of the authorization server: random tokens (256 bits, base64url), their
//! SHA-256 digests (the only form stored), PKCE's S256 check, and the owner passphrase, held
//! as an argon2id hash (RustCrypto's `argon2`) and checked by its constant-time verifier.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::SetupError;

/// A fresh random value: `prefix` then 32 random bytes in base64url (43 characters).
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A short random identifier (64 bits, hex) for grants and clients: shown in `auth list`,
/// never a credential.
pub fn random_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored form of a token or code: SHA-256, hex. Tokens carry 256 random bits, so a fast
/// hash is enough (there is nothing to guess); a leaked database gives no usable token.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// PKCE S256 (RFC 7636): whether `BASE64URL(SHA256(verifier)) == challenge`, compared in
/// constant time. A verifier outside 43..=128 unreserved characters never matches.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    same(
        &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge,
    )
}

/// Whether two secrets are equal, in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The owner passphrase as an argon2id hash (PHC string). Given either the passphrase itself
/// (hashed at start, the text dropped) or a PHC string (`$argon2id$...`, from
/// `alpaca-mcp-server auth hash-passphrase`) so the passphrase need not be stored at all.
pub struct OwnerSecret {
    phc: String,
}

impl std::fmt::Debug for OwnerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnerSecret(<redacted>)")
    }
}

/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

impl OwnerSecret {
    /// From the configured value (`what` names where it came from, for errors).
    pub fn new(value: &str, what: &str) -> Result<Self, SetupError> {
        let value = value.trim_end_matches(['\r', '\n']);
        if value.starts_with("$argon2") {
            argon2::PasswordHash::new(value)
                .map_err(|e| SetupError(format!("{what}: not a valid argon2 PHC string ({e})")))?;
            return Ok(OwnerSecret { phc: value.into() });
        }
        Ok(OwnerSecret {
            phc: hash_passphrase(value).map_err(|e| SetupError(format!("{what}: {e}")))?,
        })
    }

    /// Whether `attempt` is the passphrase (argon2's verifier compares in constant time).
    pub fn verify(&self, attempt: &str) -> bool {
        match argon2::PasswordHash::new(&self.phc) {
            Ok(hash) => argon2::Argon2::default()
                .verify_password(attempt.as_bytes(), &hash)
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// An argon2id PHC string for `passphrase` (default parameters, random salt); refuses one
/// shorter than [`MIN_PASSPHRASE_CHARS`].
pub fn hash_passphrase(passphrase: &str) -> Result<String, String> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(format!(
            "the owner passphrase must be at least {MIN_PASSPHRASE_CHARS} characters"
        ));
    }
    argon2::Argon2::default()
        .hash_password(passphrase.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the owner passphrase: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let a = random_token("at_");
        let b = random_token("at_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(random_id().len(), 16);
    }

    #[test]
    fn pkce_s256_follows_rfc_7636() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(&verifier.replace('d', "e"), challenge));
        // The `plain` method (verifier == challenge) never passes.
        assert!(!pkce_matches(verifier, verifier));
        assert!(!pkce_matches("short", challenge));
    }

    #[test]
    fn the_owner_passphrase_is_hashed_checked_and_never_printed() {
        let s = OwnerSecret::new("correct horse battery", "test").unwrap();
        assert!(s.verify("correct horse battery"));
        assert!(!s.verify("correct horse batterz"));
        assert!(!format!("{s:?}").contains("horse"));
        assert!(!s.phc.contains("horse"));
        let from_phc = OwnerSecret::new(&s.phc, "test").unwrap();
        assert!(from_phc.verify("correct horse battery"));
        let e = OwnerSecret::new("short", "ALPACA_MCP_OWNER_SECRET").unwrap_err();
        assert!(
            e.0.contains("ALPACA_MCP_OWNER_SECRET") && e.0.contains("12"),
            "{e}"
        );
        assert!(!e.0.contains("short"), "{e}");
        assert!(OwnerSecret::new("$argon2id$nonsense", "x").is_err());
    }
}
