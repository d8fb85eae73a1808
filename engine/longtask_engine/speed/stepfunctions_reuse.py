"""Reuse what LocalStack's Step Functions interpreter rebuilds for every execution and every state it runs: the
definition's parse tree and evaluation components, parsed JSONPaths, the API operations its Task states call and
the workflow role's AWS clients. Speed only: nothing is accepted or refused differently.

LocalStack 4.9.2 parses the whole definition with its ANTLR grammar for every execution it starts (85 ms for
the run workflow, 30 ms for each watcher window, here), then builds its evaluation components from the parse
tree (`Preprocessor`: 7% of LocalStack's CPU with 50 runs at once, once the tree was kept). Both are kept per
definition text. The components hold nothing of an evaluation: an execution keeps its state in its own
`Environment`, and a retrier its attempt counts in that environment's heap, under a key the component makes the
first time it is asked (`heap_key`, made under a lock here, as two executions may ask at once). A definition
that does not parse still fails every time (a failed parse is not kept).

LocalStack 4.9.2 parses every path on every evaluation with `jsonpath_ng` (a ply LALR parser, about 17 ms each
here): half of LocalStack's CPU while runs ended, and a Choice state took 0.3 s. A parsed path is an immutable
expression tree, so one parse per distinct path gives the same results. Most of those 17 ms were ply building its
parse tables, which jsonpath_ng does for every parse (a new parser each time): one parser of each kind parses
every path, one path at a time (the first run after LocalStack starts parsed about 70 paths).

For every API call a Task state makes (before and after it) LocalStack looks its operation up by converting the
name of each of the service's operations to snake case: 4% of LocalStack's time with 50 runs at once. An
operation's model is the same for the service's whole model, so it is looked up once per (service, action).

For every Task state it also assumes the state machine's role (an STS call) and builds a new client. Step
Functions on AWS likewise works with a role session for its duration; a session is reused here for at most
SESSION_SECONDS, well inside the 1 hour an AssumeRole session lasts by default
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). Each call is still authorized against
the role's current policies, as on AWS (iam_gateway.py).

Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import importlib
import threading
import time
from functools import lru_cache
from typing import Any

from localstack.runtime import hooks

from . import speed_only

DISTINCT_PATHS = 4096  # far more than the paths of the stack's workflows, bounded all the same
DISTINCT_DEFINITIONS = 64
DISTINCT_OPERATIONS = 256
SESSION_SECONDS = 900


ASL = "localstack.services.stepfunctions.asl"
TASKS = f"{ASL}.component.state.state_execution.state_task"
# the modules that call boto_client_for for the integrations the workflows use (each imported the name itself)
CLIENT_USERS = (f"{TASKS}.lambda_eval_utils", f"{TASKS}.service.state_task_service_aws_sdk",
                f"{TASKS}.service.state_task_service_sfn", f"{TASKS}.service.state_task_service_dynamodb",
                f"{TASKS}.service.state_task_service_events")  # fmt: skip


@hooks.on_infra_start()
@speed_only
def reuse_parses_and_clients() -> None:
    from jsonpath_ng.ext.parser import ExtentedJsonPathParser
    from jsonpath_ng.parser import JsonPathParser
    from localstack.services.stepfunctions.asl.component.common.path import result_path
    from localstack.services.stepfunctions.asl.component.eval_component import EvalComponent
    from localstack.services.stepfunctions.asl.parse.asl_parser import AmazonStateLanguageParser, Preprocessor
    from localstack.services.stepfunctions.asl.utils import boto_client, json_path

    service_tasks = importlib.import_module(f"{TASKS}.service.state_task_service")
    parse_afresh = AmazonStateLanguageParser.parse
    tree_of = lru_cache(maxsize=DISTINCT_DEFINITIONS)(lambda definition: parse_afresh(definition)[1])
    program_of = lru_cache(maxsize=DISTINCT_DEFINITIONS)(lambda definition: Preprocessor().visit(tree_of(definition)))

    def parse(definition: str) -> tuple[Any, Any]:
        return program_of(definition), tree_of(definition)

    AmazonStateLanguageParser.parse = staticmethod(parse)
    EvalComponent.heap_key = property(Locked(EvalComponent.heap_key.fget))
    json_path.parse = lru_cache(maxsize=DISTINCT_PATHS)(OneParser(ExtentedJsonPathParser))
    result_path.parse = lru_cache(maxsize=DISTINCT_PATHS)(OneParser(JsonPathParser))
    operation_of = lru_cache(maxsize=DISTINCT_OPERATIONS)(service_tasks.StateTaskService._get_boto_operation_model)
    service_tasks.StateTaskService._get_boto_operation_model = staticmethod(operation_of)
    reused = ClientsPerSession(boto_client.boto_client_for)
    for name in CLIENT_USERS:
        importlib.import_module(name).boto_client_for = reused


class Locked:
    """A function called by one thread at a time."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        with self.lock:
            return self.function(*args)


class OneParser(Locked):
    """A jsonpath_ng parser made once (its ply tables built once), parsing one path at a time (a ply parser keeps
    its stacks on itself while it parses)."""

    def __init__(self, kind: Any) -> None:
        super().__init__(kind().parse)


class ClientsPerSession:
    """`boto_client_for(service, region, state_credentials)`, with each client reused for SESSION_SECONDS."""

    def __init__(self, make: Any) -> None:
        self.make = make
        self.clients: dict[tuple[str, str, str], tuple[float, Any]] = {}
        self.lock = threading.Lock()

    def __call__(self, service: str, region: str, state_credentials: Any) -> Any:
        key = (service, region, state_credentials.role_arn)
        now = time.monotonic()
        with self.lock:
            made, client = self.clients.get(key, (0.0, None))
        if client is None or now - made > SESSION_SECONDS:
            client = self.make(service=service, region=region, state_credentials=state_credentials)
            with self.lock:
                self.clients[key] = (now, client)
        return client
