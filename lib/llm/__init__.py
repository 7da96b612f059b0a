"""The language model: loading a base model and its tokenizer (`models`, with `tiny`, the offline stand-in),
shaping work to the hardware (`hardware`), and generating answers (`generation`, over `decoding`, `choosing`
and `lora_mix`: many answers at once, several adapters in one batch), and talking to a tuned model (`chat`)."""
