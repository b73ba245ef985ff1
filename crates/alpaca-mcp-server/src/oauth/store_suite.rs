//! What every [`Store`] must do, run against each implementation (SQLite always, PostgreSQL
//! when a test server is given).

use super::store::{Code, CodeUse, Grant, Issued, Refresh, Store, Upstream};

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
    // An access token alone goes; the grant stays.
    assert!(s.revoke_token("a1").await.unwrap());
    assert!(s.access("a1", now, 100).await.unwrap().is_none());
    assert_eq!(s.grants(now, 100).await.unwrap().len(), 1);
    // A refresh token ends the grant.
    assert!(s.revoke_token("r1").await.unwrap());
    assert!(s.grants(now, 100).await.unwrap().is_empty());
    assert!(!s.revoke_token("r1").await.unwrap());
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
    assert!(
        s.put_consent("f1", "{\"a\":1}", now, now + 600, 2)
            .await
            .unwrap()
    );
    assert_eq!(
        s.consent("f1", now).await.unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(
        s.consent("f1", now).await.unwrap().as_deref(),
        Some("{\"a\":1}"),
        "reading keeps it"
    );
    assert!(
        s.consent("f1", now + 600).await.unwrap().is_none(),
        "expired"
    );
    assert!(s.put_consent("f2", "{}", now, now + 600, 2).await.unwrap());
    assert!(
        !s.put_consent("f3", "{}", now, now + 600, 2).await.unwrap(),
        "at most 2 in flight"
    );
    assert_eq!(
        s.take_consent("f1", now).await.unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    assert!(s.take_consent("f1", now).await.unwrap().is_none(), "once");
    assert!(s.put_consent("f3", "{}", now, now + 600, 2).await.unwrap());
    // Expired forms make room and are never taken.
    assert!(
        s.put_consent("f4", "{}", now + 601, now + 1200, 2)
            .await
            .unwrap()
    );
    assert!(s.take_consent("f2", now + 601).await.unwrap().is_none());
}

/// Every case above, each on a fresh store from `open`.
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
        s.record_event("passphrase", ip, at, at - 900)
            .await
            .unwrap();
    }
    s.record_event("registration", "10.0.0.1", now + 30, now - 3600)
        .await
        .unwrap();
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
    s.record_event("passphrase", "10.0.0.3", now + 1000, now + 15)
        .await
        .unwrap();
    assert_eq!(
        s.count_events("passphrase", "10.0.0.1", 0).await.unwrap(),
        (0, 2)
    );
    assert_eq!(
        s.count_events("registration", "10.0.0.1", 0).await.unwrap(),
        (1, 1)
    );
}

pub(crate) async fn all<S: Store, F: std::future::Future<Output = S>>(open: impl Fn() -> F) {
    codes_redeem_once_and_grants_rotate_and_revoke(&open().await).await;
    a_grant_acts_with_its_codes_alpaca_sign_in_which_ends_with_it(&open().await).await;
    revoking_tokens_and_everything(&open().await).await;
    consent_forms_are_answered_once_and_bounded(&open().await).await;
    limit_events_are_counted_per_address_and_kind_within_the_window(&open().await).await;
}
