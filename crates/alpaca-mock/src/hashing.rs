//! Deterministic pseudo-randomness: every generated value comes from a hash of
//! its inputs (seed, symbol, time bucket...), never from a random source.

/// FNV-1a over `parts`, each followed by a separator byte, then mixed.
pub(crate) fn hash_parts(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    mix(h)
}

/// splitmix64's finalizer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of a seed, a string key and a number.
pub(crate) fn hash3(seed: u64, key: &str, n: i64) -> u64 {
    hash_parts(&[&seed.to_le_bytes(), key.as_bytes(), &n.to_le_bytes()])
}

/// Maps a hash to `[0, 1)`.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Maps a hash to `[-1, 1)`.
pub(crate) fn signed_unit(h: u64) -> f64 {
    unit(h) * 2.0 - 1.0
}
