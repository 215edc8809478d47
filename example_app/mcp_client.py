"""``python -m example_app.mcp_client URL TOKEN``: the MCP SDK's client, with a bearer token.

Connects to the Streamable HTTP endpoint ``URL`` (such as
``http://127.0.0.1:8001/mcp``, :mod:`example_app.mcp_server`) with
``Authorization: Bearer TOKEN``, lists the tools and calls ``whoami`` and
``add``; prints one JSON object. Needs the ``mcp`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def bearer_client(token: str | None) -> httpx2.AsyncClient:
    """The SDK's HTTP client (its MCP timeouts) sending ``token``, if any."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return create_mcp_http_client(headers=headers)


async def session_report(url: str, token: str) -> dict[str, Any]:
    """The tools the server lists, and what ``whoami`` and ``add`` return."""
    async with (
        bearer_client(token) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        tools = await client.list_tools()
        whoami = await client.call_tool("whoami", {})
        added = await client.call_tool("add", {"a": 2, "b": 3})
        return {
            "tools": sorted(tool.name for tool in tools.tools),
            "whoami": whoami.structured_content,
            "add": added.structured_content,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app.mcp_client", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("token")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(session_report(args.url, args.token)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
