"""navl validation with its bookkeeping done once per shape of data.

A full rebuild validates every dataset with the show schemas, through
CKAN's ``ckan.lib.navl.dictization_functions.validate``, whoever calls it
(``package_show``'s own code, ckanext-scheming's ``validate``). Half of
that time is not spent in validators but in working out, for each dataset,
things that depend only on the *keys* of its flattened dict and on the
schema: the full schema (``make_full_schema``, twice), which keys are
"junk" or go to ``__extras``, which keys are missing, the order of the
four validator runs (each one sorts the full schema) and the order of the
keys ``unflatten`` sorts.

Datasets come in few shapes (so many resources, tags, groups, extras), so
:func:`planned` replaces navl's ``_validate`` and ``flattened_order_key``,
for the time of a ``with`` block, by versions that work that out once per
shape and reuse it. Validators run exactly as navl runs them: the same
ones, fetched from the schema at each call (ckanext-scheming builds them
again for each call), in the same order, on the same data; junk and extras
dicts are filled in the data's own order. The result is the same dict, and
the same errors (``tests/search/test_validation.py`` compares both).
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator, Optional

import ckan.lib.navl.dictization_functions as df

FlattenKey = tuple[Any, ...]

#: plans kept by a process; beyond this many shapes they are forgotten and
#: learnt again (the benchmark's catalogue has a few hundred)
MAX_PLANS = 5000


class _Plan:
    """What navl's ``_validate`` derives from a schema and the keys of one
    flattened dict."""

    __slots__ = ("paths", "full", "combinations", "before", "main", "extras",
                 "after", "missing", "junk", "placement", "subschema_prefixes")

    def __init__(self, schema: dict[str, Any], data: dict[FlattenKey, Any],
                 order_key: Any) -> None:
        flattened = df.flatten_schema(schema)
        self.combinations = df.get_all_key_combinations(data, flattened)
        full = df.make_full_schema(data, schema)
        # each key of the full schema and the path of its sub-schema (the
        # validators are looked up again at each call)
        self.paths = {key: key[:-1:2] for key in full}
        self.full = tuple(full)
        ordered = sorted(full, key=order_key)
        self.before = [k for k in ordered if k[-1] == "__before"]
        self.main = [k for k in ordered if not k[-1].startswith("__")]
        self.extras = [k for k in ordered if k[-1] == "__extras"]
        self.after = [k for k in reversed(ordered) if k[-1] == "__after"]
        self.missing = [k for k in full if not k[-1].startswith("__")]
        self.junk = ("__junk",) in full
        self.subschema_prefixes = {k[:i] for k in flattened
                                   for i in range(len(k) + 1)}
        # per key of the data outside the full schema: (placed against a
        # sub-schema, the __extras key it goes to or None for junk)
        self.placement: dict[FlattenKey, tuple[bool, Optional[FlattenKey]]] = {}

    def place(self, key: FlattenKey) -> tuple[bool, Optional[FlattenKey]]:
        found = self.placement.get(key)
        if found is None:
            against = key[::2] in self.subschema_prefixes
            extras = key[:-1] + ("__extras",) if key[:-1] in self.combinations \
                else None
            found = self.placement[key] = (against, extras)
        return found

    def validators(self, schema: dict[str, Any]) -> dict[FlattenKey, Any]:
        """The full schema: each key with the validators the schema has now."""
        subs: dict[FlattenKey, Any] = {(): schema}
        full = {}
        for key in self.full:
            path = self.paths[key]
            sub = subs.get(path)
            if sub is None:
                sub = schema
                for name in path:
                    sub = sub[name]
                subs[path] = sub
            full[key] = sub[key[-1]]
        return full


class _Planner:
    def __init__(self) -> None:
        self.plans: dict[tuple[Any, ...], _Plan] = {}
        self.orders: dict[FlattenKey, FlattenKey] = {}
        self.original_order_key = df.flattened_order_key

    def order_key(self, key: FlattenKey) -> FlattenKey:
        try:
            return self.orders[key]
        except KeyError:
            found = self.orders[key] = self.original_order_key(key)
            return found
        except TypeError:  # not hashable: as navl does
            return self.original_order_key(key)

    def plan(self, data: dict[FlattenKey, Any], schema: dict[str, Any]) -> _Plan:
        # the schema's shape, not the schema: a plugin may add keys to a
        # schema between calls (ckanext-scheming sets its fields on it), and
        # the bulk rebuild builds its schemas again for each batch
        key = (_shape(schema), frozenset(data))
        plan = self.plans.get(key)
        if plan is None:
            if len(self.plans) >= MAX_PLANS:
                self.plans.clear()
            plan = self.plans[key] = _Plan(schema, data, self.original_order_key)
        return plan

    def augment(self, data: dict[FlattenKey, Any], plan: _Plan,
                full: dict[FlattenKey, Any]) -> dict[FlattenKey, Any]:
        """navl's ``augment_data`` with the plan's answers."""
        new_data = copy.copy(data)
        remove = []
        junk = {}
        extras_keys: dict[FlattenKey, dict[Any, Any]] = {}
        for key, value in new_data.items():
            if key in full:
                continue
            against, extras_key = plan.place(key)
            if against and data[key] != []:
                raise df.DataError("Only lists of dicts can be placed against "
                                   "subschema %s, not %s" % (key, type(data[key])))
            if extras_key is not None:
                extras_keys.setdefault(extras_key, {})[key[-1]] = value
            else:
                junk[key] = value
            remove.append(key)
        if junk:
            new_data[("__junk",)] = junk
        for extras_key, extras in extras_keys.items():
            new_data[extras_key] = extras
        for key in remove:
            new_data.pop(key)
        for key in plan.missing:
            if key not in new_data:
                new_data[key] = df.missing
        return new_data

    def validate(self, data: dict[FlattenKey, Any], schema: dict[str, Any],
                 context: Any) -> tuple[dict[FlattenKey, Any], dict[FlattenKey, Any]]:
        """navl's ``_validate``, same runs in the same order."""
        plan = self.plan(data, schema)
        full = plan.validators(schema)
        converted = self.augment(data, plan, full)
        errors: dict[FlattenKey, list[Any]] = {key: [] for key in full}
        convert = df.convert
        for keys in (plan.before, plan.main, plan.extras, plan.after):
            for key in keys:
                for converter in full[key]:
                    try:
                        convert(converter, key, converted, errors, context)
                    except df.StopOnError:
                        break
        if plan.junk:
            for converter in full[("__junk",)]:
                try:
                    convert(converter, ("__junk",), converted, errors, context)
                except df.StopOnError:
                    break
        return converted, errors


def _shape(schema: dict[str, Any]) -> tuple[Any, ...]:
    """The keys of a schema and of its sub-schemas, and which of them hold
    validators (navl skips values that are neither a list nor a dict)."""
    return tuple((k, _shape(v) if isinstance(v, dict) else isinstance(v, list))
                 for k, v in schema.items())


#: the plans of this process, kept from one block to the next
_planner = _Planner()


@contextlib.contextmanager
def planned() -> Iterator[None]:
    """Within the block, navl validates with plans per shape of data (see
    the module's description); navl's own functions are back afterwards,
    also when the block fails."""
    saved = df._validate, df.flattened_order_key
    df._validate = _planner.validate
    df.flattened_order_key = _planner.order_key
    try:
        yield
    finally:
        df._validate, df.flattened_order_key = saved
