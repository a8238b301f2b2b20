# Template of the script `webgrpo export-trl` writes: src/rl/export-trl.ts fills in the run's values
# where a line ends in a "@webgrpo" marker (src/rl/trl/template.ts) and pastes in the text helpers,
# the reward functions and the dataset helpers (the other .py files here). What is shown in place of
# the markers is the default run (`webgrpo train` with no flags).
# @webgrpo-start
#!/usr/bin/env python3
# Reproduces a webgrpo GRPO + LoRA run with Hugging Face TRL (written by `webgrpo export-trl`).
#   webgrpo model, dataset, rewards  # @webgrpo: run_summary
#
# Needs: pip install trl peft datasets   (optional: pip install math-verify). Written for a recent
# TRL (string scale_rewards, top_entropy_quantile, top_k=0 = off); see the comments for older ones.
# Run:   python this_script.py   (several GPUs: accelerate launch this_script.py; then divide
#        per_device_train_batch_size by the number of GPUs to keep the same batch)
#
# Step counting: a webgrpo step is one generation batch (prompts_per_step × num_generations
# completions) followed by num_iterations optimizer updates; a TRL step is one optimizer update.
# The settings below give TRL the same generation batch and the same number of updates.

import ast
import math
import random
import re

OUTPUT_DIR = "trl-output"

MODEL = "public/models/tiny-arith"  # @webgrpo: model

# What TRL lacks (entropy bonus, online group filtering), as this run used it.  # @webgrpo: unsupported


# ---- text helpers (same extraction rules as webgrpo) ----
# (text_helpers.py)  # @webgrpo: text_helpers


# ---- reward functions ----
# (reward_*.py)  # @webgrpo: reward_functions


REWARD_FUNCS = [math_reward]  # @webgrpo: reward_funcs


# (data_*.py, when the dataset needs helpers)  # @webgrpo: dataset_helpers


def main():
    from datasets import Dataset, concatenate_datasets, load_dataset  # noqa: F401
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer
    from transformers import AutoTokenizer  # @webgrpo-if: revision

    print("math reward equivalence:", "math_verify" if MATH_VERIFY else "numeric/text fallback (pip install math-verify)")  # @webgrpo-if: math

    # train_dataset = ...  # @webgrpo: dataset

    training_args = GRPOConfig(
        # output_dir=OUTPUT_DIR, num_generations=..., ...  # @webgrpo: grpo_config
    )

    # LoRA as webgrpo: scale lora_alpha / r, A kaiming-uniform, B = 0.  # @webgrpo-if: !rslora
    # LoRA as webgrpo: scale lora_alpha / r (rsLoRA: lora_alpha / sqrt(r)), A kaiming-uniform, B = 0.  # @webgrpo-if: rslora
    peft_config = LoraConfig(
        # r=16, lora_alpha=32, lora_dropout=0.0, target_modules=[...], use_rslora=False,  # @webgrpo: lora_config
        bias="none",
        task_type="CAUSAL_LM",
    )

    trainer = GRPOTrainer(
        model=MODEL,
        processing_class=AutoTokenizer.from_pretrained(MODEL, revision=REVISION),  # @webgrpo-if: revision
        reward_funcs=REWARD_FUNCS,
        args=training_args,
        train_dataset=train_dataset,
        peft_config=peft_config,
    )
    trainer.train()
    trainer.save_model(OUTPUT_DIR)  # the LoRA adapter (adapter_config.json + adapter_model.safetensors)


if __name__ == "__main__":
    main()
