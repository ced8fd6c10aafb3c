"""What both sandboxes share in their `/_sandbox` endpoints."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class MetaStore(Protocol):
    def get_meta(self, name: str, default: Any = None) -> Any: ...

    def set_meta(self, name: str, value: Any) -> None: ...


async def faults_endpoint(store: MetaStore, request: Request) -> Response:
    """PUT sets the fault knobs, DELETE clears them; every method answers with what is in force."""
    if request.method == "PUT":
        store.set_meta("faults", await request.json())
    elif request.method == "DELETE":
        store.set_meta("faults", {})
    return JSONResponse(store.get_meta("faults", {}))
