"""IAM as AWS evaluates it, for the local engine: policies, principals, the operations the application calls."""
