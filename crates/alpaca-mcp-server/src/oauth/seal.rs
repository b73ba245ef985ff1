//! Encryption at rest of the Alpaca tokens that `--auth alpaca` keeps for its users, and of
//! the sign-in state it hands to Alpaca and gets back: XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`, an AEAD with 24-byte random nonces, so nonces never need counting),
//! under a ring of 32-byte keys.
//!
//! The first key seals; every key opens. A sealed value reads `v1.KEYID.DATA`: `KEYID` names
//! the key (8 hex characters of a SHA-256 of it, never the key), `DATA` is base64url of the
//! nonce and the ciphertext. Each value is bound to what it belongs to (a token to its row's
//! id) as associated data, so a ciphertext copied to another row does not open.
//!
//! Rotation: put a new key on the first line of the key file, keep the old ones below it,
//! restart, run `alpaca-mcp-server auth rekey` (everything is sealed again with the first
//! key), then remove the old lines.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::SetupError;

/// The variable holding the keys (comma-separated), when no key file is given.
pub const KEY_ENV: &str = "ALPACA_MCP_TOKEN_KEY";
/// The variable naming the key file (one key per line, the first one sealing).
pub const KEY_FILE_ENV: &str = "ALPACA_MCP_TOKEN_KEY_FILE";

/// One key: its id and its cipher.
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The key ring. `Debug` shows key ids only.
pub struct Keys {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        write!(f, "Keys({})", ids.join(", "))
    }
}

/// A sealed value that does not open: altered, bound to something else, or sealed with a key
/// not in the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOpened(pub &'static str);

impl std::fmt::Display for NotOpened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads one key: 64 hex characters, or base64 (standard or url-safe) of 32 bytes.
fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        let t = text.trim_end_matches('=');
        URL_SAFE_NO_PAD
            .decode(t.replace('+', "-").replace('/', "_"))
            .ok()?
    };
    bytes.try_into().ok()
}

fn key_id(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"alpaca-mcp token key id\0");
    h.update(key);
    h.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Keys {
    /// A ring of `keys`, the first one sealing.
    pub fn new(keys: &[[u8; 32]]) -> Keys {
        Keys {
            keys: keys
                .iter()
                .map(|k| Key {
                    id: key_id(k),
                    cipher: XChaCha20Poly1305::new(&(*k).into()),
                })
                .collect(),
        }
    }

    /// A ring of one random key, for a process whose sealed values need not outlive it (the
    /// sandbox).
    pub fn ephemeral() -> Keys {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source is available");
        Keys::new(&[key])
    }

    /// Parses keys, one per line (or comma-separated); blank lines and `#` comments skipped.
    /// Errors name the line, never its text.
    pub fn parse(text: &str, source: &str) -> Result<Keys, SetupError> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().flat_map(|l| l.split(',')).enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = parse_key(line).ok_or_else(|| {
                SetupError(format!(
                    "{source}: key {} is not 32 bytes as 64 hex characters or base64 (make one \
                     with `openssl rand -hex 32`)",
                    n + 1
                ))
            })?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(SetupError(format!(
                "{source}: no key in it (one per line, 64 hex characters: `openssl rand -hex 32`)"
            )));
        }
        Ok(Keys::new(&keys))
    }

    /// The id of the key that seals.
    pub fn sealing_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plain`, bound to `bound_to`.
    pub fn seal(&self, plain: &[u8], bound_to: &str) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random source is available");
        let nonce = XNonce::from(nonce);
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: bound_to.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any message that fits in memory");
        let mut data = nonce.to_vec();
        data.extend_from_slice(&sealed);
        format!("v1.{}.{}", key.id, URL_SAFE_NO_PAD.encode(data))
    }

    /// Opens a value [`Keys::seal`] made, bound to `bound_to`.
    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, NotOpened> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NotOpened("not a sealed value of this server"));
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(NotOpened("sealed with a key that is not in the key ring"))?;
        let data = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| NotOpened("not a sealed value of this server"))?;
        if data.len() < 24 + 16 {
            return Err(NotOpened("too short to be sealed"));
        }
        let (nonce, body) = data.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| NotOpened("a bad nonce"))?;
        key.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| NotOpened("altered, or bound to something else"))
    }

    /// Whether `sealed` was sealed with the key that seals now (else `auth rekey` seals it
    /// again).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .split('.')
            .nth(1)
            .is_some_and(|id| id == self.sealing_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn seals_and_opens_bound_to_one_row() {
        let keys = Keys::parse(A, "test").unwrap();
        let sealed = keys.seal(b"alpaca-token-CANARY", "row-1");
        assert!(!sealed.contains("CANARY"), "{sealed}");
        assert!(sealed.starts_with(&format!("v1.{}.", keys.sealing_id())));
        assert_eq!(keys.open(&sealed, "row-1").unwrap(), b"alpaca-token-CANARY");
        assert!(keys.open(&sealed, "row-2").is_err(), "bound to its row");
        // Random nonces: the same token seals differently each time.
        assert_ne!(sealed, keys.seal(b"alpaca-token-CANARY", "row-1"));
        // One changed character does not open.
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(
            keys.open(&String::from_utf8(bytes).unwrap(), "row-1")
                .is_err()
        );
    }

    #[test]
    fn rotation_opens_old_values_and_seals_with_the_first_key() {
        let old = Keys::parse(A, "test").unwrap();
        let sealed = old.seal(b"t", "r");
        let both = Keys::parse(&format!("# new first\n{B}\n{A}\n"), "test").unwrap();
        assert_eq!(both.open(&sealed, "r").unwrap(), b"t");
        assert!(!both.is_current(&sealed));
        let again = both.seal(b"t", "r");
        assert!(both.is_current(&again));
        let new_only = Keys::parse(B, "test").unwrap();
        assert_eq!(new_only.open(&again, "r").unwrap(), b"t");
        assert_eq!(
            new_only.open(&sealed, "r").unwrap_err(),
            NotOpened("sealed with a key that is not in the key ring")
        );
    }

    #[test]
    fn bad_keys_are_named_by_line_not_shown() {
        let e = Keys::parse(&format!("{A}\nnot-a-key-SECRETISH\n"), "KEYFILE").unwrap_err();
        assert!(e.0.contains("KEYFILE: key 2"), "{}", e.0);
        assert!(!e.0.contains("SECRETISH"), "{}", e.0);
        assert!(Keys::parse("# nothing\n", "f").is_err());
        let keys = Keys::parse(A, "f").unwrap();
        assert!(!format!("{keys:?}").contains(A));
        // base64 of 32 bytes works too.
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(Keys::parse(&b64, "f").is_ok());
    }
}
