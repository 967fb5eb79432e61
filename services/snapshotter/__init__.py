"""The snapshotter service: keeps `audience_changes_daily` from refresh results."""
