"""AWSLongRunningTask: run long work on a throwaway EC2 instance, orchestrated by AWS Step Functions."""

__version__ = "0.1.0"
