"""Pretraining ALBERT from scratch.

- `tinyalbert.train.data`: raw text to sentence-order pairs with n-gram masking, and a
  resumable batch iterator.
- `tinyalbert.train.optim`: AdamW and LAMB on flat parameter dicts, the warmup-then-decay
  learning-rate schedule, and global-norm gradient clipping.
- `tinyalbert.train.trainer`: the loop around `model.loss_and_grads` — progress, atomic
  checkpoints, exact resume, held-out evaluation, the loss-curve plot
  (`python -m tinyalbert.pretrain` is its command line).
"""
