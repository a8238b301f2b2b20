# Part of the script `webgrpo export-trl` writes (composed in src/rl/export-trl.ts; markers in
# src/rl/trl/template.ts). A reward this exporter does not port (cosine, overlong, an unknown name,
# --reward-module): a stub returning None with a TODO. The script gets everything below the
# @webgrpo-start line, with stub_reward renamed to the reward's Python name (e.g. cosine_reward).

# @webgrpo-start
def stub_reward(completions, **kwargs):
    # TODO: what the webgrpo reward computes, and how to port it.  # @webgrpo: todo
    # Returns None (not applicable) until ported: TRL leaves None rewards out of the sum.
    return [None] * len(completions)


stub_reward.__name__ = "stub"  # @webgrpo: metric_name
