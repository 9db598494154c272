"""quco.reward inside TRL: two GRPO steps on CPU, offline — a tiny Llama built from a config and a
word-level tokenizer trained here — with the reward called by TRL's own reward path.
Marked ``rl``: ``bash scripts/test_rl.sh`` runs them in a virtualenv with the ``rl`` extra; the main
suite skips them (its environment has no PyTorch, whose import spaCy would otherwise pay in memory)."""

import pytest

pytest.importorskip("trl", reason="TRL is not installed here: bash scripts/test_rl.sh runs these tests")
pytestmark = pytest.mark.rl

PROMPTS = ["Who wrote Hamlet?", "What is the capital of Denmark?"]
WORDS = ["Hamlet was written by William Shakespeare.", "Copenhagen is the capital of Denmark.",
         "Hamlet was written by Charles Dickens.", "Dickens wrote Oliver Twist."] + PROMPTS


def _tiny_model_and_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##")  # words joined by spaces
    tok.train_from_iterator(WORDS * 10, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[EOS]"]))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    cfg = LlamaConfig(vocab_size=len(hf), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, pad_token_id=hf.pad_token_id,
                      eos_token_id=hf.eos_token_id, bos_token_id=hf.eos_token_id)
    return LlamaForCausalLM(cfg), hf


def test_two_grpo_steps_with_the_reward(tiny_index, tmp_path):
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from quco.reward import open_reward

    torch.manual_seed(0)
    reward = open_reward(tiny_index, model="rules")
    seen = []

    class Recording:
        __name__ = "quco_reward"

        def __call__(self, **kwargs):
            seen.append(kwargs)
            return reward(**kwargs)

    model, tokenizer = _tiny_model_and_tokenizer()
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=12, max_steps=2, logging_steps=1, report_to=[], use_cpu=True,
                      save_strategy="no", bf16=False, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=[Recording()], args=args,
                          train_dataset=Dataset.from_dict({"prompt": PROMPTS * 4}), processing_class=tokenizer)
    trainer.train()
    assert len(seen) == 2 and all(len(k["completions"]) == 4 for k in seen)
    assert {"prompts", "completions", "completion_ids", "trainer_state", "log_metric"} <= set(seen[0])
    logs = [h for h in trainer.state.log_history if "rewards/quco_reward/mean" in h]
    assert len(logs) == 2 and all(-1.0 <= h["rewards/quco_reward/mean"] <= 1.0 for h in logs)
    assert all("quco/checked_sentences" in h for h in logs)  # the reward's log_metric figures reach TRL's logs


def test_reward_through_trls_reward_call_shapes(tiny_index):
    """What GRPOTrainer._calculate_rewards passes, plain and conversational (TRL's is_conversational)."""
    from trl.data_utils import is_conversational

    from quco.reward import open_reward

    reward = open_reward(tiny_index, model="rules")
    chat = [[{"role": "user", "content": "Who wrote Hamlet?"}]]
    said = [[{"role": "assistant", "content": "Hamlet was written by William Shakespeare."}]]
    assert is_conversational({"prompt": chat[0]})
    got = reward(prompts=chat, completions=said, completion_ids=[[1]], trainer_state=None, log_extra=lambda *a: None,
                 log_metric=lambda *a: None, ground_truth=["x"])
    assert got == reward(prompts=["Who wrote Hamlet?"], completions=["Hamlet was written by William Shakespeare."])
    assert isinstance(got[0], float)
