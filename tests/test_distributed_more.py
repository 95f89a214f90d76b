"""Data-parallel runs as a user meets them: slow preparation, a process that stops answering, errors
and warnings said once, resuming on another number of processes, Ctrl-C.

Each run is `mpiexec -n 2` on a tiny model and corpus. A few tests make one process slow or stuck
by running the command through a short launcher (`LAUNCHER`) that wraps one of its functions.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from test_distributed import FLOOR, ROOT, TOLERANCE, mpiexec, needs_mpi, run_command

from tinyalbert.train.distributed import launched_as_follower

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
       "HF_HUB_OFFLINE": "1"}

# python -c LAUNCHER MODULE ARGS: run `python -m MODULE ARGS` with PATCH_TARGET ("module:function")
# wrapped on the ranks in PATCH_RANKS: PATCH=slow sleeps PATCH_SECONDS before each call, PATCH=hang
# stops answering at call number PATCH_CALL, PATCH=raise raises a ValueError there.
LAUNCHER = """
import importlib, os, runpy, sys, time
rank = int(os.environ.get("PMI_RANK", "0"))
if str(rank) in os.environ["PATCH_RANKS"].split(","):
    module_name, name = os.environ["PATCH_TARGET"].split(":")
    module = importlib.import_module(module_name)
    original, calls = getattr(module, name), []
    def wrapped(*args, **kwargs):
        calls.append(1)
        if os.environ["PATCH"] == "slow":
            time.sleep(float(os.environ["PATCH_SECONDS"]))
        elif len(calls) == int(os.environ["PATCH_CALL"]) and os.environ["PATCH"] == "hang":
            time.sleep(3600)
        elif len(calls) == int(os.environ["PATCH_CALL"]):
            raise ValueError("cannot prepare here")
        return original(*args, **kwargs)
    setattr(module, name, wrapped)
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def launched(module, args, patch: dict, *, timeout=120):
    """`mpiexec -n 2 python -m MODULE ARGS` with one function wrapped as `patch` says (see LAUNCHER)."""
    command = [mpiexec(), "-n", "2", sys.executable, "-c", LAUNCHER, module, *args]
    return subprocess.run(command, env={**ENV, **patch}, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def pretrain_args(root, out, *more):
    return ["--corpus", str(root / "corpus.txt"), "--tokenizer", str(root / "tok"),
            "--config", str(root / "config.json"),
            "--steps", "6", "--batch-size", "8", "--max-seq-length", "24", "--lr", "3e-3", "--warmup-steps", "2",
            "--save-every", "3", "--log-every", "2", "--seed", "3", "--out", str(out), *more]


def assert_same_parameters(one: dict, two: dict, tolerance: float = TOLERANCE["float32"]):
    assert one.keys() == two.keys()
    for name in one:
        scale = max(float(np.max(np.abs(one[name]))), FLOOR)
        assert float(np.max(np.abs(one[name].astype(np.float64) - two[name]))) <= tolerance * scale, name


def test_only_the_first_process_of_a_job_is_not_a_follower():
    assert not launched_as_follower({})
    assert not launched_as_follower({"PMI_SIZE": "1", "PMI_RANK": "0"})
    assert not launched_as_follower({"PMI_SIZE": "2", "PMI_RANK": "0"})
    assert launched_as_follower({"PMI_SIZE": "2", "PMI_RANK": "1"})
    assert launched_as_follower({"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "3"})


def test_a_slow_preparation_is_not_taken_for_a_dead_process(corpus_and_tokenizer, tmp_path):
    """Preparing the run (training the tokenizer, encoding the corpus) takes as long as the corpus
    makes it: about 12 s for 6 MB here, so past the default --mpi-timeout of 600 s from about
    300 MB. The first process prepares, the others wait for it and then prepare from what it
    wrote, while it waited for them in the first step's all-reduce: both waits had the deadline,
    and the job stopped with "did not complete within ... s; another rank has probably died".
    Here every preparation takes 2.5 s against an --mpi-timeout of 1 s."""
    needs_mpi()
    result = launched("tinyalbert.pretrain", pretrain_args(corpus_and_tokenizer, tmp_path / "run", "--mpi-timeout", "1"),
                      {"PATCH": "slow", "PATCH_SECONDS": "2.5", "PATCH_RANKS": "0,1",
                       "PATCH_TARGET": "tinyalbert.train.trainer:prepare_run"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "final").is_dir()


def test_a_process_that_stops_answering_ends_the_job_with_one_line(corpus_and_tokenizer, tmp_path):
    """The second process stops answering in its second step: the first gives up after --mpi-timeout
    with one `error:` line that names the collective and the option, not a traceback around it."""
    needs_mpi()
    result = launched("tinyalbert.pretrain", pretrain_args(corpus_and_tokenizer, tmp_path / "run", "--mpi-timeout", "2"),
                      {"PATCH": "hang", "PATCH_CALL": "2", "PATCH_RANKS": "1",
                       "PATCH_TARGET": "tinyalbert.train.distributed:data_parallel_loss_and_grads"})
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "rank 0: the gradient all-reduce did not complete within 2 s (--mpi-timeout)" in errors[0]
    assert "Traceback" not in result.stderr


def test_an_error_in_preparing_is_said_once_with_its_exit_status(corpus_and_tokenizer, tmp_path):
    """Every process found the batch that does not split, and each said so; now the first says it
    and the job ends with its status (2, a usage error), the others waiting for it to end the job."""
    needs_mpi()
    args = pretrain_args(corpus_and_tokenizer, tmp_path / "odd")
    args[args.index("--batch-size") + 1] = "5"
    result = run_command("tinyalbert.pretrain", args, ranks=2, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("error:") == 1, result.stderr
    assert "--batch-size 5 must be a multiple of the 2 processes" in result.stderr


def test_resuming_on_processes_that_do_not_divide_the_batch_says_what_to_do(corpus_and_tokenizer, tmp_path):
    """The batch size is the checkpoint's (a resumed run keeps it): the way out is another number
    of processes, not another --batch-size."""
    needs_mpi()
    out = tmp_path / "run"
    stopped = run_command("tinyalbert.pretrain", pretrain_args(corpus_and_tokenizer, out, "--stop-at", "2"))
    assert stopped.returncode == 0, stopped.stderr
    resumed = run_command("tinyalbert.pretrain", ["--out", str(out), "--resume"], ranks=3, timeout=120)
    assert resumed.returncode == 2
    assert resumed.stderr.count("error:") == 1, resumed.stderr
    assert ("--batch-size 8 must be a multiple of the 3 processes; it is the checkpoint's, so resume on a number "
            "of processes that divides 8") in resumed.stderr


def test_a_follower_that_fails_to_prepare_ends_the_job(corpus_and_tokenizer, tmp_path):
    """The second process fails to prepare while the first, prepared, waits for it without a
    deadline: the first hears of the failure and stops at once; the second's error is the one
    shown, and the job ends with its status (2)."""
    needs_mpi()
    result = launched("tinyalbert.pretrain", pretrain_args(corpus_and_tokenizer, tmp_path / "run", "--mpi-timeout", "300"),
                      {"PATCH": "raise", "PATCH_CALL": "1", "PATCH_RANKS": "1",
                       "PATCH_TARGET": "tinyalbert.train.trainer:prepare_run"}, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("error:") == 1 and "error: cannot prepare here" in result.stderr, result.stderr


def test_pretraining_resumed_on_another_number_of_processes_continues_the_run(corpus_and_tokenizer, tmp_path):
    """Allowed either way: the checkpoint holds the whole state, and every process builds the whole
    batch. Stopped at step 4 on two processes and resumed on one (and the reverse), the run ends
    at the unbroken one-process run's parameters (float32 rounding apart)."""
    needs_mpi()
    from safetensors.numpy import load_file

    def pretrain(out, *more, ranks=None):
        result = run_command("tinyalbert.pretrain", pretrain_args(corpus_and_tokenizer, out, *more), ranks=ranks)
        assert result.returncode == 0, result.stderr
        return result

    pretrain(tmp_path / "whole")
    for first, then, out in ((2, None, tmp_path / "two_then_one"), (None, 2, tmp_path / "one_then_two")):
        pretrain(out, "--stop-at", "4", ranks=first)
        pretrain(out, "--resume", ranks=then)
        assert_same_parameters(load_file(tmp_path / "whole" / "checkpoint" / "model.safetensors"),
                               load_file(out / "checkpoint" / "model.safetensors"))
    histories = [json.loads((out / "checkpoint" / "trainer_state.json").read_text())["history"]
                 for out in (tmp_path / "whole", tmp_path / "two_then_one")]
    losses = [[record["loss"] for record in history] for history in histories]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)  # the logged losses too, every step's


@pytest.fixture(scope="module")
def finetuning(tmp_path_factory):
    """tinyalbert-mini without dropout before its heads (each process draws masks of its own), and
    the tagging file of test_finetune_cli: 16 sentences, so batches of 5 end with one of 1 row."""
    from test_finetune_cli import write_task_files

    from tinyalbert import AlbertForPreTraining, AlbertTokenizer

    root = tmp_path_factory.mktemp("mpi_more_finetune")
    AlbertForPreTraining.from_pretrained("tinyalbert-mini", classifier_dropout_prob=0.0).save_pretrained(root / "model")
    AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(root / "model")
    return root, write_task_files(root)


def test_finetuning_resumed_on_another_number_of_processes_continues_the_run(finetuning, tmp_path):
    """Token classification, whose last batch of an epoch (1 row) leaves the second process none:
    two epochs on two processes, the third on one, end where three epochs on one process end, with
    the same validation metrics and every step's logged loss."""
    needs_mpi()
    from safetensors.numpy import load_file

    root, files = finetuning
    common = ["--task", "token-classification", "--model", str(root / "model"), "--train",
              str(files["token-classification"]), "--validation", str(files["token-classification"]),
              "--epochs", "3", "--batch-size", "5", "--max-seq-length", "24", "--lr", "3e-4", "--quiet"]
    for args, ranks in (([*common, "--out", str(tmp_path / "whole")], None),
                        ([*common, "--out", str(tmp_path / "pieces"), "--stop-after", "2"], 2),
                        ([*common, "--out", str(tmp_path / "pieces"), "--resume"], None)):
        result = run_command("tinyalbert.finetune", args, ranks=ranks)
        assert result.returncode == 0, result.stderr
    whole, pieces = (json.loads((tmp_path / out / "checkpoint" / "state.json").read_text())
                     for out in ("whole", "pieces"))
    assert [record["f1"] for record in pieces["history"]] == [record["f1"] for record in whole["history"]]
    np.testing.assert_allclose([loss for _, loss in pieces["losses"]], [loss for _, loss in whole["losses"]], rtol=1e-4)
    start = load_file(root / "model" / "model.safetensors")
    one, two = (load_file(tmp_path / out / "checkpoint" / "model.safetensors") for out in ("whole", "pieces"))
    for name in (name for name in one if name in start and not name.endswith("attention.key.bias")):
        change = np.linalg.norm(one[name].astype(np.float64) - start[name])  # see test_distributed's finetune test
        assert np.linalg.norm(one[name].astype(np.float64) - two[name]) <= 1e-2 * change, name


def test_a_warning_is_shown_by_the_first_process_alone(finetuning, tmp_path):
    """Every process reads the train file and met its empty text: the warning came once a process."""
    needs_mpi()
    root, files = finetuning
    train = tmp_path / "train.csv"
    train.write_text(files["text-classification"].read_text() + '"",fruit\n', encoding="utf-8")
    result = run_command("tinyalbert.finetune", ["--task", "text-classification", "--model", str(root / "model"),
                                                 "--train", str(train), "--validation",
                                                 str(files["text-classification"]), "--epochs", "1", "--batch-size",
                                                 "8", "--max-seq-length", "24", "--quiet", "--out",
                                                 str(tmp_path / "run")], ranks=2)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("example(s) with an empty text") == 1, result.stderr


def test_finetune_called_from_python_warns_once_for_the_job(finetuning, tmp_path):
    """`finetune()` from a script run under mpiexec, where no command's entry point sets the
    warnings: the file's warning still comes once, from the first process."""
    needs_mpi()
    root, files = finetuning
    train = tmp_path / "train.csv"
    train.write_text(files["text-classification"].read_text() + '"",fruit\n', encoding="utf-8")
    script = tmp_path / "run.py"
    script.write_text(
        "from tinyalbert.finetune_args import FinetuneArguments\n"
        "from tinyalbert.finetune_loop import finetune\n"
        f"finetune(FinetuneArguments(task='text-classification', model={str(root / 'model')!r}, "
        f"train={str(train)!r}, validation={str(files['text-classification'])!r}, out={str(tmp_path / 'run')!r}, "
        "epochs=1, batch_size=8, max_seq_length=24), progress=False)\n", encoding="utf-8")
    result = subprocess.run([mpiexec(), "-n", "2", sys.executable, str(script)], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("example(s) with an empty text") == 1, result.stderr


def test_ctrl_c_to_mpiexec_ends_every_process_of_a_finetuning(finetuning, tmp_path):
    """SIGINT to mpiexec reaches every process, the first one saved its last epoch, and the job ends
    with 130."""
    needs_mpi()
    root, files = finetuning
    process = subprocess.Popen(
        [mpiexec(), "-n", "2", sys.executable, "-m", "tinyalbert.finetune", "--task", "text-classification",
         "--model", str(root / "model"), "--train", str(files["text-classification"]), "--validation",
         str(files["text-classification"]), "--epochs", "1000", "--batch-size", "8", "--max-seq-length", "24",
         "--out", str(tmp_path / "run")], cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # the test's own process group does not get the signal
    try:
        for line in process.stderr:
            if line.startswith("epoch 1/"):
                process.send_signal(signal.SIGINT)
                break
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 130, rest
    finally:
        process.kill()
    assert rest.count("interrupted") == 1, rest  # said by the first process alone
    assert (tmp_path / "run" / "checkpoint").is_dir()
