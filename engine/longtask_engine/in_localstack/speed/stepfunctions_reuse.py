"""Reuse what LocalStack's Step Functions interpreter rebuilds for every execution and every state: the definition's
parse tree and evaluation components (kept per definition text), parsed JSONPaths (one parser of each kind, one
path at a time), the API operation a Task calls (per service and action) and the workflow role's clients (for at
most SESSION_SECONDS, inside the hour an AssumeRole session lasts:
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). Each is immutable or per-evaluation state
lives elsewhere: an execution keeps its state in its own `Environment`, a retrier its counts in that environment's
heap under a key made once under a lock. A definition that does not parse still fails every time; every call is
still authorized against the role's current policies (iam_gateway.py). Runs when LocalStack starts, through the
entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import importlib
import threading
import time
from functools import lru_cache
from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only

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
