"""The local engine: LocalStack in host mode, a Lambda executor without Docker, and an instance agent."""
