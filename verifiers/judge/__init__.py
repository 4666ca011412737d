"""The `judge` verifier: an LLM as judge (a generative reward model) over an
OpenAI-compatible chat-completions endpoint (vLLM, SGLang, a hosted API).

Endpoints are declared in the server's config (`judge_endpoints`: base URL, model, the
environment variable holding the key, timeout, retries) and requests name one: a
request never carries a URL, so it cannot make the server call an address of its
choosing. The rubric is a template (`{{response}}`, `{{reference}}`, the reference's
keys); the reply's score (`Score: N`, a JSON `{"score": N}` or a verdict label) is
mapped to [0, 1]. A judge that cannot be reached or whose reply has no score gives
no verdict (`error`), after retries. Verdicts are cached only at temperature 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest, VerifierError
from rewardgate.verifiers.judge import prompt
from rewardgate.verifiers.judge.client import ChatClient, RetryableError, backoff_s
from rewardgate.verifiers.judge.endpoint import JudgeEndpoint
from rewardgate.verifiers.judge.models import DEFAULT_RUBRIC, JudgeOptions, JudgeReference
from rewardgate.verifiers.judge.scoring import read_label, read_score, to_reward

__all__ = ["DEFAULT_RUBRIC", "JudgeEndpoint", "JudgeOptions", "JudgeReference", "JudgeVerifier"]

MAX_SHOWN_CHARS = 2000


class JudgeVerifier(Verifier[JudgeReference, JudgeOptions]):
    name = "judge"
    version = "1"
    description = (
        "LLM as judge over a server-configured OpenAI-compatible endpoint: rubric template, "
        "score parsing, retries and timeouts; cached only at temperature 0."
    )
    Reference: ClassVar[type[BaseModel]] = JudgeReference
    Options: ClassVar[type[VerifierOptions]] = JudgeOptions
    # Needs one endpoint configured (judge_endpoints) that scores as the response says:
    # the test suite's tests/verifiers/judge_server.py.
    conformance = Conformance(
        full=Case("SCORE=10", "42"),
        zero=Case("SCORE=0", "42"),
        invalid=Case("SCORE=10", "42", {"score_pattern": "("}),  # not a regex
    )

    _chat: ChatClient | None = None

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[JudgeReference, JudgeOptions]:
        prepared: Prepared[JudgeReference, JudgeOptions] = super().prepare(reference, options)
        self.endpoint(prepared.options)
        prompt.check(prepared.options.rubric, self._reference(prepared.reference))
        try:
            re.compile(prepared.options.score_pattern)
        except re.error as exc:
            raise InvalidRequest(f"options.score_pattern: not a regex: {exc}") from None
        return prepared

    def endpoint(self, options: JudgeOptions) -> JudgeEndpoint:
        """The named endpoint (or the only one); never a URL from the request."""
        endpoints: Mapping[str, JudgeEndpoint] = self.env.judge_endpoints
        name = options.endpoint
        if name is None and len(endpoints) == 1:
            name = next(iter(endpoints))
        if name is None or name not in endpoints:
            known = ", ".join(sorted(endpoints)) or "none (setting judge_endpoints)"
            wanted = "name one" if name is None else f"no endpoint {name!r}"
            raise InvalidRequest(f"options.endpoint: {wanted}; this server's endpoints: {known}")
        return endpoints[name]

    @staticmethod
    def _reference(reference: JudgeReference) -> Any:
        return None if reference.root == {} else reference.root

    def budget_s(self, reference: JudgeReference, options: JudgeOptions, default_s: float) -> float:
        """Every attempt may use the endpoint's timeout, plus the backoff between them."""
        if options.timeout_s is not None:
            return options.timeout_s
        endpoint = self.endpoint(options)
        attempts = endpoint.max_retries + 1
        return attempts * endpoint.timeout_s + sum(backoff_s(i) for i in range(attempts)) + 1.0

    def cacheable_for(self, reference: JudgeReference, options: JudgeOptions) -> bool:
        return options.temperature == 0

    def judge(self, response: str, reference: JudgeReference, options: JudgeOptions) -> Verdict:
        endpoint = self.endpoint(options)
        values = prompt.variables(response, self._reference(reference))
        messages = [{"role": "system", "content": options.system}] if options.system else []
        messages.append({"role": "user", "content": prompt.render(options.rubric, values)})
        body: dict[str, Any] = {
            "model": endpoint.model,
            "messages": messages,
            "temperature": options.temperature,
            "max_tokens": options.max_tokens or endpoint.max_tokens,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        if self._chat is None:
            self._chat = ChatClient()
        failures: list[str] = []
        for attempt in range(endpoint.max_retries + 1):
            try:
                text = self._chat.complete(endpoint, body)
            except RetryableError as exc:
                failures.append(exc.message)
                if attempt < endpoint.max_retries:
                    self._chat.sleep_before_retry(attempt, exc)
                continue
            verdict = _verdict(text, options)
            if verdict is not None:
                verdict.details["attempts"] = attempt + 1
                return verdict
            failures.append(f"no score in the judge's reply: {text[:200]!r}")
        raise VerifierError(
            f"judge gave no verdict after {len(failures)} attempt(s): {'; '.join(failures)}"
        )


def _verdict(text: str, options: JudgeOptions) -> Verdict | None:
    shown = text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."
    if options.labels is not None:
        found = read_label(text, options.labels)
        if found is None:
            return None
        label, value = found
        return Verdict(value, details={"label": label, "judgement": shown})
    score = read_score(text, options.score_pattern)
    if score is None:
        return None
    reward = to_reward(score, options.score_range)
    return Verdict(reward, details={"score": score, "judgement": shown})
