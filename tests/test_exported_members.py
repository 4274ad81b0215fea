"""The public API is exactly what ``__all__`` says, so nothing leaks by accident."""

import datamill


def test_public_names() -> None:
    assert sorted(datamill.__all__) == sorted(
        [
            "BadRowsError", "ConfigError", "DatamillError", "DependencyError", "EngineError", "ModelError",
            "PipelineError", "Project", "QualityError", "ServingError", "SourceError", "StorageError",
            "TableNotFound", "__version__",
        ]
    )
    for name in datamill.__all__:
        assert getattr(datamill, name) is not None


def test_every_error_derives_from_the_root() -> None:
    for name in datamill.__all__:
        obj = getattr(datamill, name)
        if isinstance(obj, type) and name.endswith(("Error", "NotFound")):
            assert issubclass(obj, datamill.DatamillError)
