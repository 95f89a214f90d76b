"""The sandboxed side: runs inside `python -I`, in its own temporary directory, under limits.

Started by `sandbox.Sandbox` with two pipe descriptors: requests come in on one, results go out
on the other (stdout and stderr go to a capped file that only course staff see). Steps:

1. apply the memory, file-size and CPU limits (resource.setrlimit);
2. turn tinyalbert's reference versions of the graded names into tripwires (the function objects
   themselves, so every route to them is cut: a module attribute, a dict of activations, a helper
   that calls them), so a submission that calls them fails that check with a message instead of
   scoring;
3. load the submission's `.py` files and report which graded names it defines;
4. answer requests: call a graded name on the given arguments, send back the selected outputs
   and the arguments as they are after the call (see `execute`).

Nothing here decides a score: the grader compares what comes back with the reference, and the
arguments that come back with those it sent (`calling.arguments_changed`), so whatever the
student code does to this process can only spoil its own answers.
"""
from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import inspect
import os
import resource
import signal
import struct
import sys
import traceback

import numpy as np  # imported before the memory limit, as the grader's own dependency

from . import codec
from .calling import argument_arrays, entry_at, invoke
from .reference import GRADED_METHODS, resolve, split_entry

USED_REFERENCE: set = set()
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tinyalbert/: not the student's frames


class ReferenceUsed(BaseException):
    """Raised by a tripwire; a BaseException so that `except Exception` in student code lets it by."""


class CappedWriter:
    """sys.stdout/sys.stderr replacement that keeps at most `cap` bytes and drops the rest."""

    def __init__(self, fd: int, cap: int):
        self.fd, self.left, self.cap = fd, cap, cap
        self.encoding = "utf-8"

    def write(self, text):
        data = str(text).encode("utf-8", "replace")
        chunk = data[: max(self.left, 0)]
        if len(chunk) < len(data) and self.left >= 0:  # the first write past the cap says so, once
            chunk += f"\n[... the rest was not kept: more than {self.cap} bytes printed]\n".encode()
            self.left = -1
        else:
            self.left -= len(chunk)
        if chunk:
            try:
                os.write(self.fd, chunk)
            except OSError:
                self.left = -1
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


def apply_limits(limits: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the cap fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["print_bytes"] * 2, limits["print_bytes"] * 2))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    total = int(limits["cpu_total_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (total, total + 1))


def allow_cpu(seconds: float) -> None:
    """Let the next call use `seconds` more CPU time (SIGXCPU ends the process past it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (min(soft, hard), hard))


def _hit(name):
    USED_REFERENCE.add(name)
    raise ReferenceUsed(f"called tinyalbert's reference `{name}`")


def _tripwire_body(*args, _tripwire_hit=None, _tripwire_name=None, **kwargs):
    """The code every reference function object is given: it reads nothing but its own defaults
    (it runs with the reference module's globals), set by `_disarm`."""
    _tripwire_hit(_tripwire_name)


def _disarm(function, name) -> None:
    """Give the reference function object itself the tripwire's code, so that every reference to
    it trips: a module attribute, and also a dict or tuple holding it (`ACTIVATIONS["gelu_new"]`),
    a default argument, a `functools.partial`. Left as it is when it cannot take the code (not a
    plain function, or one with a closure): the rebinding in `install_tripwires` still holds."""
    code = getattr(function, "__code__", None)
    if code is None or getattr(function, "__closure__", None):
        return
    try:
        function.__code__ = _tripwire_body.__code__
        function.__defaults__ = None
        function.__kwdefaults__ = {"_tripwire_hit": _hit, "_tripwire_name": name}
    except (AttributeError, TypeError, ValueError):
        pass


def install_tripwires(graded) -> None:
    """Only ever in the student's process: the grader's own reference calls run in the grader."""
    for name in graded:
        original = resolve(name)

        def tripwire(*args, _name=name, **kwargs):
            _hit(_name)

        if name in GRADED_METHODS:
            for method in GRADED_METHODS[name]:
                _disarm(vars(original).get(method), name)
                setattr(original, method, tripwire)
            continue
        _disarm(original, name)
        module, path = split_entry(name)
        if len(path) == 2:
            setattr(getattr(importlib.import_module(module), path[0]), path[1], tripwire)
            continue
        for module_name, module_object in list(sys.modules.items()):
            if module_name.split(".")[0] != "tinyalbert" or module_object is None:
                continue
            for attribute, value in list(vars(module_object).items()):
                if value is original:
                    setattr(module_object, attribute, tripwire)


def reference_uses_in_source(source: str, graded) -> list:
    """Graded names that the source imports from tinyalbert or reads as an attribute of it."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found, aliases = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tinyalbert":
            found.update(alias.name for alias in node.names if alias.name in graded)
            aliases.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            aliases.update((alias.asname or alias.name).split(".")[0] for alias in node.names
                           if alias.name.split(".")[0] == "tinyalbert")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in graded:
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                found.add(node.attr)
    return sorted(found)


# Calls that load a module's code a second time, around the tripwires: not allowed in a submission.
RELOADERS = frozenset({"reload", "run_path", "run_module", "spec_from_file_location", "SourceFileLoader",
                       "module_from_spec", "exec_module", "getsource"})


def reloads_modules(source: str) -> str:
    """The first call in `source` that re-executes or re-reads module code (e.g. importlib.reload), or ""."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in RELOADERS:
                return name
    return ""


SUBMISSION_PREFIX = None  # the submission's directory in this process, left out of tracebacks


def load_submission(directory: str, graded):
    """Execute each .py file of the submission.

    Returns (namespace, load errors, flagged). The namespace holds the functions and classes each
    file *defines* (a name a file only imports, e.g. a given helper imported from tinyalbert, does
    not count), so a directory with every exercise's file works. Flagged: a graded name defined
    nowhere but imported from tinyalbert, and every graded name defined in a file that loads
    module code again (around the tripwires).
    """
    global SUBMISSION_PREFIX
    SUBMISSION_PREFIX = os.path.join(directory, "")
    sys.path.insert(0, directory)
    namespace, errors, imported, reloading, defined_in, defined_by = {}, [], {}, {}, {}, {}
    for file_name in sorted(os.listdir(directory)):
        if not file_name.endswith(".py"):
            continue
        path = os.path.join(directory, file_name)
        with open(path, encoding="utf-8", errors="replace") as handle:
            source = handle.read()
        for name in reference_uses_in_source(source, graded):
            imported.setdefault(name, file_name)
        reloader = reloads_modules(source)
        if reloader:
            reloading[file_name] = reloader
        module_name = file_name[:-3]
        if module_name in sys.modules:  # e.g. a file called numpy.py or json.py: keep the real module
            module_name = f"submission_{module_name}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except BaseException as error:  # a submission may raise anything, SystemExit included
            errors.append(f"{file_name}: {describe(error)}")
            continue
        defined = {key: value for key, value in vars(module).items()
                   if callable(value) and getattr(value, "__module__", None) == module_name}
        namespace.update(defined)
        defined_in.update({key: file_name for key in defined})
        for key in defined:
            defined_by.setdefault(key, []).append(file_name)
    flagged = {name: f"{file_name} takes `{name}` from tinyalbert instead of writing it"
               for name, file_name in imported.items() if name not in namespace}
    for name in graded:
        if defined_in.get(name) in reloading:
            file_name = defined_in[name]
            flagged[name] = f"{file_name} calls {reloading[file_name]}(): a submission may not load module code again"
    for name, files in sorted(defined_by.items()):
        if name in graded and len(files) > 1:
            errors.append(f"`{name}` is defined in {', '.join(files)}: the one in {files[-1]} is graded "
                          "(the last file by name); remove the others")
    return namespace, errors, flagged


SIGNATURES: dict = {}  # graded name -> "name(parameters)" of the reference, for wrong-signature errors


def _student_frames(error: BaseException) -> list:
    """The traceback frames of the student's own files."""
    return [frame for frame in traceback.extract_tb(error.__traceback__)
            if not frame.filename.startswith((PACKAGE_DIR, "<frozen "))]


def describe(error: BaseException) -> str:
    """The exception and the last frames of the student's own files."""
    if type(error) is NotImplementedError and not str(error):  # the stub's own raise, untouched
        return "not written yet: the body still raises NotImplementedError"
    if isinstance(error, SyntaxError) and error.text:  # show the line itself, as Python's traceback does
        name = os.path.basename(error.filename or "")
        column = max((error.offset or 1) - 1, 0)
        return (f"{type(error).__name__}: {error.msg} ({name}, line {error.lineno})\n"
                f"    {error.text.rstrip()}\n    {' ' * column}^")
    frames = _student_frames(error)
    # File names as the student knows them: "linear.py", not this process's temporary directory.
    where = "".join(traceback.format_list(frames[-3:])).replace(SUBMISSION_PREFIX or "\0", "")
    kind = "called sys.exit" if isinstance(error, SystemExit) else type(error).__name__
    return f"{kind}: {error}" + (f"\n{where}" if where else "")


def read_frame(fd: int):
    def read_exact(count):
        data = b""
        while len(data) < count:
            chunk = os.read(fd, count - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    header = read_exact(struct.unpack("<Q", read_exact(8))[0])
    archive = read_exact(struct.unpack("<Q", read_exact(8))[0])
    return header, archive


def write_frame(fd: int, value) -> None:
    write_bytes(fd, codec.to_bytes(value))


def unsendable(error: Exception) -> dict:
    """The reply for a result the codec could not carry (`checks.InProcess` gives the same)."""
    return {"ok": False, "error": f"the result could not be sent back: {type(error).__name__}: {error} "
                                  "(return arrays, numbers and tuples, lists or dicts of them)"}


def write_bytes(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def select_paths(value, paths):
    """The entries of `value` at `paths` (a list of paths, each a list of keys; None: `value` itself)."""
    if paths is None:
        return value
    if isinstance(value, np.ndarray) and any(path and isinstance(path[0], int) for path in paths):
        # result[0] of one array would silently be its first row
        raise TypeError(f"the result is one array of shape {tuple(value.shape)} where a tuple is expected "
                        "(return what the docstring says, e.g. (output, cache))")
    picked = []
    for path in paths:
        item = value
        for step in path:
            item = item[step]
        picked.append(item)
    return picked


def perturbed(original_args, perturbation):
    """A deep copy of the request's arguments with one entry of one array moved:
    perturbation = [path, flat index, delta]."""
    path, index, delta = perturbation
    args = copy.deepcopy(original_args)
    array = args
    for step in path:
        array = array[step]
    array[np.unravel_index(index, array.shape)] += delta  # in place whatever the memory order (reshape may copy)
    return args


def _container(value) -> str:
    """"a dict with keys ['b', 'weight']", "a tuple of 2", "None": what a path could not go into."""
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value, key=str)!r}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)}"
    return "None" if value is None else f"a {type(value).__name__}"


def missing_entry(result, paths) -> str:
    """Why `select_paths(result, paths)` failed: the first path with no entry, and what is there
    instead (the keys of the dict, the length of the tuple)."""
    for path in paths or []:
        item = result
        for depth, step in enumerate(path):
            try:
                item = item[step]
            except Exception:  # a student's object may raise anything here
                where = "it" if depth == 0 else f"its entry {list(path[:depth])}"
                hint = ("use the keys the docstring names" if isinstance(item, dict)
                        else "return what the docstring says, e.g. (output, cache)")
                return f"the result has no entry at {list(path)}: {where} is {_container(item)} ({hint})"
    return f"the result is {_container(result)}, not what the docstring says"


def execute(namespace, target, call_args, *, select=None, keep=None, slots=None, in_process=False) -> dict:
    """Call the graded name `target` on `call_args` ({"args": [...], "kwargs": {...}}, already this
    call's own copy) and build the reply the grader reads; `checks.InProcess` runs the same code:

        {"ok": True, "value": {"outputs": the entries of the result at `select` (all of it: None),
                               "arguments": `call_args` as they are after the call,
                               "replaced": paths of the argument arrays no longer in their place,
                               "kept": the whole result, when `keep` names the slot it is kept in}}
        {"ok": False, "error": what went wrong, "reference": graded names whose tripwire it hit}

    Nothing is decided here: the grader compares "arguments" with what it sent; "replaced" (which
    the values alone cannot show: an array swapped for an equal one) can only fail a call.
    `in_process`: a KeyboardInterrupt is the person at the keyboard, not the student code's.
    """
    USED_REFERENCE.clear()
    given = list(argument_arrays(call_args["args"], call_args["kwargs"]))
    try:
        result = invoke(namespace, target, call_args["args"], call_args["kwargs"])
        if keep:
            slots[keep] = result
    except BaseException as error:  # a submission may raise anything, SystemExit included
        if in_process and isinstance(error, KeyboardInterrupt):
            raise
        message = describe(error)
        if isinstance(error, TypeError) and not _student_frames(error) and target in SIGNATURES:
            # raised by the call itself: the student's signature differs from the one graded
            message += f"\nthe grader calls {SIGNATURES[target]}: keep that signature"
        if USED_REFERENCE:
            message = f"reference used: {message}"
        return {"ok": False, "error": message, "reference": sorted(USED_REFERENCE)}
    replaced = [path for path, array in given if entry_at(call_args, path) is not array]
    try:
        outputs = select_paths(result, select)
    except Exception as error:  # no such entry (or a result whose __getitem__ raises)
        if isinstance(result, np.ndarray) and isinstance(error, TypeError):
            return {"ok": False, "error": str(error)}
        return {"ok": False, "error": missing_entry(result, select)}
    value = {"outputs": outputs, "arguments": call_args, "replaced": replaced}
    if keep:
        value["kept"] = result
    return {"ok": True, "value": value}


def run_call(namespace, request, slots, args=None):
    allow_cpu(request["cpu_s"])
    return execute(namespace, request["target"], request["args"] if args is None else args,
                   select=request.get("select"), keep=request.get("keep"), slots=slots)


def serve(namespace, request_fd, result_fd):
    slots: dict = {}
    while True:
        try:
            header, archive = read_frame(request_fd)
        except EOFError:
            return
        request = codec.from_bytes(header, archive, trusted=True, slots=slots)
        if request["op"] == "exit":
            return
        if request["op"] == "call":
            reply = run_call(namespace, request, slots)
        else:  # "perturbed": the same call at several perturbed copies of the arguments
            original = copy.deepcopy(request["args"])  # kept apart from anything the calls may change
            reply = {"ok": True, "value": [run_call(namespace, request, slots, perturbed(original, p))
                                           for p in request["perturbations"]]}
        try:
            data = codec.to_bytes(reply)
        except Exception as error:  # e.g. a result nested past the codec's depth, or a key json refuses
            data = codec.to_bytes(unsendable(error))
        write_bytes(result_fd, data)


def main(request_fd: int, result_fd: int) -> None:
    header, archive = read_frame(request_fd)
    setup = codec.from_bytes(header, archive, trusted=True)
    sys.stdout = sys.stderr = CappedWriter(1, setup["limits"]["print_bytes"])
    for module in {split_entry(name)[0] for name in setup["graded"]}:
        importlib.import_module(module)
    apply_limits(setup["limits"])
    original = {name: resolve(name) for name in setup["graded"]}
    for name, function in original.items():  # read before the tripwires hide them
        try:
            SIGNATURES[name] = f"{name}{inspect.signature(function)}"
        except (TypeError, ValueError):
            pass
    install_tripwires(setup["graded"])
    namespace, errors, flagged = load_submission(setup["directory"], set(setup["graded"]))
    for name in setup["graded"]:
        value = namespace.get(name)
        if value is not None and (value is original[name] or getattr(value, "__name__", "") == "tripwire"):
            flagged[name] = f"`{name}` is tinyalbert's reference, imported rather than written"
    found = sorted(name for name in setup["graded"] if callable(namespace.get(name)))
    write_frame(result_fd, {"found": found, "errors": errors, "flagged": flagged})
    serve(namespace, request_fd, result_fd)
