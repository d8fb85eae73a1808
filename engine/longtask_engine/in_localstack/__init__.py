"""The engine inside LocalStack's process, loaded through the entry points of engine/pyproject.toml: the plug-ins
that make LocalStack behave as AWS does where the product relies on it (plugins/), the IAM evaluator and its data
(iam/), prices and quotas (prices.py, data/), and the patches for speed only (speed/)."""
