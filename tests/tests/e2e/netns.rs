//! Three hosts, each in its own network namespace, on one bridged LAN (see [`crate::lan`]).
//!
//! Each host runs `quire serve` on its own address with relays and mDNS off, so the only way
//! between them is the bridge. Host 1 founds the group and invites the other two. Then host 3's
//! port on the bridge goes down (a pulled cable) and all three hosts edit; the cut lasts until
//! both sides have given up on their connection (QUIC's 30 s idle timeout), so the heal needs a
//! redial. Once the cable is back in, every host must end up with every edit and the same heads.
//!
//! Needs root (or CAP_NET_ADMIN) and `ip` from iproute2. Without them the test says so on
//! stderr and passes; `QUIRE_REQUIRE_NETNS=1` makes that a failure instead.

use std::time::{Duration, Instant};

use crate::host::{Host, connected, star_in_sync, wait_for};
use crate::lan::{Lan, unavailable};

/// Generous limits: CI machines are small and busy.
const START_LIMIT: Duration = Duration::from_secs(90);
/// QUIC gives up on a silent peer after 30 s of idle; this leaves room on top.
const PARTITION_LIMIT: Duration = Duration::from_secs(120);
/// After the heal: the dialer's backoff is capped at 30 s, plus a dial timeout.
const HEAL_LIMIT: Duration = Duration::from_secs(90);

#[test]
fn three_hosts_partitioned_and_healed_converge() {
    let lan = match Lan::new(3) {
        Ok(lan) => lan,
        Err(reason) => {
            return unavailable(
                &format!("network namespaces unavailable: {reason}"),
                "the multi-host partition test needs root and iproute2's `ip`",
            );
        }
    };
    // Declared after the LAN, so dropped before it: servers die before their namespaces.
    let mut hosts: Vec<Host> = (1..=3).map(|n| Host::in_lan(&lan, n)).collect();
    let started = Instant::now();

    hosts[0].found();
    let (founder, joiners) = hosts.split_at_mut(1);
    for (host, name) in joiners.iter_mut().zip(["Bea Reyes", "Cy Okafor"]) {
        host.join(&founder[0], name);
    }
    let took = wait_for(
        "all three hosts are connected and in sync",
        START_LIMIT,
        || star_in_sync(&hosts),
    );
    eprintln!("netns: three hosts in sync {took:?} after the last join");

    // Pull host 3's cable and edit on both sides of the cut.
    lan.cut(3);
    let cut_at = Instant::now();
    hosts[0].submit("Harbour Lights");
    hosts[1].ok(&["profile", "--bio", "Writes about ferries."]);
    hosts[2].submit("Salt Roads");
    // Until both sides of the cut have given up on the connection, so the heal is a redial.
    let took = wait_for(
        "host 1 and host 3 see each other gone",
        PARTITION_LIMIT,
        || {
            let one = hosts[0].status();
            let three = hosts[2].status();
            if connected(&one, &three) || connected(&three, &one) {
                Err(format!(
                    "1 sees 3 connected {}, 3 sees 1 connected {}",
                    connected(&one, &three),
                    connected(&three, &one)
                ))
            } else {
                Ok(())
            }
        },
    );
    eprintln!("netns: the cut was noticed after {took:?}");
    // The two sides of the cut have not seen each other's edits; hosts 1 and 2 have theirs.
    wait_for("host 2 has host 1's piece", START_LIMIT, || {
        let titles = hosts[1].titles();
        if titles == ["Harbour Lights"] {
            Ok(())
        } else {
            Err(format!("{titles:?}"))
        }
    });
    assert_eq!(hosts[0].titles(), ["Harbour Lights"]);
    assert_eq!(hosts[2].titles(), ["Salt Roads"]);
    assert_ne!(
        hosts[2].bio("Bea Reyes").as_deref(),
        Some("Writes about ferries.")
    );
    eprintln!("netns: partitioned for {:?}", cut_at.elapsed());

    lan.heal(3);
    let took = wait_for(
        "every host has every edit and the same heads",
        HEAL_LIMIT,
        || {
            for host in &hosts {
                let titles = host.titles();
                if titles != ["Harbour Lights", "Salt Roads"] {
                    return Err(format!("host {} has {titles:?}", host.n));
                }
                let bio = host.bio("Bea Reyes");
                if bio.as_deref() != Some("Writes about ferries.") {
                    return Err(format!("host {} has Bea's bio {bio:?}", host.n));
                }
            }
            star_in_sync(&hosts)
        },
    );
    eprintln!("netns: converged {took:?} after the heal");
    // Hosts 2 and 3 only know host 1's address (from their tickets), and with relays and mDNS
    // off nothing tells them each other's: they sync through host 1.
    let (two, three) = (hosts[1].status(), hosts[2].status());
    eprintln!(
        "netns: hosts 2 and 3 connected directly: {}",
        connected(&two, &three) || connected(&three, &two)
    );

    for host in &mut hosts {
        host.stop();
    }
    eprintln!("netns: whole test {:?}", started.elapsed());
}
