"""The OpenAPI 3.1 document of the app (`GET /openapi.json`), built from the request models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .models import ResumeRequest, RunRequest

__all__ = ["openapi_schema"]

_REF = "#/components/schemas/{model}"


def _schema(
    model: type[BaseModel], components: dict[str, Any], *, by_alias: bool = True
) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF, by_alias=by_alias)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema or {"type": "object"}}
    return {"description": description, "content": {"application/json": content}}


def _problem(description: str) -> dict[str, Any]:
    return _json(description, {"$ref": "#/components/schemas/Problem"})


def openapi_schema(title: str, *, ag_ui: bool, ui: bool) -> dict[str, Any]:
    """The OpenAPI document: every route, with request bodies and error responses."""
    components: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "properties": {
                "detail": {"description": "What is wrong (a string, or the invalid fields)"}
            },
            "required": ["detail"],
        }
    }
    run = _schema(RunRequest, components)
    resume = _schema(ResumeRequest, components)
    session = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
    sse = {"text/event-stream": {"schema": {"type": "string"}}}
    invalid = _problem("A malformed body: the invalid fields (loc, msg, type)")
    too_big = _problem("The body is larger than the configured limit")
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {"summary": "Health check", "responses": {"200": _json("The server is up")}}
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1")}}
        },
        "/runs": {
            "post": {
                "summary": "Run the agent (sync, stream over SSE, or in the background)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": run}}},
                "responses": {
                    "200": {
                        **_json("The run's result (sync), or its events (stream)"),
                        "content": {**_json("")["content"], **sse},
                    },
                    "202": _json("Started in the background; GET /sessions/{id} shows it"),
                    "409": _problem("The session waits for a human decision or is busy"),
                    "413": too_big,
                    "422": invalid,
                },
            }
        },
        "/sessions": {
            "get": {
                "summary": "List the sessions, most recently updated first",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": ["running", "interrupted", "done", "error", "cancelled"],
                        },
                    },
                    {"name": "tenant_id", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json("The sessions' headers"), "422": invalid},
            }
        },
        "/sessions/{session_id}": {
            "get": {
                "summary": "A session: messages, pending pause, usage and trace timeline",
                "parameters": [session],
                "responses": {"200": _json("The session"), "404": _problem("No such session")},
            },
            "delete": {
                "summary": "Delete a session (cancelling its background run)",
                "parameters": [session],
                "responses": {
                    "204": {"description": "Deleted"},
                    "404": _problem("No such session"),
                },
            },
        },
        "/sessions/{session_id}/resume": {
            "post": {
                "summary": "Resume a paused (or cancelled) session with a human decision",
                "parameters": [session],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": resume}},
                },
                "responses": {
                    "200": {
                        **_json("The continued run's result, or its events"),
                        "content": {**_json("")["content"], **sse},
                    },
                    "404": _problem("No such session"),
                    "409": _problem(
                        "The session is not paused, or another request resumed it first"
                    ),
                    "413": too_big,
                    "422": invalid,
                },
            }
        },
    }
    if ag_ui:
        paths["/ag-ui"] = {
            "post": {
                "summary": "AG-UI: RunAgentInput in, AG-UI events out (SSE)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "description": "AG-UI RunAgentInput (ag-ui-protocol 1.0)",
                                "type": "object",
                                "required": ["threadId", "runId", "messages"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "AG-UI events", "content": sse},
                    "404": _problem("Resume of an unknown thread"),
                    "409": _problem("Not paused, or busy"),
                    "413": too_big,
                    "422": invalid,
                },
            }
        }
    if ui:
        paths["/evals"] = {
            "get": {
                "summary": "The eval reports under .spine/",
                "responses": {"200": _json("name, format, bytes, modified, summary")},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"Spine agent '{title}'", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }
