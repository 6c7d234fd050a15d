//! A browser of 1 to 5 tabs, each a real `authkeeper::core::machine::Machine`, with the shared
//! storage, channel and lock between them and a SimpleJWT-like server behind them, on a virtual
//! clock. `tests/core_sim_tabs.rs` runs it under proptest.

pub mod browser;
#[path = "../support/jwt.rs"]
pub mod jwt;
pub mod referee;
pub mod rng;
pub mod script;
pub mod server;
pub mod world;

use script::Scenario;
use world::World;

/// Lines of trace shown with a failure (the end of it, where the failure is).
const TRACE_LINES: usize = 150;

/// Plays the scenario; `Err` carries the violated invariant and the trace leading to it.
pub fn run(scenario: &Scenario) -> Result<(), String> {
    let mut world = World::new(scenario);
    for step in &scenario.steps {
        world.run_until(world.real + step.pause_ms);
        if world.referee.failure.is_none() {
            world.apply(&step.act);
        }
        if world.referee.failure.is_some() {
            break;
        }
    }
    if world.referee.failure.is_none() {
        world.quiesce();
    }
    if world.referee.failure.is_none() {
        world.referee_end();
    }
    match world.referee.failure.take() {
        None => Ok(()),
        Some(failure) => {
            let skipped = world.trace.len().saturating_sub(TRACE_LINES);
            let mut out = format!("{failure}\n\ntrace ({} lines{}):\n", world.trace.len(), if skipped > 0 { format!(", the last {TRACE_LINES}") } else { String::new() });
            for line in &world.trace[skipped..] {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(&format!("\nfailed at t={}: {failure}\n", world.real));
            Err(out)
        }
    }
}
