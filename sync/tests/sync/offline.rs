use jiff::Timestamp;
use quire_store::SubmissionId;
use quire_store::ops::{self, SubmissionDraft};

use crate::support::{Peer, bio_of, converge, pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_edit_offline_then_converge() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = pair(&mut a, &mut b).await;
    a.offline().await;
    b.offline().await;
    a.set_bio_on_disk(group, "Ada offline");
    b.set_bio_on_disk(group, "Bea offline");
    assert_ne!(a.heads(group).await, b.heads(group).await);
    // Only the joiner comes back first, then the founder: the joiner redials.
    b.online().await;
    a.online().await;
    converge(group, &[&a, &b]).await;
    assert_eq!(
        bio_of(&a, group, "Bea").await.as_deref(),
        Some("Bea offline")
    );
    assert_eq!(
        bio_of(&b, group, "Ada").await.as_deref(),
        Some("Ada offline")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_sync_loses_nothing() {
    let mut a = Peer::new("Ada");
    let mut b = Peer::new("Bea");
    let group = pair(&mut a, &mut b).await;
    b.offline().await;
    // A backlog big enough to take a while: many organizer rule changes.
    {
        let mut g = a.open(group);
        for i in 0..300u32 {
            g.act(|doc, me| {
                ops::change_rules(
                    doc,
                    me,
                    quire_store::RuleChangeId::random(),
                    &[("claim_period_days".to_string(), format!("{}", 1 + i % 20))],
                    Timestamp::now(),
                )
            })
            .unwrap();
        }
        let sub = SubmissionId::random();
        g.act(|doc, me| {
            let draft = SubmissionDraft {
                title: "Long".into(),
                genre: "saga".into(),
                text: "word ".repeat(20_000),
                ..Default::default()
            };
            ops::submit(doc, me, sub, draft, Timestamp::now())
        })
        .unwrap();
    }
    for _ in 0..3 {
        b.online().await;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        b.offline().await;
    }
    b.online().await;
    converge(group, &[&a, &b]).await;
    b.offline().await;
    a.offline().await;
    assert_eq!(b.heads(group).await, a.heads(group).await, "on disk too");
}
