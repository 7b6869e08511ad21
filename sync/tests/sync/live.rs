use jiff::Timestamp;
use quire_store::ops::{self, SubmissionDraft};
use quire_store::{SubmissionId, views};
use quire_sync::InviteOptions;

use crate::support::{Peer, bio_of, converge, eventually, pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_edit_both_ways_live() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = pair(&mut a, &mut b).await;
    assert!(b.has_group(group), "the joiner holds the group on disk");

    a.set_bio(group, "from Ada").await;
    eventually("Bea sees Ada's edit", || async {
        bio_of(&b, group, "Ada").await.as_deref() == Some("from Ada")
    })
    .await;
    b.set_bio(group, "from Bea").await;
    eventually("Ada sees Bea's edit", || async {
        bio_of(&a, group, "Bea").await.as_deref() == Some("from Bea")
    })
    .await;
    converge(group, &[&a, &b]).await;

    // What arrived is on disk, not only in memory.
    a.offline().await;
    b.offline().await;
    let on_disk = b.open(group).read().unwrap();
    let ada = on_disk
        .members
        .values()
        .find(|m| m.profile.display_name == "Ada")
        .unwrap();
    assert_eq!(ada.profile.bio, "from Ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_by_another_process_reaches_peers() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = pair(&mut a, &mut b).await;
    // `quire profile` in another process, while the node runs on the same data dir.
    a.set_bio_on_disk(group, "written by the CLI");
    eventually("Bea sees the CLI's edit", || async {
        bio_of(&b, group, "Ada").await.as_deref() == Some("written by the CLI")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_is_redeemed_only_by_a_device_of_its_maker() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let mut c = Peer::new("Cy");
    let group = pair(&mut a, &mut b).await;
    c.online().await;
    // The organizer's device makes the ticket but names Bea's node as the one to contact:
    // Bea, who did not make the invite, may not let Cy in, and says so.
    let mut ticket = a.invite(group, InviteOptions::default()).await;
    ticket.inviter = b.handle().addr();
    converge(group, &[&a, &b]).await;
    let err = c.join(&ticket).await.unwrap_err().to_string();
    assert!(
        err.contains("redeemed only by a device of the member who made it"),
        "{err}"
    );
    assert!(!c.has_group(group));

    // Through Ada it works, and the three converge.
    ticket.inviter = a.handle().addr();
    c.join(&ticket).await.unwrap();
    a.set_bio(group, "Ada at one end").await;
    c.set_bio(group, "Cy at the other").await;
    converge(group, &[&a, &b, &c]).await;
    assert_eq!(
        bio_of(&b, group, "Cy").await.as_deref(),
        Some("Cy at the other")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_resolve_identically_everywhere() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let mut c = Peer::new("Cy");
    let group = pair(&mut a, &mut b).await;
    c.online().await;
    let ticket = a.invite(group, InviteOptions::default()).await;
    c.join(&ticket).await.unwrap();
    converge(group, &[&a, &b, &c]).await;

    let sub = SubmissionId::random();
    a.handle()
        .edit(group, move |g| {
            g.act(|doc, me| {
                let draft = SubmissionDraft {
                    title: "The Mill".into(),
                    genre: "historical".into(),
                    text: "It was a dark mill.".into(),
                    critiques_wanted: Some(1),
                    ..Default::default()
                };
                ops::submit(doc, me, sub, draft, Timestamp::now())
            })
        })
        .await
        .unwrap()
        .unwrap();
    converge(group, &[&a, &b, &c]).await;

    // Both claim the single slot offline, then come back.
    b.offline().await;
    c.offline().await;
    for p in [&b, &c] {
        p.open(group)
            .act(|doc, me| ops::claim(doc, me, sub, Timestamp::now()))
            .unwrap();
    }
    b.online().await;
    c.online().await;
    converge(group, &[&a, &b, &c]).await;

    let now = Timestamp::now();
    let mut lines = Vec::new();
    for p in [&a, &b, &c] {
        let model = p.model(group).await;
        let line = views::claim_line(&model.submissions[&sub], now);
        lines.push(format!("{line:?}"));
    }
    assert_eq!(lines[0], lines[1]);
    assert_eq!(lines[1], lines[2]);
    assert!(
        lines[0].contains("waiting"),
        "one claim waits: {}",
        lines[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_groups_on_one_device_stay_apart() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let mut c = Peer::new("Cy");
    let poetry = a.found("Poetry");
    let prose = a.found("Prose");
    a.online().await;
    b.online().await;
    c.online().await;
    b.join(&a.invite(poetry, InviteOptions::default()).await)
        .await
        .unwrap();
    c.join(&a.invite(prose, InviteOptions::default()).await)
        .await
        .unwrap();
    converge(poetry, &[&a, &b]).await;
    converge(prose, &[&a, &c]).await;
    a.set_bio(prose, "prose only").await;
    converge(prose, &[&a, &c]).await;

    assert!(
        b.has_group(poetry) && !b.has_group(prose),
        "Bea holds only Poetry"
    );
    assert!(
        c.has_group(prose) && !c.has_group(poetry),
        "Cy holds only Prose"
    );
    // Bea asking for Prose by its id is refused like a stranger.
    let refused = crate::access::hello_and_read(&b, &a, prose).await;
    assert!(refused.is_none(), "no byte of Prose reaches Bea");
}
