"""The signal Lambda: wakes a run's watcher when its instance reports or ends (S3 and EC2 events)."""
