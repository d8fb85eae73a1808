"""What LocalStack loads into its own process through entry points (pyproject.toml): the Lambda executor and
runtime, the DynamoDB and EC2 providers, the hooks that make LocalStack refuse what AWS refuses, and the
test-only fault plan. Standard library and LocalStack only: these run in LocalStack's environment, not the CLI's."""
