//! The rules classic strategies use to pick an action from their schedule.

use super::DecisionContext;
use crate::model::Action;

/// Follow the schedule: wait when ahead, catch up when well behind or at the
/// end of the horizon, otherwise work passively (half in the dark pool when
/// the slice is large enough to meet a dark minimum size).
pub fn schedule_following_action(ctx: &DecisionContext, sched_now: f64, sched_next: f64) -> Action {
    let remaining = ctx.qty - ctx.filled;
    if remaining < 1.0 {
        return Action::Wait;
    }
    let last_interval = ctx.end.saturating_sub(ctx.now) <= ctx.interval_ns;
    if last_interval {
        return Action::CatchUp;
    }
    let slice = (sched_next - sched_now).max(0.0);
    let deficit = sched_now - ctx.filled;
    if deficit > (1.5 * slice).max(0.005 * ctx.qty) {
        return Action::CatchUp;
    }
    if ctx.filled >= sched_next {
        return Action::Wait;
    }
    if ctx.dark_available && sched_next - ctx.filled >= 4.0 * ctx.params.min_child_qty.max(1.0) {
        Action::Mixed
    } else {
        Action::Passive
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn actions_follow_the_schedule() {
        let p = params();
        let mid = START + 1_800_000_000_000;
        // On schedule at half time: work passively (mixed, dark allowed).
        assert_eq!(
            schedule_following_action(&ctx(&p, mid, 5000.0), 5000.0, 5600.0),
            Action::Mixed
        );
        // Far behind: catch up.
        assert_eq!(
            schedule_following_action(&ctx(&p, mid, 2000.0), 5000.0, 5200.0),
            Action::CatchUp
        );
        // Ahead of the next checkpoint: wait.
        assert_eq!(
            schedule_following_action(&ctx(&p, mid, 6000.0), 5000.0, 5200.0),
            Action::Wait
        );
        // Last interval: finish aggressively.
        assert_eq!(
            schedule_following_action(&ctx(&p, END - 10_000_000_000, 9000.0), 9900.0, 10_000.0),
            Action::CatchUp
        );
        // Done: nothing to do.
        assert_eq!(
            schedule_following_action(&ctx(&p, mid, 10_000.0), 5000.0, 5200.0),
            Action::Wait
        );
        // No dark pool: passive.
        let mut c = ctx(&p, mid, 5000.0);
        c.dark_available = false;
        assert_eq!(
            schedule_following_action(&c, 5000.0, 5600.0),
            Action::Passive
        );
    }
}
