"""The engine on the host: LocalStack's start and stop, the local deploy, the instance agent with each instance's
IMDS, machine and network, and the warm servers their `aws` and the Lambda environments fork from."""
