"""The typed, versioned shapes of a run's result: levels, per-tier results and the run summary.

Built once by the engine (or the planner) and read by every face: headless JSON, `plan` JSON,
the run store and every screen. See docs/run-summary.md.
"""
