# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). Dataset rows of a Hub or file dataset (question/answer columns).
# The script gets everything below the @webgrpo-start line; the imports above it are only there so
# that this file reads, compiles and imports on its own.
from text_helpers import extract_gold_answer

# @webgrpo-start
# ---- dataset helpers ----
QUESTION_FIELDS = ("question", "problem", "prompt")
ANSWER_FIELDS = ("answer", "solution", "ground_truth")


def _field_text(row, names):
    """The first present field of names as text; a chat list gives its last user message."""
    for name in names:
        v = row.get(name)
        if v is None:
            continue
        if isinstance(v, list):
            messages = [m for m in v if isinstance(m, dict) and isinstance(m.get("content"), str)]
            users = [m for m in messages if m.get("role") == "user"]
            picked = (users or messages)[-1:] if messages else []
            return picked[0]["content"] if picked and picked[0]["content"].strip() else None
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return str(v)
        return v if isinstance(v, str) and v.strip() else None
    return None


def usable_row(row):
    question, answer = _field_text(row, QUESTION_FIELDS), _field_text(row, ANSWER_FIELDS)
    return question is not None and answer is not None and extract_gold_answer(answer) != ""


def to_grpo_row(row):
    """webgrpo's row mapping: the question (question|problem|prompt) becomes a conversational prompt
    with one user turn (webgrpo applies the chat template to that turn, no system prompt); the answer
    (answer|solution|ground_truth) becomes the gold answer (GSM8K '#### N' or the last \\boxed{})."""
    question = _field_text(row, QUESTION_FIELDS)
    answer = extract_gold_answer(_field_text(row, ANSWER_FIELDS))
    return {"prompt": [{"role": "user", "content": question}], "answer": answer}
