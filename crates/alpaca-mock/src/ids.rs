//! Identifiers: UUIDs and ULIDs derived from hashes, so runs are reproducible.

use crate::hashing::{hash_parts, mix};
use crate::time::Timestamp;

/// A version-4-shaped UUID from two 64-bit values.
pub(crate) fn uuid_from(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// A UUID that depends only on `key` (e.g. an asset's symbol).
pub(crate) fn stable_uuid(key: &str) -> String {
    let h = hash_parts(&[b"uuid", key.as_bytes()]);
    uuid_from(h, mix(h ^ 0x5555))
}

/// A UUID for the `n`-th object made by a mock with `seed`.
pub(crate) fn sequence_uuid(seed: u64, n: u64) -> String {
    let h = hash_parts(&[b"seq", &seed.to_le_bytes(), &n.to_le_bytes()]);
    uuid_from(h, mix(h ^ 0xaaaa))
}

/// Whether `s` looks like a UUID (8-4-4-4-12 hex digits).
/// The account's id (stable across runs).
pub(crate) const ACCOUNT_ID: &str = "8f2c7f1e-3b4a-4c6d-9e8f-0a1b2c3d4e5f";

/// The id of the account the current request is for: [`ACCOUNT_ID`] for the primary one,
/// else a UUID of its name (each signed-in user's account has its own, stable across runs).
pub(crate) fn account_id() -> String {
    let name = crate::state::current_account();
    if name == crate::state::PRIMARY {
        return ACCOUNT_ID.to_string();
    }
    let h = hash_parts(&[b"account", name.as_bytes()]);
    uuid_from(h, mix(h ^ 0x5555))
}

/// The account number of the current request's account (`PA3MOCK00001` for the primary).
pub(crate) fn account_number() -> String {
    let name = crate::state::current_account();
    if name == crate::state::PRIMARY {
        return "PA3MOCK00001".to_string();
    }
    let h = hash_parts(&[b"account-number", name.as_bytes()]);
    format!("PA3{:09}", h % 1_000_000_000)
}

#[cfg(test)]
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID for time `t` whose random part comes from `key`.
pub(crate) fn ulid(t: Timestamp, key: u64) -> String {
    let ms = (t.unix_nanos().max(0) / 1_000_000) as u128 & ((1u128 << 48) - 1);
    let rand =
        (u128::from(mix(key)) << 16 | u128::from(mix(key ^ 0x1234) & 0xffff)) & ((1u128 << 80) - 1);
    let v = (ms << 80) | rand;
    (0..26)
        .map(|i| CROCKFORD[((v >> (125 - 5 * i)) & 0x1f) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let u = stable_uuid("AAPL");
        assert!(is_uuid(&u), "{u}");
        assert_eq!(&u[14..15], "4");
        let l = ulid(Timestamp::from_unix_secs(1_700_000_000), 7);
        assert_eq!(l.len(), 26);
        assert!(l.as_bytes()[0] <= b'7');
    }
}
