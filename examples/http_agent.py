"""A plain-HTTP agent loop: list the tools this key may call, then call each with its example.

    .venv/bin/python examples/http_agent.py --base http://127.0.0.1:8080 [--key lgw_...]

This is what any agent framework does under the hood: read the JSON Schemas from
``GET /v1/tools``, pick a tool and arguments (here: the first example the integrator gave),
call it with context for the record, and read the result or the error's code.
"""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

try:
    import httpx
except ImportError as missing:  # run with a Python that lacks httpx
    raise SystemExit(
        f"{missing}: run this with the project's Python (make setup, then"
        " .venv/bin/python examples/http_agent.py) or pip install httpx"
    ) from None


def refusal(response: httpx.Response) -> str:
    """The gateway's error, in one line: status, code and message."""
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
    return f"{response.status_code} {text}{hint}"


def list_tools(client: httpx.Client, **params: str) -> Any:
    """``GET /v1/tools``; a gateway that is not there or refuses is one line, not a traceback."""
    try:
        response = client.get("/v1/tools", params=params)
    except httpx.TransportError as exc:
        raise SystemExit(
            f"cannot reach the gateway at {client.base_url} ({exc}): start it (make demo)"
            " or pass --base"
        ) from None
    if response.status_code != 200:
        raise SystemExit(f"the gateway refused to list the tools: {refusal(response)}")
    return response.json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8080")
    parser.add_argument("--key", help="API key (not needed in the demo's open mode)")
    parser.add_argument("--tools", nargs="*", help="only these tools")
    args = parser.parse_args()
    headers = {"authorization": f"Bearer {args.key}"} if args.key else {}
    session = str(uuid.uuid4())
    with httpx.Client(base_url=args.base, headers=headers, timeout=30) as client:
        tools = list_tools(client)["tools"]
        print(f"{len(tools)} tool(s) visible to this key")
        for step, tool in enumerate(tools, 1):
            if args.tools and tool["name"] not in args.tools:
                continue
            examples = tool["input_schema"].get("examples") or [{}]
            if tool["effect"] == "write":
                print(f"- {tool['name']}: a write; previewing only (dry run)")
            answer = client.post(
                f"/v1/tools/{tool['name']}/call",
                json={
                    "arguments": examples[0],
                    "context": {"session_id": session, "step": step,
                                "reasoning": f"trying {tool['name']} with its example"},
                    "dry_run": tool["effect"] == "write",
                },
            )  # fmt: skip
            body = answer.json()
            if "error" in body:
                print(
                    f"- {tool['name']}: error {body['error']['code']}: {body['error']['message']}"
                )
                continue
            print(
                f"- {tool['name']} -> {answer.status_code} {body['status']}, call {body['call_id']}"
            )
            print("  " + json.dumps(body["result"], default=str)[:200])


if __name__ == "__main__":
    main()
