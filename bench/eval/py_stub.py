#!/usr/bin/env python3
"""Fallback OpenAI-compatible stub server for bench/eval (standard library, asyncio).

    python3 bench/eval/py_stub.py --port N --latency-ms 50 --mode calc

Same command line and first stdout line (`http://127.0.0.1:PORT/v1`) as the Rust example
`cargo run -p modelgate-eval --example stub_server`, which run.sh prefers; this one is used
only when that example is not built (it was not merged when docs/benchmarks/eval.md was
measured). It answers `POST .../chat/completions` after the latency with "The answer is N."
where N is the value of the question's `A op B + C` (the shape make_dataset.py writes), and
400 to anything else. Listens on 127.0.0.1 only; requests are capped at 1 MiB.
"""
import argparse
import asyncio
import json
import re

EXPR = re.compile(r"(\d{1,6}) ([-+*]) (\d{1,6}) \+ (\d{1,6})")
MAX_BODY = 1 << 20


def answer(body):
    req = json.loads(body)
    content = req["messages"][-1]["content"]
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    m = EXPR.search(content)
    if not m:
        return req.get("model", "stub"), "I don't know."
    a, op, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
    value = {"+": a + b, "-": a - b, "*": a * b}[op] + c
    return req.get("model", "stub"), f"The answer is {value}."


def response(status, payload):
    body = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request"}[status]
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def handle(reader, writer, latency):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length: *(\d+)", head)
            length = int(m[1]) if m else 0
            if length > MAX_BODY:
                return
            body = await reader.readexactly(length)
            try:
                if b"/chat/completions " not in head.split(b"\r\n", 1)[0]:
                    raise ValueError("not a chat completion")
                model, text = answer(body)
                await asyncio.sleep(latency)
                out = response(200, {
                    "id": "chatcmpl-stub", "object": "chat.completion", "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                out = response(400, {"error": {"message": "bad request", "type": "invalid"}})
            writer.write(out)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--mode", choices=["calc"], default="calc")
    args = p.parse_args()
    latency = args.latency_ms / 1000
    server = await asyncio.start_server(lambda r, w: handle(r, w, latency), "127.0.0.1",
                                        args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
