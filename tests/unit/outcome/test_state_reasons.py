"""A state reason in one line: EC2's message says its code already."""

from common.state_reasons import in_one_line


def test_ec2s_message_which_starts_with_its_code_is_the_line() -> None:
    message = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
    assert in_one_line("Client.InstanceInitiatedShutdown", message) == message


def test_a_message_without_the_code_gets_it_in_front() -> None:
    assert in_one_line("NotFound", "the instance is no longer known to EC2") == (
        "NotFound: the instance is no longer known to EC2"
    )


def test_no_message_is_the_code_alone() -> None:
    assert in_one_line("Server.SpotInstanceTermination", "") == "Server.SpotInstanceTermination"
