"""``datamill retrain`` and ``datamill rollback`` on a real project: gate, promote, refuse, fail, audit.

Every step is a ``datamill`` subprocess on a real project folder (CSV sources,
the lakehouse, MLflow's SQLite registry); the registry and the audit table are
read back to check what happened.
"""

from __future__ import annotations

import io
from pathlib import Path

from tests.monitor.loop_project import (
    audit,
    champion,
    cli,
    make_project,
    monitor_yaml,
    write_config,
    write_rows,
)


def _versions(project: Path) -> list[int]:
    from datamill.registry import ModelStore

    return sorted(v.version for v in ModelStore.for_project(project).versions("churn"))


def test_a_retrain_is_gated_then_promoted_or_refused_and_every_decision_is_audited(tmp_path: Path) -> None:
    project = make_project(tmp_path / "shop")

    # same data, same seed: the challenger ties the champion, and a tie passes `>= champion + 0`
    out = cli(project, "retrain", "watch", "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "promoted: churn v2 (champion v1; trigger manual; roc_auc" in out.stdout
    assert champion(project) == 2

    # asking for a clear gain: the next challenger is refused, and the champion stays
    write_config(project, monitor_yaml("{metric: roc_auc, min_gain: 0.05, floor: 0.5}"))
    out = cli(project, "retrain", "watch", "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "refused: churn v3 (champion v2" in out.stdout and "< champion" in out.stdout
    assert champion(project) == 2 and _versions(project) == [1, 2, 3]

    # the world changes (churn now goes the other way): fresh data is read, and the new model is clearly better
    write_rows(project / "data" / "customers.csv", 200, seed=2, flip=True)
    write_rows(project / "data" / "recent.csv", 120, seed=3, flip=True)
    out = cli(project, "retrain", "watch", "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "promoted: churn v4 (champion v2" in out.stdout
    assert champion(project) == 4

    rows = audit(project)
    assert [(r["outcome"], r["champion_version"], r["challenger_version"]) for r in rows] == [
        ("promoted", 1, 2), ("refused", 2, 3), ("promoted", 2, 4)]
    assert all(r["monitor"] == "watch" and r["model"] == "churn" and r["trigger"] == "manual" for r in rows)
    assert all(r["metric"] == "roc_auc" and r["by"] == "datamill monitor watch" for r in rows)
    tie, refused, better = rows
    assert tie["challenger_score"] == tie["champion_score"] and tie["gate"] == "roc_auc >= champion + 0 and >= 0.5"
    assert refused["challenger_score"] < refused["champion_score"] + 0.05
    assert refused["gate"] == "roc_auc >= champion + 0.05 and >= 0.5" and "refused" in refused["reason"]
    # both scored on the same 120 fresh holdout rows: the old champion is now poor, the challenger good
    assert better["champion_score"] < 0.5 and better["challenger_score"] > 0.9
    assert "holdout recent: 120 labelled rows" in better["reason"]

    # the registry's alias history says who moved it and why
    from datamill.registry import ModelStore

    moves = ModelStore.for_project(project).history("churn", "champion")
    assert moves[-1].to_version == 4 and moves[-1].by == "datamill monitor watch"
    assert moves[-1].reason.startswith("monitor watch (manual): roc_auc")

    # rollback: the previous champion is back, recorded in the audit too
    out = cli(project, "rollback", "watch", "--reason", "bad week", env={"DATAMILL_USER": "ana"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "churn@champion rolled back from v4 to v2: bad week by ana" in out.stdout
    assert champion(project) == 2
    last = audit(project)[-1]
    assert (last["outcome"], last["champion_version"], last["challenger_version"], last["by"]) == (
        "rolled_back", 4, 2, "ana")

    # the trail, as `datamill monitor watch --history` prints it
    from rich.console import Console

    from datamill import Project
    from datamill.cli.monitor_history import show_history

    console = Console(file=io.StringIO(), width=250)
    with Project(project) as p:
        show_history(p, "watch", console)
    text = console.file.getvalue()
    assert text.index("promoted") < text.index("refused") < text.index("rolled_back")
    assert "bad week" in text and "no drift history of churn yet" in text
    by_model = Console(file=io.StringIO(), width=250)
    with Project(project) as p:
        show_history(p, "churn@champion", by_model)  # `datamill monitor MODEL --history` names a model
    assert "decisions about model churn" in by_model.file.getvalue() and "rolled_back" in by_model.file.getvalue()


def test_a_retrain_that_fails_half_way_leaves_the_champion_and_is_recorded(tmp_path: Path) -> None:
    project = make_project(tmp_path / "shop")

    # the challenger is trained and registered, but the holdout lacks a column the models read
    write_rows(project / "data" / "recent.csv", 120, seed=1, drop="visits")
    out = cli(project, "retrain", "watch", "--force")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed: churn v2 (champion v1" in out.stdout and "missing column visits" in out.stdout
    assert "churn@champion untouched" in out.stdout and "Traceback" not in out.stdout + out.stderr
    assert champion(project) == 1 and _versions(project) == [1, 2]

    # the training itself raises: fresh data where nobody churns
    write_rows(project / "data" / "recent.csv", 120, seed=1)
    write_rows(project / "data" / "customers.csv", 200, seed=0, constant=True)
    out = cli(project, "retrain", "watch", "--force")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed: churn no challenger (champion v1" in out.stdout and "one value" in out.stdout
    assert champion(project) == 1 and _versions(project) == [1, 2]

    # a broken input file: the refresh fails before any training
    (project / "data" / "customers.csv").write_text("age,visits,plan,churned\n1,2\n")
    out = cli(project, "retrain", "watch", "--force")
    assert out.returncode == 1 and "fresh data for the retrain: building customers, recent failed" in out.stdout

    rows = audit(project)
    assert [(r["outcome"], r["challenger_version"]) for r in rows] == [("failed", 2), ("failed", None),
                                                                       ("failed", None)]
    assert all(r["champion_version"] == 1 and "churn@champion untouched" in r["reason"] for r in rows)
    assert champion(project) == 1


def test_retrain_and_rollback_name_what_is_wrong(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    (project / "data").mkdir(parents=True)
    write_rows(project / "data" / "customers.csv", 50, seed=0)
    write_rows(project / "data" / "recent.csv", 20, seed=1)
    write_config(project, monitor_yaml() + "  drift_only:\n    model: churn@champion\n")
    out = cli(project, "retrain", "wach", "--force")
    assert out.returncode == 1 and "no monitor 'wach' under monitors: (did you mean 'watch'?)" in out.stderr
    out = cli(project, "retrain", "drift_only", "--force")
    assert out.returncode == 1 and "monitor 'drift_only' has no retrain: block" in out.stderr
    out = cli(project, "rollback", "watch")
    assert out.returncode == 1 and "no model 'churn' in the model store" in out.stderr
    assert "Traceback" not in out.stderr
