"""The `/stato` route: the operator's status page, rendered on each request and never
cached (it shows the store as it is now)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response


def status_route(page: Callable[[], bytes]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering with `page()` as HTML."""

    async def answer(request: Request) -> Response:
        body = await run_in_threadpool(page)
        headers = {"Cache-Control": "no-store"}
        content = b"" if request.method == "HEAD" else body
        return Response(content, headers=headers, media_type="text/html; charset=utf-8")

    return answer
