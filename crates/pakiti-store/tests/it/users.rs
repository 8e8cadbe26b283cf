//! Users, grants, sessions and API tokens.

use pakiti_store::{Grant, GrantKind, NewUser, StoreError, UserUpdate};
use time::{Duration, OffsetDateTime};

use crate::support::for_each_backend;

fn user(name: &str, admin: bool) -> NewUser {
    NewUser {
        name: name.into(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        admin,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_grants() {
    for_each_backend!(|db| {
        let s = &db.store;
        let alice = s.create_user(&user("alice", false)).await.unwrap();
        let root = s.create_user(&user("root", true)).await.unwrap();
        assert!(
            !alice.admin && root.admin && !alice.disabled,
            "{}",
            db.backend
        );
        let dup = s.create_user(&user("alice", true)).await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
        let empty = s.create_user(&user(" ", false)).await;
        assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
        let names: Vec<String> = s
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["alice", "root"]);
        assert_eq!(s.get_user_by_name("alice").await.unwrap().unwrap(), alice);
        assert_eq!(s.get_user_by_name("nobody").await.unwrap(), None);

        let g = |k, v: &str| Grant {
            kind: k,
            value: v.into(),
        };
        assert!(
            s.add_grant(alice.id, &g(GrantKind::Group, "physics"))
                .await
                .unwrap()
        );
        assert!(
            !s.add_grant(alice.id, &g(GrantKind::Group, "physics"))
                .await
                .unwrap()
        );
        assert!(
            s.add_grant(alice.id, &g(GrantKind::Host, "a.example.org"))
                .await
                .unwrap()
        );
        assert!(
            s.add_grant(alice.id, &g(GrantKind::Domain, "example.org"))
                .await
                .unwrap()
        );
        assert!(!s.add_grant(9999, &g(GrantKind::Group, "x")).await.unwrap());
        assert_eq!(
            s.user_grants(alice.id).await.unwrap(),
            vec![
                g(GrantKind::Domain, "example.org"),
                g(GrantKind::Group, "physics"),
                g(GrantKind::Host, "a.example.org"),
            ]
        );
        assert!(
            s.remove_grant(alice.id, &g(GrantKind::Domain, "example.org"))
                .await
                .unwrap()
        );
        assert!(
            !s.remove_grant(alice.id, &g(GrantKind::Domain, "example.org"))
                .await
                .unwrap()
        );
        assert_eq!(s.user_grants(alice.id).await.unwrap().len(), 2);

        let up = s
            .update_user(
                alice.id,
                &UserUpdate {
                    admin: Some(true),
                    password_hash: Some(None),
                    ..Default::default()
                },
                true,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(up.admin && up.password_hash.is_none());
        assert_eq!(
            s.update_user(9999, &UserUpdate::default(), true)
                .await
                .unwrap(),
            None
        );
        assert!(s.delete_user(alice.id, false).await.unwrap());
        assert!(!s.delete_user(alice.id, false).await.unwrap());
        assert!(s.user_grants(alice.id).await.unwrap().is_empty());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_tokens() {
    for_each_backend!(|db| {
        let s = &db.store;
        let bob = s.create_user(&user("bob", false)).await.unwrap();
        let now = OffsetDateTime::now_utc();
        s.create_session("h1", bob.id, "csrf1", now + Duration::hours(1))
            .await
            .unwrap();
        s.create_session("old", bob.id, "csrf0", now - Duration::hours(1))
            .await
            .unwrap();
        let sess = s.get_session("h1", now).await.unwrap().unwrap();
        assert_eq!(
            (sess.user.name.as_str(), sess.csrf.as_str()),
            ("bob", "csrf1"),
            "{}",
            db.backend
        );
        assert_eq!(s.get_session("old", now).await.unwrap(), None, "expired");
        assert_eq!(
            s.get_session("h1", now + Duration::hours(2)).await.unwrap(),
            None
        );
        assert!(s.delete_session("h1").await.unwrap());
        assert_eq!(s.get_session("h1", now).await.unwrap(), None);

        let t = s.create_api_token(bob.id, "th", "ci").await.unwrap();
        assert_eq!((t.name.as_str(), t.last_used_at), ("ci", None));
        assert_eq!(
            s.user_by_api_token("th", now).await.unwrap().unwrap().id,
            bob.id
        );
        assert_eq!(s.user_by_api_token("nope", now).await.unwrap(), None);
        let listed = s.list_api_tokens(bob.id).await.unwrap();
        assert_eq!(
            listed[0].last_used_at.map(|t| t.unix_timestamp()),
            Some(now.unix_timestamp())
        );

        // A disabled user's session and tokens stop working.
        s.create_session("h2", bob.id, "c", now + Duration::hours(1))
            .await
            .unwrap();
        s.update_user(
            bob.id,
            &UserUpdate {
                disabled: Some(true),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
        assert_eq!(s.get_session("h2", now).await.unwrap(), None);
        assert_eq!(s.user_by_api_token("th", now).await.unwrap(), None);
        s.update_user(
            bob.id,
            &UserUpdate {
                disabled: Some(false),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
        assert!(s.user_by_api_token("th", now).await.unwrap().is_some());
        assert!(s.revoke_api_token(t.id).await.unwrap());
        assert!(!s.revoke_api_token(t.id).await.unwrap());
        assert_eq!(s.user_by_api_token("th", now).await.unwrap(), None);
    });
}

/// The last enabled administrator cannot be deleted, demoted or disabled when the caller asks
/// to keep one; concurrent demotions of the last two cannot both pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_admin_is_kept() {
    for_each_backend!(|db| {
        let s = &db.store;
        let root = s.create_user(&user("root", true)).await.unwrap();
        let demote = UserUpdate {
            admin: Some(false),
            ..Default::default()
        };
        let disable = UserUpdate {
            disabled: Some(true),
            ..Default::default()
        };
        for r in [
            s.delete_user(root.id, true).await.map(|_| ()),
            s.update_user(root.id, &demote, true).await.map(|_| ()),
            s.update_user(root.id, &disable, true).await.map(|_| ()),
        ] {
            let e = r.unwrap_err();
            assert!(
                matches!(&e, StoreError::LastAdmin(n) if n == "root"),
                "{}: {e:?}",
                db.backend
            );
        }
        // Nothing changed, and other changes to the last admin still work.
        let still = s.get_user_by_name("root").await.unwrap().unwrap();
        assert!(still.admin && !still.disabled);
        s.update_user(
            root.id,
            &UserUpdate {
                password_hash: Some(Some("$argon2id$x".into())),
                admin: Some(true),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
        // A disabled admin does not count as a remaining one.
        let off = s.create_user(&user("off", true)).await.unwrap();
        s.update_user(off.id, &disable, true).await.unwrap();
        assert!(s.delete_user(root.id, true).await.is_err());
        // Two admins: concurrent demotions of both leave exactly one.
        let second = s.create_user(&user("second", true)).await.unwrap();
        let (a, b) = tokio::join!(
            s.update_user(root.id, &demote, true),
            s.update_user(second.id, &demote, true)
        );
        assert_eq!(
            usize::from(a.is_ok()) + usize::from(b.is_ok()),
            1,
            "{}: {a:?} {b:?}",
            db.backend
        );
        let admins = s
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.admin && !u.disabled)
            .count();
        assert_eq!(admins, 1, "{}", db.backend);
        // Concurrent deletions likewise.
        let third = s.create_user(&user("third", true)).await.unwrap();
        let keep = if a.is_ok() { second.id } else { root.id };
        let (a, b) = tokio::join!(s.delete_user(keep, true), s.delete_user(third.id, true));
        assert_eq!(
            usize::from(a.is_ok()) + usize::from(b.is_ok()),
            1,
            "{}: {a:?} {b:?}",
            db.backend
        );
        // Without the guard (modes other than accounts) the store does as told.
        let last = s
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.admin && !u.disabled)
            .unwrap();
        assert!(s.delete_user(last.id, false).await.unwrap());
    });
}
