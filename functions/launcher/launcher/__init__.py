"""The launcher Lambda: validates a run's input and starts its EC2 instance."""
