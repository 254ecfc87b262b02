"""Switch the test models of one of Django's test packages to a base model of the baked project.

Each class that lists `models.Model` among its bases gets the base model (`TrackableModel`, say) instead, imported
from the project's `apps.core.models`. Nothing else changes, and nothing moves to another line (the import is added
on the line of the module's first import), so a traceback points at the line Django's own source has. Models that
inherit from another test model get the base model through their parent; abstract test models are switched like the
others (the base models are abstract too, so the result is what a user who swapped the base class would write),
except an abstract model that declares no field: a mixin of managers or methods, which a user would not turn into an
audited model (and which a proxy model may inherit only while it has no fields), and, on Django 6.1, a model that
uses a database-level on_delete (DB_CASCADE, DB_SET_NULL, DB_SET_DEFAULT) or is the target of one: Django does not
let a model mix those with Python-level variants, and the audit fields' SET_NULL is one (the baked README says so).
"""

import ast
from pathlib import Path

from .errors import CompatError

BASE_MODULE = "apps.core.models"
BASES = ("TrackableModel", "TimestampedModel")


def switch_bases(source, base, filename="models.py"):
    """(the transformed source, names of the classes switched) for one models module."""
    if base not in BASES:
        raise CompatError(f"Unknown base model {base!r}: expected one of {', '.join(BASES)}.")
    tree = ast.parse(source, filename)
    if base in _bound_names(tree):
        raise CompatError(f"{filename} already defines or imports {base}; the switch would change its meaning.")
    edits = []
    switched = []
    database_level = _database_level_on_delete(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and not _is_mixin(node) and node.name not in database_level:
            for expression in node.bases:
                if _is_models_model(expression):
                    if expression.end_lineno != expression.lineno:
                        raise CompatError(f"{filename}:{expression.lineno}: a base class split over lines.")
                    edits.append((expression.lineno, expression.col_offset, expression.end_col_offset, base))
                    switched.append(node.name)
    if not switched:
        return source, []
    anchor = next((node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))), None)
    if anchor is None:
        raise CompatError(f"{filename} has no top-level import to put the import of {base} beside.")
    edits.append(
        (anchor.end_lineno, anchor.end_col_offset, anchor.end_col_offset, f"; from {BASE_MODULE} import {base}")
    )
    return _apply(source, edits), switched


def switch_package(folder, base):
    """Switch the models of the test package in `folder` (its models.py, or each module of a models/ package) in
    place; {module path relative to folder: [class names switched]}."""
    folder = Path(folder)
    modules = [folder / "models.py"] if (folder / "models.py").is_file() else sorted((folder / "models").glob("*.py"))
    switched = {}
    for path in modules:
        source = path.read_text(encoding="utf-8")
        new_source, names = switch_bases(source, base, filename=str(path))
        if names:
            path.write_text(new_source, encoding="utf-8")
            switched[str(path.relative_to(folder))] = names
    if not switched:
        raise CompatError(f"No model of {folder.name} subclasses models.Model; there is nothing to switch.")
    return switched


def _is_models_model(expression):
    return (
        isinstance(expression, ast.Attribute)
        and expression.attr == "Model"
        and isinstance(expression.value, ast.Name)
        and expression.value.id == "models"
    )


def _is_mixin(classdef):
    """An abstract model whose body assigns nothing but managers: no call other than to a *Manager class or to
    .as_manager() (a field is always a call: models.CharField(...), a custom field, GenericForeignKey())."""
    meta = next((node for node in classdef.body if isinstance(node, ast.ClassDef) and node.name == "Meta"), None)
    abstract = meta is not None and any(
        isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "abstract" for target in node.targets)
        and isinstance(node.value, ast.Constant)
        and node.value.value is True
        for node in meta.body
    )
    if not abstract:
        return False
    for node in classdef.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Call) and not _is_manager_call(value):
            return False
    return True


def _database_level_on_delete(tree):
    """Names of the classes with a relation whose on_delete is a database-level variant, and of their targets."""
    names = set()
    for classdef in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
        for call in (node for node in ast.walk(classdef) if isinstance(node, ast.Call)):
            arguments = [*call.args[1:2], *(keyword.value for keyword in call.keywords if keyword.arg == "on_delete")]
            if any(_names_db_variant(argument) for argument in arguments):
                names.add(classdef.name)
                target = call.args[0] if call.args else None
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, ast.Constant) and isinstance(target.value, str):
                    names.add(target.value.rsplit(".", 1)[-1])
    return names


def _names_db_variant(expression):
    name = expression.attr if isinstance(expression, ast.Attribute) else getattr(expression, "id", "")
    return name.startswith("DB_")


def _is_manager_call(call):
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name == "as_manager" or name.endswith("Manager")


def _bound_names(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _apply(source, edits):
    """Apply (line, start, end, text) edits; ast's columns count UTF-8 bytes, so the lines are edited as bytes."""
    lines = source.splitlines(keepends=True)
    for lineno, start, end, text in sorted(edits, key=lambda edit: (edit[0], edit[1]), reverse=True):
        line = lines[lineno - 1].encode("utf-8")
        lines[lineno - 1] = (line[:start] + text.encode("utf-8") + line[end:]).decode("utf-8")
    return "".join(lines)
