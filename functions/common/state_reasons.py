"""EC2's state reasons that the application tells apart
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html)."""

OWN_SHUTDOWN = "Client.InstanceInitiatedShutdown"  # shut down from the instance's own operating system
SPOT_RECLAIMED = "Server.SpotInstanceTermination"  # EC2 took the Spot capacity back
