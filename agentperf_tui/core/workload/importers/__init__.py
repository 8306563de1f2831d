"""Converters from other recorded-agent formats to agentperf-traj/1."""
