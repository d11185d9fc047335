"""The gateway's tools in an OpenAI function-calling request, and a tool call dispatched back.

    .venv/bin/python examples/openai_tools.py --base http://127.0.0.1:8080 [--key lgw_...]

No model is called. It prints the Chat Completions request an application would send (the
``tools`` array comes straight from ``GET /v1/tools?format=openai``), then takes the kind of
``tool_calls`` entry a model answers with, runs it through the gateway, and prints the
``tool`` message that goes back to the model.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

try:
    import httpx
except ImportError as missing:  # run with a Python that lacks httpx
    raise SystemExit(
        f"{missing}: run this with the project's Python (make setup, then"
        " .venv/bin/python examples/openai_tools.py) or pip install httpx"
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
    parser.add_argument("--key")
    parser.add_argument("--tool", default="get_customer")
    parser.add_argument("--arguments", default='{"customer_number": "10000001"}')
    args = parser.parse_args()
    headers = {"authorization": f"Bearer {args.key}"} if args.key else {}
    with httpx.Client(base_url=args.base, headers=headers, timeout=30) as client:
        tools = list_tools(client, format="openai")
        request = {
            "model": "your-model",
            "messages": [
                {"role": "system", "content": "You help a tailor's staff with customer data."},
                {"role": "user", "content": "What is Anna Muller's balance?"},
            ],
            "tools": tools,
        }
        print("request:", json.dumps(request)[:300], "...")
        # What a model answers when it decides to use a tool:
        tool_call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": args.tool, "arguments": args.arguments},
        }
        answer = client.post(
            f"/v1/tools/{tool_call['function']['name']}/call",
            json={
                "arguments": json.loads(tool_call["function"]["arguments"]),
                "context": {"reasoning": "the user asked for a balance", "tool_call_id": "call_1"},
            },
        ).json()
        content = answer.get("result", answer.get("error"))
        message = {"role": "tool", "tool_call_id": tool_call["id"], "content": json.dumps(content)}
        print("tool message:", json.dumps(message))


if __name__ == "__main__":
    main()
