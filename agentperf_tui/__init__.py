"""agentperf-tui: how many concurrent coding agents can this deployment serve within an SLO."""

__version__ = "0.1.0"
