"""Every error a user sees is one line, whatever a project's names hold."""

from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.errors import ConfigError, ProjectError, UsageError


@given(source=st.text(), reason=st.text())
def test_an_error_is_one_line_and_keeps_what_it_says(source, reason):
    for error in (ProjectError(source, reason), ConfigError(reason), UsageError(reason)):
        text = str(error)
        assert len(text.splitlines()) <= 1 and text.isprintable()
    assert ProjectError("m.json", "model.a\nb: bad").args[0] == "m.json: model.a\\nb: bad"
    assert str(ProjectError("m.json", "café: bad")) == "m.json: café: bad"  # printable kept
