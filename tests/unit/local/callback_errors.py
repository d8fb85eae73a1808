"""Stand-ins for LocalStack 4.9.2's task-token errors (`asl/eval/callback/callback.py`), shared by the tests of the
plug-ins that answer and close task tokens."""


class CallbackConsumerTimeout(Exception):
    pass


class CallbackNotifyConsumerError(Exception):
    def __init__(self, callback_consumer_error: Exception) -> None:
        super().__init__(callback_consumer_error)
        self.callback_consumer_error = callback_consumer_error
