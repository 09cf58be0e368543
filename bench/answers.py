"""How much of a model's answer is checked: a fixed set of questions asked through the real answer path
(retrieval, prompt, streaming, the sentence-level support check, the decision rule), and per answer the
sentences the model wrote, the share supported by what they cite, citations, echoes and fallbacks.

By default the model is the OpenAI stand-in (tests/openai_standin.py) replaying, per question, one of the
replies real small models sent in issue 25's probe (llama.cpp, SmolLM2-135M / Gemma-3-270M), rebuilt on the
sources the question retrieves. `--base-url` asks any OpenAI-compatible server instead. `--extractive N`
also runs the check on N extractive answers (quoted sentences: every one should be kept).

    python -m bench.answers [--home DATA_DIR] [--base-url http://127.0.0.1:8080/v1 --model NAME]
        [--context 2048] [--extractive 20] [--output result.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant.compose.answer import Answerer
from assistant.compose.citations import cited_numbers
from assistant.compose.llm import get_llm
from assistant.compose.support import SupportJudge, SupportReport, check_text
from assistant.core.settings import Settings, get_settings
from assistant.engine import build_retriever
from assistant.store.embedding import Embedder
from bench.report import run_and_report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from openai_standin import RECORDED, OpenAIStandin, RecordedRequest, Reply

# One question per recorded reply, in order (the bundled sample's papers answer each of them).
QUESTIONS = [
    "How does collective switched motion speed up sparse Ising optimization?",
    "How are multimodal large language models made to unlearn?",
    "Which multimodal datasets and models exist for plankton ecosystems?",
    "How can machine unlearning remove knowledge from large language models?",
    "How is precipitation nowcasting done with rectified flow transformers?",
    "How can EEG foundation models learn continually across BCI tasks?",
    "How well do LLM judges agree, and what should be reported?",
]

# Questions on the first 60 papers of the bundled sample (the tests' small index) for the extractive check.
EXTRACTIVE_QUESTIONS = [
    "How does collective switched motion speed up sparse Ising optimization?",
    "How can diffusion models refine generative video super-resolution without training?",
    "How are dexterous bimanual interactions with two objects generated?",
    "Can local differential privacy with correlated noise match central DP?",
    "How can on-device generative AI produce natural language alerts for visual monitoring?",
    "How are lung nodules synthesised with latent diffusion models?",
    "How do agentic LLMs decide which memories to keep?",
    "Does fine-tuning improve information conveyance in language models?",
    "What are foundation VAEs for 3D CT reconstruction?",
    "How can machine unlearning remove knowledge from large language models?",
    "How do vision-language models ground collisions for safe human-robot collaboration?",
    "How is precipitation nowcasting done with rectified flow transformers?",
    "How is SAM used for mitochondria instance segmentation?",
    "How do vision-language models detect hateful memes?",
    "How can semantic speech tokenizers perceive general audio?",
    "Can dents and gouges compromise hydrogen transport pipelines?",
    "How does temporal graph retrieval support knowledge-grounded generation?",
    "What is a universal quantum transformer?",
    "Which multimodal datasets and models exist for plankton ecosystems?",
    "How well do LLM judges agree, and what should be reported?",
    "How can language models be coupled with physics-based simulation for materials synthesis?",
    "How can EEG foundation models learn continually across BCI tasks?",
    "How are protein-protein interaction sites predicted?",
    "How are historical knowledge graphs built with BERT and graph neural networks?",
]


def extractive_report(answerer: Answerer, question: str) -> SupportReport | None:
    """The support check run on the extractive answer to `question` (None when nothing was found)."""
    answer = answerer.answer(question, use_llm=False)
    if not answer.found:
        return None
    judge = SupportJudge(
        {s.number: s.paper for s in answer.sources}, answerer.bank, answerer.settings.compose.min_support
    )
    return check_text(judge, answer.text)


def _recorded_responder() -> Any:
    """The stand-in's replies: the condense step is never asked (no history); answers take the recorded
    replies in order, one per question."""
    cases = dict(zip(QUESTIONS, RECORDED.values(), strict=True))

    def respond(request: RecordedRequest) -> Reply:
        text = request.text()
        make = next((m for q, m in cases.items() if q in text), None)
        return make(request) if make else Reply("I could not find this in the indexed papers.")

    return respond


def _row(question: str, case: str, answer: Any) -> dict[str, Any]:
    check = answer.check
    return {
        "question": question,
        "reply": case,
        "mode": answer.mode,
        "fallback": answer.mode == "extractive",
        "sentences": len(check.checks) if check else 0,
        "supported": check.supported if check else 0,
        "supported_share": round(check.share, 3) if check else None,
        "echoes": check.count("echo") + check.echo_lines if check else 0,
        "not_counted": len(check.ignored) if check else 0,
        "citations": len(cited_numbers(answer.text)),
        "shown_as_model_answer": answer.mode == "llm" and answer.found,
        "notices": list(answer.notices),
        "verdicts": check.to_dict()["sentences"] if check else [],
    }


def run(args: argparse.Namespace, console: Console, embedder: Embedder | None = None) -> dict[str, Any]:
    """Ask every question (and check `args.extractive` extractive answers); `embedder`: one already
    loaded (the tests' session model), else the index's."""
    base = get_settings()
    home = args.home or base.storage.home
    standin: OpenAIStandin | None = None
    if args.base_url:
        url, model, cases = args.base_url, args.model or base.llm.model, ["(server)"] * len(QUESTIONS)
    else:
        standin = OpenAIStandin(responder=_recorded_responder(), model="recorded").start()
        url, model, cases = standin.base_url, "recorded", list(RECORDED)
    try:
        settings = Settings(
            _env_file=None,
            storage={"home": home},
            llm={
                "base_url": url,
                "model": model,
                "context_window": args.context,
                "max_retries": 0,
                "timeout_seconds": args.timeout,
            },
        )
        answerer = Answerer(settings, build_retriever(settings, embedder=embedder), get_llm(settings))
        rows = []
        for question, case in zip(QUESTIONS, cases, strict=True):
            console.print(f"[dim]asking: {question}[/]")
            rows.append(_row(question, case, answerer.answer(question, on_token=lambda _: None)))
        extractive: dict[str, Any] = {}
        if args.extractive:
            checked = kept = answered = 0
            rejected: list[dict[str, Any]] = []
            for question in EXTRACTIVE_QUESTIONS[: args.extractive]:
                report = extractive_report(answerer, question)
                if report is None:
                    continue
                answered += 1
                checked += len(report.checks)
                kept += report.supported
                rejected += [c.to_dict() for c in report.failed()]
            extractive = {"answers": answered, "sentences": checked, "kept": kept, "rejected": rejected}
    finally:
        if standin is not None:
            standin.stop()
    return {"model": model, "context_window": args.context, "answers": rows, "extractive": extractive}


def print_table(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Checked answers ({result['model']}, context {result['context_window']})")
    for column in ("reply", "mode", "sentences", "supported", "share", "echoes", "not counted", "citations"):
        table.add_column(column)
    for row in result["answers"]:
        share = row["supported_share"]
        table.add_row(
            row["reply"],
            "model (checked)" if row["shown_as_model_answer"] else "extractive fallback",
            str(row["sentences"]),
            str(row["supported"]),
            "-" if share is None else f"{share:.2f}",
            str(row["echoes"]),
            str(row["not_counted"]),
            str(row["citations"]),
        )
    console.print(table)
    extractive = result.get("extractive")
    if extractive:
        console.print(
            f"extractive answers: {extractive['answers']}, sentences checked {extractive['sentences']}, "
            f"kept {extractive['kept']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, help="An ingested data directory (default ACADEMICHUB_HOME).")
    parser.add_argument("--base-url", help="An OpenAI-compatible server (default: the recorded replies).")
    parser.add_argument("--model", help="The model name at --base-url (default ACADEMICHUB_MODEL).")
    parser.add_argument("--context", type=int, default=2048, help="The model's context window (tokens).")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="First-token wait (a loaded CPU server is slow)."
    )
    parser.add_argument("--extractive", type=int, default=20, help="Extractive answers to check (0: none).")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    raise SystemExit(run_and_report(parser.parse_args(), run, print_table))


if __name__ == "__main__":
    main()
