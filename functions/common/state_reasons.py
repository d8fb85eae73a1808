"""EC2's state reasons that the application tells apart
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html)."""

OWN_SHUTDOWN = "Client.InstanceInitiatedShutdown"  # shut down from the instance's own operating system
SPOT_RECLAIMED = "Server.SpotInstanceTermination"  # EC2 took the Spot capacity back


def in_one_line(code: str, message: str) -> str:
    """A state reason as one line. EC2's message starts with its code already ("Client.UserInitiatedShutdown:
    User initiated shutdown"), so it is the line; a message without the code gets it in front."""
    if not message:
        return code
    return message if message.startswith(code) else f"{code}: {message}"
