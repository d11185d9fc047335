"""An MCP client (the official Python SDK) using the gateway's tools over streamable HTTP.

    .venv/bin/python examples/mcp_client.py --base http://127.0.0.1:8080 --key lgw_... \
        --call get_customer '{"customer_number": "10000001"}'
"""

from __future__ import annotations

import argparse
import asyncio
import json

try:
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
except ImportError as missing:  # run with a Python that lacks the SDK
    raise SystemExit(
        f"{missing}: run this with the project's Python (make setup, then"
        " .venv/bin/python examples/mcp_client.py) or pip install mcp"
    ) from None


async def check_access(base: str, headers: dict[str, str]) -> None:
    """Ask once over plain HTTP, so that a gateway that is not there or refuses the key is one
    line (the MCP SDK reports either as a nested exception group)."""
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        try:
            response = await http.get(f"{base}/v1/tools")
        except httpx2.TransportError as exc:
            raise SystemExit(
                f"cannot reach the gateway at {base} ({exc}): start it (make demo) or pass --base"
            ) from None
    if response.status_code != 200:
        try:
            error = response.json()["error"]
            text = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            text = response.text[:200]
        hint = (
            " (--key takes an API key: legacy-gateway keys create)"
            if response.status_code == 401
            else ""
        )
        raise SystemExit(f"the gateway refused: {response.status_code} {text}{hint}")


async def run(base: str, key: str | None, call: list[str] | None) -> None:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    await check_access(base, headers)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        listing = await session.list_tools()
        for tool in listing.tools:
            hints = tool.annotations
            kind = "read" if hints and hints.read_only_hint else "write"
            print(f"tool {tool.name} ({kind}): {tool.description}")
        if call:
            name, arguments = call[0], json.loads(call[1] if len(call) > 1 else "{}")
            result = await session.call_tool(name, arguments)
            state = "error" if result.is_error else "ok"
            print(f"call {name}: {state}")
            print(json.dumps(result.structured_content, default=str)[:300])
            if result.meta:
                print(f"call id {result.meta['legacy_gateway']['call_id']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8080")
    parser.add_argument("--key")
    parser.add_argument("--call", nargs="+", metavar=("TOOL", "ARGS"))
    args = parser.parse_args()
    asyncio.run(run(args.base, args.key, args.call))


if __name__ == "__main__":
    main()
