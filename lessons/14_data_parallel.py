# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 14: Data-parallel training
#
# After this lesson you will be able to
#
# - split a batch over several processes and combine their gradients into exactly the gradient of
#   the whole batch, and say why a plain average of the processes' losses gets it wrong;
# - write the ring all-reduce, the collective that sums the gradients, and count what each
#   process sends;
# - say why ALBERT's cross-layer sharing makes data parallelism cheap;
# - run `tinyalbert` on two processes with `mpiexec` and check that it takes the same steps as one.
#
# Data parallelism: every process holds the whole model and a slice of every batch. Each computes
# the gradient of its slice with the backward pass of lessons 7 and 8, the processes add their
# gradients up, and each takes the same optimizer step, so the copies stay equal without the
# weights ever being sent. `python -m tinyalbert.pretrain` does this when started by
# `mpiexec -n N` (`docs/distributed.md`).

# %%
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertConfig, AlbertForPreTraining
from tinyalbert.config import PRESETS
from tinyalbert.train.distributed import flatten, shard_rows, unflatten

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Two halves of a batch, one gradient
#
# A small model in float64 and a global batch of 8 rows: token ids, about 20% of the positions
# masked (label = the id to predict, -100 elsewhere) and a sentence-order label per row. The rows
# have different lengths (padded to 12) and random masks, so they hold different numbers of masked
# positions.

# %%
config = AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                      intermediate_size=24, max_position_embeddings=16)
model = AlbertForPreTraining(config, dtype="float64", seed=1)
BATCH, SEQ = 8, 12
lengths = rng.integers(SEQ // 2, SEQ + 1, size=BATCH)
attention_mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int64)
masked = (rng.random((BATCH, SEQ)) < 0.2) & (attention_mask == 1)
masked[:, 1] = True  # at least one target per row
batch = {"input_ids": rng.integers(5, 50, size=(BATCH, SEQ)), "attention_mask": attention_mask,
         "labels": np.where(masked, rng.integers(5, 50, size=(BATCH, SEQ)), -100),
         "sentence_order_label": rng.integers(0, 2, size=BATCH)}


def loss_and_grads(part, loss_scales=(1.0, 1.0)):
    return model.loss_and_grads(part["input_ids"], part["labels"], part["sentence_order_label"],
                                attention_mask=part["attention_mask"], loss_scales=loss_scales)


whole_loss, whole_grads = loss_and_grads(batch)
halves = [shard_rows(batch, rank, 2) for rank in range(2)]  # rows 0-3 and rows 4-7
targets = [int(np.sum(half["labels"] != -100)) for half in halves]
print(f"masked positions: {targets[0]} in the first half, {targets[1]} in the second, {sum(targets)} in all")

# %% [markdown]
# The pretraining loss is the MLM loss, a mean over the **masked positions** of the batch, plus
# the SOP loss, a mean over its **rows**. Process $r$ sees $n_r$ of the $n$ masked positions, and
# its own MLM loss $L_r$ is the mean over those. The mean over the whole batch is then not the
# average of the $L_r$ but their average weighted by the counts:
#
# $$L = \frac{1}{n}\sum_{\text{all } i} \ell_i = \sum_r \frac{n_r}{n} \cdot \frac{1}{n_r}\sum_{i \in r} \ell_i
# = \sum_r \frac{n_r}{n} L_r, \qquad \frac{\partial L}{\partial \theta} = \sum_r \frac{n_r}{n} \frac{\partial L_r}{\partial \theta}.$$
#
# So each process scales its terms by its shares (`loss_scales=(mlm share, sop share)`, which the
# hand-written backward starts from instead of 1) and the processes add. The shares need the
# batch's totals; every process builds the whole batch (from the same seed) before it keeps its
# rows, so it counts them itself. The same holds for the SOP term with rows for counts (equal here:
# 4 and 4).

# %%
def relative_error(grads, reference=whole_grads):
    """The largest difference over all parameters, relative to the largest gradient entry."""
    difference = flatten({name: grads[name] - reference[name] for name in reference})
    return np.abs(difference).max() / np.abs(flatten(reference)).max()


plain = [loss_and_grads(half) for half in halves]
averaged = {name: (plain[0][1][name] + plain[1][1][name]) / 2 for name in whole_grads}
shares = [count / sum(targets) for count in targets]
weighted = [loss_and_grads(half, loss_scales=(share, 0.5)) for half, share in zip(halves, shares)]
summed = {name: weighted[0][1][name] + weighted[1][1][name] for name in whole_grads}

print(f"whole batch loss {float(whole_loss):.12f}")
print(f"average of the halves' losses {float(plain[0][0] + plain[1][0]) / 2:.12f}, "
      f"gradient off by up to {relative_error(averaged):.1%}")
print(f"sum of the weighted halves    {float(weighted[0][0] + weighted[1][0]):.12f}, "
      f"gradient off by up to {relative_error(summed):.0e}")
assert relative_error(summed) < 1e-12 < 1e-3 < relative_error(averaged)

# %% [markdown]
# The weighted sum is the whole batch's gradient to rounding (the halves add their numbers in a
# different order); the plain average is a different gradient, off whenever the halves hold
# different numbers of masked positions. In `tinyalbert.train.distributed`,
# `data_parallel_loss_and_grads` does exactly this: `shard_rows`, then the shares, then
# `loss_and_grads` with `loss_scales`, then one sum over the processes.
#
# ## 2. Summing across processes: the ring all-reduce
#
# "The processes add their gradients" is a collective operation, **all-reduce**: every process
# puts in an array and gets back the element-wise sum of all of them. The gradients of every
# tensor go into one flat buffer first (`flatten`, and `unflatten` after), so that there is one
# collective per step, not one per tensor:

# %%
buffer = flatten(whole_grads)
print(f"{len(whole_grads)} gradient tensors -> one buffer of {buffer.size:,} numbers")
back = unflatten(buffer, whole_grads)
assert all(np.array_equal(back[name], whole_grads[name]) for name in whole_grads)

# %% [markdown]
# The obvious way to all-reduce: every process sends its buffer to process 0, which adds and sends
# the sum back. Process 0 then receives $N-1$ buffers and sends $N-1$: its traffic grows with $N$.
# The **ring** spreads the work. Cut the buffer into $N$ chunks and arrange the processes in a ring.
#
# 1. *Reduce-scatter*, $N-1$ steps: at step $k = 0, \ldots, N-2$, process $r$ sends its running sum of chunk
#    $(r - k) \bmod N$ to process $r+1$, which adds it to its own. After $N-1$ steps process $r$
#    holds the complete sum of chunk $(r + 1) \bmod N$.
# 2. *All-gather*, $N-1$ steps: the complete chunks travel once more around the ring, each process
#    passing on the one it received, until every process has all of them.
#
# Each process sends $2(N-1)$ chunks of $S/N$ numbers, $2\frac{N-1}{N}S$, and receives as many:
# less than $2S$ each way however many processes there are. Below, $N$ processes are simulated as a
# list of arrays, and data moves between them only through `send(rank, data)`: a copy of `data`
# from process `rank` to the next one, which is what that process receives. `counting_send` makes
# such a function and counts the numbers each process sends.

# %%
def counting_send(n):
    """A `send(rank, data)` for n simulated processes, and the list of the numbers each has sent."""
    sent = [0] * n

    def send(rank, data):
        sent[rank] += np.size(data)
        return np.array(data, copy=True)  # what process (rank + 1) % n receives

    return send, sent


def ring_allreduce(buffers, send):
    """Every buffer replaced, in place, by the sum of all; data moves only through `send`."""
    n = len(buffers)
    chunks = [np.array_split(buffer.copy(), n) for buffer in buffers]  # chunks[rank][c]
    for step in range(n - 1):  # reduce-scatter
        received = [(rank, (rank - step) % n, send(rank, chunks[rank][(rank - step) % n])) for rank in range(n)]
        for rank, c, data in received:  # all sends of a step happen at once
            chunks[(rank + 1) % n][c] += data
    for step in range(n - 1):  # all-gather: process r starts with the complete chunk r + 1
        received = [(rank, (rank + 1 - step) % n, send(rank, chunks[rank][(rank + 1 - step) % n])) for rank in range(n)]
        for rank, c, data in received:
            chunks[(rank + 1) % n][c] = data
    for rank in range(n):
        buffers[rank][:] = np.concatenate(chunks[rank])


size = buffer.size  # the model's gradient, from above
for n in (2, 3, 5, 8):
    buffers = [rng.standard_normal(size) for _ in range(n)]
    expected = np.sum(buffers, axis=0)
    send, sent = counting_send(n)
    ring_allreduce(buffers, send)
    assert all(np.allclose(b, expected, rtol=1e-12, atol=1e-12) for b in buffers)
    print(f"N = {n}: every process holds the sum; each sent {max(sent):,} numbers = "
          f"{max(sent) / size:.2f} x the buffer (2(N-1)/N = {2 * (n - 1) / n:.2f})")

# %% [markdown]
# The traffic of the busiest process (numbers sent and received), as a multiple of the buffer:

# %%
counts = np.arange(2, 33)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(counts, 2 * (counts - 1), label="through process 0: N-1 in, N-1 out")
ax.plot(counts, 4 * (counts - 1) / counts, label="ring: 2(N-1)/N in, as much out")
ax.set(xlabel="processes N", ylabel="buffers moved by the busiest process", yscale="log")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# MPI libraries pick among such algorithms (the ring, recursive halving and doubling, trees) by
# message size and process count; NCCL on GPUs uses rings and trees. The count per process is the
# point: with the ring it is bounded, so for a large buffer the time of a step's all-reduce depends
# on the size of the gradient and the bandwidth of a link, hardly on how many processes there are
# (the $2(N-1)$ steps each add a latency, which matters for small buffers).
#
# ## 3. Why ALBERT is cheap to train in parallel
#
# The buffer holds one number per parameter, and ALBERT's cross-layer sharing makes that number
# small: all 12 (or 24) passes use one layer's weights, so there is one layer's gradient to send. The
# same configurations with a layer of their own for every pass (`num_hidden_groups` = layers)
# would have many times more. Bytes per all-reduce in float32, and what each of 8 processes sends
# on a ring:

# %%
def parameters(config):
    return sum(int(np.prod(shape)) for shape in AlbertForPreTraining.parameter_shapes(config).values())


print(f"{'configuration':18s} {'shared':>10s} {'one layer per pass':>19s}   MB per all-reduce (shared / not), per process on 8")
counts_of = {}
for name in ("albert-base-v2", "albert-large-v2", "albert-xlarge-v2"):
    shared_config = AlbertConfig(**PRESETS[name])
    unshared_config = AlbertConfig(**{**PRESETS[name], "num_hidden_groups": shared_config.num_hidden_layers})
    counts_of[name] = parameters(shared_config), parameters(unshared_config)
    mb = [4 * count / 1e6 for count in counts_of[name]]
    print(f"{name:18s} {counts_of[name][0] / 1e6:9.1f}M {counts_of[name][1] / 1e6:18.1f}M   {mb[0]:7.0f} / {mb[1]:5.0f}"
          f"   {2 * 7 / 8 * mb[0]:5.0f} / {2 * 7 / 8 * mb[1]:5.0f}")
assert all(unshared > 5 * shared for shared, unshared in counts_of.values())

# %% [markdown]
# (These counts include the pooler and the MLM and SOP heads; the ALBERT paper's Table 4 lists base
# without sharing at 89M.) The compute per step is the same either way: sharing saves bytes, not
# arithmetic. So ALBERT spends less of a data-parallel step waiting for the network.
#
# ## 4. Two real processes
#
# Now the real thing. A program that runs under MPI is a file: `mpiexec -n 2 python train.py`
# starts it twice, and each copy asks MPI which one it is. This one trains the model of section 1
# for a few AdamW steps, with `data_parallel_loss_and_grads` under `mpiexec` and plain
# `loss_and_grads` alone; it is written to a temporary directory and run both ways.

# %%
WORKER = textwrap.dedent('''
    import sys
    import numpy as np
    from tinyalbert import AlbertConfig, AlbertForPreTraining
    from tinyalbert.train.distributed import data_parallel_loss_and_grads, init_ranks
    from tinyalbert.train.optim import AdamW

    ranks = init_ranks()  # None in a plain run; under mpiexec -n 2 this rank (0 or 1) and the size
    assert ranks is None or ranks.size == 2, "mpiexec and mpi4py disagree: each process runs alone"
    config = AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=3,
                          num_attention_heads=2, intermediate_size=24, max_position_embeddings=16)
    model = AlbertForPreTraining(config, dtype="float64", seed=1)
    optimizer = AdamW(weight_decay=0.01)
    rng = np.random.default_rng(0)  # the same global batches in every process
    for step in range(5):
        mask = (np.arange(12)[None, :] < rng.integers(6, 13, size=(8, 1))).astype(np.int64)
        targets = (rng.random((8, 12)) < 0.2) & (mask == 1)
        targets[:, 1] = True
        batch = {"input_ids": rng.integers(5, 50, size=(8, 12)), "attention_mask": mask,
                 "labels": np.where(targets, rng.integers(5, 50, size=(8, 12)), -100),
                 "sentence_order_label": rng.integers(0, 2, size=8)}
        if ranks is None:
            loss, grads = model.loss_and_grads(batch["input_ids"], batch["labels"], batch["sentence_order_label"],
                                               attention_mask=batch["attention_mask"])
        else:
            loss, grads = data_parallel_loss_and_grads(model, batch, ranks)  # this rank's 4 rows, then the sum
        model.params = optimizer.step(model.params, grads, 1e-2)
    if ranks is None or ranks.is_main:
        np.savez(sys.argv[1], **model.params)
''')


def launcher():
    """`mpiexec` beside this Python (the `mpich` wheel puts it there) or on the PATH, if mpi4py is there too."""
    import importlib.util

    if importlib.util.find_spec("mpi4py") is None:
        return None
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


mpiexec = launcher()
if mpiexec is None:
    print("SKIPPED: mpi4py or mpiexec is not installed (pip install 'tinyalbert[mpi]') - "
          "the two-process run did not happen.")
else:
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "train.py"
        script.write_text(WORKER)
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        runs = {"one process": [sys.executable, str(script)],
                "two processes": [mpiexec, "-n", "2", sys.executable, str(script)]}
        results = {}
        for name, command in runs.items():
            out = Path(directory) / f"{name.replace(' ', '_')}.npz"
            start = time.perf_counter()
            done = subprocess.run(command + [str(out)], env=environment, capture_output=True, text=True, timeout=240)
            assert done.returncode == 0, done.stderr[-2000:]
            results[name] = dict(np.load(out))
            print(f"{name}: {time.perf_counter() - start:.1f} s (mostly starting Python)")
    one, two = results["one process"], results["two processes"]
    worst = max(np.abs(one[name] - two[name]).max() / max(np.abs(one[name]).max(), 0.02) for name in one)
    start_model = AlbertForPreTraining(config, dtype="float64", seed=1)
    moved = max(np.abs(one[name] - start_model.params[name]).max() for name in one)
    print(f"after 5 steps the weights moved by up to {moved:.3f}; the two runs differ by up to {worst:.0e} "
          "of each tensor's scale")
    assert moved > 0.01 and worst < 1e-12

# %% [markdown]
# The two runs end at the same weights to rounding. In float32 they drift apart a little more
# (Adam divides every entry by its own gradient scale, so an entry whose gradient is at rounding
# level takes a step whose sign the rounding decides); `docs/distributed.md` has the measured sizes.
#
# ## Exercises
#
# The `check` function is this lesson's own (the course autograder holds no exercise of this
# lesson) and checks an answer on random cases; the check itself is shown to accept a right answer
# and to reject known wrong ones. Each exercise cell raises `NotImplementedError` until you write
# its body, and its self-check says "not attempted yet" until then.

# %%
def check(exercise, function):
    cases = np.random.default_rng(14)
    if exercise == "allreduce_ring":
        for n in (1, 2, 3, 4, 7):
            size = int(cases.integers(n, 40))
            buffers = [cases.standard_normal(size) for _ in range(n)]
            expected, originals = np.sum(buffers, axis=0), list(buffers)
            initial = [buffer.copy() for buffer in buffers]
            sends = []  # (rank, numbers) of every send, in order

            def send(rank, data):
                assert 0 <= rank < n, f"N={n}: send from process {rank}, which does not exist"
                sends.append((rank, int(np.size(data))))
                return np.array(data, copy=True)

            function(buffers, send)
            for rank, result in enumerate(originals):  # each process's own array: the sum lands in place
                assert buffers[rank] is result, f"N={n}: process {rank}'s buffer was replaced; write the sum into it"
                np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12,
                                           err_msg=f"N={n}: process {rank} does not hold the sum")
            chunk = -(-size // n)  # the largest chunk
            per_process = [sum(1 for rank, _ in sends if rank == r) for r in range(n)]
            assert per_process == [2 * (n - 1)] * n, (f"N={n}: in a ring each process sends 2(N-1) = {2 * (n - 1)} "
                                                      f"chunks; they sent {per_process}")
            assert max((numbers for _, numbers in sends), default=0) <= chunk, \
                f"N={n}: a send carried more than one chunk ({chunk} numbers at most)"
            total = sum(numbers for _, numbers in sends)
            assert total == 2 * (n - 1) * size, f"N={n}: {total} numbers sent in all, a ring sends {2 * (n - 1) * size}"
            if n > 1:  # once more, with every message changed on the way: what arrives must be what is used
                tampered = [buffer.copy() for buffer in initial]
                function(tampered, lambda rank, data: np.array(data, copy=True) + 1000.0)
                assert not any(np.allclose(buffer, expected) for buffer in tampered), \
                    f"N={n}: the sums do not depend on what was received: data must move only through send"
    elif exercise == "loss_shares":
        for n in (1, 2, 4):
            labels = np.where(cases.random((4 * n, 9)) < 0.3, 7, -100)
            labels[0, 0] = 7
            got = function(labels, n)
            expected = [np.sum(shard_rows({"labels": labels}, r, n)["labels"] != -100) / np.sum(labels != -100)
                        for r in range(n)]
            np.testing.assert_allclose(got, expected, rtol=1e-12)
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def summed_without_sending(buffers, send):
    """The right sums, read straight from every process's memory: no process could do that."""
    total = np.sum(buffers, axis=0)
    for buffer in buffers:
        buffer[:] = total


def sends_then_sums(buffers, send):
    """A ring's sends, made and ignored, and the sums read straight from memory."""
    ring_allreduce([buffer.copy() for buffer in buffers], send)
    summed_without_sending(buffers, send)


def whole_buffers_around_the_ring(buffers, send):
    """The right sums over ring links, but each step passes a whole buffer: N times a ring's traffic."""
    n = len(buffers)
    travelling = [buffer.copy() for buffer in buffers]
    totals = [buffer.copy() for buffer in buffers]
    for _ in range(n - 1):
        travelling = [send((rank - 1) % n, travelling[(rank - 1) % n]) for rank in range(n)]  # from the left
        for rank in range(n):
            totals[rank] += travelling[rank]
    for rank in range(n):
        buffers[rank][:] = totals[rank]


from tinyalbert.train.distributed import loss_shares as library_loss_shares  # (this rank's rows, whole batch)


def shares_from_the_library(labels, processes):  # a right answer: the library's MLM share of each process
    return [library_loss_shares(shard_rows({"labels": labels}, rank, processes), {"labels": labels})[0]
            for rank in range(processes)]


# The check itself is checked: it accepts right answers (section 2's ring, the library's shares)
# and rejects known wrong ones.
check("allreduce_ring", ring_allreduce)
check("loss_shares", shares_from_the_library)
must_reject("allreduce_ring", summed_without_sending)
must_reject("allreduce_ring", sends_then_sums)
must_reject("allreduce_ring", whole_buffers_around_the_ring)


def into_new_arrays(buffers, send):
    """The right sums over a ring, but in new arrays: each process's own buffer keeps its gradient."""
    copies = [buffer.copy() for buffer in buffers]
    ring_allreduce(copies, send)
    buffers[:] = copies


must_reject("allreduce_ring", into_new_arrays)
must_reject("loss_shares", lambda labels, n: [1 / n] * n)  # equal shares, whatever the counts

# %% [markdown]
# **Exercise 1.** Write the ring all-reduce of section 2 yourself, without looking back: replace
# every buffer by the sum of all, in place, moving data between processes only through
# `send(rank, data)` (a copy of `data` from process `rank` to process `(rank + 1) % N`, returned as
# what that process receives). The check counts the sends (each process must send $2(N-1)$ chunks
# of at most $\lceil S/N \rceil$ numbers) and changes every message once, to see that the sums are
# made of what arrived. (Chunks of unequal size, when the buffer does not split
# evenly, are fine.)

# %%
def allreduce_ring(buffers, send):
    """buffers: a list of N 1-D float arrays of one size, buffers[r] process r's. Returns nothing:
    every buffers[r] holds the sum of all N afterwards."""
    raise NotImplementedError("write allreduce_ring")


# %%
try:
    check("allreduce_ring", allreduce_ring)
    print("Exercise 1: correct.")
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write allreduce_ring above and run this cell again.")

# %% [markdown]
# **Exercise 2.** Given a global batch's MLM labels `(rows, seq)` (-100: not a target) and the
# number of processes, return each process's MLM share $n_r / n$, with the rows split into equal
# consecutive blocks as `shard_rows` splits them.

# %%
def loss_shares(labels, processes):
    """A list of `processes` floats, entry r process r's share n_r / n (they sum to 1)."""
    raise NotImplementedError("write loss_shares")


# %%
try:
    check("loss_shares", loss_shares)
    print("Exercise 2: correct.")
except NotImplementedError:
    print("Exercise 2: not attempted yet. Write loss_shares above and run this cell again.")

# %% [markdown]
# **Exercise 3 (no self-check).** In section 1, make both halves hold the same number of masked
# positions. Is the plain average right now? Then turn on dropout (`model.train(...)`): why can two
# processes no longer match one process bit for bit, even with the shares right?
#
# **Exercise 4 (no self-check).** `python -m tinyalbert.finetune` runs under `mpiexec` too
# (`tinyalbert.finetune_loop.data_parallel_loss_and_grads`). For token classification, which count
# is each process's share taken from, and why would a share of the rows be wrong there? For
# question answering, the loss is the mean of two cross-entropies, each over its own count: when
# could one share per process no longer serve both, and why does the fine-tuning data never
# produce that case (lesson 13, sections 4 and 5)?
