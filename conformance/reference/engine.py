"""The deterministic generation engine behind the reference server.

It is protocol-neutral: the OpenAI and Anthropic endpoints turn their requests into a
:class:`Prompt` and render the :class:`Generation` in their own wire format.

Behaviour (documented so that the suite's semantic probes work against it and, with the same
phrasing, against real models):
- a user message containing ``Reply with exactly: X`` makes the reply ``X`` (up to end of line);
- otherwise the reply is a sentence of vocabulary words chosen by a PRNG seeded from the
  request (messages, seed and choice index), so equal requests give equal replies;
- the reply is cut at the first stop sequence (finish ``stop``) and at the token cap (``length``);
- with tools, it calls them per ``tool_choice`` (auto calls a tool whose name words appear in
  the last user message; proper nouns in that message become parallel calls);
- with a JSON response format, the reply is a JSON document (an instance of the given schema).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from conformance.reference import tokenizer

EXACT = re.compile(r"reply with exactly:\s?(?P<text>[^\n]*)", re.IGNORECASE)
PROPER_NOUN = re.compile(r"\b([A-Z][a-z]{2,})\b")
_NOT_NOUNS = {"What", "Use", "Call", "Reply", "Please", "The", "Tell", "Give", "Say", "Get", "Which", "How", "When"}


@dataclass
class ToolSpec:
    name: str
    parameters: dict[str, Any] | None


@dataclass
class Prompt:
    texts: list[str]  # every text of the conversation, in order (for token counting)
    last_user_text: str
    last_role: str  # role of the last message (user, assistant, tool)
    last_tool_result: str | None = None
    seed: int | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_mode: str = "auto"  # auto | none | required | forced
    forced_tool: str | None = None
    parallel_tools: bool = True
    json_mode: str | None = None  # None | object | schema
    json_schema: dict[str, Any] | None = None
    n: int = 1
    top_logprobs: int = 0
    reasoning: bool = False
    verbose_tools: int = 0  # words of notes the model writes into each tool call's arguments (tolerance verbose_model)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass
class Choice:
    index: int
    text: str
    tokens: list[int]
    finish: str  # stop | length | tool_calls | stop_sequence
    stop_sequence: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str | None = None
    reasoning_tokens: int = 0
    logprobs: list[dict[str, Any]] | None = None


@dataclass
class Generation:
    choices: list[Choice]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        total = 0
        for choice in self.choices:
            total += len(choice.tokens) + choice.reasoning_tokens
            total += sum(tokenizer.count(c.name) + tokenizer.count(c.arguments) for c in choice.tool_calls)
        return total


def prompt_tokens(texts: list[str]) -> int:
    """Tokens of the prompt: each message's text plus a fixed per-message framing overhead."""
    return sum(tokenizer.count(text) + 4 for text in texts) + 2


def _rng(prompt: Prompt, index: int, salt: str = "") -> random.Random:
    digest = hashlib.sha256(
        json.dumps([prompt.texts, prompt.seed, index, salt], sort_keys=True).encode()
    ).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _sentence(rng: random.Random, words: int) -> str:
    vocab = [w for w in tokenizer._WORDS if w.isalpha()]
    picked = [rng.choice(vocab) for _ in range(words)]
    return " ".join(picked).capitalize() + "."


def generate(prompt: Prompt) -> Generation:
    choices = [_choice(prompt, i) for i in range(max(1, prompt.n))]
    return Generation(choices=choices, prompt_tokens=prompt_tokens(prompt.texts))


def _choice(prompt: Prompt, index: int) -> Choice:
    calls = _tool_calls(prompt, index)
    if calls:
        finish = "tool_calls"
        if prompt.verbose_tools:
            calls, finish = _verbose(calls, prompt, index)
        return Choice(index=index, text="", tokens=[], finish=finish, tool_calls=calls)
    text = _target_text(prompt, index)
    finish = "stop"
    stop_sequence = None
    cut = None
    for stop in prompt.stop:
        if stop and stop in text:
            position = text.index(stop)
            if cut is None or position < cut:
                cut, stop_sequence = position, stop
    if cut is not None:
        text = text[:cut]
        finish = "stop_sequence"
    tokens = tokenizer.encode(text)
    if prompt.max_tokens is not None and len(tokens) > prompt.max_tokens:
        tokens = tokens[: max(0, prompt.max_tokens)]
        text = tokenizer.decode(tokens)
        finish, stop_sequence = "length", None
    reasoning = None
    reasoning_tokens = 0
    if prompt.reasoning:
        reasoning = "Thinking about it: " + _sentence(_rng(prompt, index, "reasoning"), 8)
        reasoning_tokens = tokenizer.count(reasoning)
    choice = Choice(index, text, tokens, finish, stop_sequence, reasoning=reasoning, reasoning_tokens=reasoning_tokens)
    if prompt.top_logprobs >= 0:
        choice.logprobs = logprobs_for(tokens, prompt.top_logprobs, _rng(prompt, index, "logprobs"))
    return choice


def _verbose(calls: list[ToolCall], prompt: Prompt, index: int) -> tuple[list[ToolCall], str]:
    """A verbose model: notes before the arguments proper; a token cap cuts the calls mid-JSON."""
    rng = _rng(prompt, index, "verbose")
    budget = prompt.max_tokens
    out: list[ToolCall] = []
    for call in calls:
        notes = _sentence(rng, prompt.verbose_tools)
        values = json.loads(call.arguments)
        schema = next((t.parameters for t in prompt.tools if t.name == call.name), None) or {}
        if schema.get("additionalProperties") is False:  # a strict schema: the notes go into a string argument
            key = next((k for k, v in (schema.get("properties") or {}).items() if isinstance(v, dict) and v.get("type") == "string"), None)
            if key is None:
                out.append(call)
                continue
            arguments = json.dumps({key: f"{notes} {values.get(key, '')}", **{k: v for k, v in values.items() if k != key}})
        else:
            arguments = json.dumps({"notes": notes, **values})
        used = sum(tokenizer.count(c.name) + tokenizer.count(c.arguments) for c in out) + tokenizer.count(call.name)
        if budget is not None and used + tokenizer.count(arguments) > budget:
            room = max(0, budget - used)
            low, high = 0, len(arguments)
            while low < high:  # the longest prefix of the arguments that fits the room left
                middle = (low + high + 1) // 2
                if tokenizer.count(arguments[:middle]) <= room:
                    low = middle
                else:
                    high = middle - 1
            out.append(ToolCall(id=call.id, name=call.name, arguments=arguments[:low]))
            return out, "length"
        out.append(ToolCall(id=call.id, name=call.name, arguments=arguments))
    return out, "tool_calls"


def _target_text(prompt: Prompt, index: int) -> str:
    rng = _rng(prompt, index)
    if prompt.last_role == "tool" and prompt.last_tool_result is not None:
        return f"The tool returned: {prompt.last_tool_result}"
    match = EXACT.search(prompt.last_user_text)
    if prompt.json_mode == "schema":
        return json.dumps(instance_of(prompt.json_schema or {}, rng, prompt.last_user_text))
    if prompt.json_mode == "object":
        answer = match.group("text").strip() if match else _sentence(rng, 6)
        return json.dumps({"answer": answer})
    if match:
        return match.group("text").rstrip()
    return _sentence(rng, rng.randint(10, 18))


def _tool_calls(prompt: Prompt, index: int) -> list[ToolCall]:
    if not prompt.tools or prompt.tool_mode == "none" or prompt.last_role == "tool":
        return []
    by_name = {t.name: t for t in prompt.tools}
    if prompt.tool_mode == "forced":
        chosen = by_name.get(prompt.forced_tool or "")
        if chosen is None:
            return []
    else:
        text = prompt.last_user_text.lower()
        chosen = next((t for t in prompt.tools if t.name.lower() in text), None)
        if chosen is None:
            chosen = next(
                (t for t in prompt.tools if any(w and w in text for w in t.name.lower().split("_") if len(w) > 3)),
                None,
            )
        if chosen is None:
            if prompt.tool_mode != "required":
                return []
            chosen = prompt.tools[0]
    nouns = [n for n in dict.fromkeys(PROPER_NOUN.findall(prompt.last_user_text)) if n not in _NOT_NOUNS]
    values = nouns[:4] or [None]
    if not prompt.parallel_tools:
        values = values[:1]
    calls = []
    for position, value in enumerate(values):
        rng = _rng(prompt, index, f"tool{position}")
        arguments = instance_of(chosen.parameters or {"type": "object", "properties": {}}, rng, value or "")
        digest = hashlib.sha256(f"{prompt.texts}{index}{position}".encode()).hexdigest()[:24]
        calls.append(ToolCall(id=f"call_{digest}", name=chosen.name, arguments=json.dumps(arguments)))
    return calls


def instance_of(schema: dict[str, Any], rng: random.Random, hint: str = "") -> Any:
    """A small instance that validates against a (simple) JSON Schema."""
    if not isinstance(schema, dict):
        return {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance_of(schema[key][0], rng, hint)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: instance_of(sub, rng, hint) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [instance_of(schema.get("items") or {"type": "string"}, rng, hint) for _ in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", 1))
        return max(low, min(int(schema.get("maximum", low + 9)), low + rng.randint(0, 9)))
    if kind == "number":
        low = float(schema.get("minimum", 0))
        return low + 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    value = hint or rng.choice(["alpha", "beta", "gamma"])
    min_len = int(schema.get("minLength", 0))
    return value + "x" * max(0, min_len - len(value))


def logprobs_for(tokens: list[int], top: int, rng: random.Random) -> list[dict[str, Any]]:
    """Per-token logprobs: the chosen token is the most likely; alternatives are sorted."""
    vocab_size = len(tokenizer.vocabulary())
    out = []
    for token in tokens:
        chosen = -round(rng.uniform(0.0, 0.9), 6)
        alternatives = []
        used = {token}
        logprob = chosen
        while len(alternatives) < max(0, top - 1):
            other = rng.randrange(vocab_size)
            if other in used:
                continue
            used.add(other)
            logprob = round(logprob - rng.uniform(0.1, 2.0), 6)
            alternatives.append(_entry(other, logprob))
        entry = _entry(token, chosen)
        entry["top_logprobs"] = ([_entry(token, chosen)] + alternatives)[:top] if top else []
        out.append(entry)
    return out


def _entry(token: int, logprob: float) -> dict[str, Any]:
    return {"token": tokenizer.token_text(token), "logprob": logprob, "bytes": list(tokenizer.token_bytes(token))}

