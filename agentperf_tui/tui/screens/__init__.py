"""The console's screens: setup, dashboard, result, stored runs, compare, help."""
