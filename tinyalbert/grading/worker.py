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
import math
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
TRIPWIRED: list = []  # the graded names whose reference is a tripwire in this process (the worker's only)
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
    TRIPWIRED[:] = graded
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
# Builtins that run source text as code: the reference's own, read from its file, runs around the tripwires too.
EXECUTORS = frozenset({"exec", "compile"})
# Methods that change a dict (sys.modules: an entry removed, a module imported afresh in its place).
DICT_WRITERS = frozenset({"pop", "popitem", "clear", "update", "setdefault", "__delitem__", "__setitem__"})


def reloads_modules(source: str) -> str:
    """What in `source` re-executes or re-reads module code, as the report says it ("calls
    reload()", "calls exec()", "changes sys.modules (del sys.modules[...])"), or ""."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    sys_names, modules_names, own_names = _bound_names(tree)

    def is_sys_modules(node):
        return (isinstance(node, ast.Attribute) and node.attr == "modules" and isinstance(node.value, ast.Name)
                and node.value.id in sys_names) or (isinstance(node, ast.Name) and node.id in modules_names)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = getattr(function, "attr", None) or getattr(function, "id", None)
            if name in RELOADERS:
                return f"calls {name}()"
            builtin = (isinstance(function, ast.Name) and name not in own_names) or \
                (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name)
                 and function.value.id in ("builtins", "__builtins__"))
            if name in EXECUTORS and builtin:
                return f"calls {name}()"
            if isinstance(function, ast.Attribute) and name in DICT_WRITERS and is_sys_modules(function.value):
                return f"changes sys.modules (sys.modules.{name}())"
        targets = node.targets if isinstance(node, (ast.Delete, ast.Assign)) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            if is_sys_modules(target) or isinstance(target, ast.Subscript) and is_sys_modules(target.value):
                written = "del sys.modules[...]" if isinstance(node, ast.Delete) else "sys.modules[...] = ..."
                return f"changes sys.modules ({written})"
    return ""


def _bound_names(tree) -> tuple:
    """(names of the sys module, names of sys.modules itself, other names the file binds: by def,
    class, import, assignment, parameter, loop or `as`) in `tree`: `compile` imported from re,
    or a parameter called `compile`, is not the builtin."""
    sys_names, modules_names, own_names = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sys_names.update(alias.asname or alias.name for alias in node.names if alias.name == "sys")
            own_names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules_names.update(alias.asname or alias.name for alias in node.names
                                 if node.module == "sys" and alias.name == "modules")
            own_names.update(alias.asname or alias.name for alias in node.names if node.module != "builtins")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own_names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            own_names.add(node.id)  # compile = re.compile, for exec in ..., with ... as exec
        elif isinstance(node, ast.arg):
            own_names.add(node.arg)  # def apply(values, compile=None), lambda exec: ...
        elif isinstance(node, ast.ExceptHandler) and node.name:
            own_names.add(node.name)
    return sys_names, modules_names, own_names


def reference_live_again(graded) -> dict:
    """Graded name -> the tinyalbert module that holds tinyalbert's own version of it again, in
    place of the tripwire: a module imported afresh, after its entry in sys.modules was removed
    (the tripwires are in the first copy only). Empty while every copy holds a tripwire."""
    live = {}
    for module_name, module in list(sys.modules.items()):
        attributes = getattr(module, "__dict__", None)
        if module_name.split(".")[0] != "tinyalbert" or module_name.startswith("tinyalbert.grading") \
                or not isinstance(attributes, dict):
            continue
        for name in graded:
            if name not in live and _is_reference(attributes.get(split_entry(name)[1][0]), name):
                live[name] = module_name
    return live


def _is_reference(value, name) -> bool:
    """Whether `value` (an attribute of a tinyalbert module) is the working reference `name`: the
    function, or the class whose graded method is, of the reference's module and not disarmed."""
    module_name, path = split_entry(name)
    method = GRADED_METHODS[name][0] if name in GRADED_METHODS else path[1] if len(path) == 2 else None
    try:
        if method is not None:
            value = vars(value).get(method) if isinstance(value, type) else None
        return (callable(value) and getattr(value, "__module__", None) == module_name
                and getattr(value, "__code__", None) is not _tripwire_body.__code__)
    except Exception:  # an object of the student's put there, whose attributes raise
        return False


def _live_again_note(file_name: str, module_name: str) -> str:
    return (f"{file_name} imports {module_name} a second time, around the grader's tripwires: a submission "
            "may not load module code again")


class FileTimeout(BaseException):
    """Raised in a file that takes too long to load (a BaseException: `except Exception` lets it by)."""


def _raise_timeout(signum, frame):
    raise FileTimeout


def _load_file(module_name: str, path: str, seconds: float):
    """Execute the file at `path` as the module `module_name`, stopped by FileTimeout after `seconds`
    of wall-clock time (and every second after that, should the code catch it)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    if math.isfinite(seconds):
        signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        spec.loader.exec_module(module)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)  # the student's calls find SIGALRM as Python leaves it
    return module


# The start of the load error of one file that did not load in time (the grader leaves it out of
# the next exercises, see `grade.grade`).
FILE_TIMEOUT_NOTE = "not loaded: loading it took more than"
SUBMISSION_PREFIX = None  # the submission's directory in this process, left out of tracebacks


def load_submission(directory: str, graded, home: str | None = None, file_s: float = math.inf):
    """Execute each .py file of the submission, each within `file_s` seconds (a file that takes
    longer is that file's load error, and the others still load).

    Returns (namespace, load errors, flagged, imported). The namespace holds the functions and
    classes each file *defines* (a name a file only imports, e.g. a given helper imported from
    tinyalbert, does not count), so a directory with every exercise's file works. A graded name
    defined in several files is taken from `home` (the exercise's own file) if it is one of them,
    else from the last by name. Flagged: a graded name defined nowhere but imported from
    tinyalbert in `home`; every graded name defined in a file that loads module code again
    (around the tripwires); and every graded name once a file has imported tinyalbert's module
    afresh. Imported: graded name -> the other file that only imports it from tinyalbert (a
    given helper there: not written here, but not taken either).
    """
    global SUBMISSION_PREFIX
    SUBMISSION_PREFIX = os.path.join(directory, "")
    sys.path.insert(0, directory)
    namespace, errors, imported, reloading, defined_by, flagged = {}, [], {}, {}, {}, {}
    for file_name in sorted(os.listdir(directory)):
        if not file_name.endswith(".py"):
            continue
        path = os.path.join(directory, file_name)
        with open(path, encoding="utf-8", errors="replace") as handle:
            source = handle.read()
        for name in reference_uses_in_source(source, graded):
            if name not in imported or file_name == home:
                imported[name] = file_name
        reloader = reloads_modules(source)
        if reloader:
            reloading[file_name] = reloader
        module_name = file_name[:-3]
        if module_name in sys.modules:  # e.g. a file called numpy.py or json.py: keep the real module
            module_name = f"submission_{module_name}"
        try:
            module = _load_file(module_name, path, file_s)
        except FileTimeout:
            errors.append(f"{file_name}: {FILE_TIMEOUT_NOTE} {file_s:g} s: code at the top level (outside any "
                          "function) loops or is far too slow")
            continue
        except BaseException as error:  # a submission may raise anything, SystemExit included
            errors.append(f"{file_name}: {describe(error)}")
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # again: the alarm may have gone off inside _load_file's own finally
            for name, module_name_found in reference_live_again(graded).items():
                flagged.setdefault(name, _live_again_note(file_name, module_name_found))
        defined = {key: value for key, value in vars(module).items()
                   if callable(value) and getattr(value, "__module__", None) == module_name}
        for key, value in defined.items():
            defined_by.setdefault(key, []).append(file_name)
            if file_name == home or home not in defined_by[key]:  # the last by name, unless `home` has it
                namespace[key] = value
    for name, file_name in imported.items():
        if name not in namespace and file_name == home:
            flagged.setdefault(name, f"{file_name} takes `{name}` from tinyalbert instead of writing it")
    for name in graded:
        file_name = _graded_file(defined_by.get(name, []), home)
        if file_name in reloading and name not in flagged:
            flagged[name] = f"{file_name} {reloading[file_name]}: a submission may not load module code again"
    for name, files in sorted(defined_by.items()):
        if name in graded and len(files) > 1:
            chosen = _graded_file(files, home)
            rule = "the file named after the exercise" if chosen == home else "the last file by name"
            errors.append(f"`{name}` is defined in {', '.join(files)}: the one in {chosen} is graded ({rule}); "
                          "remove the others")
    others = {name: file_name for name, file_name in imported.items() if name not in namespace and name not in flagged}
    return namespace, errors, flagged, others


def _graded_file(files: list, home) -> str | None:
    """Of the files (in order by name) that define a graded name, the one graded (see `load_submission`)."""
    return home if home in files else (files[-1] if files else None)


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
    # (without the last line's newline: the report indents each line, and showed an empty one there)
    where = "".join(traceback.format_list(frames[-3:])).replace(SUBMISSION_PREFIX or "\0", "").rstrip("\n")
    kind = "called sys.exit" if isinstance(error, SystemExit) else type(error).__name__
    return f"{kind}: {shortened(str(error))}" + (f"\n{where}" if where else "")


MAX_MESSAGE_CHARS = 4000  # an error's text in the report; an assert that prints a list of millions is cut


def shortened(text: str) -> str:
    """`text`, or its first MAX_MESSAGE_CHARS characters and how many more there were."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[:MAX_MESSAGE_CHARS]} [... {len(text) - MAX_MESSAGE_CHARS:,} more characters]"


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
    if isinstance(error, codec.TooLarge):
        return {"ok": False, "error": str(error)}
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
    reply = execute(namespace, request["target"], request["args"] if args is None else args,
                    select=request.get("select"), keep=request.get("keep"), slots=slots)
    return _unless_live_again(reply)


def _unless_live_again(reply: dict) -> dict:
    """`reply`, or a failure once the module of a graded name has been imported afresh, during a
    call (in a way no source check sees): the tripwires are in the first copy only."""
    live = reference_live_again(TRIPWIRED)
    if not live:
        return reply
    name, module_name = next(iter(sorted(live.items())))
    return {"ok": False, "reference": sorted(live),
            "error": f"reference used: imported {module_name} a second time, around the grader's tripwires "
                     f"(where `{name}` is tinyalbert's own again): a submission may not load module code again"}


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
    file_s = min(setup["limits"].get("file_s", math.inf), setup["limits"]["startup_s"])
    namespace, errors, flagged, imported = load_submission(setup["directory"], set(setup["graded"]),
                                                           setup.get("home"), file_s)
    for name in setup["graded"]:
        value = namespace.get(name)
        if value is not None and (value is original[name] or getattr(value, "__name__", "") == "tripwire"):
            flagged[name] = f"`{name}` is tinyalbert's reference, imported rather than written"
    found = sorted(name for name in setup["graded"] if callable(namespace.get(name)))
    write_frame(result_fd, {"found": found, "errors": errors, "flagged": flagged, "imported": imported})
    serve(namespace, request_fd, result_fd)
