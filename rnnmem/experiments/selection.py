"""Part of an experiment's grid, from the command line: ``--models``, ``--panels``,
``--seeds``, ``--set``.

``--models``, ``--panels`` and ``--seeds`` pick runs of the grid itself: they train in the
experiment's own ``runs/`` (a later full run reuses them; a paper budget can be run in parts),
and the part's report goes to ``parts/<selection>/``, never over the whole grid's.
``--set key=value`` changes the runs (every config, after tuning's choice), so they are other
runs: they go to their own directory, ``<experiment>-<budget>-set-<key=value...>``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

from ..config import TrainConfig
from .jobs import Job


@dataclass(frozen=True)
class Selection:
    models: tuple[str, ...] = ()  # model names or group names (case-insensitive); (): all
    panels: tuple[str, ...] = ()  # the grid's panel names (its tasks; case-insensitive); (): all
    seeds: tuple[int, ...] = ()  # the reported seeds; (): the grid's
    overrides: tuple[tuple[str, object], ...] = ()  # (setting, value), in order given

    @property
    def partial(self) -> bool:
        """Whether it picks part of the grid (its report goes to ``parts/``)."""
        return bool(self.models or self.panels or self.seeds)

    def suffix(self) -> str:
        """The output directory's suffix of runs changed by ``--set``."""
        if not self.overrides:
            return ""
        return "-set-" + "_".join(f"{k}={_slug(v)}" for k, v in self.overrides)

    def part(self) -> str:
        """The name of a part's report directory under ``parts/``."""
        words = []
        if self.models:
            words.append("models=" + ",".join(self.models))
        if self.panels:
            words.append("panels=" + ",".join(self.panels))
        if self.seeds:
            words.append("seeds=" + ",".join(map(str, self.seeds)))
        return _slug("_".join(words))

    def record(self) -> dict:
        """What a part's results.json records of its selection (report --check replays it)."""
        return dict(models=list(self.models), panels=list(self.panels), seeds=list(self.seeds))

    @classmethod
    def from_record(cls, record: dict) -> Selection:
        return cls(models=tuple(record.get("models", ())), panels=tuple(record.get("panels", ())),
                   seeds=tuple(record.get("seeds", ())))

    def config(self, config: TrainConfig) -> TrainConfig:
        """``config`` with the overrides (validated: a ValueError names a wrong one)."""
        if not self.overrides:
            return config
        return TrainConfig(**{**config.to_dict(), **dict(self.overrides)})

    def jobs(self, jobs: list[Job], *, reported: bool, experiment: str) -> list[Job]:
        """The selected jobs of a grid's (``reported``: seeds apply; tuning runs keep their
        own seeds); ValueError for a model that is in none of them."""
        if self.models:
            names = {m.lower() for m in self.models}
            known = {j.config.model.lower() for j in jobs} | {j.group.lower() for j in jobs}
            if reported and (missing := sorted(names - known)):
                raise ValueError(f"--models {','.join(missing)}: not in {experiment}'s grid; "
                                 f"its models: {', '.join(sorted(known))}")
            # a group's own name picks that group; a model's name, every group of that model
            # (a name that is both, e.g. the memory benchmark's "lt-rnn" beside "lt-rnn
            # chain", picks the group alone)
            groups = {j.group.lower() for j in jobs}
            jobs = [j for j in jobs if j.group.lower() in names
                    or j.config.model.lower() in names - groups]
        if self.panels:
            names = {p.lower() for p in self.panels}
            known = {j.panel.lower(): j.panel for j in jobs}
            if reported and (missing := sorted(names - known.keys())):
                raise ValueError(f"--panels {','.join(missing)}: not in {experiment}'s grid; "
                                 f"its panels: {', '.join(dict.fromkeys(known.values()))}")
            jobs = [j for j in jobs if j.panel.lower() in names]
        if self.seeds and reported:
            firsts = {}
            for j in jobs:
                firsts.setdefault((j.panel, j.group, j.variant), j)
            jobs = [dataclasses.replace(j, seed=s, config=dataclasses.replace(j.config, seed=s))
                    for j in firsts.values() for s in self.seeds]
        return [dataclasses.replace(j, config=self.config(j.config)) for j in jobs]


def parse_override(text: str) -> tuple[str, object]:
    """``key=value`` → (key, value): a JSON value (1e-3, true, null), ``none``, else the
    string."""
    key, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ValueError(f"--set {text!r}: give key=value, e.g. --set steps=500")
    if value.lower() == "none":
        return key, None
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _slug(value) -> str:
    return re.sub(r"[^A-Za-z0-9.,=+-]+", "_", str(value)).strip("_")


WHOLE = Selection()  # the whole grid, as the experiment defines it
