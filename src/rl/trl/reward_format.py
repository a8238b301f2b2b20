# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). The 'format' (R1) reward.
# The script gets everything below the @webgrpo-start line; the imports above it are only there so
# that this file reads, compiles and imports on its own.
import re

from text_helpers import completion_text

# @webgrpo-start
FORMAT_RE = re.compile(r"\s*<think>[\s\S]*?</think>\s*<answer>[\s\S]*?</answer>\s*")


def format_reward(completions, **kwargs):
    """webgrpo 'format' (R1): 1 when the completion is one <think>...</think> block then one
    <answer>...</answer> block (whitespace around and between allowed, each tag exactly once), else 0."""
    rewards = []
    for completion in completions:
        text = completion_text(completion)
        once = all(text.count(tag) == 1 for tag in ("<think>", "</think>", "<answer>", "</answer>"))
        rewards.append(1.0 if once and FORMAT_RE.fullmatch(text) else 0.0)
    return rewards


format_reward.__name__ = "format"
