-- The wall clock stepping away from a run's timeline (NTP setting a clock
-- that was wrong at boot, an operator). A run's ledger times are its start
-- reading plus monotonic time, so no recorded duration changes with the
-- wall clock; when the two disagree by more than a second:
-- * a forward step is followed (followed = 1) at a moment when nothing is
--   open (every line up and settled, no fault deadline running): from
--   run_time the run's timeline reads wall_time, and no outage, gap or
--   deadline spans the step;
-- * a backward step is not followed (followed = 0): the times from
--   wall_time to run_time are already in the ledger and would repeat; the
--   run's times stay ahead of the wall clock by the step (a run starting
--   on a ledger whose last heartbeat is ahead of the clock starts there).
CREATE TABLE clock_steps (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    run_time  TEXT NOT NULL,     -- the run's timeline at the step
    wall_time TEXT NOT NULL,     -- the wall clock at the same moment
    step_ms   INTEGER NOT NULL,  -- wall_time - run_time
    followed  INTEGER NOT NULL CHECK (followed IN (0, 1))
);

CREATE TRIGGER clock_steps_no_update BEFORE UPDATE ON clock_steps
BEGIN SELECT RAISE(ABORT, 'a clock step is never rewritten'); END;
CREATE TRIGGER clock_steps_no_delete BEFORE DELETE ON clock_steps
BEGIN SELECT RAISE(ABORT, 'ledger rows are never deleted'); END;
