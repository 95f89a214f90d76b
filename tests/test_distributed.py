"""Data-parallel training over MPI (`tinyalbert.train.distributed`).

The proof: `mpiexec -n 2` with half of every batch per process ends at the same parameters as
one process with the whole batch. Tolerances, relative to each tensor's largest entry (floored at
the initializer's 0.02, since some tensors start at zero):
- float64: 1e-12. Only the order of additions differs (two half sums against one sum); measured
  about 2e-13 after six AdamW steps.
- float32: 1e-3. Adam divides every entry by its own gradient scale, so an entry whose gradient
  is at rounding level moves by an O(lr) step whose sign is decided by that rounding; after a few
  steps float32's 1e-7 rounding shows as about 2.5e-4 of the scale (measured), where float64's
  stays at 1e-13. LAMB's trust ratio damps it (5e-7 measured).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyalbert import AlbertConfig
from tinyalbert.train.distributed import Ranks, flatten, launched_under_mpi, shard_rows, unflatten

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "mpi_worker.py"
FLOOR = 0.02
TOLERANCE = {"float64": 1e-12, "float32": 1e-3}


def mpiexec():
    """The launcher installed beside this interpreter (the `mpich` wheel puts it there), or on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def needs_mpi():
    pytest.importorskip("mpi4py")
    if mpiexec() is None:
        pytest.skip("no mpiexec: pip install 'tinyalbert[mpi]'")


def run(args, *, ranks=None, timeout=240):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, str(WORKER), *args]
    if ranks is not None:
        command = [mpiexec(), "-n", str(ranks), *command]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_not_launched_by_mpi_without_the_launcher_variables():
    assert not launched_under_mpi({})
    assert not launched_under_mpi({"PMI_SIZE": "1"})
    assert launched_under_mpi({"PMI_SIZE": "2"})
    assert launched_under_mpi({"OMPI_COMM_WORLD_SIZE": "4"})


def test_a_plain_run_does_not_import_mpi():
    code = ("import sys; from tinyalbert.train.distributed import init_ranks; "
            "assert init_ranks() is None; assert 'mpi4py' not in sys.modules")
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(ROOT)}, check=True)


def test_shard_rows_gives_each_rank_its_block():
    batch = {"a": np.arange(12).reshape(6, 2), "b": np.arange(6)}
    shards = [shard_rows(batch, rank, 3) for rank in range(3)]
    np.testing.assert_array_equal(np.concatenate([s["a"] for s in shards]), batch["a"])
    np.testing.assert_array_equal(shards[1]["b"], [2, 3])
    with pytest.raises(ValueError, match="multiple of 4"):
        shard_rows(batch, 0, 4)


def test_flatten_and_unflatten_round_trip():
    grads = {"w": np.arange(6.0).reshape(2, 3), "b": np.array([7.0]), "s": np.ones((2, 1, 2))}
    flat = flatten(grads)
    assert flat.shape == (11,)
    back = unflatten(flat, grads)
    assert list(back) == list(grads)
    for name in grads:
        np.testing.assert_array_equal(back[name], grads[name])


@pytest.mark.parametrize("optimizer", ["adamw", "lamb"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_two_processes_with_half_batches_match_one_process(tmp_path, optimizer, dtype):
    needs_mpi()
    args = ["--optimizer", optimizer, "--dtype", dtype, "--steps", "5"]
    single = run([str(tmp_path / "one.npz"), *args])
    assert single.returncode == 0, single.stderr
    parallel = run([str(tmp_path / "two.npz"), *args], ranks=2)
    assert parallel.returncode == 0, parallel.stderr
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert one.files == two.files
    for name in one.files:
        expected = one[name].astype(np.float64)
        scale = max(float(np.max(np.abs(expected))), FLOOR)
        error = float(np.max(np.abs(expected - two[name])))
        assert error <= TOLERANCE[dtype] * scale, f"{name}: {error:.3e} > {TOLERANCE[dtype]:.0e} * {scale:.3g}"
    # the model trained: a comparison of two untouched models would prove nothing
    assert len(one["losses"]) == 5 and np.all(np.isfinite(one["losses"]))
    assert not np.allclose(one["losses"][0], one["losses"][-1])


def test_two_ranks_on_a_gpu_sum_through_nccl(tmp_path):
    """The CuPy path: gradients summed on the GPU by NCCL (two ranks may share one GPU)."""
    needs_mpi()
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no GPU")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("no GPU")
    args = ["--dtype", "float64", "--steps", "4", "--backend", "cupy"]
    single = run([str(tmp_path / "one.npz"), *args])
    assert single.returncode == 0, single.stderr
    parallel = run([str(tmp_path / "two.npz"), *args], ranks=2)
    assert parallel.returncode == 0, parallel.stderr
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    for name in one.files:
        scale = max(float(np.max(np.abs(one[name]))), FLOOR)
        assert float(np.max(np.abs(one[name] - two[name]))) <= TOLERANCE["float64"] * scale, name


def test_a_rank_that_stops_answering_ends_the_job_with_a_message(tmp_path):
    needs_mpi()
    result = run([str(tmp_path / "hang.npz"), "--hang-rank", "1", "--timeout", "3"], ranks=2, timeout=120)
    assert result.returncode != 0
    assert "did not complete within 3 s" in result.stderr
    assert not (tmp_path / "hang.npz").exists()


def test_loss_scales_weight_each_term_and_its_gradient():
    """loss_and_grads(loss_scales=(a, b)) is a * MLM + b * SOP, with gradients to match: the sum of
    a * (MLM-only gradients) and b * (the SOP part), checked against two separate runs."""
    from tinyalbert import AlbertConfig, AlbertForMaskedLM, AlbertForPreTraining

    config = AlbertConfig(vocab_size=30, embedding_size=6, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=12, max_position_embeddings=8, hidden_dropout_prob=0.0,
                          attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 30, size=(3, 6))
    labels = np.where(rng.random((3, 6)) < 0.5, ids, -100)
    labels[:, 0] = ids[:, 0]
    order = np.array([0, 1, 1])
    model = AlbertForPreTraining(config, dtype="float64", seed=2)
    plain_loss, plain = model.loss_and_grads(ids, labels, order)
    scaled_loss, scaled = model.loss_and_grads(ids, labels, order, loss_scales=(0.25, 3.0))
    mlm_model = AlbertForMaskedLM(config, {k: v for k, v in model.params.items()
                                           if not k.startswith(("sop_", "albert.pooler"))}, dtype="float64")
    mlm_loss, mlm = mlm_model.loss_and_grads(ids, labels)
    sop_loss = float(plain_loss) - float(mlm_loss)
    assert np.isclose(float(scaled_loss), 0.25 * float(mlm_loss) + 3.0 * sop_loss, rtol=1e-12)
    for name, grad in scaled.items():
        mlm_part = mlm.get(name, np.zeros_like(grad))
        expected = 0.25 * mlm_part + 3.0 * (plain[name] - mlm_part)
        np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-12, err_msg=name)


def test_pretraining_shards_sum_to_the_whole_batch_when_one_holds_no_masked_token(monkeypatch):
    """Each of 2 stand-in processes' contributions, added as the all-reduce adds them, give the
    whole batch's loss and gradients, in float64, though the second half has no MLM target. Its own
    mean is 0/0 = nan, and 0 * nan made the job's loss nan: the trainer stopped with "loss is nan"
    (whole-word masking at a low masking rate leaves such rows; a small batch per process, such halves)."""
    from tinyalbert import AlbertForPreTraining
    from tinyalbert.train import distributed

    monkeypatch.setattr(distributed, "allreduce_sum", lambda flat, ranks, what="": flat)  # one process's part
    config = AlbertConfig(vocab_size=30, embedding_size=6, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=12, max_position_embeddings=8, classifier_dropout_prob=0.0)
    rng = np.random.default_rng(5)
    ids = rng.integers(5, 30, size=(4, 6))
    labels = np.full_like(ids, -100)
    labels[:2, 1:3] = ids[:2, 1:3]  # targets in the first half only
    batch = {"input_ids": ids, "labels": labels, "sentence_order_label": np.array([0, 1, 1, 0]),
             "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    model = AlbertForPreTraining(config, dtype="float64", seed=4)
    loss, grads = model.loss_and_grads(ids, labels, batch["sentence_order_label"])
    parts = [distributed.data_parallel_loss_and_grads(model, batch, Ranks(None, rank, 2, None, 1.0)) for rank in (0, 1)]
    assert all(np.isfinite(float(part_loss)) for part_loss, _ in parts)
    assert sum(float(part_loss) for part_loss, _ in parts) == pytest.approx(float(loss), rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(sum(part[name] for _, part in parts), grad, rtol=1e-10, atol=1e-15, err_msg=name)


# --- python -m tinyalbert.pretrain under mpiexec --------------------------------------------------
def run_command(module, args, *, ranks=None, timeout=300):
    """`python -m MODULE ARGS`, under `mpiexec -n RANKS` when ranks are given."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-m", module, *args]
    if ranks is not None:
        command = [mpiexec(), "-n", str(ranks), *command]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def pretrain(args, *, ranks=None, timeout=300):
    return run_command("tinyalbert.pretrain", args, ranks=ranks, timeout=timeout)


def test_pretrain_under_mpiexec_takes_the_steps_of_one_process(corpus_and_tokenizer, tmp_path):
    """The command itself: two processes end at one process's parameters (float32, see above),
    only the first process writes the checkpoint, the final model and the progress lines."""
    needs_mpi()
    from safetensors.numpy import load_file

    root = corpus_and_tokenizer
    common = ["--corpus", str(root / "corpus.txt"), "--tokenizer", str(root / "tok"), "--config",
              str(root / "config.json"), "--steps", "6", "--batch-size", "8", "--max-seq-length", "24",
              "--lr", "3e-3", "--warmup-steps", "2", "--save-every", "3", "--log-every", "2", "--seed", "3"]
    single = pretrain([*common, "--out", str(tmp_path / "one")])
    assert single.returncode == 0, single.stderr
    parallel = pretrain([*common, "--out", str(tmp_path / "two")], ranks=2)
    assert parallel.returncode == 0, parallel.stderr
    assert parallel.stderr.count("tinyalbert pretraining:") == 1  # one process announces and logs
    one = load_file(tmp_path / "one" / "checkpoint" / "model.safetensors")
    two = load_file(tmp_path / "two" / "checkpoint" / "model.safetensors")
    assert one.keys() == two.keys()
    for name in one:
        scale = max(float(np.max(np.abs(one[name]))), FLOOR)
        assert float(np.max(np.abs(one[name].astype(np.float64) - two[name]))) <= TOLERANCE["float32"] * scale, name
    assert (tmp_path / "two" / "final").is_dir()


@pytest.mark.parametrize("stop_at", [3, 4])  # a step with a periodic checkpoint, and one without (a signal's)
def test_pretrain_resumed_under_mpiexec_with_dropout_continues_as_the_unbroken_run(corpus_and_tokenizer, tmp_path,
                                                                                  stop_at):
    """A checkpoint holds the first process's dropout generator only. The second process started
    its generator afresh on --resume, so a run stopped and resumed drew other masks there than the
    unbroken run (1e-2 apart after 8 steps); it now draws each step's masks from (seed, rank,
    step), so the two end bit for bit alike wherever the run stopped."""
    needs_mpi()
    import json

    from safetensors.numpy import load_file

    root = corpus_and_tokenizer
    config = {**json.loads((root / "config.json").read_text()), "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1, "classifier_dropout_prob": 0.1}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    common = ["--corpus", str(root / "corpus.txt"), "--tokenizer", str(root / "tok"), "--config",
              str(tmp_path / "config.json"), "--steps", "6", "--batch-size", "4", "--max-seq-length", "24",
              "--lr", "3e-3", "--warmup-steps", "2", "--save-every", "3", "--log-every", "3", "--seed", "3"]
    unbroken = pretrain([*common, "--out", str(tmp_path / "unbroken")], ranks=2)
    assert unbroken.returncode == 0, unbroken.stderr
    stopped = pretrain([*common, "--out", str(tmp_path / "pieces"), "--stop-at", str(stop_at)], ranks=2)
    assert stopped.returncode == 0, stopped.stderr
    resumed = pretrain([*common, "--out", str(tmp_path / "pieces"), "--resume"], ranks=2)
    assert resumed.returncode == 0, resumed.stderr
    whole = load_file(tmp_path / "unbroken" / "checkpoint" / "model.safetensors")
    pieces = load_file(tmp_path / "pieces" / "checkpoint" / "model.safetensors")
    for name in whole:
        np.testing.assert_array_equal(pieces[name], whole[name], err_msg=name)


def test_a_diverging_run_under_mpiexec_says_so_once(corpus_and_tokenizer, tmp_path):
    """The summed loss is nan on every process at the same step: one error line, not one each."""
    needs_mpi()
    root = corpus_and_tokenizer
    result = pretrain(["--corpus", str(root / "corpus.txt"), "--tokenizer", str(root / "tok"), "--config",
                       str(root / "config.json"), "--steps", "8", "--batch-size", "4", "--max-seq-length", "24",
                       "--lr", "1e38", "--warmup-steps", "0", "--clip-norm", "0", "--log-every", "1",
                       "--out", str(tmp_path / "run")], ranks=2)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and " at step " in errors[0] and "training stopped" in errors[0], result.stderr


def test_sigterm_to_mpiexec_saves_once_and_says_so_once(corpus_and_tokenizer, tmp_path):
    """mpiexec passes SIGTERM to every process; they agree on the step to stop after, the first one
    saves, and one line (not one per process) tells where the checkpoint is."""
    needs_mpi()
    import signal

    root, out = corpus_and_tokenizer, tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [mpiexec(), "-n", "2", sys.executable, "-m", "tinyalbert.pretrain", "--corpus", str(root / "corpus.txt"),
         "--tokenizer", str(root / "tok"), "--config", str(root / "config.json"), "--out", str(out),
         "--steps", "100000", "--batch-size", "4", "--max-seq-length", "24", "--log-every", "1",
         "--save-every", "100000"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if line.startswith("step 3/"):
                process.send_signal(signal.SIGTERM)
                break
        rest = process.stderr.read()
        assert process.wait(timeout=60) != 0, rest
    finally:
        process.kill()
    assert rest.count("interrupted after step") == 1 and "(SIGTERM)" in rest and "--resume" in rest, rest
    from tinyalbert.train.checkpoints import CHECKPOINT_DIR, read_trainer_state

    assert read_trainer_state(out / CHECKPOINT_DIR)["step"] >= 3


def test_pretrain_under_mpiexec_refuses_a_batch_that_does_not_split(corpus_and_tokenizer, tmp_path):
    needs_mpi()
    root = corpus_and_tokenizer
    result = pretrain(["--corpus", str(root / "corpus.txt"), "--tokenizer", str(root / "tok"), "--config",
                       str(root / "config.json"), "--steps", "2", "--batch-size", "5", "--max-seq-length", "24",
                       "--out", str(tmp_path / "odd")], ranks=2, timeout=120)
    assert result.returncode == 2
    assert "must be a multiple of the 2 processes" in result.stderr


def test_a_process_that_fails_takes_the_job_down(tmp_path):
    """Only the first process prepares the run, the others wait for it: its error must end them too,
    at once, not after --mpi-timeout."""
    needs_mpi()
    result = pretrain(["--corpus", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "out"),
                       "--vocab-size", "50", "--steps", "2", "--mpi-timeout", "300"], ranks=2, timeout=120)
    assert result.returncode != 0
    assert "error: corpus path" in result.stderr


# --- python -m tinyalbert.finetune under mpiexec --------------------------------------------------
@pytest.fixture(scope="module")
def finetune_files(tmp_path_factory):
    """Each task's small file, and tinyalbert-mini without dropout before its heads: each process
    draws dropout masks of its own, so with dropout the runs would differ by design."""
    from test_finetune_cli import write_task_files

    from tinyalbert import AlbertForPreTraining, AlbertTokenizer

    root = tmp_path_factory.mktemp("mpi_finetune")
    AlbertForPreTraining.from_pretrained("tinyalbert-mini", classifier_dropout_prob=0.0).save_pretrained(root / "model")
    AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(root / "model")
    return root, write_task_files(root)


def finetune_command(args, *, ranks=None, timeout=300):
    return run_command("tinyalbert.finetune", args, ranks=ranks, timeout=timeout)


def test_finetune_shards_weighted_by_their_targets_sum_to_the_whole_batch(monkeypatch):
    """data_parallel_loss_and_grads on each of 3 stand-in processes, their contributions added (as
    the all-reduce adds them): the whole batch's loss and gradients, in float64, for every task.
    Rows hold different numbers of labelled tokens, and one process gets rows with none."""
    from tinyalbert.finetune_loop import data_parallel_loss_and_grads
    from tinyalbert.task_models import (AlbertForMultipleChoice, AlbertForQuestionAnswering,
                                        AlbertForSequenceClassification, AlbertForTokenClassification)
    from tinyalbert.train import distributed

    monkeypatch.setattr(distributed, "allreduce_sum", lambda flat, ranks, what="": flat)  # one process's part
    shape = dict(vocab_size=40, embedding_size=6, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=12, max_position_embeddings=16, classifier_dropout_prob=0.0)
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 40, size=(7, 6))
    mask = np.ones_like(ids)
    mask[4:, 4:] = 0
    common = dict(input_ids=ids, attention_mask=mask, token_type_ids=np.zeros_like(ids))
    token_labels = np.where(rng.random((7, 6)) < 0.5, rng.integers(0, 3, (7, 6)), -100)
    token_labels[3:5] = -100  # the second of 3 processes (rows 3-4) holds no labelled token
    cases = {
        "text-classification": (AlbertForSequenceClassification, 3, {**common, "labels": rng.integers(0, 3, 7)}),
        "token-classification": (AlbertForTokenClassification, 3, {**common, "labels": token_labels}),
        "question-answering": (AlbertForQuestionAnswering, 2, {**common, "start_positions": rng.integers(0, 6, 7),
                                                               "end_positions": rng.integers(0, 6, 7)}),
        "multiple-choice": (AlbertForMultipleChoice, 2, {"input_ids": np.stack([ids, ids[::-1]], 1),
                                                         "attention_mask": np.stack([mask, mask[::-1]], 1),
                                                         "token_type_ids": np.zeros((7, 2, 6), dtype=np.int64),
                                                         "labels": rng.integers(0, 2, 7)}),
    }
    cases = [(task, model_class, num_labels, None, batch) for task, (model_class, num_labels, batch) in cases.items()]
    # Text classification's other problem types: float targets, -100.0 among them a value like any other.
    scores = rng.normal(size=7)
    scores[2] = -100.0
    cases += [("text-classification", AlbertForSequenceClassification, 1, "regression", {**common, "labels": scores}),
              ("text-classification", AlbertForSequenceClassification, 3, "multi_label_classification",
               {**common, "labels": (rng.random((7, 3)) < 0.4).astype(np.float64)})]
    for task, model_class, num_labels, problem_type, batch in cases:
        config = AlbertConfig(num_labels=num_labels, problem_type=problem_type, **shape)
        model = model_class(config, dtype="float64", seed=1)
        loss, grads = model.loss_and_grads(**batch)
        parts = [data_parallel_loss_and_grads(model, task, batch, Ranks(None, rank, 3, None, 1.0)) for rank in range(3)]
        what = f"{task} ({problem_type})" if problem_type else task
        assert sum(part_loss for part_loss, _ in parts) == pytest.approx(float(loss), rel=1e-12), what
        for name, grad in grads.items():
            np.testing.assert_allclose(sum(part[name] for _, part in parts), grad, rtol=1e-10, atol=1e-15,
                                       err_msg=f"{what}: {name}")
    no_labels = {**common, "labels": np.full_like(ids, -100)}  # one process would give nan: so does the job
    loss, _ = data_parallel_loss_and_grads(AlbertForTokenClassification(AlbertConfig(num_labels=3, **shape)),
                                           "token-classification", no_labels, Ranks(None, 0, 3, None, 1.0))
    assert np.isnan(loss)


def test_a_diverging_finetune_under_mpiexec_says_so_once(finetune_files, tmp_path):
    """Every process has the summed loss, and each printed the error line."""
    needs_mpi()
    root, files = finetune_files
    task = "text-classification"
    result = finetune_command(["--task", task, "--model", str(root / "model"), "--train", str(files[task]),
                               "--validation", str(files[task]), "--epochs", "1", "--batch-size", "4",
                               "--max-seq-length", "24", "--lr", "1e38", "--clip-norm", "0", "--quiet",
                               "--out", str(tmp_path / "out")], ranks=2)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "the loss became" in errors[0], result.stderr


@pytest.mark.parametrize("task", ["text-classification", "token-classification", "question-answering",
                                  "multiple-choice"])
def test_finetune_under_mpiexec_takes_the_steps_of_one_process(finetune_files, tmp_path, task):
    """The command: two processes with their blocks of every batch (5 rows: 3 and 2, the epoch's
    last batch split too) take one process's steps, and the first alone writes OUT and prints.

    float32 gradients summed in another order differ in their last bits, and AdamW divides each
    update by the root of its own squared gradients: a weight whose gradient is rounding noise
    moves by about lr either way. The attention's key bias is such a weight (a softmax ignores
    what it adds to every score of a row). So each tensor's change from its start is compared,
    not its entries: measured at most 2.6e-4 of the change (a run whose processes never add
    their gradients: 1.2); the key bias, all noise, is left out."""
    needs_mpi()
    from safetensors.numpy import load_file

    root, files = finetune_files
    common = ["--task", task, "--model", str(root / "model"), "--train", str(files[task]), "--validation",
              str(files[task]), "--epochs", "2", "--batch-size", "5", "--max-seq-length", "24", "--lr", "3e-4",
              "--quiet"]
    single = finetune_command([*common, "--out", str(tmp_path / "one")])
    assert single.returncode == 0, single.stderr
    parallel = finetune_command([*common, "--out", str(tmp_path / "two")], ranks=2)
    assert parallel.returncode == 0, parallel.stderr
    assert parallel.stdout.count('"best"') == 1, parallel.stdout
    # The new head is announced once, as one process announces it (each process warned before).
    assert single.stderr.count("newly initialized") == parallel.stderr.count("newly initialized") == 1, parallel.stderr
    start = load_file(root / "model" / "model.safetensors")
    one = load_file(tmp_path / "one" / "checkpoint" / "model.safetensors")
    two = load_file(tmp_path / "two" / "checkpoint" / "model.safetensors")
    assert one.keys() == two.keys()
    compared = [name for name in one if name in start and not name.endswith("attention.key.bias")]
    assert len(compared) > 10
    for name in compared:
        change = np.linalg.norm(one[name].astype(np.float64) - start[name])
        assert np.linalg.norm(one[name].astype(np.float64) - two[name]) <= 1e-2 * change, name
    # The new head, against its own size (its start is not saved): measured at most 2e-7. The biases
    # of the span and choice heads are all noise too: they shift every position's (every choice's)
    # score alike, which a softmax ignores.
    new_head = [name for name in one if name not in start
                and not (task in ("question-answering", "multiple-choice") and name.endswith(".bias"))]
    assert new_head
    for name in new_head:
        assert np.linalg.norm(one[name].astype(np.float64) - two[name]) <= 1e-4 * np.linalg.norm(one[name]), name
    assert len((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()) == 2  # one line an epoch
