"""The embedded inference-server simulator: profiles, engine model, virtual clock, HTTP server.

Everything it produces is simulated and says so. See docs/simulator.md.
"""
