//! What every [`Store`] must do, run against each implementation (SQLite always, PostgreSQL
//! when a test server is given).

use super::store::{
    Code, CodeUse, ConsentForm, ConsentLimits, Grant, Issued, Refresh, Store, Upstream,
};

/// Bounds small enough to reach in a test.
pub(crate) const LIMITS: ConsentLimits = ConsentLimits {
    per_addr: 2,
    per_client: 3,
    total: 4,
};

/// A consent form `digest` for `client` from `addr`.
pub(crate) fn form(digest: &str, client: &str, addr: &str) -> ConsentForm {
    ConsentForm {
        digest: digest.into(),
        body: format!("{{\"d\":\"{digest}\"}}"),
        client_id: client.into(),
        addr: addr.into(),
    }
}

pub(crate) fn issued(n: u8, now: i64) -> Issued {
    Issued {
        access_digest: format!("a{n}"),
        access_expires: now + 3600,
        refresh_digest: format!("r{n}"),
        refresh_expires: now + 86400,
    }
}

pub(crate) fn code(digest: &str, expires_at: i64) -> Code {
    Code {
        digest: digest.into(),
        client_id: "c1".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        challenge: "x".into(),
        scope: "read".into(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        toolsets: None,
        expires_at,
        upstream: None,
    }
}

pub(crate) fn grant(now: i64) -> Grant {
    Grant {
        id: "g1".into(),
        client_id: "c1".into(),
        scope: "read".into(),
        resource: "http://127.0.0.1:8000/mcp".into(),
        toolsets: None,
        created_at: now,
        last_used: now,
        upstream: None,
    }
}

pub(crate) async fn codes_redeem_once_and_grants_rotate_and_revoke(s: &dyn Store) {
    let now = 1_000_000;
    s.put_code(&code("k1", now + 60)).await.unwrap();
    assert!(matches!(
        s.redeem_code("k1", now).await.unwrap(),
        CodeUse::Fresh(_)
    ));
    assert_eq!(
        s.redeem_code("k1", now).await.unwrap(),
        CodeUse::Replayed { grant: None }
    );
    s.put_code(&code("k2", now)).await.unwrap();
    assert_eq!(s.redeem_code("k2", now).await.unwrap(), CodeUse::Expired);
    assert_eq!(s.redeem_code("nope", now).await.unwrap(), CodeUse::Unknown);

    s.start_grant("k1", &grant(now), &issued(1, now))
        .await
        .unwrap();
    assert_eq!(
        s.redeem_code("k1", now).await.unwrap(),
        CodeUse::Replayed {
            grant: Some("g1".into())
        }
    );
    assert_eq!(s.access("a1", now, 100).await.unwrap().unwrap().id, "g1");
    assert!(
        s.access("r1", now, 100).await.unwrap().is_none(),
        "a refresh token is no access token"
    );
    assert!(
        s.access("a1", now + 3600, 100_000).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        s.access("a1", now + 101, 100).await.unwrap().is_none(),
        "idle grant"
    );
    s.touch("g1", now + 50).await.unwrap();
    assert!(
        s.access("a1", now + 101, 100).await.unwrap().is_some(),
        "touched"
    );

    assert!(matches!(
        s.refresh("r1", "other", now, 100, &issued(2, now))
            .await
            .unwrap(),
        Refresh::Invalid
    ));
    assert!(matches!(
        s.refresh("r1", "c1", now, 100, &issued(2, now))
            .await
            .unwrap(),
        Refresh::Rotated(_)
    ));
    assert!(s.access("a2", now, 100).await.unwrap().is_some());
    // Reusing the rotated token ends the grant: every token of it stops working.
    assert_eq!(
        s.refresh("r1", "c1", now, 100, &issued(3, now))
            .await
            .unwrap(),
        Refresh::Replayed { grant: "g1".into() }
    );
    assert!(s.access("a2", now, 100).await.unwrap().is_none());
    assert!(matches!(
        s.refresh("r2", "c1", now, 100, &issued(4, now))
            .await
            .unwrap(),
        Refresh::Invalid
    ));
    assert!(s.grants(now, 100).await.unwrap().is_empty());
    assert!(!s.revoke_grant("g1").await.unwrap(), "already ended");
}

pub(crate) async fn a_grant_acts_with_its_codes_alpaca_sign_in_which_ends_with_it(s: &dyn Store) {
    let now = 1_000_000;
    let up = Upstream {
        id: "u1".into(),
        sealed: "v1.abcd.SEALED".into(),
        mode: "live".into(),
        account: "acct-1".into(),
    };
    s.put_upstream(&up, now).await.unwrap();
    s.put_code(&Code {
        upstream: Some("u1".into()),
        ..code("k1", now + 60)
    })
    .await
    .unwrap();
    let CodeUse::Fresh(redeemed) = s.redeem_code("k1", now).await.unwrap() else {
        panic!("a fresh code");
    };
    assert_eq!(redeemed.upstream.as_deref(), Some("u1"));
    s.start_grant("k1", &grant(now), &issued(1, now))
        .await
        .unwrap();
    assert_eq!(
        s.access("a1", now, 100).await.unwrap().unwrap().upstream,
        Some(up.clone())
    );
    let listed = s.grants(now, 100).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].grant.upstream.as_ref().unwrap().account, "acct-1");
    // Rotation keeps it; `auth rekey` replaces its sealed token.
    let Refresh::Rotated(g) = s
        .refresh("r1", "c1", now, 100, &issued(2, now))
        .await
        .unwrap()
    else {
        panic!("rotated");
    };
    assert_eq!(g.upstream.unwrap().account, "acct-1");
    s.reseal("u1", "v1.ef01.AGAIN").await.unwrap();
    assert_eq!(s.upstreams().await.unwrap()[0].sealed, "v1.ef01.AGAIN");
    // Ending the grant deletes the user's Alpaca token with it.
    assert!(s.revoke_grant("g1").await.unwrap());
    assert!(s.upstreams().await.unwrap().is_empty());
}

pub(crate) async fn revoking_tokens_and_everything(s: &dyn Store) {
    let now = 1_000_000;
    s.put_code(&code("k1", now + 60)).await.unwrap();
    s.start_grant("k1", &grant(now), &issued(1, now))
        .await
        .unwrap();
    // Only by the client it was issued to (RFC 7009 2.1).
    assert!(!s.revoke_token("a1", "another-client").await.unwrap());
    assert!(!s.revoke_token("r1", "another-client").await.unwrap());
    assert!(s.access("a1", now, 100).await.unwrap().is_some());
    // An access token alone goes; the grant stays.
    assert!(s.revoke_token("a1", "c1").await.unwrap());
    assert!(s.access("a1", now, 100).await.unwrap().is_none());
    assert_eq!(s.grants(now, 100).await.unwrap().len(), 1);
    // A refresh token ends the grant.
    assert!(s.revoke_token("r1", "c1").await.unwrap());
    assert!(s.grants(now, 100).await.unwrap().is_empty());
    assert!(!s.revoke_token("r1", "c1").await.unwrap());
    let g2 = Grant {
        id: "g2".into(),
        ..grant(now)
    };
    s.start_grant("none", &g2, &issued(5, now)).await.unwrap();
    assert_eq!(s.revoke_all().await.unwrap(), 1);
    assert!(s.access("a5", now, 100).await.unwrap().is_none());
    // Purging leaves nothing of ended grants or expired codes behind, and works twice.
    s.purge(now + 100_000, 100, 10).await.unwrap();
    s.purge(now + 100_000, 100, 10).await.unwrap();
    assert_eq!(s.redeem_code("k1", now).await.unwrap(), CodeUse::Unknown);
}

pub(crate) async fn consent_forms_are_answered_once_and_bounded(s: &dyn Store) {
    let now = 1_000_000;
    let put = |f: ConsentForm, at: i64| async move {
        s.put_consent(&f, at, at + 600, LIMITS).await.unwrap();
    };
    put(form("f1", "c1", "10.0.0.1"), now).await;
    let body = Some("{\"d\":\"f1\"}");
    assert_eq!(s.consent("f1", now).await.unwrap().as_deref(), body);
    assert_eq!(
        s.consent("f1", now).await.unwrap().as_deref(),
        body,
        "reading keeps it"
    );
    assert!(
        s.consent("f1", now + 600).await.unwrap().is_none(),
        "expired"
    );
    assert_eq!(s.take_consent("f1", now).await.unwrap().as_deref(), body);
    assert!(s.take_consent("f1", now).await.unwrap().is_none(), "once");

    // One address past its bound pushes out its own oldest, not anyone else's.
    put(form("a1", "c1", "10.0.0.9"), now).await;
    for (i, d) in ["x1", "x2", "x3"].iter().enumerate() {
        put(form(d, "c2", "10.0.0.2"), now + 1 + i as i64).await;
    }
    assert!(
        s.consent("x1", now + 5).await.unwrap().is_none(),
        "oldest of its address out"
    );
    assert!(s.consent("x2", now + 5).await.unwrap().is_some());
    assert!(s.consent("x3", now + 5).await.unwrap().is_some());
    assert!(
        s.consent("a1", now + 5).await.unwrap().is_some(),
        "another address's form stays"
    );
    // One client past its bound, from several addresses: its own oldest goes.
    put(form("y1", "c3", "10.0.1.1"), now + 10).await;
    put(form("y2", "c3", "10.0.1.2"), now + 11).await;
    put(form("y3", "c3", "10.0.1.3"), now + 12).await;
    put(form("y4", "c3", "10.0.1.4"), now + 13).await;
    assert!(
        s.consent("y1", now + 14).await.unwrap().is_none(),
        "oldest of its client out"
    );
    // Everyone past the total: the oldest of all goes, and the newest is always kept.
    assert!(
        s.consent("a1", now + 14).await.unwrap().is_none(),
        "oldest of all out"
    );
    assert!(s.consent("y4", now + 14).await.unwrap().is_some());
    // Expired forms make room and are never taken.
    put(form("z1", "c4", "10.0.2.1"), now + 700).await;
    assert!(s.take_consent("y4", now + 700).await.unwrap().is_none());
    assert!(s.take_consent("z1", now + 700).await.unwrap().is_some());
}

pub(crate) async fn events_are_taken_atomically_within_their_bounds(s: &dyn Store) {
    let now = 2_000_000;
    let take = |key: &'static str, at: i64| async move {
        s.take_event("passphrase", key, at, at - 900, (2, 3))
            .await
            .unwrap()
    };
    assert!(take("10.0.0.1", now).await);
    assert!(take("10.0.0.1", now).await);
    assert!(!take("10.0.0.1", now).await, "per key");
    assert!(take("10.0.0.2", now).await);
    assert!(!take("10.0.0.3", now).await, "in all");
    // A right guess is forgotten: room again.
    s.forget_event("passphrase", "10.0.0.1", now).await.unwrap();
    assert!(take("10.0.0.3", now).await);
    // Outside the window nothing counts.
    assert!(take("10.0.0.1", now + 901).await);
    // No total: only the key's bound.
    for _ in 0..5 {
        assert!(
            s.take_event("device", &format!("d{now}"), now, now - 900, (10, 0))
                .await
                .unwrap()
        );
    }
    // Devices the owner signed in from.
    assert!(!s.device("dev1", now).await.unwrap());
    s.put_device("dev1", now + 100).await.unwrap();
    assert!(s.device("dev1", now).await.unwrap());
    assert!(!s.device("dev1", now + 100).await.unwrap(), "expired");
}

/// An event taken with no bound: always recorded (what is older than `since` forgotten).
async fn record(s: &dyn Store, kind: &str, key: &str, at: i64, since: i64) -> bool {
    s.take_event(kind, key, at, since, (u64::MAX, 0))
        .await
        .unwrap()
}

pub(crate) async fn limit_events_are_counted_per_address_and_kind_within_the_window(s: &dyn Store) {
    let now = 1_000_000;
    assert_eq!(
        s.count_events("passphrase", "10.0.0.1", 0).await.unwrap(),
        (0, 0)
    );
    for (ip, at) in [
        ("10.0.0.1", now),
        ("10.0.0.1", now + 10),
        ("10.0.0.2", now + 20),
    ] {
        assert!(record(s, "passphrase", ip, at, at - 900).await);
    }
    assert!(record(s, "registration", "10.0.0.1", now + 30, now - 3600).await);
    assert_eq!(
        s.count_events("passphrase", "10.0.0.1", now).await.unwrap(),
        (2, 3)
    );
    assert_eq!(
        s.count_events("passphrase", "10.0.0.2", now).await.unwrap(),
        (1, 3)
    );
    assert_eq!(
        s.count_events("registration", "10.0.0.1", now)
            .await
            .unwrap(),
        (1, 1)
    );
    // Only those at `since` or later count.
    assert_eq!(
        s.count_events("passphrase", "10.0.0.1", now + 5)
            .await
            .unwrap(),
        (1, 2)
    );
    // Recording forgets what is older than its window; other kinds stay.
    assert!(record(s, "passphrase", "10.0.0.3", now + 1000, now + 15).await);
    assert_eq!(
        s.count_events("passphrase", "10.0.0.1", 0).await.unwrap(),
        (0, 2)
    );
    assert_eq!(
        s.count_events("registration", "10.0.0.1", 0).await.unwrap(),
        (1, 1)
    );
}

/// Every case above, each on a fresh store from `open`.
pub(crate) async fn all<S: Store, F: std::future::Future<Output = S>>(open: impl Fn() -> F) {
    codes_redeem_once_and_grants_rotate_and_revoke(&open().await).await;
    a_grant_acts_with_its_codes_alpaca_sign_in_which_ends_with_it(&open().await).await;
    revoking_tokens_and_everything(&open().await).await;
    consent_forms_are_answered_once_and_bounded(&open().await).await;
    events_are_taken_atomically_within_their_bounds(&open().await).await;
    limit_events_are_counted_per_address_and_kind_within_the_window(&open().await).await;
}
