"""Run reports: a self-contained HTML page with inline SVG plots (no scripts, no network)."""
