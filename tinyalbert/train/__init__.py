"""Pretraining ALBERT from scratch.

- `tinyalbert.train.text`: raw text to documents of sentences, and their token ids.
- `tinyalbert.train.masking`: n-gram masking of whole words.
- `tinyalbert.train.data`: sentence-order pairs, packed documents, padded examples, and a
  resumable batch iterator that masks anew every epoch.
- `tinyalbert.train.optim`: AdamW and LAMB on flat parameter dicts, the warmup-then-decay
  learning-rate schedule, the global gradient norm and clipping by it.
- `tinyalbert.train.trainer`: the loop around `model.loss_and_grads` (`python -m
  tinyalbert.pretrain` is its command line), with its parts: `arguments`, `prepare` (tokenizer,
  examples, model, output-bias initialization), `checkpoints` (atomic saves, exact resume,
  export), `history` (pending device values, the loss-curve plot), `metrics` (held-out
  evaluation, the collapse signal) and `progress` (tqdm).
"""
