"""Dashboard widgets: each draws one aspect of the latest Snapshot."""
