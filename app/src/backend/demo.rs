//! A demo group, so a newcomer sees a living group at once: a dozen members with profiles, a
//! month of submissions, claims, critiques, ratings and thanks, each made by its member's own
//! device so the activity feed reads as it would in a real group. This device is the founder.

use super::drafts::Drafts;
use jiff::{SignedDuration, Timestamp};
use quire_store::doc::ProfilePatch;
use quire_store::exchange::Credits;
use quire_store::model::{Role, Rules};
use quire_store::ops::{self, NewGroup, NewMember, SubmissionDraft};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{CritiqueId, DeviceId, GroupId, MemberId, SubmissionId, session_actor};

struct Person {
    name: &'static str,
    pen: &'static str,
    genres: &'static [&'static str],
    roles: &'static [Role],
    capacity: u32,
    bio: &'static str,
}

const PEOPLE: &[Person] = &[
    Person {
        name: "Julia Amante",
        pen: "J. Amante",
        genres: &["historical fiction", "ya"],
        roles: &[Role::Writer, Role::BetaReader],
        capacity: 4,
        bio: "Writing a novel about a flour mill in 1840s Lombardy. Slow reader, careful notes.",
    },
    Person {
        name: "Ben Okafor",
        pen: "",
        genres: &["fantasy", "science fiction"],
        roles: &[Role::Writer, Role::CritiquePartner],
        capacity: 6,
        bio: "Space operas with too many maps. Happy to trade chapters weekly.",
    },
    Person {
        name: "Priya Raman",
        pen: "P. S. Raman",
        genres: &["literary fiction", "short story"],
        roles: &[Role::Writer, Role::Mentor],
        capacity: 3,
        bio: "Two collections out; I teach a Thursday workshop. Line edits are my weakness.",
    },
    Person {
        name: "Tomás Herrera",
        pen: "",
        genres: &["crime", "thriller"],
        roles: &[Role::Writer, Role::BetaReader],
        capacity: 4,
        bio: "Noir set in Valparaíso. I read fast and say where I got bored.",
    },
    Person {
        name: "Hannah Lindqvist",
        pen: "Hanna Lind",
        genres: &["romance", "ya"],
        roles: &[Role::Writer, Role::AccountabilityPartner],
        capacity: 2,
        bio: "Drafting book three; on a short break while the baby learns to sleep.",
    },
    Person {
        name: "Grace Whitfield",
        pen: "",
        genres: &["poetry", "literary fiction"],
        roles: &[Role::CritiquePartner],
        capacity: 5,
        bio: "Poet. I read for rhythm and for the sentence that should not be there.",
    },
    Person {
        name: "Sam Adeyemi",
        pen: "S. A. Adeyemi",
        genres: &["science fiction", "horror"],
        roles: &[Role::Writer],
        capacity: 3,
        bio: "Short horror, longer science fiction. Tell me when it stops being scary.",
    },
    Person {
        name: "Mei Tanaka",
        pen: "",
        genres: &["fantasy", "ya"],
        roles: &[Role::BetaReader, Role::CritiquePartner],
        capacity: 6,
        bio: "Beta reader for hire, free for friends. Big-picture notes, not commas.",
    },
    Person {
        name: "Oliver Brandt",
        pen: "",
        genres: &["historical fiction", "memoir"],
        roles: &[Role::Writer, Role::Mentor],
        capacity: 2,
        bio: "Retired archivist writing up my grandmother's letters.",
    },
    Person {
        name: "Rosa Delgado",
        pen: "R. M. Delgado",
        genres: &["magical realism", "short story"],
        roles: &[Role::Writer, Role::CritiquePartner],
        capacity: 4,
        bio: "Stories about my aunts, who were all a little bit witches.",
    },
    Person {
        name: "Kwame Mensah",
        pen: "",
        genres: &["thriller", "crime"],
        roles: &[Role::BetaReader],
        capacity: 8,
        bio: "I read everything with a body in it.",
    },
    Person {
        name: "Elif Şahin",
        pen: "",
        genres: &["horror", "short story"],
        roles: &[Role::Writer, Role::AccountabilityPartner],
        capacity: 3,
        bio: "Monthly word-count check-ins, anyone? I bring coffee and deadlines.",
    },
];

/// (title, genre, author, feedback wanted, content notes)
const PIECES: &[(&str, &str, usize, &str, &str)] = &[
    (
        "The Mill",
        "historical fiction",
        0,
        "pacing of the first chapter",
        "",
    ),
    (
        "Salt and Iron",
        "fantasy",
        1,
        "does the magic system make sense?",
        "battle violence",
    ),
    ("Winter Inventory", "literary fiction", 2, "the ending", ""),
    (
        "Harbour Lights",
        "crime",
        3,
        "is the killer too obvious?",
        "murder, drowning",
    ),
    (
        "Second Summer",
        "romance",
        4,
        "chemistry between the leads",
        "",
    ),
    ("What the Tide Keeps", "poetry", 5, "line breaks", "grief"),
    (
        "The Long Quiet",
        "science fiction",
        6,
        "worldbuilding info-dumps",
        "",
    ),
    (
        "Letters from Gdańsk",
        "memoir",
        8,
        "voice and tense",
        "war, loss",
    ),
    (
        "Aunt Carmen's Bees",
        "magical realism",
        9,
        "is it too whimsical?",
        "",
    ),
    (
        "Night Shift",
        "horror",
        11,
        "where it stops being scary",
        "body horror",
    ),
    (
        "The Cartographer's Daughter",
        "fantasy",
        1,
        "the prologue: keep or cut?",
        "",
    ),
    (
        "Dead Reckoning",
        "thriller",
        3,
        "chapter hooks",
        "gun violence",
    ),
    (
        "A Field Guide to Leaving",
        "short story",
        2,
        "title and first line",
        "",
    ),
    (
        "The Mill, chapter 2",
        "historical fiction",
        0,
        "the flood scene",
        "drowning",
    ),
    ("Signal Decay", "science fiction", 6, "dialogue", ""),
    (
        "The House on Calle Ocho",
        "magical realism",
        9,
        "the grandmother's voice",
        "",
    ),
    ("Ashes, Ashes", "horror", 11, "the twist", "child in peril"),
    ("Midwinter Fair", "ya", 4, "is the narrator likeable?", ""),
    ("The Ninth Orbit", "science fiction", 1, "the science", ""),
    ("Small Hours", "poetry", 5, "sequence order", ""),
    (
        "Cold Water",
        "crime",
        3,
        "the interrogation scene",
        "violence",
    ),
    ("The Archivist", "memoir", 8, "structure", ""),
];

const PROSE: &[&str] = &[
    "The mill wheel turned all night and nobody in the village slept.",
    "Rain came down the valley in grey sheets, and the river rose to meet it.",
    "She counted the sacks twice, because her father had taught her that numbers lie when you are tired.",
    "Somewhere below the floorboards the old machinery groaned like a ship.",
    "He had not meant to stay so long; the lamp had burned down to a blue thread.",
    "In the morning the square smelled of wet stone and bread.",
    "Nobody spoke of the letter, though everyone had read it.",
    "The road out of town was longer than she remembered, and narrower.",
    "They ate in silence, the kind that families mistake for peace.",
    "Outside, a cart went by, its wheels complaining on the cobbles.",
    "She wrote the date at the top of the page and then could not think of anything else to say.",
    "The harbour lights came on one by one, like a slow argument.",
];

const NOTES: &[&str] = &[
    "The opening image is strong; I was hooked by the second paragraph.",
    "I lost track of who was speaking in the kitchen scene; a tag or two would help.",
    "The middle section sags a little: the argument repeats beats we already had.",
    "I loved the detail of the counting; it tells us everything about her.",
    "Consider cutting the flashback; the present action carries the weight on its own.",
    "The ending lands, but I wanted one more beat of silence before the last line.",
    "Some sentences run long where the tension should tighten; try breaking them.",
    "The setting is vivid without ever stopping the story, which is hard to do.",
    "I was not sure what she wants in this chapter; a clearer goal would sharpen it.",
    "The dialogue sounds like real people, especially the father.",
];

/// A small deterministic generator, so the demo is the same every time.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn text(pool: &[&str], words: usize, rng: &mut Lcg) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut in_paragraph = 0;
    while count < words {
        let sentence = pool[rng.below(pool.len())];
        if !out.is_empty() {
            out.push_str(if in_paragraph >= 4 { "\n\n" } else { " " });
        }
        if in_paragraph >= 4 {
            in_paragraph = 0;
        }
        out.push_str(sentence);
        count += sentence.split_whitespace().count();
        in_paragraph += 1;
    }
    out
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// Creates the demo group in `data`, founded by `device`, as it would look at `now`.
pub fn create(data: &DataDir, device: DeviceId, now: Timestamp) -> anyhow::Result<GroupId> {
    let mut rng = Lcg(0x5eed);
    let start = now - hours(24 * 30);
    let ids: Vec<MemberId> = PEOPLE.iter().map(|_| MemberId::random()).collect();
    let devices: Vec<DeviceId> = PEOPLE
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if i == 0 {
                device
            } else {
                let mut bytes = [0u8; 32];
                bytes[..16].copy_from_slice(MemberId::random().as_bytes());
                bytes[31] = i as u8;
                DeviceId::from_bytes(bytes)
            }
        })
        .collect();
    let rules = Rules {
        starting_credits: Credits::whole(10),
        ..Rules::default()
    };
    let id = GroupId::random();
    let new = NewGroup {
        id,
        name: "Tuesday Night Writers".into(),
        description: "A small online group trading critiques of novels in progress and short \
                      fiction. Be kind, be specific, be on time."
            .into(),
        rules,
        founder: NewMember {
            id: ids[0],
            display_name: PEOPLE[0].name.into(),
            device,
            device_label: "laptop".into(),
        },
    };
    let mut doc = ops::create_group(new, session_actor(device), start)?;
    let act_as = |doc: &mut automerge::Automerge, i: usize| {
        doc.set_actor(session_actor(devices[i]));
    };
    for (i, p) in PEOPLE.iter().enumerate() {
        let joined = start + hours(i as i64 * 5);
        if i > 0 {
            act_as(&mut doc, 0);
            ops::add_member(
                &mut doc,
                NewMember {
                    id: ids[i],
                    display_name: p.name.into(),
                    device: devices[i],
                    device_label: "laptop".into(),
                },
                joined,
            )?;
        }
        act_as(&mut doc, i);
        let links = [(
            "website".to_string(),
            format!("https://example.org/{}", i + 1),
        )]
        .into_iter()
        .collect();
        let hiatus = (i == 4).then(|| {
            (now + hours(24 * 20))
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date()
        });
        let patch = ProfilePatch {
            pen_name: Some((!p.pen.is_empty()).then(|| p.pen.to_string())),
            bio: Some(p.bio.into()),
            genres: Some(p.genres.iter().map(|g| g.to_string()).collect()),
            roles: Some(p.roles.iter().cloned().collect()),
            links: Some(links),
            capacity_per_month: Some(Some(p.capacity)),
            hiatus_until: Some(hiatus),
            ..Default::default()
        };
        ops::update_profile(&mut doc, ids[i], patch, joined + hours(1))?;
    }

    let step = (24 * 26) / PIECES.len() as i64;
    let mut newest_of_others = None;
    for (k, (title, genre, author, feedback, notes)) in PIECES.iter().enumerate() {
        let at = start + hours(70 + k as i64 * step);
        let sub = SubmissionId::random();
        act_as(&mut doc, *author);
        let draft = SubmissionDraft {
            title: (*title).into(),
            genre: (*genre).into(),
            text: text(PROSE, 600 + rng.below(2400), &mut rng),
            critiques_wanted: Some(if k % 4 == 0 { 2 } else { 3 }),
            due_at: Some(
                (at + hours(24 * 14))
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .date(),
            ),
            feedback_wanted: (*feedback).into(),
            content_notes: (*notes).into(),
        };
        if let Err(err) = ops::submit(&mut doc, ids[*author], sub, draft, at) {
            tracing::debug!(%err, title, "demo submission skipped");
            continue;
        }
        if *author != 0 {
            newest_of_others = Some(sub);
        }
        // Older pieces are done; recent ones are still being claimed.
        let age_days = now.duration_since(at).as_hours() / 24;
        let reviewers = match age_days {
            0..=2 => 0,
            3..=6 => 1,
            7..=12 => 2,
            _ => 3,
        };
        let mut taken = Vec::new();
        for r in 0..reviewers {
            let mut who = rng.below(PEOPLE.len());
            while who == *author || who == 4 || taken.contains(&who) {
                who = (who + 1) % PEOPLE.len();
            }
            taken.push(who);
            let claimed = at + hours(3 + r as i64 * 7);
            act_as(&mut doc, who);
            if ops::claim(&mut doc, ids[who], sub, claimed).is_err() {
                continue;
            }
            // The founder leaves one claim open, so the demo has a critique to write.
            if who == 0 && age_days < 10 {
                continue;
            }
            let delivered = claimed + hours(20 + rng.below(80) as i64);
            if delivered > now {
                continue;
            }
            let body = text(NOTES, 120 + rng.below(900), &mut rng);
            let critique = CritiqueId::random();
            if ops::critique(&mut doc, ids[who], sub, critique, &body, delivered).is_err() {
                continue;
            }
            let answered = delivered + hours(10);
            // Leave the founder's newest critiques unanswered for the newcomer to rate.
            if answered < now && !(*author == 0 && age_days < 20) {
                act_as(&mut doc, *author);
                let rating = 3 + rng.below(3) as u8;
                let _ = ops::rate(&mut doc, ids[*author], sub, critique, rating, answered);
                if rng.below(3) > 0 {
                    let _ = ops::thank(&mut doc, ids[*author], sub, critique, answered);
                }
            }
        }
    }
    // The founder has just claimed the newest piece and started a critique of it.
    if let Some(sub) = newest_of_others {
        act_as(&mut doc, 0);
        if ops::claim(&mut doc, ids[0], sub, now - hours(3)).is_ok() {
            let draft = "The opening image is strong: I could smell the wet stone. \
                         I lost track of who was speaking in the second scene, though.";
            if let Err(err) = Drafts::new(data.root()).save(id, sub, draft) {
                tracing::debug!(%err, "demo draft not saved");
            }
        }
    }
    let group = data.create_group(id, doc, StorageOptions::default())?;
    drop(group);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_group_is_lively() {
        let dir = tempfile::tempdir().unwrap();
        let (data, device) = crate::backend::data::open(dir.path()).unwrap();
        let id = create(&data, device, Timestamp::now()).unwrap();
        let group = quire_store::Group::open(&data, id, device, StorageOptions::default()).unwrap();
        let model = group.read().unwrap();
        assert_eq!(model.members.len(), PEOPLE.len());
        assert!(model.submissions.len() >= PIECES.len() - 2);
        let critiques: usize = model.submissions.values().map(|s| s.critiques.len()).sum();
        assert!(critiques >= 20, "only {critiques} critiques");
        assert!(model.member_for_device(device).is_some());
    }
}
