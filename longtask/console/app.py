"""The console's web app: Starlette with server-rendered Jinja2 templates and a few lines of plain JavaScript for
live updates (static/console.js), no build step. Starlette because it is small, typed and ASGI (uvicorn serves it);
templates because every page is a view of records the client already reads.

Safety: `longtask console` binds 127.0.0.1 only; every request's Host must be 127.0.0.1 or localhost (against DNS
rebinding); every state-changing request carries the console's per-session token (against CSRF)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..api import checked, execution_input
from ..client import LongTaskClient
from ..common.statuses import ACTIVE, FINAL, HOLDING, LIVE
from ..errors import LongTaskError, RunNotFound, UserError
from .views import Views, cost_by_day_and_queue, duration, timeline

HERE = Path(__file__).parent
STATUSES = (*ACTIVE, *FINAL)
START_OPTIONS = ("queue", "priority", "timeout_seconds", "retries", "spot", "instance_types")


def create_app(client: LongTaskClient, token: str | None = None) -> Starlette:
    """The console of the client's stack; `token`: the session's CSRF token (a new one by default)."""
    views = Views(client)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    session_token = token or secrets.token_urlsafe(32)

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        shared = {"stack": client.target.stack_name, "token": session_token, "duration": duration}
        return templates.TemplateResponse(request, name, {**shared, **context}, status_code=status_code)

    def record_of(run_id: str) -> dict[str, Any]:
        try:
            return client.record(run_id)
        except RunNotFound:
            raise HTTPException(404, f"no run {run_id} in stack {client.target.stack_name}") from None

    async def guarded_form(request: Request) -> dict[str, Any]:
        form = dict(await request.form())
        if not secrets.compare_digest(str(form.get("token", "")), session_token):
            raise HTTPException(403, "this form is not from this console session: reload the page and try again")
        return form

    async def runs(request: Request) -> Response:
        status, queue = request.query_params.get("status", ""), request.query_params.get("queue", "")
        return page(request, "runs.html", runs=views.runs(status, queue), statuses=STATUSES, status=status,
                    queue=queue)  # fmt: skip

    async def runs_rows(request: Request) -> Response:
        status, queue = request.query_params.get("status", ""), request.query_params.get("queue", "")
        return page(request, "runs_rows.html", runs=views.runs(status, queue))

    async def run(request: Request) -> Response:
        record = record_of(request.path_params["run_id"])
        return page(request, "run.html", record=record, graph=views.graph(record), timeline=timeline(record),
                    live=record.get("status") in LIVE, holding=record.get("status") == HOLDING,
                    ended=record.get("status") in FINAL, bucket=client.stack.bucket)  # fmt: skip

    async def run_part(request: Request) -> Response:
        record = record_of(request.path_params["run_id"])
        return page(request, "run_part.html", record=record, graph=views.graph(record), timeline=timeline(record))

    async def log(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        offset = int(request.query_params.get("offset", "0"))
        ended = client.is_final(run_id)  # before the read: an end seen here has its whole log read after it
        text = client.log_since(run_id, offset)
        return JSONResponse({"text": text.decode(errors="replace"), "offset": offset + len(text), "ended": ended})

    async def whole_log(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        record_of(run_id)
        return PlainTextResponse(client.log_since(run_id, 0).decode(errors="replace"))

    async def abort(request: Request) -> Response:
        await guarded_form(request)
        run_id = request.path_params["run_id"]
        record_of(run_id)
        client.abort(run_id)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    async def release(request: Request) -> Response:
        await guarded_form(request)
        run_id = request.path_params["run_id"]
        try:
            client.release(run_id)
        except UserError as error:
            raise HTTPException(409, str(error)) from None
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    async def start_form(request: Request) -> Response:
        return page(request, "start.html", values={}, errors={})

    async def start(request: Request) -> Response:
        form = await guarded_form(request)
        upload = form.pop("upload", None)
        if isinstance(upload, UploadFile) and upload.filename:  # a script file: staged as a large script is
            form["script"] = (await upload.read()).decode(errors="replace")
        errors, run_input = _input_of(form)
        if errors:
            return page(request, "start.html", 400, values=form, errors=errors)
        run_id = client.start(run_input)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    async def queues(request: Request) -> Response:
        return page(request, "queues.html", queues=client.queue_views())

    async def cost(request: Request) -> Response:
        by_day, by_queue = cost_by_day_and_queue(views.all_runs())
        return page(request, "cost.html", by_day=by_day, by_queue=by_queue, most=max(by_day.values(), default=0))

    async def not_found(request: Request, error: Exception) -> Response:
        detail = getattr(error, "detail", "not found")
        return page(request, "error.html", getattr(error, "status_code", 404), message=detail)

    routes = [
        Route("/", runs), Route("/fragments/runs", runs_rows), Route("/runs/{run_id}", run),
        Route("/runs/{run_id}/part", run_part), Route("/runs/{run_id}/log", log),
        Route("/runs/{run_id}/log.txt", whole_log),
        Route("/runs/{run_id}/abort", abort, methods=["POST"]),
        Route("/runs/{run_id}/release", release, methods=["POST"]),
        Route("/start", start_form), Route("/start", start, methods=["POST"]),
        Route("/queues", queues), Route("/cost", cost),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]  # fmt: skip
    hosts = Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found}, middleware=[hosts])
    app.state.views = views
    return app


def _input_of(form: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The execution input the form gives ({field: error} when it cannot), through the launcher's own checks."""
    document: dict[str, Any] = {}
    text = str(form.get("input") or "").strip()
    if text:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            return {"input": _where_it_breaks(text, error)}, {}
        if not isinstance(document, dict):
            return {"input": f"an execution input is a JSON object, not {type(document).__name__}"}, {}
    script = str(form.get("script") or "")
    options: dict[str, Any] = {}
    for name in START_OPTIONS:
        value = form.get(name)
        if value in (None, ""):
            continue
        if name == "spot":
            options[name] = True
        elif name == "instance_types":
            options[name] = [part.strip() for part in str(value).split(",") if part.strip()]
        elif name in ("priority", "retries"):
            options[name] = int(value) if str(value).isdigit() else value
        else:
            options[name] = value
    try:
        return {}, checked(execution_input(None, script if script.strip() else None, document, options))
    except LongTaskError as error:  # next to the option it names, if the form set it; else the input or the script
        named = next((name for name in START_OPTIONS if name in options and _field_named(str(error), name)), None)
        return {named or ("input" if text else "script"): str(error)}, {}


def _field_named(message: str, name: str) -> bool:
    camel = name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
    return f" {camel}" in message or message.startswith(f"invalid input: {camel}")


def _where_it_breaks(text: str, error: json.JSONDecodeError) -> str:
    """The JSON error, with its line and a caret under where it breaks."""
    line = text.splitlines()[error.lineno - 1] if text.splitlines() else ""
    return f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}\n{line}\n{' ' * (error.colno - 1)}^"
