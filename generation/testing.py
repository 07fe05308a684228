"""Tiny random models for fast tests: built from a config, tokenizer trained on the spot.

Nothing is downloaded. The tokenizer is byte-level (it encodes any text) and is trained
on English and Simplified Chinese lines, so both languages get merged tokens. The model has the same architecture family as the bundled
SmolLM2 (Llama) and a ChatML chat template, so every code path that runs on the real
model runs on it too, only faster and with nonsense output.
"""

# ruff: noqa: S106  (token names like unk_token are not passwords)
from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Write an article about coffee for busy parents. Keep the brand voice warm and plain.",
    "Ad copy: a bold headline, a short body and a clear call to action.",
    "Summarise the source text in three sentences. Do not invent facts.",
    "Question: how do I reset my password? Answer: open settings and choose reset.",
    "Subject: your order has shipped. Hello, thank you for shopping with us.",
    "Outline: chapter one, the problem; chapter two, the plan; chapter three, results.",
    "Must: use short sentences. Must not: use jargon. Banned terms: cheap, guaranteed.",
    "0123456789 !?.,;:'\"()[]{}<>/@#%&*+-=_ news social post email faq summary",
]
# Simplified Chinese, so the common characters of a Chinese prompt and draft get tokens
# of their own (the byte-level alphabet already encodes any text). Added to the
# vocabulary after the English merges, which stay as they were.
_CORPUS_ZH = [
    "请写一篇约三百字的文章，标题为“咖啡”。品牌语气：温暖、简洁。读者：忙碌的父母。",
    "你是内容团队的专业撰稿人。请严格按照写作要求，只输出正文，并遵守品牌规则。",
    "这款产品是最便宜的选择。我们的咖啡豆在山上慢慢烘焙，当天包装发货。",
    "问：怎么重置密码？答：打开设置，选择重置。主题：您的订单已发货。",
    "必须：使用短句。禁止：使用行话。不得使用以下词语：便宜、保证。",
]


def build_tiny_model(
    path: str | Path,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    max_positions: int = 512,
    seed: int = 0,
    chinese_tokens: bool = True,
) -> Path:
    """Write a tiny random Llama model and a BPE tokenizer to ``path`` and return it.

    The folder is a normal Hugging Face model folder (config, safetensors weights,
    tokenizer with a ChatML template), so it can be used wherever a local model
    folder is accepted. ``chinese_tokens``: give the Chinese characters of the training
    lines a token each (on by default; English tokenizes the same either way).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["<unk>", "<|im_start|>", "<|im_end|>", "<pad>"]
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(_CORPUS * 20, trainer)
    if chinese_tokens:
        raw.add_tokens(sorted({c for line in _CORPUS_ZH for c in line if ord(c) > 0x2000}))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(path)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path, safe_serialization=True)
    return path


def build_tiny_adapter(base_dir: str | Path, path: str | Path, *, seed: int = 1) -> Path:
    """Write a random LoRA adapter (safetensors) for the model in ``base_dir`` to ``path``.

    lora_B is randomised (peft initialises it to zero, which would be a no-op adapter),
    so the adapter visibly changes the logits.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    path = Path(path)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    peft_model.save_pretrained(str(path), safe_serialization=True)
    return path
