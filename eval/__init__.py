"""`make eval`: the real model (gpt-4o-mini through livekit-plugins-openai) in the main safety scenarios, judged
with LiveKit's `judge()`. Opt-in: it needs OPENAI_API_KEY, costs tokens, and never runs in `make test` or CI.
docs/eval.md says what it proves and what it doesn't."""
