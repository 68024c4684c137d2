//! How long a large programme takes to come in and go out: FOSDEM 2025 (943 events in 40
//! rooms, 2 MB of schedule.xml). Each step runs 20 times after one warm-up; min and median
//! are printed.
//!
//! ```sh
//! cargo bench -p plenary-server --bench import
//! ```

use std::time::{Duration, Instant};

use plenary_server::interchange;
use plenary_server::store::{SqliteStore, Store};

const RUNS: usize = 20;

/// Time `step` RUNS times after a warm-up; returns (min, median).
fn measure(mut step: impl FnMut()) -> (Duration, Duration) {
    step();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            step();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[RUNS / 2])
}

fn report(what: &str, (min, median): (Duration, Duration)) {
    println!(
        "{what:<46} min {:>8.2} ms   median {:>8.2} ms",
        min.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/schedules/fosdem-2025-schedule.xml"
    );
    let xml = std::fs::read(path).expect("the FOSDEM fixture is in the repository");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path()).expect("a fresh store opens");
    let imported = interchange::import(&xml).expect("FOSDEM imports");
    let json = serde_json::to_vec(&interchange::to_schedule_json(&imported.programme))
        .expect("the export serialises");
    println!(
        "FOSDEM 2025: {} bytes of XML, {} sessions, {} rooms; {RUNS} runs each",
        xml.len(),
        imported.programme.sessions.len(),
        imported.programme.rooms.len()
    );

    report(
        "import schedule.xml (parse, check, convert)",
        measure(|| {
            interchange::import(&xml).expect("imports");
        }),
    );
    report(
        "import + save to SQLite (what the route does)",
        measure(|| {
            let imported = interchange::import(&xml).expect("imports");
            store.save_programme(&imported.programme).expect("saves");
        }),
    );
    report(
        "save to SQLite again (update in place)",
        measure(|| store.save_programme(&imported.programme).expect("saves")),
    );
    report(
        "import schedule.json (our own export)",
        measure(|| {
            interchange::import(&json).expect("imports");
        }),
    );
    report(
        "export schedule.json",
        measure(|| {
            let exported = interchange::to_schedule_json(&imported.programme);
            serde_json::to_vec(&exported).expect("serialises");
        }),
    );
    report(
        "export iCalendar",
        measure(|| {
            interchange::to_ics(&imported.programme, jiff::Timestamp::now());
        }),
    );
}
