"""Defaults that belong together: the embedded simulator's deployment and the SLO tier a first
search uses with it.

gpt-oss-120b on one simulated B200 at the published gpt-oss-120b tier (P25 output speed
>= 250 tok/s, P95 TTFT <= 3 s): a single agent gets about 275 tok/s there, so a first fast search
from N=4 finds a real N* (3 agents) in four levels, under five minutes on a laptop
(`agentperf-tui search --headless --tier gpt-oss-120b@rev1/250-3 --rigour fast`). The setup
screen preselects this tier; a real endpoint is judged against whatever tier the operator picks.
"""

from __future__ import annotations

SIM_HARDWARE = "b200"
"""Hardware profile of the embedded simulator (and of `agentperf-tui sim`) when none is given."""
SIM_MODEL = "gpt-oss-120b"
"""Model profile of the embedded simulator (and of `agentperf-tui sim`) when none is given."""
TIER = "gpt-oss-120b@rev1/250-3"
"""The tier the setup screen starts with: the published tier that fits the default deployment."""
