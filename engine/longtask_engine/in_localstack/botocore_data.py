"""botocore's data files read and parsed once per process (and before its forks), instead of once per session.

botocore reads and parses a data file (a service's model, endpoints.json, partitions, retry rules) the
first time each session's loader needs it, and every process that uses botocore makes sessions of its own: the
warm AWS CLI server and the Lambda environments' warm servers (warm_server.py) before they fork, and LocalStack,
which makes a new session for each service it looks up regions for.
What a loader gets is what it would have read: the same files, parsed by botocore; copy-on-write in a fork, so a
call that changes what it got changes only its own copy. A file that is not there is looked for again each time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def remember_data_files() -> None:
    """From now on in this process and its forks, botocore reads and parses each of its data files once, and lists
    the services of its data folders once."""
    from botocore import loaders

    loaders.JSONFileLoader.load_file = _remembered(loaders.JSONFileLoader.load_file, lambda _, path: path)
    loaders.Loader.list_available_services = _remembered(
        loaders.Loader.list_available_services, lambda loader, type_name: (tuple(loader.search_paths), type_name)
    )


def _remembered(method: Callable[..., Any], key_of: Callable[..., Any]) -> Callable[..., Any]:
    """The method, its answers remembered by key (an answer of None, a file not found, is not)."""
    answers: dict[Any, Any] = {}

    @functools.wraps(method)
    def remembered(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = key_of(self, *args, **kwargs)
        if key not in answers:
            answer = method(self, *args, **kwargs)
            if answer is None:
                return None
            answers[key] = answer
        return answers[key]

    return remembered
