"""A small local model, replayed: `academichub ask` against the OpenAI stand-in (tests/openai_standin.py)
made to behave like llama.cpp's `llama-server` running SmolLM2-135M / Gemma-3-270M on a CPU (issue 16):
the first token after a long prompt read, then a few tokens a second, a 2,048-token context.

Prints what a user waits for (time to the first token, total), what was sent (sources, the stand-in's
prompt token count against the context) and what came back (mode, notices), for the settings a small
model needs and for a context window left at its default.

    python -m bench.local_model --home DATA_DIR [--first-token 15] [--tokens-per-second 10] [--context 2048]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from assistant.compose.answer import Answerer
from assistant.compose.llm import get_llm
from assistant.core.settings import Settings
from assistant.engine import build_retriever
from bench.report import emit_json

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from openai_standin import OpenAIStandin, Reply, prompt_tokens

QUESTION = "How can machine unlearning remove knowledge from large language models?"
REPLY = (
    "Machine unlearning removes the influence of specific training data from a trained model without "
    "retraining it from scratch [1]. Divergence decoding unlearns at inference time by contrasting the model "
    "with auxiliary models [2]. Evaluating an unlearning method requires repeating training, unlearning and "
    "evaluation across several seeds, which is expensive [3]."
)


def run(
    home: Path, first_token: float, per_second: float, context: int, window: int, max_tokens: int
) -> dict[str, object]:
    with OpenAIStandin(
        default=Reply(REPLY, first_token_delay=first_token, token_delay=1.0 / per_second),
        context_size=context,
        model="SmolLM2-135M-Instruct",
    ) as server:
        settings = Settings(
            _env_file=None,
            storage={"home": home},
            llm={
                "base_url": server.base_url,
                "model": "SmolLM2-135M-Instruct",
                "context_window": window,
                "max_tokens_answer": max_tokens,
            },
        )
        answerer = Answerer(settings, build_retriever(settings), get_llm(settings))
        answerer.retriever.warm_up()
        first: list[float] = []
        start = time.monotonic()
        answer = answerer.answer(
            QUESTION, on_token=lambda _: first.append(time.monotonic() - start) if not first else None
        )
        total = time.monotonic() - start
        sent = [prompt_tokens(r.messages) for r in server.requests]
    return {
        "context_window_setting": window,
        "max_tokens_answer": max_tokens,
        "server_context": context,
        "first_token_s": round(first[0], 1) if first else None,
        "total_s": round(total, 1),
        "requests": len(sent),
        "prompt_tokens_per_request": sent,
        "sources_listed": len(answer.sources),
        "mode": answer.mode,
        "notices": answer.notices,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="An ingested data directory.")
    parser.add_argument("--first-token", type=float, default=15.0, help="Seconds to the first token.")
    parser.add_argument("--tokens-per-second", type=float, default=10.0)
    parser.add_argument("--context", type=int, default=2048, help="The server's context (llama.cpp -c).")
    args = parser.parse_args()
    rows = [
        run(args.home, args.first_token, args.tokens_per_second, args.context, window, max_tokens)
        for window, max_tokens in ((args.context, 400), (16384, 600))
    ]
    emit_json({"question": QUESTION, "runs": rows}, None)


if __name__ == "__main__":
    main()
